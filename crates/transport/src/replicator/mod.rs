//! The engine: one replica's state, what it knows of its peers, and who to tell what, when.
//!
//! This file holds the type, its driving contract and the dispatch of inputs; each concern
//! the inputs lead to has a file of its own:
//!
//! | module | concern |
//! |---|---|
//! | `defences` | what is refused at the door; challenges of unexpected incarnations |
//! | `routing` | eager targets: fixed plans, the star's hub and its failover, relays |
//! | `batching` | spreading new deltas, per-peer queues, flushing within the budget |
//! | `link` | sequenced packets, acknowledgements, retransmission, digests, snapshots |
//! | `compaction` | dropping deltas every holder has |
//! | `membership` | members that join and leave |
//! | `rounds` | periodic gossip, push-pull and lazy-digest rounds |

mod batching;
mod compaction;
mod defences;
mod link;
mod membership;
mod persist;
mod rounds;
mod routing;

use defences::{Life, validate};

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use gossip_crdt::{CausalContext, Decompose, Dot, Lattice};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use serde::Serialize;

use crate::event::{Change, Source};
use crate::log::{DeltaLog, Inserted};
use crate::overlay::{Plan, plan};
use crate::packet::{Packet, Run};
use crate::peer::Peer;
use crate::weigh::{JsonWeigh, Weigh};
use crate::{Config, Overlay, PacketKind, ReplicaId, Start, Stats, Strategy, Time, TransportError};

/// How far the other members are behind on this replica's own deltas (see
/// [`Replicator::lag`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Lag {
    /// Own deltas a peer this replica hands them to is not known to hold.
    pub deltas: u64,
    /// When the oldest of them was made (if it is still stored; `None` when there are none).
    pub oldest: Option<Time>,
}

/// One replica of a lattice `L`, spreading its deltas to peers named by `P`.
///
/// The engine is *sans-IO*: it never reads a clock, sleeps, spawns or touches a socket. The
/// caller owns the IO and drives it through four families of methods:
///
/// | family | methods | what for |
/// |---|---|---|
/// | getters | [`state`](Self::state), [`seen`](Self::seen), [`stats`](Self::stats), ... | read the replica |
/// | mutators | [`update`](Self::update), [`set_overlay`](Self::set_overlay), [`watch`](Self::watch) | application commands |
/// | inputs | [`handle_packet`](Self::handle_packet), [`handle_timeout`](Self::handle_timeout) | the network and the clock |
/// | outputs | [`poll_transmit`](Self::poll_transmit), [`poll_timeout`](Self::poll_timeout), [`poll_change`](Self::poll_change) | what to send, when to call again, what changed |
///
/// # Driving contract
///
/// 1. After [`new`](Self::new) and after every mutator or input, drain
///    [`poll_transmit`](Self::poll_transmit) until it returns `None` and send each packet to its
///    peer (any transport; loss, duplication and reordering are tolerated).
/// 2. Then read [`poll_timeout`](Self::poll_timeout) and call
///    [`handle_timeout`](Self::handle_timeout) once that time has come (or earlier: it only
///    does what is due). `None` means "nothing to do until the next input".
/// 3. `now` never goes backwards across calls. A smaller `now` is treated as the largest seen
///    so far.
///
/// Randomness (peer choice, challenge numbers) comes from the seed in [`Start`], so one seed
/// and one input sequence replay one run exactly. The replica id and incarnation come from
/// the life in [`Start`], never from the seed.
///
/// # What a replica refuses
///
/// Peers may be buggy, stale or hostile, so every packet is checked before anything is
/// applied, and each refusal is counted in [`Stats::refused`]:
///
/// - packets from senders that are not members (nothing is kept for them, nothing answered);
/// - malformed packets ([`TransportError`]);
/// - link sequence numbers or delta counters too far ahead of what is held (a genuine sender
///   retransmits, and is accepted once the gap has filled);
/// - claims on this replica's own id beyond its counter (runs, digests, snapshots): they are
///   dropped, and since others may believe them, the replica moves to a fresh id.
///
/// A member that shows an unexpected incarnation is challenged; only its live incarnation
/// can answer, so neither a late packet of an earlier life nor a forged incarnation makes a
/// replica forget what a peer holds.
///
/// # Example: two replicas, wired by hand
///
/// ```
/// use gossip_crdt::GSet;
/// use gossip_transport::{Config, Replicator, Start, Time};
///
/// let members = vec!["a", "b"];
/// let mut a: Replicator<GSet<u32>, &str> =
///     Replicator::new("a", members.clone(), Config::default(), Start::new(Time::ZERO, 1, 1));
/// let mut b: Replicator<GSet<u32>, &str> =
///     Replicator::new("b", members, Config::default(), Start::new(Time::ZERO, 1, 2));
///
/// let delta = a.state().insert_delta(42);
/// a.update(Time::ZERO, delta);
///
/// // Shuttle packets both ways until both sides fall silent.
/// let mut now = Time::ZERO;
/// for _ in 0..50 {
///     while let Some((to, packet)) = a.poll_transmit() {
///         assert_eq!(to, "b");
///         b.handle_packet(now, "a", packet).unwrap();
///     }
///     while let Some((to, packet)) = b.poll_transmit() {
///         assert_eq!(to, "a");
///         a.handle_packet(now, "b", packet).unwrap();
///     }
///     match [a.poll_timeout(), b.poll_timeout()].into_iter().flatten().min() {
///         Some(t) => now = now.max(t),
///         None => break,
///     }
///     a.handle_timeout(now);
///     b.handle_timeout(now);
/// }
/// assert!(b.state().contains(&42));
/// ```
#[derive(Debug)]
pub struct Replicator<L, P> {
    me: P,
    /// The members (this replica included), sorted: who may be a peer.
    members: Vec<P>,
    config: Config<P>,
    /// Members that left, with what is kept of them (see `Peer::depart`): their late packets
    /// still bring deltas, nothing else.
    departed: BTreeMap<P, Peer>,
    id: ReplicaId,
    /// This replica's incarnation: different from every other life of the same member.
    inc: u64,
    next_local: u64,
    log: DeltaLog<L>,
    peers: BTreeMap<P, Peer>,
    plan: Plan<P>,
    /// Star only: the hub this node pushes to, or `None` while it acts as the hub itself.
    hub: Option<P>,
    /// The eager targets, sorted; recomputed whenever the plan, the hub or a relay changes.
    targets: Vec<P>,
    rng: Xoshiro256PlusPlus,
    outbox: VecDeque<(P, Packet<L>)>,
    stats: Stats,
    now: Time,
    flush_at: Option<Time>,
    round_at: Option<Time>,
    /// Something changed since the last lazy digest (hybrid).
    lazy_dirty: bool,
    /// When the log was last compacted.
    compacted_at: Time,
    /// When deltas every holder has will be old enough to drop, if any are waiting.
    compact_at: Option<Time>,
    /// The peers with deltas queued, so that flushing never scans every peer.
    queued: BTreeSet<P>,
    /// Peers whose queue passed the byte budget: flushed early.
    over_budget: Vec<P>,
    /// New deltas for the eager targets, not yet queued peer by peer (that waits for the
    /// flush): queueing a batch one peer at a time touches each peer's records once per
    /// batch, where queueing each delta to every peer would walk all of a hub's peers'
    /// records per delta, a cost that grows with the cluster. With their sender (who must not
    /// get them back) and their encoded size.
    fanout: Vec<(Dot<ReplicaId>, Option<P>, usize)>,
    fanout_bytes: usize,
    /// Changes not yet taken, while someone watches (see [`Replicator::watch`]).
    changes: Option<VecDeque<Change<L, P>>>,
}

impl<L, P> Replicator<L, P>
where
    L: Lattice + Decompose + Serialize,
    P: Ord + Clone + std::fmt::Debug,
{
    /// A replica named `me` among `members` (which may include `me`), empty, as described by
    /// `start`. It greets its eager targets with its (empty) digest, so that peers who knew a
    /// previous incarnation send it everything again.
    pub fn new(me: P, members: Vec<P>, config: Config<P>, start: Start) -> Self {
        let Start {
            seed,
            replica,
            incarnation,
            now,
        } = start;
        let rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        // Sorted, so that every member that sees the same set computes the same overlay.
        let mut members = members;
        members.push(me.clone());
        members.sort();
        members.dedup();
        let plan = plan(&me, &members, &config.strategy, &config.overlay);
        let mut replicator = Replicator {
            me,
            members,
            departed: BTreeMap::new(),
            id: replica,
            inc: incarnation,
            next_local: 1,
            log: DeltaLog::new(Box::new(JsonWeigh)),
            peers: BTreeMap::new(),
            plan,
            hub: None,
            targets: Vec::new(),
            rng,
            outbox: VecDeque::new(),
            stats: Stats::default(),
            now,
            flush_at: None,
            round_at: None,
            lazy_dirty: false,
            compacted_at: now,
            compact_at: None,
            queued: BTreeSet::new(),
            over_budget: Vec::new(),
            fanout: Vec::new(),
            fanout_bytes: 0,
            changes: None,
            config,
        };
        replicator.hub = replicator.choose_hub(now);
        replicator.refresh_targets();
        replicator.greet(false);
        replicator
    }

    /// Weighs deltas and packets with `weigh` instead of as JSON: for a shell whose codec is
    /// not JSON, so that byte budgets and statistics count the bytes that travel. Call it
    /// right after [`new`](Self::new).
    pub fn with_weigh(mut self, weigh: impl Weigh<L> + 'static) -> Self {
        self.log.set_weigh(Box::new(weigh));
        self
    }

    // ---- getters -------------------------------------------------------------

    /// This replica's name.
    pub fn me(&self) -> &P {
        &self.me
    }

    /// The members this replica knows of (itself included): the only peers it talks to.
    pub fn members(&self) -> &[P] {
        &self.members
    }

    /// The id that names this replica's new deltas: the one it started with, unless it had
    /// to move to a fresh one because a peer claimed deltas of it that it never made.
    pub fn id(&self) -> ReplicaId {
        self.id
    }

    /// This replica's incarnation number, as given at start.
    pub fn incarnation(&self) -> u64 {
        self.inc
    }

    /// The replicated state: the join of every delta received or made here.
    pub fn state(&self) -> &L {
        self.log.state()
    }

    /// The ids of every delta held here (the digest this replica sends).
    pub fn seen(&self) -> &CausalContext<ReplicaId> {
        self.log.seen()
    }

    /// What has been sent and received so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// How many deltas are still stored (the rest were dropped once every peer held them).
    pub fn log_len(&self) -> usize {
        self.log.len()
    }

    /// How many entries this replica keeps besides its state: ids in its log and digests,
    /// stored-delta slots, what it knows, queues and has in flight for each peer, and gap
    /// ranges of its links. What a packet can add to it is bounded by the packet's size (the
    /// hostile-peer tests hold it to that); the state itself is the data the deltas carry.
    pub fn footprint(&self) -> usize {
        self.log.footprint()
            + self.peers.len()
            + self.peers.values().map(Peer::footprint).sum::<usize>()
            + self.outbox.len()
            + self.fanout.len()
    }

    /// This replica's own deltas (made under its current id) that a peer it hands them to is
    /// not known to hold yet, and when the oldest of them was made. Those peers are its eager
    /// targets, or every other member under a strategy without an overlay (whose rounds go on
    /// until every member is known to hold everything): a member reached through a relay
    /// never tells the writer what it holds, so counting it would never fall back to zero.
    /// Costs a walk over the ids above the lowest gap-free prefix those peers are known to
    /// hold, per peer.
    pub fn lag(&self) -> Lag {
        let id = self.id;
        let seen = self.log.seen();
        let known = |m: &P| self.peers.get(m).map(|p| &p.known);
        let knowns: Vec<Option<&CausalContext<ReplicaId>>> = if self.targets.is_empty() {
            self.others().map(known).collect()
        } else {
            self.targets.iter().map(known).collect()
        };
        let mut lag = Lag::default();
        // Every id up to the lowest prefix all members are known to hold is held everywhere.
        let Some(floor) = knowns
            .iter()
            .map(|k| k.map_or(0, |k| k.vector().get(&id)))
            .min()
        else {
            return lag;
        };
        for counter in floor.saturating_add(1)..=seen.max_counter(&id) {
            let dot = Dot {
                replica: id,
                counter,
            };
            if !seen.contains(&dot) || knowns.iter().all(|k| k.is_some_and(|k| k.contains(&dot))) {
                continue;
            }
            lag.deltas += 1;
            if lag.oldest.is_none() {
                lag.oldest = self.log.stored_at(&dot);
            }
        }
        lag
    }

    /// Deltas waiting in this replica's queues for the next push: queued for a peer, or new
    /// and not yet queued peer by peer (one entry per delta and peer it waits for).
    pub fn queued_deltas(&self) -> usize {
        self.fanout.len() + self.peers.values().map(|p| p.pending.len()).sum::<usize>()
    }

    /// The peers this replica pushes new deltas to right now.
    pub fn eager_targets(&self) -> Vec<P> {
        self.targets.clone()
    }

    // ---- mutators ------------------------------------------------------------

    /// Applies a local delta (generate it from [`state`](Self::state), e.g. with
    /// `insert_delta`) and schedules it for the peers. Returns the id it was given, to ask
    /// [`is_held_elsewhere`](Self::is_held_elsewhere) later; the empty delta is ignored
    /// (`None`). An id is returned only for a delta that was applied here under it.
    pub fn update(&mut self, now: Time, delta: L) -> Option<Dot<ReplicaId>> {
        let now = self.clock(now);
        if delta.is_bottom() {
            return None;
        }
        let dot = self.fresh_dot();
        let inserted = self.log.insert(dot, delta, now, self.changes.is_some());
        debug_assert!(
            matches!(inserted, Inserted::New(_)),
            "a fresh id is never a duplicate"
        );
        if let Inserted::New(Some(gained)) = inserted {
            self.record_change(&dot, gained, Source::Local);
        }
        self.stats.local_updates += 1;
        self.lazy_dirty = true;
        self.spread(&dot, None);
        self.after_input(now);
        Some(dot)
    }

    /// `true` iff another replica is known to hold the delta `dot` (it acknowledged it, sent
    /// it, or listed it in a digest), or there is no other replica. A write acknowledged to a
    /// client only once this holds survives the crash of its own replica.
    pub fn is_held_elsewhere(&self, dot: &Dot<ReplicaId>) -> bool {
        self.members.len() <= 1 || self.peers.values().any(|p| p.known.contains(dot))
    }

    /// Starts recording a [`Change`] for every delta that grows the state from now on, to
    /// take with [`poll_change`](Self::poll_change).
    pub fn watch(&mut self) {
        self.changes.get_or_insert_with(VecDeque::new);
    }

    /// Replaces the overlay (e.g. when a `topology` message arrives); deltas already queued
    /// stay queued.
    pub fn set_overlay(&mut self, now: Time, overlay: Overlay<P>) {
        let now = self.clock(now);
        self.config.overlay = overlay;
        self.plan = plan(
            &self.me,
            &self.members,
            &self.config.strategy,
            &self.config.overlay,
        );
        self.hub = self.choose_hub(now);
        self.refresh_targets();
        self.greet(false);
        self.after_input(now);
    }

    // ---- inputs --------------------------------------------------------------

    /// Handles a packet from `from`. On `Err` nothing changed: the packet was malformed or
    /// came from this replica itself.
    pub fn handle_packet(
        &mut self,
        now: Time,
        from: P,
        packet: Packet<L>,
    ) -> Result<(), TransportError> {
        let now = self.clock(now);
        let departed = self.members.binary_search(&from).is_err();
        if departed && !self.departed.contains_key(&from) {
            self.stats.refused.not_member += 1;
            return Err(TransportError::NotMember);
        }
        if let Err(e) = validate(&self.me, &from, &packet) {
            self.stats.refused.malformed += 1;
            return Err(e);
        }
        if let Err(e) = self.within_bounds(&from, &packet) {
            self.stats.refused.too_far_ahead += 1;
            return Err(e);
        }
        let mut packet = packet;
        self.refuse_claims_on_own_id(&mut packet);
        self.stats.received_packets += 1;
        if departed {
            // A late packet of a member that left: its deltas are good, and that is all.
            for run in Arc::unwrap_or_clone(packet.runs) {
                self.receive_run(&from, run, false);
            }
            self.after_input(now);
            return Ok(());
        }
        let restarted = match self.recognise(now, &from, &packet) {
            Life::Known => false,
            Life::Restarted => true,
            Life::Unsettled => {
                // Its deltas are good whichever life sent them; nothing else is used until
                // the challenge is answered.
                for run in Arc::unwrap_or_clone(packet.runs) {
                    self.receive_run(&from, run, false);
                }
                self.after_input(now);
                return Ok(());
            }
        };
        let Some(peer) = self.peers.get_mut(&from) else {
            return Ok(()); // `recognise` keeps a record of every member that sends
        };
        // A suspected peer that acknowledges again is routed through again (k-ary tree).
        let suspicion = self.config.suspicion();
        let was_suspected = peer.suspected(now, suspicion);
        if let Some(ack) = packet.ack
            && ack.inc == self.inc
            && ack.to == peer.send_epoch
        {
            peer.acknowledge(ack.seq);
        }
        let answered = was_suspected && !peer.suspected(now, suspicion);
        // A link restarted for another life of ours carries nothing this life can acknowledge.
        let for_this_life = packet.to.is_none_or(|to| to == self.inc);
        let mut relay_changed = false;
        if for_this_life && peer.accept_epoch(packet.to) {
            relay_changed = packet.relay.is_some_and(|relay| relay != peer.relay_for);
            if let Some(relay) = packet.relay {
                peer.relay_for = relay;
            }
            if let Some((lo, hi)) = packet.seq {
                peer.receive_seq(lo, hi, now);
            }
        } else if !for_this_life && packet.seq.is_some() {
            // The sender still talks to an earlier life of ours and waits for an ack that
            // will never come: tell it who we are now, and it restarts the link.
            let reply = self.packet_to(&from);
            self.emit(from.clone(), reply, PacketKind::Ack);
        }
        if restarted || relay_changed {
            self.refresh_targets();
        }
        if restarted && self.is_target(&from) {
            self.enqueue_missing(&from);
        }

        let runs = Arc::unwrap_or_clone(packet.runs);
        // The sender holds everything it sent: recorded with one lookup of the peer (a hub's
        // batch holds one run per origin, often of one delta each).
        self.peer_mut(&from)
            .learn_all(runs.iter().flat_map(Run::dots));
        for run in runs {
            self.receive_run(&from, run, true);
        }
        if let Some(have) = &packet.have {
            self.peer_mut(&from).learn_digest(have);
        }
        if let (Some(snap), Some(have)) = (packet.snap.take(), &packet.have) {
            let (news, learned) = self.log.absorb_snapshot(snap, have);
            if learned {
                // The ids the snapshot brought have no per-delta form here: pass it on as a
                // snapshot to every target that lacks them.
                self.lazy_dirty = true;
                for target in self.targets.clone() {
                    if target != from {
                        self.enqueue_missing(&target);
                    }
                }
            }
            if !news.is_bottom() {
                // Nothing proves that the ids cover what the state gained (a buggy or hostile
                // sender's snapshot may hold more): the gain also travels as a delta of ours,
                // so no replica keeps something the others can never learn.
                let dot = self.fresh_dot();
                if self.changes.is_some() {
                    self.record_change(&dot, news.clone(), Source::Peer(from.clone()));
                }
                self.log.record(dot, news, now);
                self.lazy_dirty = true;
                self.spread(&dot, None);
            }
        }
        self.refresh_hub(now);
        if answered {
            self.refresh_detours();
        }

        // Eager targets get what they lack over the acknowledged path; anyone else who asks
        // gets it in the reply.
        let is_target = self.is_target(&from);
        if packet.have.is_some() && is_target {
            self.enqueue_missing(&from);
        }
        if packet.pull {
            let their_have = packet.have.unwrap_or_default();
            let mut reply = self.packet_to(&from);
            if !is_target {
                if self.log.needs_snapshot(&their_have) {
                    // The state holds every stored delta too: they need not ride along.
                    reply.snap = Some(self.log.state().clone());
                } else {
                    let missing = self.log.missing_from(&their_have);
                    reply.runs = Arc::new(self.log.runs(&missing));
                }
            }
            if !their_have.leq(self.log.seen()) {
                // Pulled back at most once per first timeout (see `Peer::pull_answered_at`).
                let first_rto = self.config.first_rto();
                let peer = self.peer_mut(&from);
                if peer.pull_answered_at.is_none_or(|at| at + first_rto <= now) {
                    peer.pull_answered_at = Some(now);
                    reply.pull = true;
                }
            }
            reply.have = Some(self.log.seen().clone());
            if packet.seq.is_some() {
                // A request sent reliably gets a reliable answer: the request is acknowledged
                // by this very packet, so if it were lost the asker would never learn what
                // this side has or lacks (and never send what it lacks).
                let dots: Vec<Dot<ReplicaId>> = reply.runs.iter().flat_map(Run::dots).collect();
                let snapshot = reply.snap.is_some().then(|| self.log.seen().clone());
                let first_rto = self.config.first_rto();
                let pull = reply.pull;
                let peer = self.peer_mut(&from);
                let seq = peer.open_flight(now, first_rto, dots, None, snapshot);
                if let Some(flight) = peer.flights.get_mut(&seq) {
                    flight.digest = Some(pull);
                }
                reply.seq = Some((seq, seq));
            }
            let kind = if reply.snap.is_some() {
                PacketKind::Snapshot
            } else if reply.runs.is_empty() {
                PacketKind::Digest
            } else {
                PacketKind::Repair
            };
            self.emit(from, reply, kind);
        } else if let Some(have) = packet.have
            && !have.leq(self.log.seen())
            && let Strategy::Hybrid { graft_delay, .. } = self.config.strategy
        {
            let peer = self.peer_mut(&from);
            if peer.graft_at.is_none() {
                peer.graft_at = Some((now + graft_delay, have));
            }
        }
        self.after_input(now);
        Ok(())
    }

    /// Does whatever is due at `now`: flushes batches, acknowledges, retransmits, runs gossip
    /// rounds and pulls, and routes around unreachable hubs.
    pub fn handle_timeout(&mut self, now: Time) {
        let now = self.clock(now);
        self.distribute();
        self.refresh_hub(now);
        // Targets become suspected only as time passes; the walk runs only when one did.
        if self.next_suspicion().is_some_and(|t| t <= now) {
            self.refresh_detours();
        }

        // Batches first: they carry the acknowledgements that would otherwise go out bare.
        if self.flush_at.is_some_and(|t| t <= now) {
            self.flush_at = None;
            self.flush_all(now);
        }
        if self.round_at.is_some_and(|t| t <= now) {
            self.round_at = None;
            self.run_round(now);
        }
        // Only the peers with something due: a hub's peers are mostly quiet, and cloning every
        // name on every timer showed in profiles. Nothing below makes another peer due at `now`.
        let ack_wait = self.config.ack_wait();
        let names: Vec<P> = self
            .peers
            .iter()
            .filter(|(_, p)| {
                p.retransmit_at().is_some_and(|t| t <= now)
                    || p.ack_owed_since
                        .is_some_and(|since| since + ack_wait <= now)
                    || p.graft_at.as_ref().is_some_and(|(at, _)| *at <= now)
            })
            .map(|(name, _)| name.clone())
            .collect();
        for name in &names {
            if self.peers[name].retransmit_at().is_some_and(|t| t <= now) {
                self.retransmit(name, now);
            }
            if self.peers[name]
                .ack_owed_since
                .is_some_and(|since| since + self.config.ack_wait() <= now)
            {
                let packet = self.packet_to(name);
                self.emit(name.clone(), packet, PacketKind::Ack);
            }
            if let Some((at, have)) = self.peers[name].graft_at.clone()
                && at <= now
            {
                self.peer_mut(name).graft_at = None;
                if !have.leq(self.log.seen()) {
                    self.send_digest(name, true, None);
                }
            }
        }
        self.compact_log(now);
        self.after_input(now);
    }

    // ---- outputs -------------------------------------------------------------

    /// The next change of the state, oldest first, while watching
    /// ([`watch`](Self::watch)); drain it after every input, as [`poll_transmit`](Self::poll_transmit).
    pub fn poll_change(&mut self) -> Option<Change<L, P>> {
        self.changes.as_mut()?.pop_front()
    }

    /// The next packet to send, and to whom.
    pub fn poll_transmit(&mut self) -> Option<(P, Packet<L>)> {
        self.outbox.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) has something to do next, if ever.
    pub fn poll_timeout(&self) -> Option<Time> {
        let mut next: Option<Time> = None;
        let mut consider = |t: Option<Time>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        consider(self.flush_at);
        consider(self.round_at);
        consider(self.compact_at);
        for peer in self.peers.values() {
            consider(peer.retransmit_at());
            consider(peer.ack_owed_since.map(|s| s + self.config.ack_wait()));
            consider(peer.graft_at.as_ref().map(|(t, _)| *t));
        }
        if let Some(hub) = &self.hub
            && let Some(peer) = self.peers.get(hub)
        {
            consider(peer.silent_since().map(|s| s + self.config.suspicion()));
        }
        consider(self.next_suspicion());
        next
    }

    // ---- internals -----------------------------------------------------------

    fn clock(&mut self, now: Time) -> Time {
        self.now = self.now.max(now);
        self.now
    }

    fn peer_mut(&mut self, name: &P) -> &mut Peer {
        // Looked up first: `entry` would clone the name (an allocation) on every call.
        if !self.peers.contains_key(name) {
            self.peers.insert(name.clone(), Peer::new());
        }
        self.peers.get_mut(name).expect("inserted above")
    }

    fn others(&self) -> impl Iterator<Item = &P> {
        self.members.iter().filter(move |m| **m != self.me)
    }

    /// Applies a run of deltas from `from`. `from_current`: it comes from the sender's current
    /// life (the caller has recorded that it holds them), so new deltas are not sent back
    /// there; leftovers of a previous incarnation, which the current one may lack, are.
    /// Records that the state grew by `gained` under `id`, if someone watches and it did.
    fn record_change(&mut self, id: &Dot<ReplicaId>, gained: L, source: Source<P>) {
        if let Some(changes) = &mut self.changes
            && !gained.is_bottom()
        {
            changes.push_back(Change {
                id: *id,
                gained,
                source,
            });
        }
    }

    fn receive_run(&mut self, from: &P, run: Run<L>, from_current: bool) {
        let dot = |i: usize| Dot {
            replica: run.origin,
            counter: run.first + i as u64,
        };
        for (i, delta) in run.deltas.into_iter().enumerate() {
            let dot = dot(i);
            let watched = self.changes.is_some();
            match self.log.insert(dot, delta, self.now, watched) {
                Inserted::New(gained) => {
                    if let Some(gained) = gained {
                        self.record_change(&dot, gained, Source::Peer(from.clone()));
                    }
                    self.stats.received_new += 1;
                    self.lazy_dirty = true;
                    // Not even a stale sender's current life is known to hold it.
                    self.spread(&dot, from_current.then_some(from));
                }
                Inserted::Duplicate => self.stats.received_duplicate += 1,
            }
        }
    }
}
