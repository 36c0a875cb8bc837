//! Counters and contexts at and next to `u64::MAX`: decoding, joins, comparisons and
//! mutations neither hang nor overflow, and the laws still hold there.

use std::fmt::Debug;

use gossip_crdt::{
    CausalContext, Decompose, Dot, GCounter, Lattice, MvRegister, OrSet, PnCounter, VersionVector,
};
use quickcheck::{Arbitrary, Gen, QuickCheck};

use super::{MAX, accepted};

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
