//! A small deterministic network for `Membership` values (and optionally one
//! `Replicator<GSet<u64>, Uuid>` per node): virtual time that jumps from deadline to deadline,
//! latency, loss and partitions. One seed replays one run.
#![allow(dead_code)]

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::net::SocketAddr;
use std::time::Duration;

use gossip_crdt::{Dot, GSet};
use gossip_membership::{Config, Identity, MemberEvent, Membership};
use gossip_transport::{Packet, ReplicaId, Replicator, Start, Time};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use uuid::Uuid;

pub type Replica = Replicator<GSet<u64>, Uuid>;

/// One live node.
pub struct Node {
    pub membership: Membership,
    pub replica: Option<Replica>,
}

/// Something in flight.
enum Payload {
    Swim(Vec<u8>),
    Replica {
        from: Uuid,
        to: Uuid,
        packet: Box<Packet<GSet<u64>>>,
    },
}

/// An event a node reported, with when.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: Time,
    pub node: SocketAddr,
    pub event: MemberEvent,
}

pub struct Net {
    pub now: Time,
    pub rng: Xoshiro256PlusPlus,
    pub nodes: BTreeMap<SocketAddr, Node>,
    /// (deliver at, sequence) -> (from, to, payload)
    queue: BinaryHeap<Reverse<(Time, u64)>>,
    payloads: BTreeMap<u64, (SocketAddr, SocketAddr, Payload)>,
    next_seq: u64,
    pub latency: Duration,
    pub jitter: Duration,
    pub loss: f64,
    /// Partition side of each address; no side = side 0. Packets between sides are dropped.
    pub side: BTreeMap<SocketAddr, u8>,
    /// Addresses whose packets are all dropped: they hear everyone, nobody hears them.
    pub muted: BTreeSet<SocketAddr>,
    pub config: Config,
    pub replica_config: gossip_transport::Config<Uuid>,
    /// Every identity any node ever had (starts and renewals): none may appear twice.
    pub identities: BTreeSet<Identity>,
    /// Every delta id any replicator ever issued: none may appear twice.
    pub dots: BTreeSet<Dot<ReplicaId>>,
    pub reused_identity: Option<Identity>,
    pub reused_dot: Option<Dot<ReplicaId>>,
    pub events: Vec<Seen>,
    pub with_replicas: bool,
    lives: u64,
    pub steps: u64,
    /// Each node's next deadline, indexed by time, so a step does not scan every node.
    deadline_of: BTreeMap<SocketAddr, Time>,
    deadlines: BTreeSet<(Time, SocketAddr)>,
}

/// The address of node number `i`.
pub fn addr(i: u32) -> SocketAddr {
    SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 7000))
}

impl Net {
    pub fn new(seed: u64, config: Config, with_replicas: bool) -> Net {
        Net {
            now: Time::ZERO,
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
            nodes: BTreeMap::new(),
            queue: BinaryHeap::new(),
            payloads: BTreeMap::new(),
            next_seq: 0,
            latency: Duration::from_millis(2),
            jitter: Duration::from_millis(8),
            loss: 0.0,
            side: BTreeMap::new(),
            muted: BTreeSet::new(),
            config,
            replica_config: gossip_transport::Config::default(),
            identities: BTreeSet::new(),
            dots: BTreeSet::new(),
            reused_identity: None,
            reused_dot: None,
            events: Vec::new(),
            with_replicas,
            lives: 0,
            steps: 0,
            deadline_of: BTreeMap::new(),
            deadlines: BTreeSet::new(),
        }
    }

    /// Starts a node at `addr` as `identity`, joining through `seeds` (may be empty).
    pub fn start(&mut self, identity: Identity, seeds: &[SocketAddr]) {
        if !self.identities.insert(identity) {
            self.reused_identity.get_or_insert(identity);
        }
        let seed = self.rng.random::<u64>();
        let mut membership = Membership::new(identity, self.config.clone(), seed);
        for s in seeds {
            if *s != identity.addr {
                membership
                    .join(self.now, *s)
                    .expect("joining another address works");
            }
        }
        let replica = self.with_replicas.then(|| {
            self.lives += 1;
            // A life number unique per node start, as a shell's 64 random bits would be.
            let start = Start::new(self.now, seed, self.lives);
            Replicator::new(identity.id, Vec::new(), self.replica_config.clone(), start)
        });
        self.nodes.insert(
            identity.addr,
            Node {
                membership,
                replica,
            },
        );
        self.drain(identity.addr);
    }

    /// Stops the node at `addr` without a word (its in-flight packets still arrive).
    pub fn crash(&mut self, addr: SocketAddr) -> Option<Node> {
        let node = self.nodes.remove(&addr);
        self.reindex(addr);
        node
    }

    /// The node at `addr` leaves gracefully; it is then stopped once its goodbyes are sent.
    pub fn leave(&mut self, addr: SocketAddr) {
        if let Some(node) = self.nodes.get_mut(&addr) {
            node.membership.leave(self.now).expect("leaving works");
            self.drain(addr);
            self.nodes.remove(&addr);
            self.reindex(addr);
        }
    }

    /// A local update on the node at `addr`: adds `value` to its set.
    pub fn update(&mut self, addr: SocketAddr, value: u64) {
        let Some(node) = self.nodes.get_mut(&addr) else {
            return;
        };
        let Some(replica) = node.replica.as_mut() else {
            return;
        };
        let delta = replica.state().insert_delta(value);
        if let Some(dot) = replica.update(self.now, delta)
            && !self.dots.insert(dot)
        {
            self.reused_dot.get_or_insert(dot);
        }
        self.drain(addr);
    }

    fn send(&mut self, from: SocketAddr, to: SocketAddr, payload: Payload) {
        if self.muted.contains(&from) {
            return;
        }
        if self.loss > 0.0 && self.rng.random::<f64>() < self.loss {
            return;
        }
        if self.side.get(&from).copied().unwrap_or(0) != self.side.get(&to).copied().unwrap_or(0) {
            return;
        }
        let jitter = if self.jitter.is_zero() {
            Duration::ZERO
        } else {
            Duration::from_micros(self.rng.random_range(0..self.jitter.as_micros() as u64))
        };
        let at = self.now + self.latency + jitter;
        self.next_seq += 1;
        self.queue.push(Reverse((at, self.next_seq)));
        self.payloads.insert(self.next_seq, (from, to, payload));
    }

    /// Takes every output of the node at `addr` and acts on it.
    fn drain(&mut self, addr: SocketAddr) {
        let now = self.now;
        let mut sends = Vec::new();
        let Some(node) = self.nodes.get_mut(&addr) else {
            return;
        };
        let mut members_changed = false;
        while let Some((to, bytes)) = node.membership.poll_transmit() {
            sends.push((to, Payload::Swim(bytes)));
        }
        while let Some(event) = node.membership.poll_event() {
            members_changed |= event.changes_members();
            if let MemberEvent::Rejoined(id) = event
                && !self.identities.insert(id)
            {
                self.reused_identity.get_or_insert(id);
            }
            self.events.push(Seen {
                at: now,
                node: addr,
                event,
            });
        }
        if let Some(replica) = node.replica.as_mut() {
            if members_changed {
                replica.set_members(now, node.membership.active_ids());
            }
            let me = *replica.me();
            while let Some((to, packet)) = replica.poll_transmit() {
                // Routed by node id through the membership's address book, as the shell does.
                if let Some(to_addr) = node.membership.addr_of(to) {
                    sends.push((
                        to_addr,
                        Payload::Replica {
                            from: me,
                            to,
                            packet: Box::new(packet),
                        },
                    ));
                }
            }
        }
        for (to, payload) in sends {
            self.send(addr, to, payload);
        }
        self.reindex(addr);
    }

    /// Records the next deadline of the node at `addr` (none if it is gone).
    fn reindex(&mut self, addr: SocketAddr) {
        if let Some(old) = self.deadline_of.remove(&addr) {
            self.deadlines.remove(&(old, addr));
        }
        let Some(node) = self.nodes.get(&addr) else {
            return;
        };
        let next = [
            node.membership.poll_timeout(),
            node.replica.as_ref().and_then(|r| r.poll_timeout()),
        ]
        .into_iter()
        .flatten()
        .min();
        if let Some(t) = next {
            self.deadline_of.insert(addr, t);
            self.deadlines.insert((t, addr));
        }
    }

    fn next_deadline(&self) -> Option<Time> {
        let packet = self.queue.peek().map(|Reverse((at, _))| *at);
        let timer = self.deadlines.first().map(|(t, _)| *t);
        match (packet, timer) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs until `until` (virtual).
    pub fn run_until(&mut self, until: Time) {
        loop {
            self.steps += 1;
            assert!(self.steps < 200_000_000, "livelock: too many steps");
            let next = match self.next_deadline() {
                Some(t) if t <= until => t,
                _ => {
                    self.now = self.now.max(until);
                    return;
                }
            };
            self.now = self.now.max(next);
            let now = self.now;
            while let Some(Reverse((at, seq))) = self.queue.peek().copied() {
                if at > now {
                    break;
                }
                self.queue.pop();
                let Some((from, to, payload)) = self.payloads.remove(&seq) else {
                    continue;
                };
                let Some(node) = self.nodes.get_mut(&to) else {
                    continue;
                };
                match payload {
                    Payload::Swim(bytes) => {
                        // Refusals are counted by the membership; the simulation has none
                        // except stale packets addressed to an earlier life.
                        let _ = node.membership.handle_data(now, &bytes);
                    }
                    Payload::Replica {
                        from: from_id,
                        to: to_id,
                        packet,
                    } => {
                        if let Some(replica) = node.replica.as_mut()
                            && *replica.me() == to_id
                        {
                            let _ = replica.handle_packet(now, from_id, *packet);
                        }
                    }
                }
                let _ = from;
                self.drain(to);
            }
            let due: Vec<SocketAddr> = self
                .deadlines
                .iter()
                .take_while(|(t, _)| *t <= now)
                .map(|(_, a)| *a)
                .collect();
            for a in due {
                if let Some(node) = self.nodes.get_mut(&a) {
                    if node.membership.poll_timeout().is_some_and(|t| t <= now) {
                        node.membership.handle_timeout(now);
                    }
                    if let Some(r) = node.replica.as_mut()
                        && r.poll_timeout().is_some_and(|t| t <= now)
                    {
                        r.handle_timeout(now);
                    }
                }
                self.drain(a);
            }
        }
    }

    /// Runs for `d` more.
    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    /// Each live node's view: the ids it counts as present, itself included.
    pub fn views(&self) -> BTreeMap<SocketAddr, BTreeSet<Uuid>> {
        self.nodes
            .iter()
            .map(|(a, n)| {
                let mut view: BTreeSet<Uuid> = n.membership.active_ids().into_iter().collect();
                view.insert(n.membership.me().id);
                (*a, view)
            })
            .collect()
    }

    /// The ids of the live nodes.
    pub fn live_ids(&self) -> BTreeSet<Uuid> {
        self.nodes.values().map(|n| n.membership.me().id).collect()
    }

    /// Addresses of live nodes whose view differs from the set of live nodes.
    pub fn disagreeing(&self) -> Vec<SocketAddr> {
        let live = self.live_ids();
        self.views()
            .into_iter()
            .filter(|(_, v)| *v != live)
            .map(|(a, _)| a)
            .collect()
    }

    /// Total membership bytes and packets sent by live nodes so far.
    pub fn traffic(&self) -> (u64, u64) {
        self.nodes.values().fold((0, 0), |(b, p), n| {
            let s = n.membership.stats();
            (b + s.bytes_sent, p + s.packets_sent)
        })
    }
}

/// A fresh node id drawn from the simulation's randomness.
pub fn fresh_id(rng: &mut Xoshiro256PlusPlus) -> Uuid {
    Uuid::from_u128(rng.random::<u128>())
}
