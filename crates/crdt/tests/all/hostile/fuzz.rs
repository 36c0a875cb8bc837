//! Fuzzing every type with arbitrary text and bytes, with text that is nearly JSON for our
//! types, and with valid states corrupted one byte at a time: decoding never panics, and any
//! state that decodes can be used.

use std::fmt::Debug;

use gossip_crdt::{
    CausalContext, Decompose, Dot, GCounter, GSet, Lattice, LwwRegister, MvRegister, OrMap, OrSet,
    PnCounter, TwoPSet, VersionVector,
};
use quickcheck::{Arbitrary, Gen, QuickCheck};
use serde::de::DeserializeOwned;

use super::exercise;

// ---------------------------------------------------------------------------------------------
// Fuzzing: arbitrary text and bytes, for every type
// ---------------------------------------------------------------------------------------------

/// Text that is often nearly JSON for our types: built from their field names and extreme
/// numbers, then sometimes cut short or corrupted.
#[derive(Debug, Clone)]
struct JsonIsh(String);

const KEYS: &[&str] = &[
    "a",
    "b",
    "p",
    "n",
    "vv",
    "cloud",
    "entries",
    "context",
    "timestamp",
    "replica",
    "value",
    "clock",
    "adds",
    "removes",
    "counter",
    "keys",
    "values",
    "floors",
    "x",
];

const NUMBERS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "7",
    "-1",
    "1.5",
    "1e400",
    "-0",
    "18446744073709551615",
    "18446744073709551614",
    "18446744073709551616",
    "340282366920938463463374607431768211456",
];

fn value_text(g: &mut Gen, depth: u8, out: &mut String) {
    let pick = u8::arbitrary(g) % if depth == 0 { 4 } else { 7 };
    match pick {
        0 => out.push_str(g.choose(NUMBERS).expect("non-empty")),
        1 => {
            out.push('"');
            out.push_str(g.choose(KEYS).expect("non-empty"));
            out.push('"');
        }
        2 => out.push_str(g.choose(&["null", "true", "false"]).expect("non-empty")),
        3 => out.push_str(g.choose(&["[]", "{}", r#""""#]).expect("non-empty")),
        4 | 5 => {
            out.push('[');
            for i in 0..u8::arbitrary(g) % 4 {
                if i > 0 {
                    out.push(',');
                }
                value_text(g, depth - 1, out);
            }
            out.push(']');
        }
        _ => {
            out.push('{');
            for i in 0..u8::arbitrary(g) % 4 {
                if i > 0 {
                    out.push(',');
                }
                out.push('"');
                out.push_str(g.choose(KEYS).expect("non-empty"));
                out.push_str("\":");
                value_text(g, depth - 1, out);
            }
            out.push('}');
        }
    }
}

impl Arbitrary for JsonIsh {
    fn arbitrary(g: &mut Gen) -> Self {
        let mut text = String::new();
        value_text(g, 5, &mut text);
        match u8::arbitrary(g) % 8 {
            0 if !text.is_empty() => {
                let cut = usize::arbitrary(g) % text.len();
                text.truncate(cut);
            }
            1 if !text.is_empty() => {
                let at = usize::arbitrary(g) % text.len();
                let junk = *g
                    .choose(&['[', ']', '{', '}', '"', ',', ':', '-', '9', 'e', '\\'])
                    .expect("non-empty");
                text.insert(at, junk);
            }
            _ => {}
        }
        JsonIsh(text)
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        Box::new(self.0.shrink().map(JsonIsh))
    }
}

/// Decodes `text` as every type; any that succeeds is exercised.
fn decode_everything(text: &str) {
    fn try_as<L: Decompose + DeserializeOwned + Debug>(text: &str) {
        if let Ok(state) = serde_json::from_str::<L>(text) {
            exercise(&state);
        }
    }
    try_as::<GSet<u64>>(text);
    try_as::<GSet<String>>(text);
    try_as::<TwoPSet<String>>(text);
    try_as::<LwwRegister<u64, String>>(text);
    try_as::<LwwRegister<String, u64>>(text);
    try_as::<VersionVector<String>>(text);
    try_as::<VersionVector<u64>>(text);
    try_as::<GCounter<String>>(text);
    try_as::<PnCounter<String>>(text);
    try_as::<OrSet<u64, String>>(text);
    try_as::<OrSet<String, u64>>(text);
    try_as::<MvRegister<u64, String>>(text);
    try_as::<MvRegister<String, u64>>(text);
    try_as::<OrMap<String, PnCounter<String>, String>>(text);
    try_as::<OrMap<u64, OrSet<String, String>, String>>(text);
    try_as::<OrMap<String, OrMap<String, MvRegister<u64, String>, String>, String>>(text);
    let _ = serde_json::from_str::<Dot<String>>(text);
    if let Ok(ctx) = serde_json::from_str::<CausalContext<String>>(text) {
        let mut copy = ctx.clone();
        assert!(!copy.join(&ctx) && ctx.leq(&ctx));
        let _ = ctx.next_dot("a".to_string());
    }
}

#[test]
fn arbitrary_json_ish_text_never_panics() {
    fn prop(text: JsonIsh) -> bool {
        decode_everything(&text.0);
        true
    }
    QuickCheck::new().quickcheck(prop as fn(JsonIsh) -> bool);
}

#[test]
fn arbitrary_strings_and_bytes_never_panic() {
    fn prop(text: String, bytes: Vec<u8>) -> bool {
        decode_everything(&text);
        if let Ok(as_text) = std::str::from_utf8(&bytes) {
            decode_everything(as_text);
        }
        let _ = serde_json::from_slice::<OrSet<String, String>>(&bytes);
        let _ = serde_json::from_slice::<MvRegister<u64, String>>(&bytes);
        let _ = serde_json::from_slice::<PnCounter<String>>(&bytes);
        true
    }
    QuickCheck::new().quickcheck(prop as fn(String, Vec<u8>) -> bool);
}

/// Fuzzing that starts from valid states: every golden-shaped value with one byte changed.
#[test]
fn corrupted_valid_states_never_panic() {
    let seeds = [
        r#"{"keys":{"entries":[["x",[["b",1]]]],"context":{"vv":{"a":1,"b":1},"cloud":[]}},"values":[["x",{"p":{"a":5,"b":1},"n":{}}]],"floors":[["x",{"p":{"a":5},"n":{}}]]}"#,
        r#"{"entries":[["x",[["a",1],["b",5]]]],"context":{"vv":{"a":3},"cloud":[["b",5]]}}"#,
        r#"[{"clock":{"a":2,"b":1},"value":"v"},{"clock":{"c":1},"value":"w"}]"#,
        r#"{"p":{"a":10},"n":{"b":4}}"#,
        r#"{"adds":["x","y"],"removes":["x"]}"#,
        r#"{"timestamp":7,"replica":"a","value":"v"}"#,
        r#"{"vv":{"a":3},"cloud":[["b",5]]}"#,
    ];
    let replacements = b"[]{}\",:0179-e\\ab";
    for seed in seeds {
        let bytes = seed.as_bytes();
        for at in 0..bytes.len() {
            for &with in replacements {
                let mut corrupted = bytes.to_vec();
                corrupted[at] = with;
                if let Ok(text) = std::str::from_utf8(&corrupted) {
                    decode_everything(text);
                }
            }
        }
    }
}
