//! A map of 10,000 keys replicated through the transport: random nested updates and removes
//! at every replica, packets lost, duplicated and reordered, a partition and its repair. The
//! replicas must converge on the join of every change, and the bytes on the wire must stay
//! within a small multiple of the bytes of the changes' deltas times the peers they must reach:
//! the map travels as deltas, never as whole states.

use std::time::Duration;

use gossip_crdt::{Lattice, OrMap, PnCounter};
use gossip_transport::testing::{Faults, SimNet};
use gossip_transport::{Config, Overlay, Strategy};

/// Per key, counters by name: a map of maps.
type Map = OrMap<u32, OrMap<u8, PnCounter<u32>, u32>, u32>;
type Cluster = SimNet<Map, u32>;

const KEYS: u32 = 10_000;

/// Latency 10 to 18 ms (packets reorder), 2 % lost, 2 % duplicated.
fn cluster(n: u32, config: Config<u32>, seed: u64) -> Cluster {
    let faults = Faults {
        latency: ms(10),
        jitter: ms(8),
        p_loss: 0.02,
        p_dup: 0.02,
    };
    SimNet::new((0..n).collect(), config, faults, seed)
}

/// Applies a change at `node`; returns its delta.
fn update(cluster: &mut Cluster, node: u32, change: impl FnOnce(&Map) -> Map) -> Map {
    let delta = change(cluster.node(node).state());
    cluster.update(node, delta.clone());
    delta
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn config(strategy: Strategy, overlay: Overlay<u32>) -> Config<u32> {
    Config {
        strategy,
        overlay,
        flush: ms(0),
        relay_flush: ms(20),
        ack_delay: ms(50),
        rto: ms(100),
        max_rto: ms(400),
        suspect_after: ms(300),
        max_packet_bytes: 16 * 1024,
        retain: ms(500),
    }
}

/// Bytes on the wire per byte of delta per peer it must reach. Each change travels once to
/// each peer in its packet, with headers, acknowledgements, retransmissions after losses, and
/// the repair after the partition.
const WIRE_PER_DELTA_BYTE: u64 = 4;

fn replicate(name: &str, config: Config<u32>, seed: u64, sides: (&[u32], &[u32])) {
    let n = 5u32;
    let mut cluster = cluster(n, config, seed);
    let mut everything = Map::new();
    let mut delta_bytes = 0u64;
    let mut record = |delta: Map, everything: &mut Map| {
        delta_bytes += serde_json::to_string(&delta).map_or(0, |s| s.len() as u64);
        everything.join(&delta);
    };

    // Every key written once, by a random replica, in bursts.
    for key in 0..KEYS {
        let node = cluster.rng.below(u64::from(n)) as u32;
        let by = 1 + cluster.rng.below(9);
        let counter = (key % 3) as u8;
        let delta = update(&mut cluster, node, |map| {
            map.update_delta(node, key, |inner| {
                inner.update_delta(node, counter, |c| c.increment_delta(node, by))
            })
            .expect("small counters")
        });
        record(delta, &mut everything);
        if key % 50 == 49 {
            assert!(cluster.run_for(ms(5)), "{name}: no livelock");
        }
    }
    assert!(cluster.run_for(ms(2_000)), "{name}: no livelock");

    // A partition, with updates and removes of random keys on both sides, then the repair.
    cluster.partition(sides.0, sides.1);
    for step in 0..2_000u32 {
        let node = cluster.rng.below(u64::from(n)) as u32;
        let key = cluster.rng.below(u64::from(KEYS)) as u32;
        let roll = cluster.rng.below(10);
        let by = cluster.rng.below(19) as i64 - 9;
        let delta = update(&mut cluster, node, |map| match roll {
            0 => map.remove_delta(&key),
            1 => map
                .update_delta(node, key, |inner| {
                    Ok::<_, gossip_crdt::CrdtError>(inner.remove_delta(&0))
                })
                .expect("small counters"),
            _ => map
                .update_delta(node, key, |inner| {
                    inner.update_delta(node, (key % 3) as u8, |c| {
                        if by < 0 {
                            c.decrement_delta(node, by.unsigned_abs())
                        } else {
                            c.increment_delta(node, by.unsigned_abs())
                        }
                    })
                })
                .expect("small counters"),
        });
        record(delta, &mut everything);
        if step % 20 == 19 {
            assert!(cluster.run_for(ms(5)), "{name}: no livelock");
        }
    }
    assert!(cluster.run_for(ms(500)), "{name}: no livelock");
    cluster.heal();
    assert!(cluster.run_for(ms(10_000)), "{name}: no livelock");

    if !cluster.converged() {
        for (i, node) in cluster.nodes.iter().enumerate() {
            let lacks = gossip_crdt::Decompose::difference(&everything, node.state());
            eprintln!(
                "{name}: node {i} lacks {}",
                serde_json::to_string(&lacks).unwrap_or_default()
            );
        }
    }
    assert!(
        cluster.converged(),
        "{name}: replicas differ after the repair"
    );
    let state = cluster.nodes[0].state();
    assert!(
        *state == everything,
        "{name}: the replicas hold something else than every change"
    );
    assert!(
        state.len() > (KEYS as usize) * 3 / 4,
        "{name}: {} keys",
        state.len()
    );

    let sent = cluster.stats().bytes_sent();
    let bound = WIRE_PER_DELTA_BYTE * delta_bytes * u64::from(n - 1);
    let state_bytes = serde_json::to_string(state).map_or(0, |s| s.len() as u64);
    eprintln!(
        "{name}: {sent} bytes sent for {delta_bytes} bytes of deltas to {} peers (bound {bound}); one state is {state_bytes} bytes",
        n - 1
    );
    assert!(sent < bound, "{name}: {sent} bytes sent, bound {bound}");
}

#[test]
fn a_map_of_10_000_keys_converges_with_deltas_under_tree_push() {
    replicate(
        "tree/star2",
        config(Strategy::Tree, Overlay::Star { hubs: 2 }),
        11,
        (&[0, 2], &[1, 3, 4]),
    );
}

#[test]
fn a_map_of_10_000_keys_converges_with_deltas_under_push_pull() {
    replicate(
        "push-pull",
        config(Strategy::PushPull { interval: ms(30) }, Overlay::Full),
        12,
        (&[0, 1], &[2, 3, 4]),
    );
}

#[test]
fn a_map_of_10_000_keys_converges_with_deltas_under_hybrid_push() {
    replicate(
        "hybrid/star2",
        config(
            Strategy::Hybrid {
                lazy_interval: ms(50),
                lazy_fanout: 1,
                graft_delay: ms(60),
            },
            Overlay::Star { hubs: 2 },
        ),
        13,
        (&[0, 1], &[2, 3, 4]),
    );
}
