//! The version vector: causal comparison (before, after, equal, concurrent), and increments
//! that refuse to overflow.

use gossip_crdt::{Causality, CrdtError, Lattice, VersionVector};

use super::{Result, vv};

// ---------------------------------------------------------------------------------------------
// VersionVector: causal comparison
// ---------------------------------------------------------------------------------------------

#[test]
fn version_vector_compare_names_all_four_relations() {
    let base = vv(&[("a", 1), ("b", 2)]);
    assert_eq!(base.compare(&base.clone()), Causality::Equal);
    assert_eq!(base.compare(&vv(&[("a", 2), ("b", 2)])), Causality::Before);
    assert_eq!(
        base.compare(&vv(&[("a", 1), ("b", 2), ("c", 1)])),
        Causality::Before,
        "a replica the left side never heard of"
    );
    assert_eq!(base.compare(&vv(&[("b", 2)])), Causality::After);
    assert_eq!(base.compare(&VersionVector::new()), Causality::After);
    assert_eq!(
        base.compare(&vv(&[("a", 2), ("b", 1)])),
        Causality::Concurrent
    );
    assert_eq!(
        base.compare(&vv(&[("b", 2), ("c", 1)])),
        Causality::Concurrent,
        "each side has a replica the other lacks"
    );
    assert!(base.concurrent(&vv(&[("c", 1)])));
}

#[test]
fn version_vector_partial_ord_matches_compare() {
    let older = vv(&[("a", 1)]);
    let newer = vv(&[("a", 1), ("b", 1)]);
    let rival = vv(&[("a", 2)]);
    assert!(older < newer);
    assert!(newer > older);
    assert!(older <= older.clone() && older >= older.clone());
    assert_eq!(newer.partial_cmp(&rival), None);
    // Concurrent: neither is less, neither is greater, and they are not equal.
    let (less, greater) = (newer < rival, newer > rival);
    assert!(!less && !greater && newer != rival);
}

#[test]
fn version_vector_compare_agrees_with_leq() {
    let a = vv(&[("a", 3), ("b", 1)]);
    let b = vv(&[("a", 3), ("b", 4)]);
    assert!(a.leq(&b) && !b.leq(&a));
    assert_eq!(a.clone().joined(&b), b);
    let c = vv(&[("c", 1)]);
    assert!(!a.leq(&c) && !c.leq(&a));
    assert_eq!(a.clone().joined(&c), vv(&[("a", 3), ("b", 1), ("c", 1)]));
}

#[test]
fn version_vector_leq_of_a_delta_against_a_large_vector() {
    let large: VersionVector<u32> = (0..100).map(|r| (r, 5)).collect();
    let below: VersionVector<u32> = [(7, 5)].into_iter().collect();
    let ahead: VersionVector<u32> = [(7, 6)].into_iter().collect();
    let elsewhere: VersionVector<u32> = [(500, 1)].into_iter().collect();
    assert!(below.leq(&large));
    assert!(!ahead.leq(&large));
    assert!(!elsewhere.leq(&large));
    assert!(!large.leq(&below));
    for small in [&below, &ahead, &elsewhere] {
        assert_eq!(
            small.leq(&large),
            matches!(small.compare(&large), Causality::Before | Causality::Equal)
        );
    }
}

#[test]
fn version_vector_zeros_are_not_stored() {
    let explicit_zero = vv(&[("a", 0), ("b", 1)]);
    assert_eq!(explicit_zero, vv(&[("b", 1)]));
    assert_eq!(explicit_zero.len(), 1);
    assert_eq!(explicit_zero.get(&"a"), 0);
    assert!(vv(&[("a", 0)]).is_bottom());
    let mut v = VersionVector::new();
    assert!(!v.witness("a", 0));
    assert!(v.is_empty());
    let decoded: VersionVector<String> = serde_json::from_str(r#"{"a":0,"b":1}"#).expect("valid");
    assert_eq!(
        serde_json::to_string(&decoded).expect("serialises"),
        r#"{"b":1}"#
    );
}

#[test]
fn version_vector_increment_and_witness() -> Result {
    let mut v = VersionVector::new();
    let d1 = v.increment("a")?;
    let d2 = v.increment("a")?;
    assert_eq!(d1, vv(&[("a", 1)]));
    assert_eq!(d2, vv(&[("a", 2)]), "the delta is the new entry, not +1");
    assert!(v.witness("b", 5));
    assert!(!v.witness("b", 3), "witness never lowers an entry");
    assert_eq!(v.get(&"b"), 5);
    assert_eq!(v.total(), 7);
    Ok(())
}

#[test]
fn version_vector_increment_overflow_is_an_error_and_changes_nothing() {
    let mut v = vv(&[("a", u64::MAX)]);
    let before = v.clone();
    assert_eq!(
        v.increment("a"),
        Err(CrdtError::Overflow {
            operation: "VersionVector::increment"
        })
    );
    assert_eq!(v, before);
    assert!(v.increment("b").is_ok(), "other replicas are unaffected");
}
