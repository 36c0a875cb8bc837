//! Message economy: what the engine sends when, and what it never sends. Each test states the
//! rule it pins down.

use crate::common;

use std::time::Duration;

use common::{Cluster, Faults};
use gossip_transport::{Config, Overlay, PacketKind, Strategy, Time};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn star(relay_flush: u64) -> Config<u32> {
    Config {
        strategy: Strategy::Tree,
        overlay: Overlay::Star { hubs: 3 },
        flush: ms(0),
        relay_flush: ms(relay_flush),
        ..Config::maelstrom()
    }
}

fn calm() -> Faults {
    Faults {
        latency: ms(10),
        ..Faults::default()
    }
}

/// Runs `updates` spread over nodes 1.. (leaves) at 5 ms intervals, then lets the cluster
/// settle.
fn busy(cluster: &mut Cluster, updates: u64) {
    let n = cluster.nodes.len() as u64;
    for v in 0..updates {
        cluster.update((1 + v % (n - 1)) as u32, v);
        cluster.run_for(ms(5));
    }
    assert!(cluster.run_for(Duration::from_secs(30)), "no livelock");
    assert!(cluster.converged());
    assert_eq!(cluster.union().len() as u64, updates);
}

#[test]
fn no_empty_batch_is_ever_sent() {
    let mut cluster = Cluster::new(8, star(50), calm(), 1);
    cluster.record = true;
    busy(&mut cluster, 200);
    for (at, from, to, p) in &cluster.sent_log {
        let says_something = !p.runs.is_empty()
            || p.have.is_some()
            || p.ack.is_some()
            || p.relay.is_some()
            || p.seq.is_some();
        assert!(says_something, "empty packet {from} -> {to} at {at}: {p:?}");
        if p.seq.is_some() && p.have.is_none() && p.relay.is_none() {
            assert!(
                !p.runs.is_empty() || p.seq.is_some_and(|(lo, hi)| hi > lo),
                "a first-time push must carry deltas: {p:?}"
            );
        }
    }
}

#[test]
fn a_converged_cluster_falls_silent() {
    let mut cluster = Cluster::new(10, star(100), calm(), 2);
    busy(&mut cluster, 100);
    let before = cluster.sent();
    assert!(cluster.run_for(Duration::from_secs(60)));
    assert_eq!(
        cluster.sent(),
        before,
        "timers that find nothing new send nothing"
    );
    assert!(cluster.quiet());
}

#[test]
fn on_a_tree_no_delta_travels_an_edge_twice() {
    // Back-propagation is impossible (never sent back to the sender) and a tree has no
    // cycles, so on a loss-free network nobody receives a delta it already holds.
    for overlay in [Overlay::Star { hubs: 3 }, Overlay::Kary { k: 3 }] {
        let config = Config {
            overlay: overlay.clone(),
            ..star(20)
        };
        let mut cluster = Cluster::new(13, config, calm(), 3);
        busy(&mut cluster, 300);
        let stats = cluster.stats();
        assert_eq!(stats.received_duplicate, 0, "{overlay:?}: {stats}");
        // Each delta reaches each of the 12 other nodes exactly once.
        assert_eq!(stats.received_new, 300 * 12, "{overlay:?}: {stats}");
    }
}

#[test]
fn the_hub_batches_one_packet_per_leaf_per_interval() {
    let mut cluster = Cluster::new(6, star(200), calm(), 4);
    cluster.record = true;
    // 100 updates in 500 ms: 2.5 hub intervals.
    busy(&mut cluster, 100);
    let hub_pushes = cluster
        .sent_log
        .iter()
        .filter(|(_, from, _, p)| *from == 0 && !p.runs.is_empty())
        .count();
    // At most one push per leaf per 200 ms tick while updates arrive (~4 ticks).
    assert!(hub_pushes <= 5 * 4, "hub sent {hub_pushes} pushes");
    let leaf_pushes = cluster
        .sent_log
        .iter()
        .filter(|(_, from, _, p)| *from != 0 && !p.runs.is_empty())
        .count();
    assert_eq!(
        leaf_pushes, 100,
        "leaves (flush 0) push each update at once"
    );
}

#[test]
fn an_oversized_batch_is_split_and_sent_early() {
    let config = Config {
        max_packet_bytes: 200,
        ..star(10_000)
    };
    let mut cluster = Cluster::new(3, config, calm(), 5);
    cluster.record = true;
    for v in 0..100 {
        cluster.update(1, 1_000_000 + v);
    }
    // Long before the 10 s hub tick, the budget forces the hub to send.
    assert!(cluster.run_for(ms(500)));
    let early: Vec<_> = cluster
        .sent_log
        .iter()
        .filter(|(_, from, to, p)| *from == 0 && *to == 2 && !p.runs.is_empty())
        .collect();
    assert!(
        early.len() >= 2,
        "split into several packets, got {}",
        early.len()
    );
    for (_, _, _, p) in &early {
        let json = serde_json::to_string(&p.runs).unwrap_or_default();
        assert!(
            json.len() <= 200 + 40,
            "packet runs of {} bytes",
            json.len()
        );
    }
    assert!(cluster.nodes[2].state().len() >= 90);
}

#[test]
fn repair_after_a_partition_costs_the_difference_not_the_state() {
    let config = Config {
        strategy: Strategy::PushPull { interval: ms(50) },
        overlay: Overlay::Full,
        ..Config::maelstrom()
    };
    let mut cluster = Cluster::new(4, config, calm(), 6);
    // A large shared history...
    for v in 0..2000 {
        cluster.update((v % 4) as u32, v);
    }
    assert!(cluster.run_for(Duration::from_secs(20)));
    assert!(cluster.converged());
    // ...then 10 updates on each side of a partition.
    cluster.partition(&[0, 1], &[2, 3]);
    for v in 0..20 {
        cluster.update((v % 4) as u32, 10_000 + v);
    }
    assert!(cluster.run_for(Duration::from_secs(5)));
    let before = cluster.stats();
    cluster.heal();
    assert!(cluster.run_for(Duration::from_secs(20)));
    assert!(cluster.converged());
    let after = cluster.stats();
    let shipped: u64 = PacketKind::ALL
        .iter()
        .map(|k| {
            after.sent.get(k).map_or(0, |c| c.deltas) - before.sent.get(k).map_or(0, |c| c.deltas)
        })
        .sum();
    // Each node lacks 10 deltas; shipping the 2,000-delta state to anyone would blow this.
    assert!(shipped <= 4 * 10 * 4, "repair shipped {shipped} deltas");
    assert!(
        shipped >= 4 * 10,
        "every node needed 10 deltas, shipped {shipped}"
    );
}

#[test]
fn time_going_backwards_is_treated_as_now() {
    let mut cluster = Cluster::new(2, star(0), calm(), 7);
    cluster.run_for(Duration::from_secs(1));
    let node = cluster.node_mut(1);
    let delta = node.state().insert_delta(5);
    node.update(Time::ZERO, delta); // earlier than the node has seen
    assert!(
        node.poll_timeout()
            .is_none_or(|t| t >= Time::from_millis(1000))
    );
}

#[test]
fn twenty_five_replicas_repair_within_ten_seconds_of_healing() {
    // Default (efficient) timings, 100 ms latency, updates at 50/s for 20 s under a changing
    // partition; after healing, Maelstrom allows 10 s before its final reads.
    for seed in 0..4u64 {
        let faults = Faults {
            latency: ms(100),
            ..Faults::default()
        };
        let mut cluster = Cluster::new(25, Config::maelstrom(), faults, 100 + seed);
        let mut value = 0;
        for second in 0..20u64 {
            if second % 5 == 0 {
                cluster.heal();
                // Cut a random group (sometimes holding the hub) from the rest.
                let members = cluster.members();
                let cut = 1 + cluster.rng.below(12) as usize;
                let start = cluster.rng.below(25) as usize;
                let side: Vec<u32> = (0..cut).map(|i| members[(start + i) % 25]).collect();
                let rest: Vec<u32> = members
                    .iter()
                    .copied()
                    .filter(|m| !side.contains(m))
                    .collect();
                cluster.partition(&side, &rest);
            }
            for _ in 0..50 {
                let node = cluster.rng.below(25) as u32;
                cluster.update(node, value);
                value += 1;
                assert!(cluster.run_for(ms(20)));
            }
        }
        cluster.heal();
        assert!(cluster.run_for(Duration::from_secs(10)));
        assert!(
            cluster.converged(),
            "seed {seed}: not converged 10 s after healing"
        );
        assert_eq!(
            cluster.nodes[0].state().len() as u64,
            value,
            "seed {seed}: updates lost"
        );
    }
}

#[test]
fn the_log_forgets_deltas_every_peer_holds() {
    let config = Config {
        retain: Duration::from_secs(2),
        ..star(50)
    };
    let mut cluster = Cluster::new(8, config, calm(), 9);
    busy(&mut cluster, 400);
    // Everything is acknowledged and older than `retain` by now; a compaction pass runs at
    // least once a second.
    assert!(cluster.run_for(Duration::from_secs(3)));
    for node in &cluster.nodes {
        assert_eq!(node.state().len(), 400);
        assert!(
            node.log_len() < 40,
            "{:?} still stores {} of 400 deltas",
            node.me(),
            node.log_len()
        );
    }
    // A node that restarts now gets everything back, by snapshot.
    cluster.restart(3);
    assert!(cluster.run_for(Duration::from_secs(10)));
    assert_eq!(cluster.nodes[3].state().len(), 400);
    assert!(cluster.stats().sent.contains_key(&PacketKind::Snapshot));
}

/// A hub builds a batch once: every leaf whose batch holds the same deltas gets the same
/// shared runs, not a copy each.
#[test]
fn a_hub_shares_one_batch_among_its_leaves() {
    use std::sync::Arc;

    use gossip_crdt::GSet;
    use gossip_transport::{Replicator, Start};

    let members: Vec<u32> = (0..6).collect();
    let mut hub: Replicator<GSet<u64>, u32> =
        Replicator::new(0, members, star(300), Start::new(Time::ZERO, 1, 1));
    assert_eq!(
        hub.eager_targets(),
        vec![1, 2, 3, 4, 5],
        "node 0 is the hub"
    );
    while hub.poll_transmit().is_some() {}
    for v in [7, 8, 9] {
        let delta = hub.state().insert_delta(v);
        hub.update(Time::from_millis(10), delta);
    }
    hub.handle_timeout(Time::from_millis(300));
    let mut pushes = Vec::new();
    while let Some((to, packet)) = hub.poll_transmit() {
        if !packet.runs.is_empty() {
            pushes.push((to, packet));
        }
    }
    assert_eq!(pushes.len(), 5, "one batch per leaf");
    let first = &pushes[0].1.runs;
    assert_eq!(first.iter().map(|r| r.deltas.len()).sum::<usize>(), 3);
    for (to, packet) in &pushes {
        assert!(Arc::ptr_eq(first, &packet.runs), "leaf {to} got a copy");
    }
}

/// A peer that gets a snapshot is not also sent the stored deltas the snapshot covers: a
/// member resumed after a long absence, whose peers compacted some of what it missed and still
/// store the rest, receives the state once, not the state plus the stored deltas again.
#[test]
fn a_snapshot_is_not_followed_by_the_deltas_it_covers() {
    use gossip_crdt::GSet;
    use gossip_transport::Replicator;
    use gossip_transport::Start;
    use gossip_transport::testing::{Faults as SimFaults, SimNet};

    let config = Config {
        retain: Duration::from_secs(2),
        ..Config::lan()
    };
    let faults = SimFaults {
        latency: ms(10),
        ..SimFaults::default()
    };
    let mut net: SimNet<GSet<u64>, u32> = SimNet::new(vec![0, 1, 2], config.clone(), faults, 5);
    let add = |net: &mut SimNet<GSet<u64>, u32>, at: u32, v: u64| {
        let delta = net.node(at).state().insert_delta(v);
        net.update(at, delta);
    };
    for v in 0..20 {
        add(&mut net, (v % 3) as u32, v);
        assert!(net.run_for(ms(10)));
    }
    assert!(net.run_for(Duration::from_secs(1)));
    let state = net.node(2).state().clone();
    let seen = net.node(2).seen().clone();
    let issued = net.node(2).issued();
    net.crash(2);
    // The membership layer drops it while it is down, so the others compact without it.
    let now = net.now();
    for m in [0, 1] {
        net.node_mut(m).set_members(now, vec![0, 1]);
    }
    // What 2 misses: updates old enough to be compacted by its return, then recent ones the
    // others still store.
    for v in 20..420 {
        add(&mut net, (v % 2) as u32, v);
        assert!(net.run_for(ms(20)));
    }
    let stored: usize = [0, 1].iter().map(|&m| net.node(m).log_len()).sum();
    assert!(stored > 0, "the others still store recent deltas");

    let now = net.now();
    let resumed = Replicator::resume(
        2,
        vec![0, 1, 2],
        config,
        Start::resume(now, 5, 77, issued.replica),
        state,
        seen,
        issued.counter + 1,
    );
    net.recover(2);
    net.record = true;
    *net.node_mut(2) = resumed;
    for m in [0, 1] {
        net.node_mut(m).set_members(now, vec![0, 1, 2]);
    }
    assert!(net.run_for(Duration::from_secs(5)));
    assert!(net.live_converged(), "2 caught up");
    let to_two: Vec<_> = net
        .sent_log
        .iter()
        .filter(|(_, _, to, _)| *to == 2)
        .collect();
    let snapshots = to_two
        .iter()
        .filter(|(_, _, _, p)| p.snap.is_some())
        .count();
    let deltas: usize = to_two
        .iter()
        .flat_map(|(_, _, _, p)| p.runs.iter())
        .map(|r| r.deltas.len())
        .sum();
    assert!(
        snapshots >= 1,
        "2 lacked compacted deltas: it needs a snapshot"
    );
    assert_eq!(deltas, 0, "the snapshot covered every delta 2 lacked");
}
