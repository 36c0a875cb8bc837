//! What each type means, one named scenario at a time: the semantics a user relies on, beyond
//! the lattice laws (which `laws.rs` checks). Replicas are named by strings; timestamps
//! are plain numbers chosen by the test, as a caller's clock would supply them.

use gossip_crdt::{
    Causality, CounterMap, CrdtError, Decompose, Dot, GCounter, GSet, Lattice, LwwRegister,
    MvRegister, OrSet, PnCounter, SetMap, TwoPSet, VersionVector,
};
use quickcheck::{Arbitrary, Gen, QuickCheck};

type Result = std::result::Result<(), CrdtError>;

// ---------------------------------------------------------------------------------------------
// GSet
// ---------------------------------------------------------------------------------------------

#[test]
fn g_set_insert_returns_the_delta_and_a_repeated_insert_returns_bottom() {
    let mut set = GSet::new();
    let delta = set.insert(7u32);
    assert_eq!(delta.iter().copied().collect::<Vec<_>>(), vec![7]);
    assert!(set.insert(7).is_bottom(), "nothing new to ship");
    assert_eq!(set.len(), 1);
    assert!(set.contains(&7) && !set.contains(&8));
}

#[test]
fn g_set_replicas_converge_to_the_union() {
    let mut a: GSet<u32> = [1, 2].into_iter().collect();
    let mut b: GSet<u32> = [2, 3].into_iter().collect();
    let (a0, b0) = (a.clone(), b.clone());
    assert!(a.join(&b0));
    assert!(b.join(&a0));
    assert_eq!(a, b);
    assert_eq!(a.iter().copied().collect::<Vec<_>>(), vec![1, 2, 3]);
    assert!(a0.leq(&a) && !a.leq(&a0));
}

// ---------------------------------------------------------------------------------------------
// TwoPSet: a removed element never comes back
// ---------------------------------------------------------------------------------------------

#[test]
fn two_p_set_add_after_remove_has_no_effect() {
    let mut set = TwoPSet::new();
    set.insert("x");
    set.remove("x");
    let late = set.insert("x");
    assert!(!set.contains(&"x"));
    assert!(set.is_removed(&"x"));
    // The add is already recorded (x was added once), so the late add ships nothing.
    assert!(late.is_bottom());
    assert!(set.is_empty());
}

#[test]
fn two_p_set_concurrent_add_and_remove_the_remove_wins() {
    // Both replicas know "x"; a removes it while b, not having heard, adds "y" and "x" again.
    let mut a = TwoPSet::new();
    a.insert("x");
    let mut b = a.clone();
    let removal = a.remove("x");
    let adds = [b.insert("y"), b.insert("x")];
    for d in &adds {
        a.join(d);
    }
    b.join(&removal);
    assert_eq!(a, b);
    assert!(!a.contains(&"x") && !b.contains(&"x"));
    assert_eq!(a.iter().collect::<Vec<_>>(), vec![&"y"]);
}

#[test]
fn two_p_set_concurrent_first_add_and_remove_the_remove_wins() {
    // a adds "x" for the first time while b, who never saw it, removes "x".
    let mut a = TwoPSet::new();
    let mut b = TwoPSet::new();
    let add = a.insert("x");
    let remove = b.remove("x");
    a.join(&remove);
    b.join(&add);
    assert_eq!(a, b);
    assert!(!a.contains(&"x"));
}

#[test]
fn two_p_set_remove_before_add_forbids_the_element_for_ever() {
    let mut set = TwoPSet::new();
    let tombstone = set.remove("ghost"); // never added: the tombstone is written anyway
    assert!(!tombstone.is_bottom());
    assert!(set.is_removed(&"ghost") && !set.contains(&"ghost"));
    set.insert("ghost");
    assert!(!set.contains(&"ghost"));

    // The same on a third replica that hears the remove first and the add afterwards.
    let mut writer = TwoPSet::new();
    let add = writer.insert("late");
    let mut remover = TwoPSet::new();
    let remove = remover.remove("late");
    let mut observer = TwoPSet::new();
    observer.join(&remove);
    observer.join(&add);
    assert!(!observer.contains(&"late"));
}

#[test]
fn two_p_set_tombstones_stay_in_the_state() {
    let mut set = TwoPSet::new();
    for i in 0..10u32 {
        set.insert(i);
        set.remove(i);
    }
    assert!(set.is_empty());
    // Nothing is present, but all twenty facts remain: this is the 2P-Set's cost.
    assert_eq!(set.decompose().len(), 20);
}

// ---------------------------------------------------------------------------------------------
// LwwRegister: concurrent writes lose data
// ---------------------------------------------------------------------------------------------

#[test]
fn lww_concurrent_write_is_silently_lost() {
    let mut a = LwwRegister::new();
    let mut b = LwwRegister::new();
    let from_a = a.write(100, "a", "written by a at 100");
    let from_b = b.write(100, "b", "written by b at 100");
    a.join(&from_b);
    b.join(&from_a);
    // Same timestamp: the replica id decides, and "b" > "a". a's write is gone from every
    // replica, and neither join reported a conflict: `join` returned true only on a.
    assert_eq!(a.read(), Some(&"written by b at 100"));
    assert_eq!(a, b);
    let winner = a.last_write().expect("written");
    assert_eq!((winner.timestamp, winner.replica), (100, "b"));
}

#[test]
fn lww_the_greater_timestamp_wins_before_the_replica_id_is_looked_at() {
    let mut a = LwwRegister::new();
    let mut z = LwwRegister::new();
    let from_a = a.write(7, "a", 1);
    let from_z = z.write(6, "z", 2); // "z" > "a", but its timestamp is older
    a.join(&from_z);
    z.join(&from_a);
    assert_eq!(a.read(), Some(&1));
    assert_eq!(z.read(), Some(&1));
}

#[test]
fn lww_a_fast_clock_wins_even_against_a_later_write() {
    // Wall clocks drift. A replica whose clock runs ahead beats writes made after its own:
    // "last" means greatest timestamp, not latest in real time.
    let mut fast = LwwRegister::new();
    let written_first = fast.write(1_000, "fast", "first, with a clock 1 s ahead");
    let mut slow = LwwRegister::new();
    slow.join(&written_first);
    let written_second = slow.write(500, "slow", "second, in real time");
    assert!(written_second.is_bottom(), "the later write lost at once");
    assert_eq!(slow.read(), Some(&"first, with a clock 1 s ahead"));
}

#[test]
fn lww_ties_are_broken_the_same_way_on_every_replica() {
    let writes: Vec<LwwRegister<&str, &str>> = ["n1", "n3", "n2"]
        .iter()
        .map(|replica| LwwRegister::new().write(42, *replica, *replica))
        .collect();
    // Every delivery order of the three concurrent writes ends on n3's.
    let orders = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    for order in orders {
        let mut replica = LwwRegister::new();
        for i in order {
            replica.join(&writes[i]);
        }
        assert_eq!(replica.read(), Some(&"n3"), "order {order:?}");
    }
}

#[test]
fn lww_stale_write_delta_is_bottom() {
    let mut reg = LwwRegister::new();
    reg.write(10, "b", "current");
    let before = reg.clone();
    assert!(reg.write_delta(9, "z", "older timestamp").is_bottom());
    assert!(
        reg.write_delta(10, "a", "same timestamp, smaller id")
            .is_bottom()
    );
    assert!(reg.write(9, "z", "older timestamp").is_bottom());
    assert_eq!(reg, before, "a stale write changes nothing");
    // A newer write produces a delta equal to the new state.
    let newer = reg.write(11, "a", "newer");
    assert_eq!(newer, reg);
}

#[test]
fn lww_a_reused_timestamp_and_replica_is_decided_by_the_value() {
    // A correct writer never reuses (timestamp, replica); if a buggy one does, the greater value
    // wins so that every replica still agrees (see regressions.rs).
    let mut x = LwwRegister::new();
    x.write(1, 1u8, 32u8);
    let mut y = LwwRegister::new();
    y.write(1, 1u8, 217u8);
    assert_eq!(x.clone().joined(&y), y.clone().joined(&x));
    assert_eq!(x.joined(&y).read(), Some(&217));
}

// ---------------------------------------------------------------------------------------------
// VersionVector: causal comparison
// ---------------------------------------------------------------------------------------------

fn vv(entries: &[(&'static str, u64)]) -> VersionVector<&'static str> {
    entries.iter().copied().collect()
}

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

// ---------------------------------------------------------------------------------------------
// Counters
// ---------------------------------------------------------------------------------------------

#[test]
fn g_counter_sums_replicas_and_redelivery_does_not_double_count() -> Result {
    let mut a = GCounter::new();
    let mut b = GCounter::new();
    let d1 = a.increment("a", 5)?;
    let d2 = a.increment("a", 1)?;
    b.increment("b", 3)?;
    for delta in [&d1, &d2, &d2, &d1] {
        b.join(delta);
    }
    assert_eq!(b.value(), 9);
    assert_eq!(b.contribution(&"a"), 6);
    assert_eq!(b.iter().collect::<Vec<_>>(), vec![(&"a", 6), (&"b", 3)]);
    Ok(())
}

#[test]
fn g_counter_zero_increment_is_bottom() -> Result {
    let mut c = GCounter::new();
    c.increment("a", 2)?;
    let before = c.clone();
    assert!(c.increment("a", 0)?.is_bottom());
    assert!(c.increment("b", 0)?.is_bottom());
    assert_eq!(c, before);
    Ok(())
}

#[test]
fn g_counter_overflow_is_an_error_and_leaves_the_state_unchanged() -> Result {
    let mut c = GCounter::new();
    c.increment("a", u64::MAX - 1)?;
    let before = c.clone();
    let err = c.increment("a", 2).expect_err("would pass u64::MAX");
    assert_eq!(
        err,
        CrdtError::Overflow {
            operation: "GCounter::increment"
        }
    );
    assert_eq!(
        err.to_string(),
        "GCounter::increment: the entry would pass u64::MAX"
    );
    assert_eq!(c, before);
    assert!(c.increment_delta("a", 2).is_err());
    c.increment("a", 1)?; // exactly u64::MAX is fine
    assert_eq!(c.contribution(&"a"), u64::MAX);
    Ok(())
}

#[test]
fn g_counter_value_does_not_overflow_across_replicas() -> Result {
    let mut c = GCounter::new();
    c.increment("a", u64::MAX)?;
    c.increment("b", u64::MAX)?;
    assert_eq!(c.value(), 2 * u128::from(u64::MAX));
    Ok(())
}

#[test]
fn pn_counter_goes_negative() -> Result {
    let mut a = PnCounter::new();
    let mut b = PnCounter::new();
    let up = a.increment("a", 3)?;
    let down = b.decrement("b", 10)?;
    a.join(&down);
    b.join(&up);
    assert_eq!(a.value(), -7);
    assert_eq!(a, b);
    assert_eq!(a.increments().value(), 3);
    assert_eq!(a.decrements().value(), 10);
    Ok(())
}

#[test]
fn pn_counter_zero_delta_is_bottom() -> Result {
    let mut c = PnCounter::new();
    c.increment("a", 4)?;
    let before = c.clone();
    assert!(c.increment("a", 0)?.is_bottom());
    assert!(c.decrement("a", 0)?.is_bottom());
    assert!(c.increment_delta("b", 0)?.is_bottom());
    assert!(c.decrement_delta("b", 0)?.is_bottom());
    assert_eq!(c, before);
    Ok(())
}

#[test]
fn pn_counter_extremes_and_overflow() -> Result {
    let mut c = PnCounter::new();
    c.decrement("a", 1 << 63)?;
    assert_eq!(c.value(), i128::from(i64::MIN));
    c.increment("a", u64::MAX / 2)?;
    c.increment("a", u64::MAX / 2)?; // increments: 2^64 - 2, beyond any i64
    assert_eq!(c.value(), (1i128 << 63) - 2);
    c.increment("a", 1)?; // increments entry is now u64::MAX
    let before = c.clone();
    assert_eq!(
        c.increment("a", 1),
        Err(CrdtError::Overflow {
            operation: "PnCounter::increment"
        })
    );
    assert_eq!(c, before);
    // Decrements overflow independently of increments.
    let mut d = PnCounter::new();
    d.decrement("a", 1 << 63)?;
    d.decrement("a", (1 << 63) - 1)?; // decrements: 2^63 + 2^63 - 1 = u64::MAX
    assert_eq!(
        d.decrement("a", 1),
        Err(CrdtError::Overflow {
            operation: "PnCounter::decrement"
        })
    );
    assert!(d.increment("a", 1).is_ok());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// OrSet: add wins, re-add after remove
// ---------------------------------------------------------------------------------------------

#[test]
fn or_set_concurrent_add_wins_over_remove() -> Result {
    let mut a = OrSet::new();
    a.insert("a", "milk")?;
    let mut b = a.clone();
    let removal = a.remove(&"milk");
    let re_add = b.insert("b", "milk")?;
    a.join(&re_add);
    b.join(&removal);
    assert!(a.contains(&"milk") && b.contains(&"milk"));
    assert_eq!(a, b);
    Ok(())
}

#[test]
fn or_set_re_add_after_remove_brings_the_element_back() -> Result {
    let mut set = OrSet::new();
    set.insert("a", "x")?;
    set.remove(&"x");
    assert!(!set.contains(&"x"));
    set.insert("a", "x")?;
    assert!(set.contains(&"x"), "unlike a 2P-Set");
    // And a replica that hears everything afterwards agrees.
    let mut other = OrSet::new();
    other.join(&set);
    assert!(other.contains(&"x"));
    Ok(())
}

#[test]
fn or_set_remove_only_removes_the_adds_it_has_seen() -> Result {
    let mut a = OrSet::new();
    let mut b = OrSet::new();
    let add_a = a.insert("a", "x")?;
    let add_b = b.insert("b", "x")?; // concurrent add of the same element
    let removal = a.remove(&"x"); // a only saw its own add
    let mut c = OrSet::new();
    for d in [&removal, &add_b, &add_a] {
        c.join(d);
    }
    assert!(
        c.contains(&"x"),
        "b's add was not observed by the remove, so it survives"
    );
    Ok(())
}

#[test]
fn or_set_a_remove_that_overtakes_its_add_still_removes_it() -> Result {
    let mut writer = OrSet::new();
    let add = writer.insert("w", "x")?;
    let removal = writer.remove(&"x");
    let mut late = OrSet::new();
    late.join(&removal); // the network delivered the remove first
    assert!(!late.contains(&"x"));
    late.join(&add);
    assert!(
        !late.contains(&"x"),
        "the context remembers the add was removed"
    );
    assert_eq!(late, writer);
    Ok(())
}

#[test]
fn or_set_removing_an_absent_element_is_bottom() {
    let set: OrSet<&str, &str> = OrSet::new();
    assert!(set.remove_delta(&"nothing").is_bottom());
}

#[test]
fn or_set_add_replaces_the_dots_of_earlier_adds() -> Result {
    let mut set = OrSet::new();
    set.insert("a", "x")?;
    let second = set.insert("a", "x")?;
    // The second add's delta covers the first dot, so replicas keep a single live dot.
    assert_eq!(set.context().vector().get(&"a"), 2);
    let mut copy = OrSet::new();
    copy.join(&set);
    copy.join(&second);
    assert_eq!(copy, set);
    assert_eq!(set.len(), 1);
    Ok(())
}

#[test]
fn or_set_add_refuses_when_the_replica_counter_is_exhausted() {
    let exhausted: OrSet<&str, &str> = serde_json::from_str(
        r#"{"entries":[],"context":{"vv":{"a":18446744073709551615},"cloud":[]}}"#,
    )
    .expect("a valid, if extreme, state");
    assert_eq!(exhausted.context().next_dot("a"), None);
    let mut set = exhausted.clone();
    assert_eq!(
        set.insert("a", "x"),
        Err(CrdtError::Overflow {
            operation: "OrSet::insert"
        })
    );
    assert_eq!(set, exhausted);
    assert!(set.insert("b", "x").is_ok());
}

// ---------------------------------------------------------------------------------------------
// MvRegister: siblings
// ---------------------------------------------------------------------------------------------

#[test]
fn mv_register_concurrent_writes_become_siblings() -> Result {
    let mut a = MvRegister::new();
    let mut b = MvRegister::new();
    let from_a = a.write("a", "tea")?;
    let from_b = b.write("b", "coffee")?;
    assert_eq!(
        from_a.siblings()[0]
            .clock
            .compare(&from_b.siblings()[0].clock),
        Causality::Concurrent
    );
    a.join(&from_b);
    b.join(&from_a);
    assert_eq!(a, b);
    assert!(a.is_conflicted());
    assert_eq!(a.read().collect::<Vec<_>>(), vec![&"tea", &"coffee"]);
    assert_eq!(a.clock(), vv(&[("a", 1), ("b", 1)]));
    Ok(())
}

#[test]
fn mv_register_a_resolving_write_dominates_both_siblings() -> Result {
    let mut a = MvRegister::new();
    let mut b = MvRegister::new();
    let from_a = a.write("a", "tea")?;
    let from_b = b.write("b", "coffee")?;
    a.join(&from_b);
    let resolved = a.write("a", "both")?;
    let clock = &resolved.siblings()[0].clock;
    assert_eq!(clock, &vv(&[("a", 2), ("b", 1)]));
    assert!(from_a.siblings()[0].clock < *clock && from_b.siblings()[0].clock < *clock);
    // b, still holding only its own write, accepts the resolution whole.
    b.join(&resolved);
    assert!(!b.is_conflicted());
    assert_eq!(b.read().collect::<Vec<_>>(), vec![&"both"]);
    // A stale sibling arriving late changes nothing.
    assert!(!b.join(&from_a));
    Ok(())
}

#[test]
fn mv_register_sequential_writes_never_conflict() -> Result {
    let mut a = MvRegister::new();
    let first = a.write("a", 1)?;
    let mut b = MvRegister::new();
    b.join(&first);
    let second = b.write("b", 2)?; // b saw the first write
    a.join(&second);
    assert!(!a.is_conflicted());
    assert_eq!(a.read().collect::<Vec<_>>(), vec![&2]);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Decompose and difference, per type
// ---------------------------------------------------------------------------------------------

#[test]
fn g_set_decompose_and_difference() {
    let mine: GSet<u8> = [1, 2, 3].into_iter().collect();
    let theirs: GSet<u8> = [2, 3, 4].into_iter().collect();
    assert_eq!(mine.decompose().len(), 3);
    assert_eq!(mine.difference(&theirs), [1].into_iter().collect());
    assert!(mine.difference(&mine).is_bottom());
    assert_eq!(mine.difference(&GSet::new()), mine);
}

#[test]
fn two_p_set_difference_carries_tombstones() {
    let mut mine = TwoPSet::new();
    mine.insert(1u8);
    let theirs = mine.clone();
    mine.remove(1);
    let diff = mine.difference(&theirs);
    assert!(diff.is_removed(&1));
    assert_eq!(diff.decompose().len(), 1, "only the tombstone");
    assert_eq!(theirs.joined(&diff), mine);
}

#[test]
fn lww_difference_is_all_or_nothing() {
    let mut old = LwwRegister::new();
    old.write(1, "a", "old");
    let mut new = old.clone();
    new.write(2, "a", "new");
    assert_eq!(new.decompose(), vec![new.clone()]);
    assert_eq!(new.difference(&old), new);
    assert!(old.difference(&new).is_bottom());
    assert!(LwwRegister::<u8, u8>::new().decompose().is_empty());
}

#[test]
fn version_vector_and_counter_differences_keep_the_entries_that_grew() -> Result {
    let mine = vv(&[("a", 5), ("b", 1), ("c", 2)]);
    let theirs = vv(&[("a", 5), ("b", 3)]);
    assert_eq!(mine.difference(&theirs), vv(&[("c", 2)]));

    let mut counter = GCounter::new();
    counter.increment("a", 5)?;
    let mut ahead = counter.clone();
    ahead.increment("b", 2)?;
    ahead.increment("a", 1)?;
    let diff = ahead.difference(&counter);
    assert_eq!(diff.iter().collect::<Vec<_>>(), vec![(&"a", 6), (&"b", 2)]);

    let mut pn = PnCounter::new();
    pn.increment("a", 3)?;
    let mut pn_ahead = pn.clone();
    pn_ahead.decrement("a", 1)?;
    let pn_diff = pn_ahead.difference(&pn);
    assert!(pn_diff.increments().is_bottom());
    assert_eq!(pn_diff.decrements().contribution(&"a"), 1);
    Ok(())
}

#[test]
fn or_set_difference_carries_new_adds_and_removals_only() -> Result {
    let mut mine = OrSet::new();
    for i in 0..100u32 {
        mine.insert("a", i)?;
    }
    let theirs = mine.clone();
    mine.remove(&5);
    mine.insert("b", 1000)?;
    let diff = mine.difference(&theirs);
    assert_eq!(
        diff.iter().collect::<Vec<_>>(),
        vec![&1000],
        "not the 99 they hold"
    );
    assert_eq!(theirs.clone().joined(&diff), mine);
    assert!(mine.difference(&mine).iter().next().is_none());
    Ok(())
}

#[test]
fn mv_register_difference_carries_unknown_siblings() -> Result {
    let mut a = MvRegister::new();
    let mut b = MvRegister::new();
    a.write("a", 1)?;
    b.write("b", 2)?;
    let both = a.clone().joined(&b);
    assert_eq!(both.decompose().len(), 2);
    assert_eq!(both.difference(&a), b);
    assert!(a.difference(&both).is_bottom());
    Ok(())
}

/// Replica ids from a space of three, so that generated states share replicas and dots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct R(u8);

impl Arbitrary for R {
    fn arbitrary(g: &mut Gen) -> Self {
        R(u8::arbitrary(g) % 3)
    }
}

/// Small elements, so generated states overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct E(u8);

impl Arbitrary for E {
    fn arbitrary(g: &mut Gen) -> Self {
        E(u8::arbitrary(g) % 6)
    }
}

/// The join of a state's parts is the state, and `difference` is enough and no more than
/// `self`: `known ⊔ self.difference(known) == known ⊔ self` and `difference ≤ self`.
fn decompose_laws<L: Decompose + std::fmt::Debug>(mine: L, known: L) -> bool {
    let parts = mine.decompose();
    let rebuilt = parts.iter().fold(L::default(), |acc, p| acc.joined(p));
    let diff = mine.difference(&known);
    rebuilt == mine
        && parts.iter().all(|p| !p.is_bottom())
        && known.clone().joined(&diff) == known.clone().joined(&mine)
        && diff.leq(&mine)
}

fn check_decompose<L: Decompose + Arbitrary + std::fmt::Debug>() {
    QuickCheck::new().quickcheck(decompose_laws::<L> as fn(L, L) -> bool);
}

#[test]
fn decompose_and_difference_hold_for_every_type() {
    check_decompose::<GSet<E>>();
    check_decompose::<TwoPSet<E>>();
    check_decompose::<LwwRegister<E, R>>();
    check_decompose::<VersionVector<R>>();
    check_decompose::<GCounter<R>>();
    check_decompose::<PnCounter<R>>();
    check_decompose::<OrSet<E, R>>();
    check_decompose::<MvRegister<E, R>>();
}

/// The OR-Set's own `difference` (which never enumerates the context) is no bigger, in live
/// entries, than the default built from `decompose`, and joins to the same state.
#[test]
fn or_set_difference_agrees_with_the_decomposition() {
    fn prop(mine: OrSet<E, R>, known: OrSet<E, R>) -> bool {
        let by_parts = mine
            .decompose()
            .into_iter()
            .filter(|p| !p.leq(&known))
            .fold(OrSet::new(), |acc, p| acc.joined(&p));
        let fast = mine.difference(&known);
        known.clone().joined(&fast) == known.clone().joined(&by_parts)
            && by_parts.leq(&fast)
            && fast.leq(&mine)
    }
    QuickCheck::new().quickcheck(prop as fn(OrSet<E, R>, OrSet<E, R>) -> bool);
}

#[test]
fn or_set_difference_of_an_exhausted_context_is_small() {
    // A state claiming 2^64 - 1 events of replica "a": decompose would never finish, and
    // difference must not try.
    let huge: OrSet<u8, String> = serde_json::from_str(
        r#"{"entries":[[1,[["a",3]]]],"context":{"vv":{"a":18446744073709551615},"cloud":[]}}"#,
    )
    .expect("valid");
    let mut known = OrSet::new();
    known.join(
        &serde_json::from_str(r#"{"entries":[[1,[["a",3]]]],"context":{"vv":{"a":5},"cloud":[]}}"#)
            .expect("valid"),
    );
    let diff = huge.difference(&known);
    assert_eq!(known.clone().joined(&diff), known.clone().joined(&huge));
    assert!(diff.context().cloud().count() <= 1);
    assert!(huge.difference(&OrSet::new()) == huge);
}

// ---------------------------------------------------------------------------------------------
// One vocabulary
// ---------------------------------------------------------------------------------------------

#[test]
fn two_p_set_collects_extends_and_counts_without_walking() {
    let mut set: TwoPSet<u32> = (0..10).collect();
    assert_eq!((set.len(), set.iter().count()), (10, 10));
    set.remove(3);
    set.remove(42); // a tombstone for an element never inserted
    set.extend([3, 42, 10]); // too late for 3 and 42
    assert_eq!(
        set.iter().copied().collect::<Vec<_>>(),
        [0, 1, 2, 4, 5, 6, 7, 8, 9, 10]
    );
    assert_eq!(set.len(), 10);
    assert!(!set.is_empty());
    let emptied: TwoPSet<u32> =
        serde_json::from_str(r#"{"adds":[1,2],"removes":[2,1,7]}"#).expect("a valid state");
    assert_eq!(emptied.len(), 0);
    assert!(emptied.is_empty());
}

/// The count of present elements agrees with the elements, however the state was reached:
/// operations, joins in both directions, decoding, `difference` and `absorb`.
#[test]
fn two_p_set_len_agrees_with_its_elements() {
    fn agrees(set: &TwoPSet<u8>) -> bool {
        set.len() == set.iter().count() && set.is_empty() == (set.iter().next().is_none())
    }
    fn prop(a: TwoPSet<u8>, b: TwoPSet<u8>, ops: Vec<(bool, u8)>) -> bool {
        let mut x = a.clone();
        let mut ok = agrees(&a) && agrees(&b);
        for (insert, value) in ops {
            let value = value % 8;
            let delta = if insert {
                x.insert(value)
            } else {
                x.remove(value)
            };
            ok &= agrees(&x) && agrees(&delta);
        }
        let mut y = b.clone();
        ok &= y.join(&x) | true && agrees(&y);
        x.join(&b);
        ok &= agrees(&x) && x == y;
        let mut absorbed = a.clone();
        let news = absorbed.absorb(b.clone());
        ok &= agrees(&absorbed) && agrees(&news) && agrees(&b.difference(&a));
        let json = serde_json::to_string(&y).unwrap_or_default();
        ok &= serde_json::from_str::<TwoPSet<u8>>(&json).is_ok_and(|d| agrees(&d) && d == y);
        ok
    }
    QuickCheck::new()
        .tests(2_000)
        .quickcheck(prop as fn(TwoPSet<u8>, TwoPSet<u8>, Vec<(bool, u8)>) -> bool);
}

#[test]
fn pn_counter_increments_and_decrements_by_unsigned_steps() -> Result {
    let mut c = PnCounter::new();
    let up = c.increment("a", 5)?;
    let down = c.decrement("a", 7)?;
    assert_eq!(c.value(), -2);
    let mut other = PnCounter::new();
    other.join(&down);
    assert_eq!(
        other.value(),
        -7,
        "a decrement's delta carries the decrement alone"
    );
    other.join(&up);
    assert_eq!(other, c);
    Ok(())
}

#[test]
fn counter_and_set_maps_speak_as_their_values() -> Result {
    let mut likes: CounterMap<&str, &str> = CounterMap::new();
    likes.increment("a", "post", 3)?;
    likes.decrement("a", "post", 5)?;
    let delta = likes.decrement_delta("b", "post", 1)?;
    assert_eq!(likes.value(&"post"), -2);
    likes.join(&delta);
    assert_eq!(likes.value(&"post"), -3);
    assert_eq!(likes.value(&"other"), 0);

    let mut tags: SetMap<&str, &str, &str> = SetMap::new();
    tags.insert("a", "doc", "draft")?;
    assert!(tags.contains_element(&"doc", &"draft"));
    assert!(!tags.contains_element(&"doc", &"final"));
    assert!(!tags.contains_element(&"other", &"draft"));
    tags.remove_element("a", "doc", &"draft")?;
    assert!(!tags.contains_element(&"doc", &"draft"));
    assert!(
        tags.contains_key(&"doc"),
        "removing an element keeps the key"
    );
    Ok(())
}

#[test]
fn registers_write_and_read() -> Result {
    let mut lww = LwwRegister::new();
    assert_eq!(lww.read(), None);
    let delta = lww.write_delta(3, "a", "x");
    assert_eq!(lww.read(), None, "a delta is not applied");
    lww.write(3, "a", "x");
    assert_eq!(lww, delta);
    assert_eq!(lww.read(), Some(&"x"));
    let last = lww.last_write().expect("written");
    assert_eq!((last.timestamp, last.replica), (3, "a"));

    let mut mv = MvRegister::new();
    assert_eq!(mv.read().len(), 0);
    let delta = mv.write_delta("a", "x")?;
    mv.write("a", "x")?;
    assert_eq!(mv, delta);
    assert_eq!(mv.read().collect::<Vec<_>>(), [&"x"]);
    Ok(())
}

#[test]
fn dots_are_copy_when_replica_ids_are() {
    fn copy<T: Copy>(value: T) -> (T, T) {
        (value, value)
    }
    let (a, b) = copy(Dot {
        replica: 1u64,
        counter: 2,
    });
    assert_eq!(a, b);
}

/// The names before the one vocabulary still work, for one release, and do what the new ones
/// do.
#[test]
#[allow(deprecated)]
fn the_old_names_still_work() -> Result {
    let mut two_p = TwoPSet::new();
    assert_eq!(two_p.add_delta("x"), TwoPSet::new().insert_delta("x"));
    two_p.add("x");
    assert!(two_p.contains(&"x"));

    let mut or_set = OrSet::new();
    assert_eq!(
        or_set.add_delta("a", "x")?,
        OrSet::new().insert_delta("a", "x")?
    );
    or_set.add("a", "x")?;
    assert!(or_set.contains(&"x"));

    let mut pn = PnCounter::new();
    assert_eq!(
        pn.add_delta("a", -2)?,
        PnCounter::new().decrement_delta("a", 2)?
    );
    pn.add("a", i64::MIN)?; // |i64::MIN| = 2^63 fits the u64 decrement entry
    pn.add("a", 1)?;
    assert_eq!(pn.value(), i128::from(i64::MIN) + 1);

    let mut map: CounterMap<&str, &str> = CounterMap::new();
    let delta = map.add_delta("a", "k", -1)?;
    map.add("a", "k", 3)?;
    map.join(&delta);
    assert_eq!((map.count(&"k"), map.value(&"k")), (2, 2));

    let mut lww = LwwRegister::new();
    assert_eq!(
        lww.set_delta(1, "a", "x"),
        LwwRegister::new().write_delta(1, "a", "x")
    );
    lww.set(1, "a", "x");
    assert_eq!(lww.get(), Some(&"x"));

    let mut mv = MvRegister::new();
    mv.write("a", "x")?;
    assert_eq!(mv.values().collect::<Vec<_>>(), [&"x"]);
    Ok(())
}
