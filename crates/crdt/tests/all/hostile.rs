//! Malformed and hostile states: decoding returns an error, never panics, never hangs; and a
//! state that decodes is safe to use (join, compare, mutate) however extreme its numbers.
//!
//! A peer may be buggy, or an attacker; either way its bytes must not take a replica down.
//! Non-canonical but meaningful inputs (zero entries, dominated siblings, duplicates) are
//! accepted and normalised, so that equal states compare equal.

use std::collections::BTreeMap;
use std::fmt::Debug;

use gossip_crdt::{
    CausalContext, Decompose, Dot, GCounter, GSet, Lattice, LwwRegister, MvRegister, OrMap, OrSet,
    PnCounter, TwoPSet, VersionVector,
};
use quickcheck::{Arbitrary, Gen, QuickCheck};
use serde::Deserialize;
use serde::de::DeserializeOwned;

const MAX: u64 = u64::MAX;

/// `json` must be refused as a `T`.
#[track_caller]
fn refused<T: DeserializeOwned + Debug>(json: &str) {
    if let Ok(value) = serde_json::from_str::<T>(json) {
        panic!(
            "accepted as {}: {json}\n  decoded: {value:?}",
            std::any::type_name::<T>()
        );
    }
}

/// `json` must decode as a `T`.
#[track_caller]
fn accepted<T: DeserializeOwned>(json: &str) -> T {
    match serde_json::from_str::<T>(json) {
        Ok(value) => value,
        Err(e) => panic!("refused as {}: {json}: {e}", std::any::type_name::<T>()),
    }
}

// ---------------------------------------------------------------------------------------------
// Wrong shapes and unknown fields
// ---------------------------------------------------------------------------------------------

/// Includes the sequence form serde derives accept by default for structs (`[1,"a",2]` for
/// `{"timestamp":1,"replica":"a","value":2}`): JSON has one documented shape per type.
#[test]
fn wrong_shapes_are_refused() {
    for json in ["{}", r#""x""#, "1", "null", r#"[1,"a"]"#, "[-1]", "[1.5]"] {
        refused::<GSet<u64>>(json);
    }
    for json in [
        "[]",
        "{}",
        r#"{"adds":[]}"#,
        r#"{"removes":[]}"#,
        r#"{"adds":{},"removes":[]}"#,
        r#"{"adds":[1],"removes":"x"}"#,
        "[[1],[2]]", // the fields in order, without their names
    ] {
        refused::<TwoPSet<u64>>(json);
    }
    for json in [
        "[]",
        "{}",
        "1",
        r#"{"timestamp":1,"replica":"a"}"#,
        r#"{"timestamp":"1","replica":"a","value":1}"#,
        r#"{"timestamp":-1,"replica":"a","value":1}"#,
        r#"{"timestamp":1.5,"replica":"a","value":1}"#,
        r#"[1,"a",1]"#,
    ] {
        refused::<LwwRegister<u64, String>>(json);
    }
    for json in [
        "[]",
        "null",
        r#"{"a":"1"}"#,
        r#"{"a":null}"#,
        r#"{"a":[1]}"#,
        r#"[["a",1]]"#,
    ] {
        refused::<VersionVector<String>>(json);
        refused::<GCounter<String>>(json);
    }
    refused::<VersionVector<u64>>(r#"{"a":1}"#); // the key is not a number
    for json in [
        "{}",
        r#"{"p":{}}"#,
        r#"{"n":{}}"#,
        r#"{"p":[],"n":{}}"#,
        "[{},{}]",
    ] {
        refused::<PnCounter<String>>(json);
    }
    for json in [
        r#"["a"]"#,
        r#"["a",1,2]"#,
        r#"{"replica":"a","counter":1}"#,
        r#"[1,"a"]"#,
        r#"["a",-1]"#,
    ] {
        refused::<Dot<String>>(json);
    }
    for json in [
        "{}",
        r#"{"vv":{}}"#,
        r#"{"cloud":[]}"#,
        r#"{"vv":[],"cloud":[]}"#,
        r#"{"vv":{},"cloud":[["a"]]}"#,
        r#"{"vv":{},"cloud":{"a":1}}"#,
        r#"[{"a":1},[]]"#,
    ] {
        refused::<CausalContext<String>>(json);
    }
    for json in [
        "{}",
        "[]",
        r#"{"entries":[]}"#,
        r#"{"context":{"vv":{},"cloud":[]}}"#,
        r#"{"entries":{},"context":{"vv":{},"cloud":[]}}"#,
        r#"{"entries":[["x"]],"context":{"vv":{},"cloud":[]}}"#,
        r#"{"entries":[["x",["a",1]]],"context":{"vv":{"a":1},"cloud":[]}}"#,
        r#"[[],{"vv":{},"cloud":[]}]"#,
    ] {
        refused::<OrSet<String, String>>(json);
    }
    for json in [
        "{}",
        "null",
        r#"{"clock":{},"value":1}"#,
        r#"[{"clock":{"a":1}}]"#,
        r#"[{"value":1}]"#,
        r#"[{"clock":[],"value":1}]"#,
        r#"[[{"a":1},1]]"#,
    ] {
        refused::<MvRegister<u64, String>>(json);
    }
}

#[test]
fn unknown_fields_are_refused() {
    refused::<TwoPSet<u64>>(r#"{"adds":[],"removes":[],"extra":1}"#);
    refused::<LwwRegister<u64, String>>(r#"{"timestamp":1,"replica":"a","value":1,"by":"x"}"#);
    refused::<PnCounter<String>>(r#"{"p":{},"n":{},"z":{}}"#);
    refused::<CausalContext<String>>(r#"{"vv":{},"cloud":[],"gaps":[]}"#);
    refused::<OrSet<String, String>>(
        r#"{"entries":[],"context":{"vv":{},"cloud":[]},"tombstones":[]}"#,
    );
    refused::<MvRegister<u64, String>>(r#"[{"clock":{"a":1},"value":1,"note":"x"}]"#);
}

#[test]
fn negative_float_and_huge_counts_are_refused() {
    for count in [
        "-1",
        "1.5",
        "1e3",
        "1.0",
        "18446744073709551616",
        "99999999999999999999999",
        "1e400",
        "-0.0",
        "true",
    ] {
        let object = format!(r#"{{"a":{count}}}"#);
        refused::<VersionVector<String>>(&object);
        refused::<GCounter<String>>(&object);
        refused::<PnCounter<String>>(&format!(r#"{{"p":{object},"n":{{}}}}"#));
        refused::<Dot<String>>(&format!(r#"["a",{count}]"#));
        refused::<CausalContext<String>>(&format!(r#"{{"vv":{object},"cloud":[]}}"#));
        refused::<LwwRegister<u8, String>>(&format!(
            r#"{{"timestamp":{count},"replica":"a","value":1}}"#
        ));
    }
    // u64::MAX itself is a valid count.
    let top: GCounter<String> = accepted(r#"{"a":18446744073709551615}"#);
    assert_eq!(top.value(), u128::from(MAX));
}

type CounterMap = OrMap<String, PnCounter<String>, String>;

const EMPTY_KEYS: &str = r#"{"entries":[],"context":{"vv":{},"cloud":[]}}"#;

#[test]
fn or_map_shapes_duplicates_and_bad_key_sets_are_refused() {
    let k = EMPTY_KEYS;
    for json in [
        "{}".to_string(),
        "[]".to_string(),
        "null".to_string(),
        format!(r#"{{"keys":{k}}}"#),
        format!(r#"{{"keys":{k},"values":[]}}"#),
        r#"{"values":[],"floors":[]}"#.to_string(),
        format!(r#"{{"keys":{k},"values":{{}},"floors":[]}}"#),
        format!(r#"{{"keys":{k},"values":[["x"]],"floors":[]}}"#),
        format!(r#"{{"keys":{k},"values":[["x",{{"p":{{}}}}]],"floors":[]}}"#),
        format!(r#"{{"keys":{k},"values":[],"floors":[],"tombstones":[]}}"#),
        format!(r#"[{k},[],[]]"#),
        // The same key twice: two values for one key is no state a map produces.
        format!(
            r#"{{"keys":{k},"values":[["x",{{"p":{{"a":1}},"n":{{}}}}],["x",{{"p":{{"b":1}},"n":{{}}}}]],"floors":[]}}"#
        ),
        format!(
            r#"{{"keys":{k},"values":[],"floors":[["x",{{"p":{{"a":1}},"n":{{}}}}],["x",{{"p":{{}},"n":{{}}}}]]}}"#
        ),
        // The key set is checked as an OR-Set: a dot outside the context, one dot for two keys.
        r#"{"keys":{"entries":[["x",[["a",1]]]],"context":{"vv":{},"cloud":[]}},"values":[],"floors":[]}"#.to_string(),
        r#"{"keys":{"entries":[["x",[["a",1]]],["y",[["a",1]]]],"context":{"vv":{"a":1},"cloud":[]}},"values":[],"floors":[]}"#.to_string(),
        // A value of the wrong type.
        format!(r#"{{"keys":{k},"values":[["x",[1]]],"floors":[]}}"#),
    ] {
        refused::<CounterMap>(&json);
    }
    // Bottom values are dropped and values of absent keys kept (a removed key's history).
    let normalised: CounterMap = accepted(&format!(
        r#"{{"keys":{k},"values":[["x",{{"p":{{}},"n":{{}}}}],["y",{{"p":{{"a":1}},"n":{{}}}}]],"floors":[]}}"#
    ));
    assert_eq!(
        serde_json::to_string(&normalised).expect("serialises"),
        format!(r#"{{"keys":{k},"values":[["y",{{"p":{{"a":1}},"n":{{}}}}]],"floors":[]}}"#)
    );
    assert!(normalised.is_empty() && normalised.get(&"y".to_string()).is_none());
    let golden = r#"{"keys":{"entries":[["x",[["b",1]]]],"context":{"vv":{"a":1,"b":1},"cloud":[]}},"values":[["x",{"p":{"a":5,"b":1},"n":{}}]],"floors":[["x",{"p":{"a":5},"n":{}}]]}"#;
    for end in 0..golden.len() {
        refused::<CounterMap>(&golden[..end]);
    }
}

/// A floor above the value (a remove that saw more than this replica has) and counters at
/// the top: reads and joins stay defined, and nothing overflows.
#[test]
fn or_map_floors_above_their_values_and_at_the_top_are_safe() {
    let top = MAX;
    let map: CounterMap = accepted(&format!(
        r#"{{"keys":{{"entries":[["x",[["a",{top}]]]],"context":{{"vv":{{"a":{top}}},"cloud":[]}}}},"values":[["x",{{"p":{{"a":3}},"n":{{"b":{top}}}}}]],"floors":[["x",{{"p":{{"a":{top}}},"n":{{}}}}]]}}"#
    ));
    assert_eq!(
        map.get(&"x".to_string()).map(|c| c.value()),
        Some(-i128::from(top))
    );
    let mut copy = map.clone();
    assert!(!copy.join(&map));
    // The next presence dot would pass the top: refused, the map unchanged.
    let refused_update = copy.update("a".to_string(), "y".to_string(), |c| {
        c.increment_delta("a".to_string(), 1)
    });
    assert!(refused_update.is_err());
    assert_eq!(copy, map);
    exercise(&map);
}

#[test]
fn truncated_and_garbage_input_is_refused() {
    let golden = r#"{"entries":[["x",[["a",1]]]],"context":{"vv":{"a":1},"cloud":[]}}"#;
    for end in 0..golden.len() {
        refused::<OrSet<String, String>>(&golden[..end]);
    }
    for junk in [
        "",
        " ",
        "\u{0}",
        "\u{feff}[]",
        "[]]",
        "[] x",
        "NaN",
        "Infinity",
        "[,]",
    ] {
        refused::<GSet<u64>>(junk);
    }
}

// ---------------------------------------------------------------------------------------------
// OrSet invariants
// ---------------------------------------------------------------------------------------------

#[test]
fn or_set_dot_missing_from_the_context_is_refused() {
    refused::<OrSet<String, String>>(
        r#"{"entries":[["x",[["a",2]]]],"context":{"vv":{"a":1},"cloud":[]}}"#,
    );
    refused::<OrSet<String, String>>(
        r#"{"entries":[["x",[["b",1]]]],"context":{"vv":{"a":1},"cloud":[["b",2]]}}"#,
    );
}

#[test]
fn or_set_dot_shared_by_two_entries_is_refused() {
    refused::<OrSet<String, String>>(
        r#"{"entries":[["x",[["a",1]]],["y",[["a",1]]]],"context":{"vv":{"a":1},"cloud":[]}}"#,
    );
}

#[test]
fn or_set_dot_with_counter_zero_is_refused() {
    // Counter 0 names no event; earlier versions took it as "seen" and kept it live.
    refused::<OrSet<String, String>>(
        r#"{"entries":[["x",[["a",0]]]],"context":{"vv":{"a":1},"cloud":[]}}"#,
    );
    refused::<OrSet<String, String>>(
        r#"{"entries":[["x",[["a",0]]]],"context":{"vv":{},"cloud":[]}}"#,
    );
}

#[test]
fn or_set_non_canonical_entries_are_normalised() {
    let messy: OrSet<String, String> = accepted(
        r#"{"entries":[["y",[]],["x",[["a",2]]],["x",[["a",1],["a",2]]]],
            "context":{"vv":{"a":1,"b":0},"cloud":[["a",2],["a",1],["c",0]]}}"#,
    );
    assert_eq!(
        serde_json::to_string(&messy).expect("serialises"),
        r#"{"entries":[["x",[["a",1],["a",2]]]],"context":{"vv":{"a":2},"cloud":[]}}"#
    );
}

// ---------------------------------------------------------------------------------------------
// Contexts at the top of the range
// ---------------------------------------------------------------------------------------------

#[test]
fn a_context_at_u64_max_neither_hangs_nor_overflows() {
    let huge: CausalContext<String> = accepted(
        r#"{"vv":{"a":18446744073709551615},
            "cloud":[["a",18446744073709551615],["b",18446744073709551615],["c",7]]}"#,
    );
    assert_eq!(huge.vector().get(&"a".to_string()), MAX);
    assert_eq!(huge.cloud().count(), 2, "the covered dot was dropped");
    assert_eq!(huge.next_dot("a".to_string()), None);
    assert_eq!(huge.next_dot("b".to_string()), None);
    assert_eq!(huge.max_counter(&"c".to_string()), 7);
    assert!(huge.next_dot("z".to_string()).is_some());

    let small: CausalContext<String> = accepted(r#"{"vv":{"a":3,"b":2},"cloud":[]}"#);
    // leq must not walk the 2^64-long gap between the two vectors.
    assert!(!huge.leq(&small));
    assert!(!small.leq(&huge), "b:1..2 is not in huge");
    assert!(huge.leq(&huge));
    let joined = small.clone().joined(&huge);
    assert!(huge.leq(&joined) && small.leq(&joined));
    assert_eq!(joined.clone().joined(&small), joined);

    let mut almost: CausalContext<String> =
        accepted(r#"{"vv":{"a":18446744073709551614},"cloud":[["a",18446744073709551615]]}"#);
    assert_eq!(almost.cloud().count(), 0, "the last dot extends the vector");
    assert!(!almost.insert(Dot {
        replica: "a".to_string(),
        counter: MAX,
    }));
    assert!(!almost.insert(Dot {
        replica: "a".to_string(),
        counter: 0,
    }));
}

#[test]
fn an_or_set_at_u64_max_neither_hangs_nor_overflows() {
    let huge: OrSet<String, String> = accepted(
        r#"{"entries":[["x",[["a",18446744073709551615]]]],
            "context":{"vv":{"a":18446744073709551615},"cloud":[]}}"#,
    );
    let mut set = huge.clone();
    assert!(set.insert("a".to_string(), "y".to_string()).is_err());
    assert!(set.insert("b".to_string(), "y".to_string()).is_ok());
    set.remove(&"x".to_string());
    assert!(!set.contains(&"x".to_string()));
    assert!(huge.leq(&huge.clone().joined(&set)));
    assert!(!set.leq(&huge));
    let mut other = OrSet::new();
    other
        .insert("a".to_string(), "x".to_string())
        .expect("fresh");
    let merged = other.clone().joined(&huge);
    assert_eq!(merged, huge.clone().joined(&other));
    // The exhausted replica's add of "x" (dot a:1) is covered by huge's context: removed.
    assert_eq!(merged.iter().count(), 1);
    let diff = set.difference(&huge);
    assert_eq!(huge.clone().joined(&diff), huge.clone().joined(&set));
}

#[test]
fn counters_at_u64_max_refuse_to_grow() {
    let mut vv: VersionVector<String> = accepted(r#"{"a":18446744073709551615}"#);
    assert!(vv.increment("a".to_string()).is_err());
    let mut g: GCounter<String> = accepted(r#"{"a":18446744073709551615}"#);
    assert!(g.increment("a".to_string(), 1).is_err());
    let mut pn: PnCounter<String> =
        accepted(r#"{"p":{"a":18446744073709551615},"n":{"a":18446744073709551615}}"#);
    assert_eq!(pn.value(), 0);
    assert!(pn.increment("a".to_string(), 1).is_err());
    assert!(pn.decrement("a".to_string(), 1).is_err());
    let mut mv: MvRegister<u8, String> =
        accepted(r#"[{"clock":{"a":18446744073709551615},"value":1}]"#);
    assert!(mv.write("a".to_string(), 2).is_err());
    assert!(mv.write("b".to_string(), 2).is_ok());
}

// ---------------------------------------------------------------------------------------------
// Deep nesting
// ---------------------------------------------------------------------------------------------

/// An element type that nests without limit, as an application's own types may.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(untagged)]
enum Tree {
    Number(u64),
    List(Vec<Tree>),
    Map(BTreeMap<String, Tree>),
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    refused::<GSet<Tree>>(&deep);
    refused::<GSet<u64>>(&deep);
    refused::<MvRegister<Tree, String>>(&format!(r#"[{{"clock":{{}},"value":{deep}}}]"#));
    refused::<LwwRegister<Tree, String>>(&format!(
        r#"{{"timestamp":1,"replica":"a","value":{deep}}}"#
    ));
    let deep_objects = format!("{}1{}", r#"{"a":"#.repeat(50_000), "}".repeat(50_000));
    refused::<OrSet<Tree, String>>(&format!(
        r#"{{"entries":[[{deep_objects},[]]],"context":{{"vv":{{}},"cloud":[]}}}}"#
    ));
    // Shallow nesting inside an element is fine.
    let fine: GSet<Tree> = accepted("[[[[1]]],[2]]");
    assert_eq!(fine.len(), 2);
}

// ---------------------------------------------------------------------------------------------
// Non-canonical input is normalised
// ---------------------------------------------------------------------------------------------

#[test]
fn version_vector_zero_and_duplicate_entries_are_normalised() {
    let v: VersionVector<String> = accepted(r#"{"a":0,"b":2,"b":5,"b":1,"c":0}"#);
    assert_eq!(serde_json::to_string(&v).expect("serialises"), r#"{"b":5}"#);
    let g: GCounter<String> = accepted(r#"{"a":0}"#);
    assert!(g.is_bottom());
    assert_eq!(g, GCounter::new());
}

#[test]
fn g_set_and_two_p_set_duplicates_and_disorder_are_normalised() {
    let set: GSet<u64> = accepted("[3,1,3,2,1]");
    assert_eq!(serde_json::to_string(&set).expect("serialises"), "[1,2,3]");
    let two: TwoPSet<u64> = accepted(r#"{"removes":[2,2],"adds":[2,1,1]}"#);
    assert_eq!(
        serde_json::to_string(&two).expect("serialises"),
        r#"{"adds":[1,2],"removes":[2]}"#
    );
}

#[test]
fn mv_register_dominated_and_duplicate_siblings_are_dropped() {
    let reg: MvRegister<String, String> = accepted(
        r#"[{"clock":{"a":1},"value":"old"},
            {"clock":{"b":1},"value":"rival"},
            {"clock":{"a":2},"value":"new"},
            {"clock":{"b":1},"value":"rival"},
            {"clock":{"a":1,"b":0},"value":"older"}]"#,
    );
    assert_eq!(
        serde_json::to_string(&reg).expect("serialises"),
        r#"[{"clock":{"a":2},"value":"new"},{"clock":{"b":1},"value":"rival"}]"#
    );
    // The order of the input does not matter.
    let reversed: MvRegister<String, String> = accepted(
        r#"[{"clock":{"b":1},"value":"rival"},{"clock":{"a":2},"value":"new"},
            {"clock":{"a":1},"value":"old"}]"#,
    );
    assert_eq!(reg, reversed);
}

/// Many siblings cost about linear time to decode, or are refused when no writes could have
/// made them (more concurrent siblings than replicas in their clocks), or when there are more
/// than the documented limit.
#[test]
fn mv_register_with_many_siblings_decodes_quickly_or_is_refused() {
    let limit = MvRegister::<u64, String>::MAX_DECODED_SIBLINGS;
    let disjoint = |n: usize| {
        let list: Vec<String> = (0..n)
            .map(|i| format!(r#"{{"clock":{{"r{i}":1}},"value":{i}}}"#))
            .collect();
        format!("[{}]", list.join(","))
    };
    let reg: MvRegister<u64, String> = accepted(&disjoint(limit));
    assert_eq!(reg.siblings().len(), limit);
    let mut again = reg.clone();
    assert!(!again.join(&reg));
    // One more, or ten thousand, is refused with an error that says why.
    for n in [limit + 1, 10_000] {
        let err = serde_json::from_str::<MvRegister<u64, String>>(&disjoint(n))
            .expect_err("past the limit");
        assert!(err.to_string().contains("more than 1024 siblings"), "{err}");
    }

    // Two replicas cannot have written 1,000 concurrent values.
    let n = 1_000;
    let antichain: Vec<String> = (1..=n)
        .map(|i| format!(r#"{{"clock":{{"x":{i},"y":{}}},"value":0}}"#, n + 1 - i))
        .collect();
    refused::<MvRegister<u64, String>>(&format!("[{}]", antichain.join(",")));
    // Two can have written two.
    let two: MvRegister<u64, String> =
        accepted(r#"[{"clock":{"x":2,"y":1},"value":0},{"clock":{"x":1,"y":2},"value":0}]"#);
    assert_eq!(two.siblings().len(), 2);
}

#[test]
fn causal_context_loose_dots_are_normalised() {
    let ctx: CausalContext<String> =
        accepted(r#"{"vv":{"a":1},"cloud":[["a",3],["a",2],["a",1],["b",0],["b",2]]}"#);
    assert_eq!(
        serde_json::to_string(&ctx).expect("serialises"),
        r#"{"vv":{"a":3},"cloud":[["b",2]]}"#
    );
}

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

/// Uses a decoded state every way that takes no argument from outside: none may panic.
fn exercise<L: Decompose + Debug>(state: &L) {
    let bottom = L::default();
    let mut copy = state.clone();
    assert!(
        !copy.join(state),
        "a decoded state must be idempotent: {state:?}"
    );
    assert!(state.leq(state) && bottom.leq(state));
    assert_eq!(bottom.clone().joined(state), *state);
    let _ = state.difference(&bottom);
    assert!(state.difference(state).leq(state));
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

// ---------------------------------------------------------------------------------------------
// Counters next to the top, as properties
// ---------------------------------------------------------------------------------------------

/// A counter a peer may send: small, or within three of `u64::MAX`.
fn edge_counter(g: &mut Gen) -> u64 {
    [1, 2, 3, MAX - 3, MAX - 2, MAX - 1, MAX][usize::arbitrary(g) % 7]
}

/// An OR-Set whose vector entries and loose dots sit at either end of the range, over three
/// replicas; each dot of the context's loose part, and each vector top, may be live.
#[derive(Debug, Clone)]
struct EdgeSet(OrSet<u8, u8>);

impl Arbitrary for EdgeSet {
    fn arbitrary(g: &mut Gen) -> Self {
        let mut vv = Vec::new();
        let mut dots = Vec::new();
        for r in 0..3u8 {
            if bool::arbitrary(g) {
                let top = edge_counter(g);
                vv.push(format!("\"{r}\":{top}"));
                dots.push((r, top));
            }
        }
        let mut cloud = Vec::new();
        for _ in 0..usize::arbitrary(g) % 6 {
            let dot = (u8::arbitrary(g) % 3, edge_counter(g));
            cloud.push(format!("[{},{}]", dot.0, dot.1));
            dots.push(dot);
        }
        dots.sort_unstable();
        dots.dedup();
        let mut entries = Vec::new();
        for (r, c) in dots {
            if bool::arbitrary(g) {
                entries.push(format!("[{},[[{r},{c}]]]", u8::arbitrary(g) % 4));
            }
        }
        let json = format!(
            r#"{{"entries":[{}],"context":{{"vv":{{{}}},"cloud":[{}]}}}}"#,
            entries.join(","),
            vv.join(","),
            cloud.join(",")
        );
        // A loose dot under the vector is normalised away; every live dot is in the context.
        EdgeSet(serde_json::from_str(&json).expect("a valid state"))
    }
}

/// With counters next to `u64::MAX`, the laws hold and no operation overflows (the tests run
/// with overflow checks on, so an overflow is a panic): join, compare, difference, absorb,
/// and inserting any dot into a context, one by one or sorted.
#[test]
fn contexts_and_or_sets_next_to_the_top_obey_the_laws() {
    fn prop(a: EdgeSet, b: EdgeSet, c: EdgeSet, extra: Vec<(u8, u8)>) -> bool {
        use gossip_crdt::laws;
        let (a, b, c) = (a.0, b.0, c.0);
        let mut ok = laws::commutative(&a, &b)
            && laws::associative(&a, &b, &c)
            && laws::idempotent(&a)
            && laws::inflation(&a, &b)
            && laws::order_agrees_with_join(&a, &b)
            && laws::join_reports_change(&a, &b)
            && laws::difference_recovers(&a, &b)
            && laws::difference_is_bottom_iff_leq(&a, &b)
            && laws::absorb_agrees_with_difference(&a, &b);
        let (x, y) = (a.context().clone(), b.context().clone());
        ok &= laws::commutative(&x, &y)
            && laws::associative(&x, &y, c.context())
            && laws::order_agrees_with_join(&x, &y)
            && laws::join_reports_change(&x, &y);
        let edges = [0, 1, 2, MAX - 2, MAX - 1, MAX];
        let mut dots: Vec<Dot<u8>> = extra
            .into_iter()
            .map(|(r, k)| Dot {
                replica: r % 3,
                counter: edges[usize::from(k) % edges.len()],
            })
            .collect();
        dots.sort();
        let mut one_by_one = x.clone();
        for dot in &dots {
            let had = one_by_one.contains(dot);
            let added = one_by_one.insert(*dot);
            ok &=
                added == (!had && dot.counter > 0) && one_by_one.contains(dot) == (dot.counter > 0);
        }
        let mut sorted = x.clone();
        sorted.insert_sorted(dots.clone());
        let joined = x.clone().joined(&dots.into_iter().collect());
        ok &= sorted == one_by_one && joined == one_by_one;
        for r in 0..3 {
            ok &= one_by_one
                .next_dot(r)
                .is_none_or(|d| !one_by_one.contains(&d));
        }
        ok
    }
    QuickCheck::new().quickcheck(prop as fn(EdgeSet, EdgeSet, EdgeSet, Vec<(u8, u8)>) -> bool);
}
