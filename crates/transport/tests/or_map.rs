//! A map of 10,000 keys replicated through the transport: random nested updates and removes
//! at every replica, packets lost, duplicated and reordered, a partition and its repair. The
//! replicas must converge on the join of every change, and the bytes on the wire must stay
//! within a small multiple of the bytes of the changes' deltas times the peers they must reach:
//! the map travels as deltas, never as whole states.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::time::Duration;

use gossip_crdt::{Lattice, OrMap, PnCounter};
use gossip_transport::{Config, Overlay, Packet, Replicator, Start, Stats, Strategy, Time};

/// Per key, counters by name: a map of maps.
type Map = OrMap<u32, OrMap<u8, PnCounter<u32>, u32>, u32>;
type Node = Replicator<Map, u32>;

const KEYS: u32 = 10_000;

/// SplitMix64, for schedules independent of the engine's own RNG.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// The network: latency with jitter (packets reorder), loss, duplication and cuts, from one
/// seed; the driving loop of the transport tests' in-memory cluster, for a map.
struct Cluster {
    nodes: Vec<Node>,
    now: Time,
    rng: Rng,
    queue: BinaryHeap<Reverse<(Time, u64, u32, u32)>>,
    payloads: BTreeMap<u64, Packet<Map>>,
    order: u64,
    cut: BTreeSet<(u32, u32)>,
    loss_percent: u64,
    dup_percent: u64,
}

impl Cluster {
    fn new(n: u32, config: Config<u32>, seed: u64) -> Cluster {
        let members: Vec<u32> = (0..n).collect();
        let nodes = members
            .iter()
            .map(|&m| {
                let start = Start::new(Time::ZERO, seed, seed ^ (u64::from(m) << 32));
                Node::new(m, members.clone(), config.clone(), start)
            })
            .collect();
        Cluster {
            nodes,
            now: Time::ZERO,
            rng: Rng(seed),
            queue: BinaryHeap::new(),
            payloads: BTreeMap::new(),
            order: 0,
            cut: BTreeSet::new(),
            loss_percent: 2,
            dup_percent: 2,
        }
    }

    fn collect(&mut self) {
        for i in 0..self.nodes.len() {
            while let Some((to, packet)) = self.nodes[i].poll_transmit() {
                if self.rng.chance(self.loss_percent) {
                    continue;
                }
                let copies = if self.rng.chance(self.dup_percent) {
                    2
                } else {
                    1
                };
                for _ in 0..copies {
                    let at = self.now + Duration::from_millis(10 + self.rng.below(8));
                    self.order += 1;
                    self.payloads.insert(self.order, packet.clone());
                    self.queue.push(Reverse((at, self.order, i as u32, to)));
                }
            }
        }
    }

    /// Applies a change at `node`; returns its delta.
    fn update(&mut self, node: u32, change: impl FnOnce(&Map) -> Map) -> Map {
        let now = self.now;
        let replica = &mut self.nodes[node as usize];
        let delta = change(replica.state());
        replica.update(now, delta.clone());
        self.collect();
        delta
    }

    fn next_event(&self) -> Option<Time> {
        let delivery = self.queue.peek().map(|Reverse((at, ..))| *at);
        let timer = self.nodes.iter().filter_map(Node::poll_timeout).min();
        [delivery, timer].into_iter().flatten().min()
    }

    /// Runs for `d` of virtual time; `false` if the step bound was hit (a livelock).
    fn run_for(&mut self, d: Duration) -> bool {
        let until = self.now + d;
        for _ in 0..2_000_000 {
            let Some(next) = self.next_event() else {
                self.now = self.now.max(until);
                return true;
            };
            if next > until {
                self.now = until;
                return true;
            }
            self.now = self.now.max(next);
            self.step();
        }
        false
    }

    fn step(&mut self) {
        let now = self.now;
        while let Some(Reverse((at, order, from, to))) = self.queue.peek().copied() {
            if at > now {
                break;
            }
            self.queue.pop();
            let Some(packet) = self.payloads.remove(&order) else {
                continue;
            };
            if self.cut.contains(&(from, to)) {
                continue;
            }
            self.nodes[to as usize]
                .handle_packet(now, from, packet)
                .expect("replicators only send well-formed packets");
        }
        for node in &mut self.nodes {
            if node.poll_timeout().is_some_and(|t| t <= now) {
                node.handle_timeout(now);
            }
        }
        self.collect();
    }

    fn partition(&mut self, a: &[u32], b: &[u32]) {
        for &x in a {
            for &y in b {
                self.cut.insert((x, y));
                self.cut.insert((y, x));
            }
        }
    }

    fn converged(&self) -> bool {
        self.nodes.windows(2).all(|w| w[0].state() == w[1].state())
    }

    fn stats(&self) -> Stats {
        let mut total = Stats::default();
        for node in &self.nodes {
            total.absorb(node.stats());
        }
        total
    }
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
    let mut cluster = Cluster::new(n, config, seed);
    let mut everything = Map::new();
    let mut delta_bytes = 0u64;
    let mut record = |delta: Map, everything: &mut Map| {
        delta_bytes += serde_json::to_string(&delta).map_or(0, |s| s.len() as u64);
        everything.join(&delta);
    };

    // Every key written once, by a random replica, in bursts.
    for key in 0..KEYS {
        let node = cluster.rng.below(u64::from(n)) as u32;
        let by = 1 + cluster.rng.below(9) as i64;
        let counter = (key % 3) as u8;
        let delta = cluster.update(node, |map| {
            map.update_delta(node, key, |inner| {
                inner.update_delta(node, counter, |c| {
                    c.increment_delta(node, by.unsigned_abs())
                })
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
        let delta = cluster.update(node, |map| match roll {
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
    cluster.cut.clear();
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
