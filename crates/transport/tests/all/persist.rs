//! Resuming a replica from storage: it keeps its replica id and never numbers a new delta
//! with an id a previous life may have sent (a peer would drop that delta as a repeat).

use gossip_crdt::{CausalContext, Dot, GSet};
use gossip_transport::{Config, ReplicaId, Replicator, Start, Time};

type Node = Replicator<GSet<u64>, &'static str>;

fn members() -> Vec<&'static str> {
    vec!["a", "b"]
}

/// Delivers packets both ways and fires timers until both sides fall silent.
fn settle(a: &mut Node, b: &mut Node, now: &mut Time) {
    for _ in 0..200 {
        while let Some((to, packet)) = a.poll_transmit() {
            assert_eq!(to, "b");
            b.handle_packet(*now, "a", packet)
                .expect("a's packets are well formed");
        }
        while let Some((to, packet)) = b.poll_transmit() {
            assert_eq!(to, "a");
            a.handle_packet(*now, "b", packet)
                .expect("b's packets are well formed");
        }
        match [a.poll_timeout(), b.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
        {
            Some(t) => *now = (*now).max(t),
            None => return,
        }
        a.handle_timeout(*now);
        b.handle_timeout(*now);
    }
    panic!("the two replicas did not fall silent");
}

fn insert(node: &mut Node, now: Time, value: u64) -> Dot<ReplicaId> {
    let delta = node.state().insert_delta(value);
    node.update(now, delta)
        .expect("a new element is a non-empty delta")
}

/// A saved copy taken after `a`'s first two updates: its state, ids and lease.
struct Saved {
    state: GSet<u64>,
    seen: CausalContext<ReplicaId>,
    replica: ReplicaId,
}

#[test]
fn a_resumed_replica_numbers_after_its_lease_and_peers_take_its_new_deltas() {
    let mut now = Time::ZERO;
    let mut a = Node::new("a", members(), Config::default(), Start::new(now, 1, 10));
    let mut b = Node::new("b", members(), Config::default(), Start::new(now, 1, 20));
    insert(&mut a, now, 1);
    insert(&mut a, now, 2);
    let saved = Saved {
        state: a.state().clone(),
        seen: a.seen().clone(),
        replica: a.id(),
    };
    // A lease of 8 was committed before any of these left: up to counter 8 may be out there.
    let lease = 8;
    for v in 3..=5 {
        insert(&mut a, now, v);
    }
    assert_eq!(a.issued().counter, 5);
    settle(&mut a, &mut b, &mut now);
    assert_eq!(b.state().len(), 5);

    // `a` crashes and comes back from the copy saved after its second update.
    let start = Start::resume(now, 1, 11, saved.replica);
    let mut a = Node::resume(
        "a",
        members(),
        Config::default(),
        start,
        saved.state,
        saved.seen,
        lease + 1,
    );
    assert_eq!(a.id(), saved.replica);
    assert_eq!(
        a.issued(),
        Dot {
            replica: saved.replica,
            counter: lease
        }
    );
    let dot = insert(&mut a, now, 100);
    assert_eq!(
        dot,
        Dot {
            replica: saved.replica,
            counter: lease + 1
        }
    );
    settle(&mut a, &mut b, &mut now);

    // Had `a` reused counter 3, `b` would have dropped 100 as a repeat of 3.
    assert!(
        b.state().contains(&100),
        "b dropped the resumed replica's new delta"
    );
    // And `a` got back what it lost in the crash.
    for v in [1, 2, 3, 4, 5, 100] {
        assert!(a.state().contains(&v), "a lacks {v}");
    }
    assert_eq!(a.state(), b.state());
}

#[test]
fn a_lease_below_the_saved_ids_does_not_rewind_the_counter() {
    let now = Time::ZERO;
    let mut a = Node::new("a", members(), Config::default(), Start::new(now, 1, 10));
    for v in 1..=4 {
        insert(&mut a, now, v);
    }
    let (state, seen, replica) = (a.state().clone(), a.seen().clone(), a.id());
    let start = Start::resume(now, 1, 11, replica);
    // A stale lease (1): the saved ids go up to 4, so 5 comes next.
    let mut a = Node::resume("a", members(), Config::default(), start, state, seen, 1);
    assert_eq!(insert(&mut a, now, 9).counter, 5);
}

#[test]
fn a_resumed_replica_keeps_its_id_in_a_new_incarnation() {
    let first = Start::new(Time::ZERO, 3, 7);
    let again = Start::resume(Time::ZERO, 3, 8, first.replica);
    assert_eq!(again.replica, first.replica);
    assert_ne!(again.incarnation, first.incarnation);
    assert_eq!(again.incarnation, Start::new(Time::ZERO, 3, 8).incarnation);
}

#[test]
fn a_resumed_replica_tells_its_peers_what_it_holds() {
    let mut now = Time::ZERO;
    let mut a = Node::new("a", members(), Config::default(), Start::new(now, 1, 10));
    let mut b = Node::new("b", members(), Config::default(), Start::new(now, 1, 20));
    let dot = insert(&mut a, now, 7);
    let (state, seen, replica) = (a.state().clone(), a.seen().clone(), a.id());
    // `b` never heard of 7: the resumed `a` brings it by itself.
    let start = Start::resume(now, 1, 11, replica);
    let mut a = Node::resume("a", members(), Config::default(), start, state, seen, 3);
    let (to, greeting) = a
        .poll_transmit()
        .expect("a resumed replica greets its peers");
    assert_eq!(to, "b");
    let have = greeting
        .have
        .clone()
        .expect("the greeting carries a digest");
    assert!(have.contains(&dot));
    // Its saved ids have no per-delta form: only the peer's digest shows who needs a snapshot.
    assert!(greeting.pull, "the greeting asks for the peer's digest");
    b.handle_packet(now, "a", greeting).expect("well formed");
    settle(&mut a, &mut b, &mut now);
    assert!(b.state().contains(&7));
}
