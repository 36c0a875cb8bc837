//! States that break an invariant no replica can produce are refused (an OR-Set dot missing
//! from its context, or shared by two entries); non-canonical but meaningful ones are
//! accepted and normalised, so that equal states compare equal.

use gossip_crdt::{
    CausalContext, GCounter, GSet, Lattice, MvRegister, OrSet, TwoPSet, VersionVector,
};

use super::{accepted, refused};

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
