//! The sets: a grow-only set converges to the union, a two-phase set never brings a removed
//! element back, and an OR-Set lets a concurrent add win and a later add bring it back.

use gossip_crdt::{CrdtError, Decompose, GSet, Lattice, OrSet, TwoPSet};

use super::Result;

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
