//! A simulated network for driving many replicas in one thread: virtual time, latency with
//! jitter (so packets reorder), loss, duplication, partitions, membership churn and crashes,
//! all decided by one seed.
//!
//! [`SimNet`] owns one [`Replicator`] per simulated member and the packets between them. Time
//! jumps from one event (a delivery or a replica's deadline) to the next, so ten virtual
//! seconds take as long as the work done in them. Nothing reads a clock or spawns a thread:
//! the same seed, configuration and calls replay the same run, packet for packet.
//!
//! ```
//! use gossip_crdt::GSet;
//! use gossip_transport::testing::{Faults, SimNet};
//! use gossip_transport::Config;
//! use std::time::Duration;
//!
//! let faults = Faults { p_loss: 0.2, ..Faults::default() };
//! let mut net: SimNet<GSet<u32>, &str> =
//!     SimNet::new(vec!["a", "b", "c"], Config::default(), faults, 7);
//! let delta = net.node("a").state().insert_delta(42);
//! net.update("a", delta);
//! net.partition(&["c"], &["a", "b"]);
//! assert!(net.run_for(Duration::from_secs(1)));
//! assert!(!net.node("c").state().contains(&42));
//! net.heal();
//! assert!(net.run_for(Duration::from_secs(10)));
//! assert!(net.converged());
//! ```
//!
//! A member's replica is `net.nodes[i]`, where `i` is its position in the list given to
//! [`SimNet::new`] (members added later by [`SimNet::join`] come after them).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};
use std::fmt::Debug;
use std::ops::Deref;
use std::time::Duration;

use gossip_crdt::{Decompose, Dot, Lattice};
use serde::Serialize;

use crate::{Change, Config, Packet, ReplicaId, Replicator, Start, Stats, Time, TransportError};

/// SplitMix64: the network's own randomness, independent of the replicas' RNGs.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `[0, n)` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    /// `true` with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

/// How the network treats each packet. May be changed between calls (e.g. stop the loss
/// before checking convergence).
#[derive(Debug, Clone, PartialEq)]
pub struct Faults {
    /// Every packet's delay.
    pub latency: Duration,
    /// Extra delay, uniform in `[0, jitter)`: packets reorder when it exceeds their spacing.
    pub jitter: Duration,
    /// Probability that a packet is lost.
    pub p_loss: f64,
    /// Probability that a packet that is not lost arrives twice (each copy with its own
    /// jitter).
    pub p_dup: f64,
}

impl Default for Faults {
    /// 10 ms, no jitter, nothing lost or duplicated.
    fn default() -> Self {
        Faults {
            latency: Duration::from_millis(10),
            jitter: Duration::ZERO,
            p_loss: 0.0,
            p_dup: 0.0,
        }
    }
}

/// What the network did with the packets the replicas sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Packets the replicas sent.
    pub sent: u64,
    /// Packets lost on the way ([`Faults::p_loss`]).
    pub lost: u64,
    /// Extra copies made ([`Faults::p_dup`]).
    pub duplicated: u64,
    /// Packets that arrived across a cut, or for a member that is down, gone or not
    /// simulated: dropped.
    pub dropped: u64,
    /// Packets handed to a replica.
    pub delivered: u64,
}

/// The replicas of a [`SimNet`], readable as a slice (`net.nodes[i]`, `net.nodes.iter()`).
/// Drive one by hand through [`SimNet::node_mut`], so that the network sees what it sends.
pub struct Replicas<L, P>(Vec<Replicator<L, P>>);

impl<'a, L, P> IntoIterator for &'a Replicas<L, P> {
    type Item = &'a Replicator<L, P>;
    type IntoIter = std::slice::Iter<'a, Replicator<L, P>>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<L, P> Deref for Replicas<L, P> {
    type Target = [Replicator<L, P>];
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// A packet on its way.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct InFlight {
    at: Time,
    order: u64,
}

/// Replicas of `L` named by `P`, and the network between them. See the [module](self) doc.
pub struct SimNet<L, P> {
    /// The replicas, one per simulated member, in the order of [`names`](Self::names).
    pub nodes: Replicas<L, P>,
    /// What the network does to each packet.
    pub faults: Faults,
    /// The network's randomness; a test may draw its own schedule from it too.
    pub rng: Rng,
    /// Print every delivery and loss to stderr (for debugging a failing schedule).
    pub trace: bool,
    /// Keep a copy of every packet sent in [`sent_log`](Self::sent_log).
    pub record: bool,
    /// Every packet sent while [`record`](Self::record) was on: time, sender, addressee.
    pub sent_log: Vec<(Time, P, P, Packet<L>)>,
    /// Members that left (see [`leave`](Self::leave)): they neither run nor hear anything.
    /// Read it; change it through `leave` and `join`.
    pub gone: BTreeSet<P>,
    names: Vec<P>,
    index: BTreeMap<P, usize>,
    /// Members no replica runs for (packets to them are dropped).
    outsiders: Vec<P>,
    config: Config<P>,
    now: Time,
    queue: BinaryHeap<Reverse<InFlight>>,
    payloads: BTreeMap<u64, (P, P, Packet<L>)>,
    order: u64,
    cut: BTreeSet<(P, P)>,
    down: BTreeSet<P>,
    net: NetStats,
    /// Stats of replicas that were replaced (their counters would be lost otherwise).
    retired: Stats,
    restarts: u64,
    watching: bool,
    changes: VecDeque<(Time, P, Change<L, P>)>,
    /// Each replica's deadline, as of the last time it was asked: asking costs a walk over
    /// the replica's peers, so only replicas that had an input since are asked again.
    deadlines: Vec<Option<Time>>,
    /// Replicas that had an input since their outputs were last collected, in order.
    touched: BTreeSet<usize>,
}

/// The most events one [`SimNet::run_until`] handles before it gives up: far more than any
/// healthy run needs, so hitting it means replicas that never fall silent.
const MAX_STEPS: usize = 2_000_000;

impl<L, P> SimNet<L, P>
where
    L: Lattice + Decompose + Serialize + Debug,
    P: Ord + Clone + Debug,
{
    /// One replica per member of `members`, all configured with `config`, on a network that
    /// behaves as `faults` says. `seed` steers the network and every replica.
    pub fn new(members: Vec<P>, config: Config<P>, faults: Faults, seed: u64) -> Self {
        Self::with_outsiders(members, Vec::new(), config, faults, seed)
    }

    /// As [`new`](Self::new), with `outsiders` also on every replica's member list but run by
    /// no one: names a test can speak as (see [`inject`](Self::inject)). Packets to them are
    /// dropped.
    pub fn with_outsiders(
        members: Vec<P>,
        outsiders: Vec<P>,
        config: Config<P>,
        faults: Faults,
        seed: u64,
    ) -> Self {
        let all: Vec<P> = members.iter().chain(&outsiders).cloned().collect();
        let nodes: Vec<_> = members
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let start = Start::new(Time::ZERO, seed, seed ^ ((i as u64) << 32));
                Replicator::new(m.clone(), all.clone(), config.clone(), start)
            })
            .collect();
        let count = nodes.len();
        let index = members
            .iter()
            .enumerate()
            .map(|(i, m)| (m.clone(), i))
            .collect();
        let mut net = SimNet {
            nodes: Replicas(nodes),
            faults,
            rng: Rng(seed),
            trace: false,
            record: false,
            sent_log: Vec::new(),
            gone: BTreeSet::new(),
            names: members,
            index,
            outsiders,
            config,
            now: Time::ZERO,
            queue: BinaryHeap::new(),
            payloads: BTreeMap::new(),
            order: 0,
            cut: BTreeSet::new(),
            down: BTreeSet::new(),
            net: NetStats::default(),
            retired: Stats::default(),
            restarts: 0,
            watching: false,
            changes: VecDeque::new(),
            deadlines: vec![None; count],
            touched: (0..count).collect(),
        };
        net.collect();
        net
    }

    /// The current virtual time.
    pub fn now(&self) -> Time {
        self.now
    }

    /// Every simulated member, in the order of [`nodes`](Self::nodes).
    pub fn names(&self) -> &[P] {
        &self.names
    }

    /// The simulated members still in the cluster (not [`gone`](Self::gone)), down or not.
    pub fn live(&self) -> Vec<P> {
        self.names
            .iter()
            .filter(|n| !self.gone.contains(n))
            .cloned()
            .collect()
    }

    fn position(&self, name: &P) -> usize {
        match self.index.get(name) {
            Some(&i) => i,
            None => panic!("{name:?} is not a simulated member"),
        }
    }

    /// `name`'s replica.
    ///
    /// # Panics
    /// If `name` is not simulated (a caller's mistake).
    pub fn node(&self, name: P) -> &Replicator<L, P> {
        &self.nodes[self.position(&name)]
    }

    /// `name`'s replica, to drive by hand; what it sends goes out at the next event.
    ///
    /// # Panics
    /// If `name` is not simulated.
    pub fn node_mut(&mut self, name: P) -> &mut Replicator<L, P> {
        let i = self.position(&name);
        self.touched.insert(i);
        &mut self.nodes.0[i]
    }

    /// `name` applies and spreads a local `delta` now; returns its id, as
    /// [`Replicator::update`] does.
    pub fn update(&mut self, name: P, delta: L) -> Option<Dot<ReplicaId>> {
        let now = self.now;
        let i = self.position(&name);
        let dot = self.nodes.0[i].update(now, delta);
        self.touched.insert(i);
        self.drain_changes(i);
        self.collect();
        dot
    }

    /// Hands `packet` to `to` now, as if from `from` (who need not be simulated); what `to`
    /// answers goes on the network as usual.
    pub fn inject(&mut self, from: P, to: P, packet: Packet<L>) -> Result<(), TransportError> {
        let now = self.now;
        let i = self.position(&to);
        let result = self.nodes.0[i].handle_packet(now, from, packet);
        self.touched.insert(i);
        self.drain_changes(i);
        self.collect();
        result
    }

    /// Turns on [`Replicator::watch`] at every replica (and at those that join or restart
    /// later); their changes are then collected, with the time they happened, for
    /// [`poll_change`](Self::poll_change).
    pub fn watch(&mut self) {
        self.watching = true;
        for i in 0..self.nodes.len() {
            self.nodes.0[i].watch();
            self.drain_changes(i);
        }
    }

    /// The next change any replica made since [`watch`](Self::watch), in the order they
    /// happened: when, where, and what.
    pub fn poll_change(&mut self) -> Option<(Time, P, Change<L, P>)> {
        self.changes.pop_front()
    }

    fn drain_changes(&mut self, i: usize) {
        if !self.watching {
            return;
        }
        while let Some(change) = self.nodes.0[i].poll_change() {
            self.changes
                .push_back((self.now, self.names[i].clone(), change));
        }
    }

    // ---- membership and crashes ----------------------------------------------------------

    /// `name` leaves: every other member drops it from its member list, and it stops.
    pub fn leave(&mut self, name: P) {
        self.leave_all(&[name]);
    }

    /// Several members leave at once: every remaining member hears of it in one
    /// [`Replicator::set_members`] call.
    pub fn leave_all(&mut self, names: &[P]) {
        for name in names {
            self.position(name);
            self.gone.insert(name.clone());
        }
        self.tell_members();
    }

    /// `name` joins as a fresh, empty life (a new member, or one that left or crashed), and
    /// every member learns of it.
    pub fn join(&mut self, name: P) {
        self.gone.remove(&name);
        if !self.index.contains_key(&name) {
            self.index.insert(name.clone(), self.nodes.len());
            self.names.push(name.clone());
            // A placeholder, replaced by the fresh life below.
            let start = Start::new(self.now, 0, 0);
            self.deadlines.push(None);
            self.nodes.0.push(Replicator::new(
                name.clone(),
                Vec::new(),
                self.config.clone(),
                start,
            ));
        }
        self.restart(name);
        self.tell_members();
    }

    fn tell_members(&mut self) {
        let live = self.live();
        let now = self.now;
        for n in &live {
            let i = self.position(n);
            self.nodes.0[i].set_members(now, live.clone());
            self.touched.insert(i);
            self.drain_changes(i);
        }
        self.collect();
    }

    /// `name` crashes: it neither runs nor hears anything until [`recover`](Self::recover)
    /// (which keeps its state, as after a pause or a restart from disk) or
    /// [`restart`](Self::restart) (a fresh, empty life). Packets on their way to it are
    /// dropped when they arrive.
    pub fn crash(&mut self, name: P) {
        self.position(&name);
        self.down.insert(name);
    }

    /// `name` comes back from a [`crash`](Self::crash) with the state it had.
    pub fn recover(&mut self, name: P) {
        self.down.remove(&name);
    }

    /// `true` iff `name` crashed and has not come back.
    pub fn is_down(&self, name: &P) -> bool {
        self.down.contains(name)
    }

    /// Replaces `name`'s replica by a fresh, empty life (a crash that lost the state, and the
    /// restart), which runs at once.
    pub fn restart(&mut self, name: P) {
        self.restarts += 1;
        let seed = self.rng.next_u64();
        let start = Start::new(self.now, seed, seed ^ self.restarts.rotate_left(40));
        self.restart_with(name, start);
    }

    /// Replaces `name`'s replica by a fresh, empty life that starts as `start` says.
    pub fn restart_with(&mut self, name: P, start: Start) {
        let i = self.position(&name);
        self.down.remove(&name);
        let members = self.live();
        let fresh = Replicator::new(name, members, self.config.clone(), start);
        let old = std::mem::replace(&mut self.nodes.0[i], fresh);
        self.retired.absorb(old.stats());
        if self.watching {
            self.nodes.0[i].watch();
        }
        self.touched.insert(i);
        self.collect();
    }

    // ---- partitions ----------------------------------------------------------------------

    /// Cuts every link between `a` and `b`, both ways, until [`heal`](Self::heal).
    pub fn partition(&mut self, a: &[P], b: &[P]) {
        for x in a {
            for y in b {
                self.cut.insert((x.clone(), y.clone()));
                self.cut.insert((y.clone(), x.clone()));
            }
        }
    }

    /// Cuts the link from `from` to `to` only.
    pub fn cut_one_way(&mut self, from: P, to: P) {
        self.cut.insert((from, to));
    }

    /// Restores every link.
    pub fn heal(&mut self) {
        self.cut.clear();
    }

    // ---- running ---------------------------------------------------------------------------

    fn runs(&self, i: usize) -> bool {
        let name = &self.names[i];
        !self.gone.contains(name) && !self.down.contains(name)
    }

    /// Moves the outgoing packets of every replica that had an input onto the network, and
    /// notes its next deadline.
    fn collect(&mut self) {
        for i in std::mem::take(&mut self.touched) {
            while let Some((to, packet)) = self.nodes.0[i].poll_transmit() {
                let from = self.names[i].clone();
                self.send(from, to, packet);
            }
            self.deadlines[i] = self.nodes[i].poll_timeout();
        }
    }

    /// Replica `i`'s next deadline.
    fn deadline(&self, i: usize) -> Option<Time> {
        if self.touched.contains(&i) {
            self.nodes[i].poll_timeout()
        } else {
            self.deadlines[i]
        }
    }

    fn send(&mut self, from: P, to: P, packet: Packet<L>) {
        self.net.sent += 1;
        if self.record {
            self.sent_log
                .push((self.now, from.clone(), to.clone(), packet.clone()));
        }
        if self.rng.chance(self.faults.p_loss) {
            self.net.lost += 1;
            if self.trace {
                eprintln!("{} {from:?} -> {to:?}: LOST {packet:?}", self.now);
            }
            return;
        }
        if self.rng.chance(self.faults.p_dup) {
            self.net.duplicated += 1;
            self.enqueue(from.clone(), to.clone(), packet.clone());
        }
        self.enqueue(from, to, packet);
    }

    fn enqueue(&mut self, from: P, to: P, packet: Packet<L>) {
        let jitter_ns = u64::try_from(self.faults.jitter.as_nanos()).unwrap_or(u64::MAX);
        let extra = Duration::from_nanos(self.rng.below(jitter_ns));
        let at = self.now + self.faults.latency + extra;
        self.order += 1;
        self.payloads.insert(self.order, (from, to, packet));
        self.queue.push(Reverse(InFlight {
            at,
            order: self.order,
        }));
    }

    /// The next moment something happens, if anything ever will.
    fn next_event(&self) -> Option<Time> {
        let delivery = self.queue.peek().map(|Reverse(f)| f.at);
        let timer = (0..self.nodes.len())
            .filter(|&i| self.runs(i))
            .filter_map(|i| self.deadline(i))
            .min();
        [delivery, timer].into_iter().flatten().min()
    }

    /// Runs until `until`, or until nothing is left to do. Returns `false` if it handled
    /// [`MAX_STEPS`] events without getting there (replicas that never fall silent).
    ///
    /// # Panics
    /// If a replica refuses a packet another replica sent: replicas only send well-formed
    /// packets, so that is an engine bug, which is what a simulation is for.
    pub fn run_until(&mut self, until: Time) -> bool {
        for _ in 0..MAX_STEPS {
            let Some(next) = self.next_event() else {
                self.now = self.now.max(until);
                return true;
            };
            if next > until {
                self.now = self.now.max(until);
                return true;
            }
            self.now = self.now.max(next);
            self.step();
        }
        false
    }

    /// Runs for `d` of virtual time (see [`run_until`](Self::run_until)).
    pub fn run_for(&mut self, d: Duration) -> bool {
        let until = self.now + d;
        self.run_until(until)
    }

    /// Delivers what is due now, then fires the timers that are due.
    fn step(&mut self) {
        let now = self.now;
        while let Some(Reverse(f)) = self.queue.peek() {
            if f.at > now {
                break;
            }
            let order = f.order;
            self.queue.pop();
            let Some((from, to, packet)) = self.payloads.remove(&order) else {
                continue;
            };
            if self.cut.contains(&(from.clone(), to.clone())) || self.gone.contains(&from) {
                self.net.dropped += 1;
                continue;
            }
            let Some(&i) = self.index.get(&to) else {
                self.net.dropped += 1; // an outsider
                continue;
            };
            if !self.runs(i) {
                self.net.dropped += 1;
                continue;
            }
            if self.trace {
                eprintln!("{now} {from:?} -> {to:?}: {packet:?}");
            }
            self.net.delivered += 1;
            if let Err(e) = self.nodes.0[i].handle_packet(now, from.clone(), packet) {
                panic!("{to:?} refused a packet from {from:?} at {now}: {e}");
            }
            self.touched.insert(i);
            self.drain_changes(i);
        }
        for i in 0..self.nodes.len() {
            if self.runs(i) && self.deadline(i).is_some_and(|t| t <= now) {
                self.nodes.0[i].handle_timeout(now);
                self.touched.insert(i);
                self.drain_changes(i);
            }
        }
        self.collect();
    }

    // ---- reading the outcome -----------------------------------------------------------------

    /// `true` iff every replica holds the same state (gone and crashed ones included).
    pub fn converged(&self) -> bool {
        self.nodes.windows(2).all(|w| w[0].state() == w[1].state())
    }

    /// `true` iff every replica still in the cluster holds the same state.
    pub fn live_converged(&self) -> bool {
        let live: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| !self.gone.contains(&self.names[i]))
            .collect();
        live.windows(2)
            .all(|w| self.nodes[w[0]].state() == self.nodes[w[1]].state())
    }

    /// `true` iff nothing is on the wire and no running replica has a deadline.
    pub fn quiet(&self) -> bool {
        self.queue.is_empty()
            && (0..self.nodes.len()).all(|i| !self.runs(i) || self.deadline(i).is_none())
    }

    /// The join of every replica's state.
    pub fn union(&self) -> L {
        let mut all = L::default();
        for n in &self.nodes {
            all.join(n.state());
        }
        all
    }

    /// Every replica's [`Stats`] added up, those of replaced lives included.
    pub fn stats(&self) -> Stats {
        let mut total = self.retired.clone();
        for n in &self.nodes {
            total.absorb(n.stats());
        }
        total
    }

    /// What the network did with the packets.
    pub fn net_stats(&self) -> NetStats {
        self.net
    }

    /// The members every replica was started with that are not simulated.
    pub fn outsiders(&self) -> &[P] {
        &self.outsiders
    }
}
