//! Input of the wrong shape is refused: wrong types and unknown fields, impossible numbers,
//! maps with duplicate or mismatched keys, truncated text and garbage, and nesting too deep to
//! decode on the stack.

use std::collections::BTreeMap;
use std::fmt::Debug;

use gossip_crdt::{
    CausalContext, Dot, GCounter, GSet, Lattice, LwwRegister, MvRegister, OrMap, OrSet, PnCounter,
    TwoPSet, VersionVector,
};
use serde::Deserialize;

use super::{MAX, accepted, exercise, refused};

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
