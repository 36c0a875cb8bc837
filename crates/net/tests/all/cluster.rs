//! Several nodes on loopback: convergence on several named replicas of different types,
//! update-and-wait, membership, restarts with state lost.

use crate::common;

use std::time::Duration;

use gossip_crdt::{GCounter, GSet, Lattice, OrSet};
use gossip_net::{AckLevel, Keyring, MemberState, Node, NodeBuilder, Replica};
use gossip_transport::ReplicaId;

use common::*;

type Counter = GCounter<ReplicaId>;
type Tags = OrSet<String, ReplicaId>;

struct Opened {
    set: Replica<GSet<u64>>,
    counter: Replica<Counter>,
    tags: Replica<Tags>,
}

fn open_all(node: &Node) -> Opened {
    Opened {
        set: node.open("set").expect("open set"),
        counter: node.open("counter").expect("open counter"),
        tags: node.open("tags").expect("open tags"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_converge_on_three_replicas_of_different_types() {
    let key = Keyring::generate();
    let nodes = cluster(&key, 3).await;
    let opened: Vec<Opened> = nodes.iter().map(open_all).collect();
    for (i, o) in opened.iter().enumerate() {
        let i = i as u64;
        for j in 0..20 {
            o.set
                .update(|s, _| Some(s.insert_delta(i * 100 + j)))
                .await
                .expect("set update");
        }
        o.counter
            .update(|s, me| s.increment_delta(me, i + 1).ok())
            .await
            .expect("counter update");
        o.tags
            .update(|s, me| s.insert_delta(me, format!("tag{i}")).ok())
            .await
            .expect("tags update");
    }
    wait_for("every node to hold every update", || {
        opened.iter().all(|o| {
            o.set.read(|s| s.len() == 60)
                && o.counter.read(|c| c.value() == 6)
                && o.tags.read(|t| t.len() == 3)
        })
    })
    .await;
    let first = opened[0].set.snapshot();
    for o in &opened {
        assert_eq!(o.set.snapshot(), first);
    }
    // Members meet through the seed's pings, which may take a round longer than the data.
    wait_for("every node to know the other two", || {
        nodes.iter().all(|n| {
            n.members().len() == 2 && n.members().iter().all(|m| m.state == MemberState::Alive)
        })
    })
    .await;
    for n in &nodes {
        let m = n.metrics();
        assert_eq!(m.refused_unsealed, 0);
        assert_eq!(m.refused_invalid, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_and_wait_reaches_k_members() {
    let (_nodes, sets) = three_with_a_set().await;
    let (dot, level) = sets[1]
        .update_with(AckLevel::Replicated { k: 2 }, PATIENCE, |s, _| {
            Some(s.insert_delta(7))
        })
        .await
        .expect("replicated to two");
    assert!(matches!(level, AckLevel::Replicated { k } if k >= 2));
    assert!(sets[0].read(|s| s.contains(&7)) && sets[2].read(|s| s.contains(&7)));
    assert_eq!(dot.counter, 1);
    let (_, level) = sets[2]
        .update_with(AckLevel::All { k: 1 }, PATIENCE, |s, _| {
            Some(s.insert_delta(8))
        })
        .await
        .expect("held by all");
    assert_eq!(level, AckLevel::All { k: 2 });
    // More members than there are: the wait ends in a timeout, the update stays.
    let r = sets[0]
        .update_with(
            AckLevel::Replicated { k: 5 },
            Duration::from_millis(500),
            |s, _| Some(s.insert_delta(9)),
        )
        .await;
    assert!(matches!(r, Err(gossip_net::UpdateError::Timeout { .. })));
    wait_for("the timed-out update to spread", || {
        sets.iter().all(|s| s.read(|s| s.contains(&9)))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_restarted_with_its_state_lost_gets_everything_back() {
    let key = Keyring::generate();
    let nodes = cluster(&key, 3).await;
    let sets: Vec<Replica<GSet<u64>>> = nodes.iter().map(|n| n.open("s").expect("open")).collect();
    for (i, s) in sets.iter().enumerate() {
        for j in 0..10u64 {
            s.update(|st, _| Some(st.insert_delta(i as u64 * 10 + j)))
                .await
                .expect("update");
        }
    }
    wait_for("convergence", || {
        sets.iter().all(|s| s.read(|s| s.len() == 30))
    })
    .await;
    let seed = nodes[0].local_addr();
    let mut nodes = nodes;
    let mut sets = sets;
    let gone = nodes.pop().expect("three nodes");
    let _ = sets.pop();
    gone.shutdown().await.expect("shutdown");
    drop(gone);
    let back = start(&key, vec![seed]).await;
    let fresh: Replica<GSet<u64>> = back.open("s").expect("open");
    assert!(fresh.read(|s| s.is_empty()));
    wait_for("the restarted node to get everything back", || {
        fresh.read(|s| s.len() == 30)
    })
    .await;
    fresh
        .update(|s, _| Some(s.insert_delta(1000)))
        .await
        .expect("update");
    wait_for("the others to get the newcomer's update", || {
        sets.iter().all(|s| s.read(|s| s.contains(&1000)))
    })
    .await;
    wait_for("the old life to be marked left", || {
        nodes[0]
            .members()
            .iter()
            .any(|m| m.state == MemberState::Left)
    })
    .await;
    let _ = Lattice::is_bottom(&fresh.snapshot());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_member_becomes_suspect_then_down_and_leaves_the_replica() {
    let (nodes, sets) = three_with_a_set().await;
    let mut nodes = nodes;
    let silent = nodes.pop().expect("three nodes");
    let silent_id = silent.id();
    // Dropped without a goodbye: it just stops talking.
    drop(silent);
    let state_of = |n: &Node| {
        n.members()
            .iter()
            .find(|m| m.id == silent_id)
            .map(|m| m.state)
    };
    wait_for("the silent member to be suspect", || {
        state_of(&nodes[0]) == Some(MemberState::Suspect)
    })
    .await;
    assert!(
        sets[0].members().contains(&silent_id),
        "suspects are still replicated with"
    );
    wait_for("the silent member to be down", || {
        state_of(&nodes[0]) == Some(MemberState::Down)
    })
    .await;
    wait_for("the replica to stop replicating with it", || {
        !sets[0].members().contains(&silent_id)
    })
    .await;
    sets[0]
        .update_with(AckLevel::All { k: 1 }, PATIENCE, |s, _| {
            Some(s.insert_delta(1))
        })
        .await
        .expect("all live members hold it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_mid_rotation_understand_each_other() {
    let old = Keyring::generate();
    let new = Keyring::generate();
    // One node still seals with the old key, the other already with the new; both open both.
    let a = start(&old.clone().with_opening_keys(&new), Vec::new()).await;
    let b = start(&new.clone().with_opening_keys(&old), vec![a.local_addr()]).await;
    let ra: Replica<GSet<u64>> = a.open("s").expect("open");
    let rb: Replica<GSet<u64>> = b.open("s").expect("open");
    ra.update(|s, _| Some(s.insert_delta(1)))
        .await
        .expect("update");
    rb.update(|s, _| Some(s.insert_delta(2)))
        .await
        .expect("update");
    wait_for("both to hold both", || {
        ra.read(|s| s.len() == 2) && rb.read(|s| s.len() == 2)
    })
    .await;
    assert_eq!(
        a.metrics().refused_unsealed + b.metrics().refused_unsealed,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_lag_counts_own_deltas_a_cut_off_peer_has_not_acknowledged() {
    let key = Keyring::generate();
    let nodes = cluster(&key, 2).await;
    let (a, b) = (&nodes[0], &nodes[1]);
    let sa: Replica<GSet<u64>> = a.open("lag").expect("open");
    let sb: Replica<GSet<u64>> = b.open("lag").expect("open");
    wait_for("each replica to know the other", || {
        sa.members() == vec![b.id()] && sb.members() == vec![a.id()]
    })
    .await;
    sa.update(|s, _| Some(s.insert_delta(1)))
        .await
        .expect("update");
    wait_for("the first update to be held everywhere", || {
        a.metrics().replication_lag_deltas == 0
    })
    .await;
    assert_eq!(a.metrics().replication_lag_ms, 0);

    // b still receives, but nothing it says arrives: a never learns that b holds the rest.
    b.silence(true);
    for i in 2..5 {
        sa.update(|s, _| Some(s.insert_delta(i)))
            .await
            .expect("update");
    }
    wait_for("b to receive the updates", || sb.read(|s| s.len() == 4)).await;
    let m = a.metrics();
    // Only while b is still a member: one declared down no longer counts.
    assert_eq!(sa.members(), vec![b.id()], "b was dropped too early");
    assert_eq!(m.replication_lag_deltas, 3);
    // The gauges are the writer's: b's own deltas are none.
    assert_eq!(b.metrics().replication_lag_deltas, 0);

    b.silence(false);
    wait_for("the lag to return to zero once b is heard again", || {
        let m = a.metrics();
        m.replication_lag_deltas == 0 && m.replication_lag_ms == 0
    })
    .await;
    let text = a.metrics().to_prometheus();
    for gauge in [
        "replication_lag_deltas",
        "replication_lag_ms",
        "tcp_queued_bytes",
        "tcp_queued_bytes_max",
        "replica_queued_deltas",
    ] {
        assert!(
            text.contains(&format!("# TYPE gossip_net_{gauge} gauge\n")),
            "{gauge} is not a gauge in:\n{text}"
        );
    }
    assert!(text.contains("# TYPE gossip_net_udp_sent_total counter\n"));
}

/// Packets `writer` sends while it makes 40 updates in a burst and `reader` receives them all.
async fn packets_for_a_burst(writer: NodeBuilder) -> u64 {
    let key = Keyring::generate();
    let reader = start(&key, vec![]).await;
    let writer = start_with(writer.keyring(key.clone()).seeds(vec![reader.local_addr()])).await;
    let ours: Replica<GSet<u64>> = writer.open("s").expect("open");
    let theirs: Replica<GSet<u64>> = reader.open("s").expect("open");
    wait_for("the nodes to see each other", || ours.members().len() == 1).await;
    let before = writer.metrics().packets_sent;
    for i in 0..40u64 {
        ours.update(|s, _| Some(s.insert_delta(i)))
            .await
            .expect("update");
    }
    wait_for("the burst to arrive", || theirs.read(|s| s.len() == 40)).await;
    writer.metrics().packets_sent - before
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flush_interval_gathers_a_burst_of_updates_into_few_packets() {
    let at_once = packets_for_a_burst(NodeBuilder::new(any_port()).flush(Duration::ZERO)).await;
    let gathered =
        packets_for_a_burst(NodeBuilder::new(any_port()).flush(Duration::from_millis(500))).await;
    assert!(
        at_once >= 40,
        "without a flush interval each update is its own push: {at_once} packets"
    );
    assert!(
        gathered <= 10,
        "a 500 ms flush interval gathers the burst: {gathered} packets (at once: {at_once})"
    );
}

/// Three nodes, each with replica "s", every one knowing the two others.
async fn three_with_a_set() -> (Vec<Node>, Vec<Replica<GSet<u64>>>) {
    let nodes = cluster(&Keyring::generate(), 3).await;
    let sets: Vec<Replica<GSet<u64>>> = nodes.iter().map(|n| n.open("s").expect("open")).collect();
    wait_for("every replica to know two members", || {
        sets.iter().all(|s| s.members().len() == 2)
    })
    .await;
    (nodes, sets)
}
