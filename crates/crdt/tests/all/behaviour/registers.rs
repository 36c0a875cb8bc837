//! The registers: a last-writer-wins register silently loses a concurrent write (and which
//! one wins is decided the same way everywhere); a multi-value register keeps it as a sibling.

use gossip_crdt::{Causality, Lattice, LwwRegister, MvRegister};

use super::{Result, vv};

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
