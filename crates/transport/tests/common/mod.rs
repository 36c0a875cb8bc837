//! A small deterministic network for driving many replicators: latency with jitter (so
//! packets reorder), loss, duplication, partitions and restarts, all from one seed.

#![allow(dead_code)]

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::time::Duration;

use gossip_crdt::{GSet, Lattice};
use gossip_transport::{
    Config, Overlay, Packet, Replicator, Start, Stats, Strategy, Time, TransportError,
};

pub type Node = Replicator<GSet<u64>, u32>;

/// SplitMix64, for schedules independent of the engine's own RNG.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

/// Network behaviour.
#[derive(Debug, Clone)]
pub struct Faults {
    pub latency: Duration,
    /// Extra latency, uniform in `[0, jitter)`: packets reorder when it exceeds their spacing.
    pub jitter: Duration,
    pub p_loss: f64,
    pub p_dup: f64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            latency: Duration::from_millis(10),
            jitter: Duration::ZERO,
            p_loss: 0.0,
            p_dup: 0.0,
        }
    }
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct InFlight {
    at: Time,
    order: u64,
    from: u32,
    to: u32,
}

pub struct Cluster {
    pub nodes: Vec<Node>,
    pub config: Config<u32>,
    pub now: Time,
    pub faults: Faults,
    pub rng: Rng,
    queue: BinaryHeap<Reverse<InFlight>>,
    payloads: BTreeMap<u64, Packet<GSet<u64>>>,
    order: u64,
    /// `(from, to)` pairs whose packets are dropped on arrival.
    pub cut: BTreeSet<(u32, u32)>,
    pub delivered: u64,
    pub sent: u64,
    /// Stats of replicas that were restarted (their counters would be lost otherwise).
    pub retired: Stats,
    restarts: u64,
    /// Print every delivery (for debugging a failing schedule).
    pub trace: bool,
    /// Every packet sent, with the time, sender and addressee, when `record` is on.
    pub record: bool,
    pub sent_log: Vec<(Time, u32, u32, Packet<GSet<u64>>)>,
    /// Replicas that left the cluster: they neither run nor hear anything.
    pub gone: BTreeSet<u32>,
}

impl Cluster {
    pub fn new(n: u32, config: Config<u32>, faults: Faults, seed: u64) -> Cluster {
        Cluster::with_outsiders(n, 0, config, faults, seed)
    }

    /// `n` replicas among `n + outsiders` members: the outsiders (numbered `n` and up) are
    /// members no replica runs for, e.g. for a test to speak as (see [`Cluster::inject`]).
    /// Packets to them are dropped.
    pub fn with_outsiders(
        n: u32,
        outsiders: u32,
        config: Config<u32>,
        faults: Faults,
        seed: u64,
    ) -> Cluster {
        let all: Vec<u32> = (0..n + outsiders).collect();
        let members: Vec<u32> = all.iter().copied().take(n as usize).collect();
        let nodes = members
            .iter()
            .map(|&m| {
                let start = Start::new(Time::ZERO, seed, seed ^ (u64::from(m) << 32));
                Node::new(m, all.clone(), config.clone(), start)
            })
            .collect();
        Cluster::from_nodes(nodes, config, faults, seed)
    }

    fn from_nodes(nodes: Vec<Node>, config: Config<u32>, faults: Faults, seed: u64) -> Cluster {
        let mut cluster = Cluster {
            nodes,
            config,
            now: Time::ZERO,
            faults,
            rng: Rng(seed),
            queue: BinaryHeap::new(),
            payloads: BTreeMap::new(),
            order: 0,
            cut: BTreeSet::new(),
            delivered: 0,
            sent: 0,
            retired: Stats::default(),
            restarts: 0,
            trace: false,
            record: false,
            sent_log: Vec::new(),
            gone: BTreeSet::new(),
        };
        cluster.collect();
        cluster
    }

    /// The replicas still in the cluster.
    pub fn live(&self) -> Vec<u32> {
        (0..self.nodes.len() as u32)
            .filter(|n| !self.gone.contains(n))
            .collect()
    }

    /// `node` leaves: the others drop it from their member lists, and it stops.
    pub fn leave(&mut self, node: u32) {
        self.gone.insert(node);
        self.tell_members();
    }

    /// `node` joins (again) as a fresh, empty life, and every member learns of it.
    pub fn join(&mut self, node: u32) {
        self.gone.remove(&node);
        self.restart(node);
        self.tell_members();
    }

    fn tell_members(&mut self) {
        let live = self.live();
        let now = self.now;
        for &n in &live {
            self.nodes[n as usize].set_members(now, live.clone());
        }
        self.collect();
    }

    /// `true` iff every live replica holds the same state.
    pub fn live_converged(&self) -> bool {
        let live = self.live();
        live.windows(2)
            .all(|w| self.nodes[w[0] as usize].state() == self.nodes[w[1] as usize].state())
    }

    /// Hands `packet` to replica `to` now, as if from `from`; what it answers goes on the
    /// network as usual.
    pub fn inject(
        &mut self,
        from: u32,
        to: u32,
        packet: Packet<GSet<u64>>,
    ) -> Result<(), TransportError> {
        let now = self.now;
        let result = self.nodes[to as usize].handle_packet(now, from, packet);
        self.collect();
        result
    }

    pub fn members(&self) -> Vec<u32> {
        (0..self.nodes.len() as u32).collect()
    }

    /// Moves every node's outgoing packets onto the network.
    fn collect(&mut self) {
        for i in 0..self.nodes.len() {
            while let Some((to, packet)) = self.nodes[i].poll_transmit() {
                self.sent += 1;
                if self.record {
                    self.sent_log.push((self.now, i as u32, to, packet.clone()));
                }
                if self.rng.chance(self.faults.p_loss) {
                    if self.trace {
                        eprintln!(
                            "{} {} -> {}: LOST {}",
                            self.now,
                            i,
                            to,
                            serde_json::to_string(&packet).unwrap_or_default()
                        );
                    }
                    continue;
                }
                let copies = if self.rng.chance(self.faults.p_dup) {
                    2
                } else {
                    1
                };
                for _ in 0..copies {
                    let jitter_ns = self.faults.jitter.as_nanos() as u64;
                    let extra = Duration::from_nanos(self.rng.below(jitter_ns));
                    let at = self.now + self.faults.latency + extra;
                    self.order += 1;
                    self.payloads.insert(self.order, packet.clone());
                    self.queue.push(Reverse(InFlight {
                        at,
                        order: self.order,
                        from: i as u32,
                        to,
                    }));
                }
            }
        }
    }

    pub fn update(&mut self, node: u32, value: u64) {
        let now = self.now;
        let n = &mut self.nodes[node as usize];
        let delta = n.state().insert_delta(value);
        n.update(now, delta);
        self.collect();
    }

    /// Replaces a node by a fresh, empty incarnation.
    pub fn restart(&mut self, node: u32) {
        self.restarts += 1;
        let seed = self.rng.next();
        let start = Start::new(self.now, seed, seed ^ self.restarts.rotate_left(40));
        self.restart_with(node, start);
    }

    /// Replaces a node by a fresh, empty incarnation that starts as `start` says.
    pub fn restart_with(&mut self, node: u32, start: Start) {
        let members = self.live();
        let fresh = Node::new(node, members, self.config.clone(), start);
        let old = std::mem::replace(&mut self.nodes[node as usize], fresh);
        self.retired.absorb(old.stats());
        self.collect();
    }

    /// Cuts every link between `a` and `b` (both directions).
    pub fn partition(&mut self, a: &[u32], b: &[u32]) {
        for &x in a {
            for &y in b {
                self.cut.insert((x, y));
                self.cut.insert((y, x));
            }
        }
    }

    pub fn heal(&mut self) {
        self.cut.clear();
    }

    /// The next moment something happens, if anything ever will.
    fn next_event(&self) -> Option<Time> {
        let delivery = self.queue.peek().map(|Reverse(f)| f.at);
        let timer = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.gone.contains(&(*i as u32)))
            .filter_map(|(_, n)| n.poll_timeout())
            .min();
        [delivery, timer].into_iter().flatten().min()
    }

    /// Runs until `until`, or until nothing is left to do. Returns `false` if the step bound
    /// was hit (a livelock).
    pub fn run_until(&mut self, until: Time) -> bool {
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

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) -> bool {
        let until = self.now + d;
        self.run_until(until)
    }

    fn step(&mut self) {
        let now = self.now;
        while let Some(Reverse(f)) = self.queue.peek() {
            if f.at > now {
                break;
            }
            let Some(Reverse(f)) = self.queue.pop() else {
                break;
            };
            let packet = self
                .payloads
                .remove(&f.order)
                .expect("payload stored with its event");
            if self.cut.contains(&(f.from, f.to)) {
                continue;
            }
            if self.trace {
                eprintln!(
                    "{} {} -> {}: {}",
                    now,
                    f.from,
                    f.to,
                    serde_json::to_string(&packet).unwrap_or_default()
                );
            }
            if f.to as usize >= self.nodes.len()
                || self.gone.contains(&f.to)
                || self.gone.contains(&f.from)
            {
                continue; // an outsider, or a replica that left
            }
            self.delivered += 1;
            self.nodes[f.to as usize]
                .handle_packet(now, f.from, packet)
                .expect("replicators only send well-formed packets");
        }
        for (i, node) in self.nodes.iter_mut().enumerate() {
            if self.gone.contains(&(i as u32)) {
                continue;
            }
            if node.poll_timeout().is_some_and(|t| t <= now) {
                node.handle_timeout(now);
            }
        }
        self.collect();
    }

    pub fn converged(&self) -> bool {
        self.nodes.windows(2).all(|w| w[0].state() == w[1].state())
    }

    pub fn quiet(&self) -> bool {
        self.queue.is_empty()
            && self
                .nodes
                .iter()
                .enumerate()
                .all(|(i, n)| self.gone.contains(&(i as u32)) || n.poll_timeout().is_none())
    }

    pub fn union(&self) -> GSet<u64> {
        let mut all = GSet::new();
        for n in &self.nodes {
            all.join(n.state());
        }
        all
    }

    pub fn stats(&self) -> Stats {
        let mut total = self.retired.clone();
        for n in &self.nodes {
            total.absorb(n.stats());
        }
        total
    }
}

// ---- configurations shared by the property tests ---------------------------------------

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Fast timings so that a schedule of a few virtual seconds exercises many rounds.
pub fn base() -> Config<u32> {
    Config {
        flush: ms(0),
        relay_flush: ms(20),
        ack_delay: ms(50),
        rto: ms(100),
        max_rto: ms(400),
        suspect_after: ms(300),
        max_packet_bytes: 256,
        // Short, so that logs are compacted (and snapshots happen) within a schedule.
        retain: ms(500),
        ..Config::default()
    }
}

pub fn strategies() -> Vec<(&'static str, Config<u32>)> {
    let with = |strategy: Strategy, overlay: Overlay<u32>| Config {
        strategy,
        overlay,
        ..base()
    };
    vec![
        ("flood/full", with(Strategy::Flood, Overlay::Full)),
        (
            "flood/ring",
            with(
                Strategy::Flood,
                Overlay::Given((0..8u32).map(|i| (i, vec![(i + 1) % 8])).collect()),
            ),
        ),
        ("tree/kary2", with(Strategy::Tree, Overlay::Kary { k: 2 })),
        (
            "tree/star3",
            with(Strategy::Tree, Overlay::Star { hubs: 3 }),
        ),
        (
            "gossip/fanout2",
            with(
                Strategy::Gossip {
                    fanout: 2,
                    interval: ms(30),
                },
                Overlay::Full,
            ),
        ),
        (
            "push-pull",
            with(Strategy::PushPull { interval: ms(30) }, Overlay::Full),
        ),
        (
            "hybrid/star2",
            with(
                Strategy::Hybrid {
                    lazy_interval: ms(50),
                    lazy_fanout: 1,
                    graft_delay: ms(60),
                },
                Overlay::Star { hubs: 2 },
            ),
        ),
        (
            "hybrid/kary3",
            with(
                Strategy::Hybrid {
                    lazy_interval: ms(50),
                    lazy_fanout: 1,
                    graft_delay: ms(60),
                },
                Overlay::Kary { k: 3 },
            ),
        ),
    ]
}

impl Cluster {
    /// Hands `members` to the replicas `nodes` only (the others keep their lists): for a
    /// member that some replicas drop and later take back while it keeps running.
    pub fn set_members_of(&mut self, nodes: &[u32], members: &[u32]) {
        let now = self.now;
        for &n in nodes {
            self.nodes[n as usize].set_members(now, members.to_vec());
        }
        self.collect();
    }
}
