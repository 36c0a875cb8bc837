//! The engine: one replica's state, what it knows of its peers, and who to tell what, when.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use gossip_crdt::{CausalContext, Decompose, Dot, Lattice};
use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use serde::Serialize;

use crate::log::{DeltaLog, Inserted, encoded_len};
use crate::overlay::{Plan, plan};
use crate::packet::{Ack, Packet, Run};
use crate::peer::{Flight, MAX_SEQ_AHEAD, Peer};
use crate::{Config, Overlay, PacketKind, ReplicaId, Start, Stats, Strategy, Time, TransportError};

/// One replica of a lattice `L`, spreading its deltas to peers named by `P`.
///
/// The engine is *sans-IO*: it never reads a clock, sleeps, spawns or touches a socket. The
/// caller owns the IO and drives it through four families of methods:
///
/// | family | methods | what for |
/// |---|---|---|
/// | getters | [`state`](Self::state), [`seen`](Self::seen), [`stats`](Self::stats), ... | read the replica |
/// | mutators | [`update`](Self::update), [`set_overlay`](Self::set_overlay) | application commands |
/// | inputs | [`handle_packet`](Self::handle_packet), [`handle_timeout`](Self::handle_timeout) | the network and the clock |
/// | outputs | [`poll_transmit`](Self::poll_transmit), [`poll_timeout`](Self::poll_timeout) | what to send, and when to call again |
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
    members: Vec<P>,
    config: Config<P>,
    /// The members, sorted: who may be a peer.
    sorted_members: Vec<P>,
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
        let mut members = members;
        if !members.contains(&me) {
            members.push(me.clone());
        }
        let mut sorted_members = members.clone();
        sorted_members.sort();
        sorted_members.dedup();
        let plan = plan(&me, &members, &config.strategy, &config.overlay);
        let mut replicator = Replicator {
            me,
            members,
            sorted_members,
            id: replica,
            inc: incarnation,
            next_local: 1,
            log: DeltaLog::new(),
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
            config,
        };
        replicator.hub = replicator.choose_hub(now);
        replicator.refresh_targets();
        replicator.greet();
        replicator
    }

    // ---- getters -------------------------------------------------------------------------

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

    /// Encoded size of the deltas still stored, in bytes.
    pub fn log_bytes(&self) -> usize {
        self.log.bytes()
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

    /// The peers this replica pushes new deltas to right now.
    pub fn eager_targets(&self) -> Vec<P> {
        self.targets.clone()
    }

    /// `true` iff every peer this replica pushes to has acknowledged everything and nothing
    /// waits to be sent: a quiet replica.
    pub fn is_quiescent(&self) -> bool {
        self.outbox.is_empty()
            && self.fanout.is_empty()
            && self
                .peers
                .values()
                .all(|p| p.pending.is_empty() && p.flights.is_empty() && p.ack_owed_since.is_none())
    }

    // ---- mutators ------------------------------------------------------------------------

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
        let inserted = self.log.insert(dot.clone(), delta, now);
        debug_assert_eq!(inserted, Inserted::New, "a fresh id is never a duplicate");
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
        self.greet();
        self.after_input(now);
    }

    // ---- inputs --------------------------------------------------------------------------

    /// Handles a packet from `from`. On `Err` nothing changed: the packet was malformed or
    /// came from this replica itself.
    pub fn handle_packet(
        &mut self,
        now: Time,
        from: P,
        packet: Packet<L>,
    ) -> Result<(), TransportError> {
        let now = self.clock(now);
        if self.sorted_members.binary_search(&from).is_err() {
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
        if let Some(challenge) = packet.probe {
            let mut reply = self.packet_to(&from);
            reply.answer = Some(challenge);
            self.emit(from.clone(), reply, PacketKind::Probe);
        }

        self.peer_mut(&from);
        let Some(peer) = self.peers.get_mut(&from) else {
            return Ok(()); // inserted just above
        };
        let answered = packet.answer.is_some() && packet.answer == peer.challenge.map(|c| c.0);
        if answered {
            peer.challenge = None;
        }
        let mut restarted = false;
        match peer.inc {
            None => peer.inc = Some(packet.inc),
            Some(inc) if inc == packet.inc => {}
            Some(_) if answered => {
                // The member's live incarnation is another than we knew: that life lost
                // whatever its predecessor had, so start over with it.
                peer.reset(packet.inc);
                self.queued.remove(&from);
                restarted = true;
            }
            Some(_) => {
                // Another incarnation than we know: a new life, or a late packet of an old
                // one (incarnations carry no order). Its deltas are good either way, but
                // nothing it says about the link or the peer's knowledge is used until a
                // challenge, which only the live incarnation can answer, settles which.
                self.challenge(&from, now);
                for run in Arc::unwrap_or_clone(packet.runs) {
                    self.receive_run(&from, run, false);
                }
                self.after_input(now);
                return Ok(());
            }
        }
        if let Some(ack) = packet.ack
            && ack.inc == self.inc
            && ack.to == peer.send_epoch
        {
            peer.acknowledge(ack.seq);
        }
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
                self.log.record(dot.clone(), news, now);
                self.lazy_dirty = true;
                self.spread(&dot, None);
            }
        }
        self.refresh_hub(now);

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
                let missing = self.log.missing_from(&their_have);
                reply.runs = Arc::new(self.log.runs(&missing));
                if self.log.needs_snapshot(&their_have) {
                    reply.snap = Some(self.log.state().clone());
                }
            }
            reply.pull = !their_have.leq(self.log.seen());
            reply.have = Some(self.log.seen().clone());
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

    // ---- outputs -------------------------------------------------------------------------

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
        next
    }

    // ---- defences --------------------------------------------------------------------------

    /// Refuses a packet whose link numbers or delta counters lie so far ahead of what is held
    /// that tracking them would let the sender grow this replica's bookkeeping at will.
    fn within_bounds(&self, from: &P, packet: &Packet<L>) -> Result<(), TransportError> {
        // Only numbers of a link to this life are tracked (others are ignored anyway).
        if let Some((_, hi)) = packet.seq
            && packet.to.is_none_or(|to| to == self.inc)
        {
            let base = self
                .peers
                .get(from)
                .map_or(Some(0), |p| p.recv_base(packet.to));
            if base.is_some_and(|base| hi.saturating_sub(base) > MAX_SEQ_AHEAD) {
                return Err(TransportError::TooFarAhead);
            }
        }
        // Runs of one origin come in id order: each may start up to the bound past what is
        // held of its origin, or past the runs before it in this packet.
        let seen = self.log.seen();
        let mut reach: Option<(ReplicaId, u64)> = None;
        for run in packet.runs.iter() {
            let held = seen.vector().get(&run.origin);
            let mut top = held;
            if let Some((origin, end)) = reach
                && origin == run.origin
            {
                top = top.max(end);
            }
            if run.first.saturating_sub(top) > MAX_COUNTER_AHEAD {
                return Err(TransportError::TooFarAhead);
            }
            let last = run.first + (run.deltas.len() as u64).saturating_sub(1);
            let end = if run.first <= top.saturating_add(1) {
                top.max(last)
            } else {
                top
            };
            reach = Some((run.origin, end));
        }
        Ok(())
    }

    /// Drops whatever in `packet` claims deltas of this replica's current id that it never
    /// made: runs, a digest (and the snapshot and pull that come with it). Whoever believes
    /// such a claim would drop our next deltas as repeats, so the replica also moves to a
    /// fresh id (the claim may be a genuine leftover of an earlier life that used this id).
    fn refuse_claims_on_own_id(&mut self, packet: &mut Packet<L>) {
        let (id, next) = (self.id, self.next_local);
        let runs_ahead = packet.runs.iter().any(|run| {
            run.origin == id && run.first + (run.deltas.len() as u64).saturating_sub(1) >= next
        });
        let have_ahead = packet
            .have
            .as_ref()
            .is_some_and(|have| have.max_counter(&id) >= next);
        if !runs_ahead && !have_ahead {
            return;
        }
        self.stats.refused.own_id += 1;
        if runs_ahead {
            Arc::make_mut(&mut packet.runs).retain(|run| run.origin != id);
        }
        if have_ahead {
            packet.have = None;
            packet.snap = None;
            packet.pull = false;
        }
        self.renew_id();
    }

    /// The id for a new delta of ours. Claims on our id are refused at the door, so the next
    /// id is always fresh; if it somehow is not, a fresh replica id is, so that a delta is
    /// never dropped as a repeat of one this replica did not make.
    fn fresh_dot(&mut self) -> Dot<ReplicaId> {
        while self.next_local == u64::MAX
            || self.log.seen().max_counter(&self.id) >= self.next_local
        {
            self.renew_id();
        }
        let dot = Dot {
            replica: self.id,
            counter: self.next_local,
        };
        self.next_local += 1;
        dot
    }

    /// Moves to a fresh replica id: one no delta held here carries.
    fn renew_id(&mut self) {
        let mut id = self.id.successor();
        while self.log.seen().max_counter(&id) > 0 {
            id = id.successor();
        }
        self.id = id;
        self.next_local = 1;
        self.stats.refused.id_renewals += 1;
    }

    /// Asks `name`, which sent an incarnation we did not expect, which life is live: sends a
    /// random number only that life can echo. At most one challenge per first timeout.
    fn challenge(&mut self, name: &P, now: Time) {
        let first_rto = self.config.first_rto();
        if self
            .peers
            .get(name)
            .and_then(|p| p.challenge)
            .is_some_and(|(_, at)| at + first_rto > now)
        {
            return;
        }
        let number = self.rng.random::<u64>();
        self.peer_mut(name).challenge = Some((number, now));
        let mut packet = self.packet_to(name);
        packet.probe = Some(number);
        self.emit(name.clone(), packet, PacketKind::Probe);
    }

    // ---- internals -----------------------------------------------------------------------

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

    /// `true` iff `name` gets eager pushes now.
    fn is_target(&self, name: &P) -> bool {
        self.targets.binary_search(name).is_ok()
    }

    /// Recomputes the eager targets after the plan, the hub or a relay changed.
    fn refresh_targets(&mut self) {
        // What was spread to the old targets is theirs, as if queued at once.
        self.distribute();
        let mut targets = self.compute_targets();
        targets.sort();
        targets.dedup();
        self.targets = targets;
    }

    /// The peers that get eager pushes, from scratch.
    fn compute_targets(&self) -> Vec<P> {
        match &self.plan {
            Plan::None => Vec::new(),
            Plan::Fixed(v) => v.clone(),
            Plan::Star { .. } => match &self.hub {
                None => self.others().cloned().collect(),
                Some(hub) => {
                    let mut out = vec![hub.clone()];
                    for (name, peer) in &self.peers {
                        if peer.relay_for && name != hub {
                            out.push(name.clone());
                        }
                    }
                    out
                }
            },
        }
    }

    /// Star: the first candidate hub not suspected, or `None` when this node is it (or every
    /// candidate before it is unreachable).
    fn choose_hub(&self, now: Time) -> Option<P> {
        let Plan::Star { candidates } = &self.plan else {
            return None;
        };
        for c in candidates {
            if *c == self.me {
                return None;
            }
            let suspected = self
                .peers
                .get(c)
                .is_some_and(|p| p.suspected(now, self.config.suspicion()));
            if !suspected {
                return Some(c.clone());
            }
        }
        None
    }

    /// Star: switches hubs when the current one became unreachable or a better one returned.
    fn refresh_hub(&mut self, now: Time) {
        let Plan::Star { candidates } = &self.plan else {
            return;
        };
        let primary = candidates.first().cloned();
        let new = self.choose_hub(now);
        if new == self.hub {
            return;
        }
        let old = std::mem::replace(&mut self.hub, new.clone());
        self.refresh_targets();
        if let Some(old) = &old {
            // Whatever waited for the old hub goes to the new route instead.
            self.queued.remove(old);
            let peer = self.peer_mut(old);
            peer.pending.clear();
            peer.pending_bytes = 0;
            if peer.relaying_us {
                peer.relaying_us = false;
                self.send_digest(old, false, Some(false));
            }
        }
        match &new {
            Some(hub) if Some(hub) == primary.as_ref() => self.enqueue_missing(hub),
            Some(hub) => {
                self.peer_mut(hub).relaying_us = true;
                self.send_digest(hub, true, Some(true));
            }
            None => {
                // Acting as hub: learn what every member lacks, and serve it.
                let others: Vec<P> = self.others().cloned().collect();
                for other in others {
                    self.send_digest(&other, true, None);
                }
            }
        }
    }

    /// Applies a run of deltas from `from`. `from_current`: it comes from the sender's current
    /// life (the caller has recorded that it holds them), so new deltas are not sent back
    /// there; leftovers of a previous incarnation, which the current one may lack, are.
    fn receive_run(&mut self, from: &P, run: Run<L>, from_current: bool) {
        let dot = |i: usize| Dot {
            replica: run.origin,
            counter: run.first + i as u64,
        };
        for (i, delta) in run.deltas.into_iter().enumerate() {
            let dot = dot(i);
            match self.log.insert(dot.clone(), delta, self.now) {
                Inserted::New => {
                    self.stats.received_new += 1;
                    self.lazy_dirty = true;
                    // Not even a stale sender's current life is known to hold it.
                    self.spread(&dot, from_current.then_some(from));
                }
                Inserted::Duplicate => self.stats.received_duplicate += 1,
            }
        }
    }

    /// Queues a new delta for every eager target but the one it came from.
    fn spread(&mut self, dot: &Dot<ReplicaId>, from: Option<&P>) {
        if self.targets.iter().all(|t| Some(t) == from) {
            return; // no one to send it to (a leaf hearing from its hub)
        }
        if !self.log.is_stored(dot) {
            // Only in the state (its number lay far from its origin's others): it can only
            // travel in a snapshot, which the targets lacking it are sent.
            for target in self.targets.clone() {
                if Some(&target) != from {
                    self.enqueue_missing(&target);
                }
            }
            return;
        }
        let bytes = self.log.size_of(dot);
        self.fanout.push((dot.clone(), from.cloned(), bytes));
        self.fanout_bytes += bytes;
        if self.fanout_bytes >= self.config.max_packet_bytes {
            self.distribute();
        }
    }

    /// Queues the spread deltas waiting in `fanout` for every eager target, peer by peer.
    fn distribute(&mut self) {
        if self.fanout.is_empty() {
            return;
        }
        let mut fanout = std::mem::take(&mut self.fanout);
        self.fanout_bytes = 0;
        // In id order, so that each target's queue takes the batch in one merge.
        fanout.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let targets = std::mem::take(&mut self.targets);
        for target in &targets {
            let peer = self.peer_mut(target);
            let batch = fanout
                .iter()
                .filter(|(_, from, _)| from.as_ref() != Some(target))
                .map(|(dot, _, bytes)| (dot, *bytes));
            if peer.enqueue_sorted(batch) {
                self.note_queued(target);
            }
        }
        self.targets = targets;
    }

    /// Queues for `name` every delta it is not known to hold.
    fn enqueue_missing(&mut self, name: &P) {
        self.peer_mut(name);
        let Some(peer) = self.peers.get(name) else {
            return; // inserted just above
        };
        if self.log.needs_snapshot(&peer.known)
            && self.log.needs_snapshot(&peer.known_with_snapshots())
        {
            self.send_snapshot(name);
        }
        // What the peer knows is read in place: a digest per packet must not copy it.
        let Some(peer) = self.peers.get(name) else {
            return;
        };
        let missing = self.log.missing_from(&peer.known);
        for dot in missing {
            let bytes = self.log.size_of(&dot);
            self.enqueue(name, dot, bytes);
        }
    }

    /// Sends `name` the whole state, reliably: it lacks deltas no longer stored here.
    fn send_snapshot(&mut self, name: &P) {
        let now = self.now;
        let first_rto = self.config.first_rto();
        let seen = self.log.seen().clone();
        let mut packet = self.packet_to(name);
        let seq =
            self.peer_mut(name)
                .open_flight(now, first_rto, Vec::new(), None, Some(seen.clone()));
        packet.seq = Some((seq, seq));
        packet.snap = Some(self.log.state().clone());
        packet.have = Some(seen);
        self.emit(name.clone(), packet, PacketKind::Snapshot);
    }

    /// Drops stored deltas that every peer which could still need one holds (at most once a
    /// second). Those peers are the eager targets and anyone with deltas queued or in flight;
    /// anyone else who turns out to lack a dropped delta gets a snapshot. The epidemic
    /// strategies keep everything: their repair needs per-delta ids.
    fn compact_log(&mut self, now: Time) {
        if matches!(self.plan, Plan::None) || now - self.compacted_at < self.compact_every() {
            return;
        }
        self.compacted_at = now;
        self.compact_at = None;
        // While the overlay is in flux (a target unreachable), who will need what is unclear:
        // keep everything until it settles (the next input brings us back here).
        let suspicion = self.config.suspicion();
        if self.targets.iter().any(|t| {
            self.peers
                .get(t)
                .is_some_and(|p| p.suspected(now, suspicion))
        }) {
            return;
        }
        let before = Time::from_duration(
            now.since_origin()
                .checked_sub(self.config.retain)
                .unwrap_or_default(),
        );
        // Each holder looked up once; then per origin, a walk over their version vectors.
        let mut holders: Vec<Option<&Peer>> =
            self.targets.iter().map(|t| self.peers.get(t)).collect();
        holders.extend(
            self.queued
                .iter()
                .chain(
                    self.peers
                        .iter()
                        .filter(|(_, p)| !p.flights.is_empty())
                        .map(|(n, _)| n),
                )
                .map(|name| self.peers.get(name)),
        );
        // The pointwise minimum of the holders' vectors, over the origins stored here (sorted):
        // one ordered merge per holder, no lookups.
        let mut floor: Vec<(ReplicaId, u64)> = self.log.stored_origins().collect();
        for holder in holders {
            let Some(peer) = holder else {
                floor.clear();
                break;
            };
            let mut theirs = peer.known.vector().iter().peekable();
            floor.retain_mut(|(origin, lowest)| {
                while theirs.next_if(|(o, _)| *o < origin).is_some() {}
                match theirs.peek() {
                    Some((o, n)) if *o == origin => {
                        *lowest = (*lowest).min(*n);
                        true
                    }
                    // The holder has nothing of this origin.
                    _ => false,
                }
            });
            if floor.is_empty() {
                break;
            }
        }
        // Deltas held everywhere but still young: come back when the oldest is old enough.
        self.compact_at = self
            .log
            .compact(&floor, before)
            .map(|at| (at + self.config.retain).max(now + self.compact_every()));
    }

    /// How often the log is compacted: an eighth of `retain`, so a delta stays stored at most
    /// that much longer than asked, but not more often than [`COMPACT_EVERY`]. Each
    /// compaction scans every origin and the vectors of every peer that holds deltas, which in
    /// a large cluster costs far more than the drops it makes, so scans are kept rare.
    fn compact_every(&self) -> Duration {
        (self.config.retain / 8).max(COMPACT_EVERY)
    }

    /// The batching interval for this node's role.
    fn flush_interval(&self) -> Duration {
        if self.targets.len() > 1 {
            self.config.relay_flush
        } else {
            self.config.flush
        }
    }

    /// Flushes what is due, and arms the timers the new state needs.
    fn after_input(&mut self, now: Time) {
        let interval = self.flush_interval();
        let suspicion = self.config.suspicion();
        if interval.is_zero() {
            self.distribute();
        }
        // Without a batching interval, queues go out at once; with one, only queues past the
        // byte budget do, and the rest wait for the beat. A suspected peer gets no new pushes:
        // its queue rides on its next retransmission, one packet per timeout.
        let due: Vec<P> = if interval.is_zero() {
            self.over_budget.clear();
            self.queued.iter().cloned().collect()
        } else {
            std::mem::take(&mut self.over_budget)
        };
        for name in due {
            if self
                .peers
                .get(&name)
                .is_some_and(|p| !p.pending.is_empty() && !p.suspected(now, suspicion))
            {
                self.flush_peer(&name, now, &mut None);
            }
        }
        // The beat is armed only for a queue it can send: a suspected peer's waits for its
        // retransmission (and with no interval, a beat at `now` would spin).
        if self.flush_at.is_none()
            && !interval.is_zero()
            && (!self.fanout.is_empty()
                || self.queued.iter().any(|name| {
                    self.peers
                        .get(name)
                        .is_some_and(|p| !p.suspected(now, suspicion))
                }))
        {
            self.flush_at = Some(next_tick(now, interval));
        }
        if self.round_at.is_none()
            && self.round_due()
            && let Some(interval) = self.round_interval()
        {
            self.round_at = Some(next_tick(now, interval));
        }
    }

    /// Queues `dot` for `name` unless it holds it or it is on its way.
    fn enqueue(&mut self, name: &P, dot: Dot<ReplicaId>, bytes: usize) {
        if self.peer_mut(name).enqueue(dot, bytes) {
            self.note_queued(name);
        }
    }

    /// Records that `name` has deltas queued (and whether they passed the byte budget).
    fn note_queued(&mut self, name: &P) {
        let budget = self.config.max_packet_bytes;
        if !self.queued.contains(name) {
            self.queued.insert(name.clone());
        }
        if self
            .peers
            .get(name)
            .is_some_and(|p| p.pending_bytes >= budget)
        {
            self.over_budget.push(name.clone());
        }
    }

    fn flush_all(&mut self, now: Time) {
        let suspicion = self.config.suspicion();
        let names: Vec<P> = self
            .queued
            .iter()
            .filter(|name| {
                self.peers
                    .get(*name)
                    .is_some_and(|p| !p.pending.is_empty() && !p.suspected(now, suspicion))
            })
            .cloned()
            .collect();
        // A hub's leaves mostly get the same batch: it is built once and shared.
        let mut shared = None;
        for name in names {
            self.flush_peer(&name, now, &mut shared);
        }
    }

    /// Sends `name` its queued deltas as one or more acknowledged packets. `shared` is the
    /// last batch built, reused when this peer's is the same.
    fn flush_peer(&mut self, name: &P, now: Time, shared: &mut Option<SharedRuns<L>>) {
        let first_rto = self.config.first_rto();
        let peer = self.peer_mut(name);
        let dots: Vec<Dot<ReplicaId>> = std::mem::take(&mut peer.pending);
        peer.pending_bytes = 0;
        self.queued.remove(name);
        for chunk in self.chunks(dots) {
            let seq = self
                .peer_mut(name)
                .open_flight(now, first_rto, chunk.clone(), None, None);
            let mut packet = self.packet_to(name);
            packet.seq = Some((seq, seq));
            packet.runs = match shared {
                Some((dots, runs)) if *dots == chunk => Arc::clone(runs),
                _ => {
                    let runs = Arc::new(self.log.runs(&chunk));
                    *shared = Some((chunk, Arc::clone(&runs)));
                    runs
                }
            };
            self.emit(name.clone(), packet, PacketKind::Push);
        }
    }

    /// Splits `dots` into groups whose deltas fit the packet budget (at least one each).
    fn chunks(&self, dots: Vec<Dot<ReplicaId>>) -> Vec<Vec<Dot<ReplicaId>>> {
        let budget = self.config.max_packet_bytes;
        let mut out: Vec<Vec<Dot<ReplicaId>>> = Vec::new();
        let mut size = 0;
        // A delta no longer stored cannot be sent, and a flight must never vouch for what it
        // did not carry: the peer gets it in a snapshot instead.
        for dot in dots.into_iter().filter(|d| self.log.is_stored(d)) {
            let bytes = self.log.size_of(&dot) + 4;
            match out.last_mut() {
                Some(chunk) if size + bytes <= budget => chunk.push(dot),
                _ => {
                    out.push(vec![dot]);
                    size = 0;
                }
            }
            size += bytes;
        }
        out
    }

    /// Resends the packets to `name` whose timeout has passed as one packet covering their
    /// whole range, minus what the peer now holds. Packets sent since, whose numbers fall inside
    /// that range, ride along: the range is acknowledged as a whole, so everything it covers
    /// must be in it.
    fn retransmit(&mut self, name: &P, now: Time) {
        let max_rto = self.config.rto_cap();
        let peer = self.peer_mut(name);
        let due = peer
            .flights
            .iter()
            .filter(|(_, f)| f.sent_at + f.timeout <= now);
        let Some((lo, hi)) = due.fold(None, |acc: Option<(u64, u64)>, (h, f)| {
            Some(acc.map_or((f.lo, *h), |(l, hh)| (l.min(f.lo), hh.max(*h))))
        }) else {
            return;
        };
        // Queued deltas ride along (a suspected peer gets nothing else), but under a fresh
        // sequence number: the peer may already hold an older packet with a number in the
        // range, and acknowledging that must not cover deltas it never saw. A fresh number
        // above everything in flight means the range covers every flight, so all of them go.
        let fold_pending = !peer.pending.is_empty();
        let covered: Vec<u64> = peer
            .flights
            .iter()
            .filter(|(h, f)| fold_pending || (**h >= lo && f.lo <= hi))
            .map(|(h, _)| *h)
            .collect();
        let flights: BTreeMap<u64, Flight> = covered
            .into_iter()
            .filter_map(|h| peer.take_flight(h).map(|f| (h, f)))
            .collect();
        let lo = flights.values().map(|f| f.lo).min().unwrap_or(lo);
        let hi = if fold_pending {
            let fresh = peer.next_seq;
            peer.next_seq += 1;
            fresh
        } else {
            flights.keys().next_back().copied().unwrap_or(hi)
        };
        let first_sent = flights.values().map(|f| f.first_sent).min().unwrap_or(now);
        // The latest relay change in flight must arrive, even if no delta is left to resend.
        let relay = flights.values().rev().find_map(|f| f.relay);
        // A snapshot in the range is resent as the state now. The flight keeps crediting only
        // what the original covered: the peer may acknowledge these numbers for the original
        // packet, so the acknowledgement must not vouch for anything newer.
        let original_snapshot =
            flights
                .values()
                .filter_map(|f| f.snapshot.clone())
                .reduce(|mut a, b| {
                    a.join(&b);
                    a
                });
        let flights_timeout = flights
            .values()
            .map(|f| f.timeout)
            .max()
            .unwrap_or_default();
        let mut dots: Vec<Dot<ReplicaId>> = flights.into_values().flat_map(|f| f.dots).collect();
        dots.extend(std::mem::take(&mut peer.pending));
        peer.pending_bytes = 0;
        dots.sort();
        dots.dedup();
        dots.retain(|d| !peer.known.contains(d));
        self.queued.remove(name);
        // Back off from the longest wait among the merged flights.
        let timeout = flights_timeout.saturating_mul(2).min(max_rto);
        // Even with no deltas left the range is resent, so that the receiver's cumulative
        // acknowledgement can move past it.
        let mut chunks = self.chunks(dots);
        if chunks.is_empty() {
            chunks.push(Vec::new());
        }
        for (i, chunk) in chunks.into_iter().enumerate() {
            let peer = self.peer_mut(name);
            let (range_lo, range_hi) = if i == 0 {
                (lo, hi)
            } else {
                let s = peer.next_seq;
                peer.next_seq += 1;
                (s, s)
            };
            let flight_relay = if i == 0 { relay } else { None };
            let flight_snapshot = if i == 0 {
                original_snapshot.clone()
            } else {
                None
            };
            let carries_snapshot = flight_snapshot.is_some();
            let peer = self.peer_mut(name);
            peer.add_flight(
                range_hi,
                Flight {
                    lo: range_lo,
                    dots: chunk.clone(),
                    sent_at: now,
                    first_sent,
                    relay: flight_relay,
                    timeout,
                    snapshot: flight_snapshot,
                },
            );
            let mut packet = self.packet_to(name);
            packet.seq = Some((range_lo, range_hi));
            packet.runs = Arc::new(self.log.runs(&chunk));
            if flight_relay.is_some() {
                packet.relay = flight_relay;
            }
            if carries_snapshot {
                packet.snap = Some(self.log.state().clone());
                packet.have = Some(self.log.seen().clone());
            }
            self.emit(name.clone(), packet, PacketKind::Retransmit);
        }
    }

    /// A packet to `name` carrying what every packet carries: our incarnation, a piggybacked
    /// acknowledgement, the relay request while we rely on it, and our digest when the
    /// strategy gossips knowledge.
    fn packet_to(&mut self, name: &P) -> Packet<L> {
        let gossip_digest = matches!(self.config.strategy, Strategy::Gossip { .. });
        let have = gossip_digest.then(|| self.log.seen().clone());
        let mut packet = Packet::new(self.inc);
        let peer = self.peer_mut(name);
        packet.to = peer.send_epoch;
        if let Some(inc) = peer.inc
            && peer.recv_cum > 0
        {
            packet.ack = Some(Ack {
                inc,
                seq: peer.recv_cum,
                to: peer.recv_epoch,
            });
        }
        peer.ack_owed_since = None;
        if peer.relaying_us {
            packet.relay = Some(true);
        }
        packet.have = have;
        packet
    }

    /// Announces this incarnation, reliably, to every peer that pushes to it or that it
    /// pushes to (everyone, for the epidemic strategies): peers that knew an earlier life then
    /// forget what it held and send it everything again.
    fn greet(&mut self) {
        let peers: Vec<P> = match self.plan {
            Plan::None => self.others().cloned().collect(),
            Plan::Fixed(_) | Plan::Star { .. } => self.targets.clone(),
        };
        for peer in peers {
            self.send_control(&peer, false, None);
        }
    }

    /// Sends our digest reliably (sequenced, retransmitted until acknowledged), with an
    /// optional relay change.
    fn send_control(&mut self, name: &P, pull: bool, relay: Option<bool>) {
        self.send_digest_packet(name, pull, relay, true);
    }

    /// Sends our digest to `name`: a lazy announcement, or (with `pull`) a request.
    fn send_digest(&mut self, name: &P, pull: bool, relay: Option<bool>) {
        self.send_digest_packet(name, pull, relay, relay.is_some());
    }

    fn send_digest_packet(&mut self, name: &P, pull: bool, relay: Option<bool>, reliable: bool) {
        let mut packet = self.packet_to(name);
        packet.have = Some(self.log.seen().clone());
        packet.pull = pull;
        let kind = if reliable {
            if relay.is_some() {
                packet.relay = relay;
            }
            let now = self.now;
            let first_rto = self.config.first_rto();
            let seq = self
                .peer_mut(name)
                .open_flight(now, first_rto, Vec::new(), relay, None);
            packet.seq = Some((seq, seq));
            if relay.is_some() {
                PacketKind::Relay
            } else {
                PacketKind::Digest
            }
        } else {
            PacketKind::Digest
        };
        self.emit(name.clone(), packet, kind);
    }

    fn emit(&mut self, to: P, packet: Packet<L>, kind: PacketKind) {
        self.stats
            .record_sent(kind, encoded_len(&packet), packet.delta_count());
        self.outbox.push_back((to, packet));
    }

    // ---- periodic rounds (gossip, push-pull, hybrid's lazy digests) ------------------------

    fn round_interval(&self) -> Option<Duration> {
        match self.config.strategy {
            Strategy::Gossip { interval, .. } | Strategy::PushPull { interval } => Some(interval),
            Strategy::Hybrid { lazy_interval, .. } => Some(lazy_interval),
            Strategy::Flood | Strategy::Tree => None,
        }
    }

    /// Peers not known to hold everything this replica holds.
    fn behind(&self) -> Vec<P> {
        let seen = self.log.seen();
        self.others()
            .filter(|m| !self.peers.get(*m).is_some_and(|p| seen.leq(&p.known)))
            .cloned()
            .collect()
    }

    fn round_due(&self) -> bool {
        match self.config.strategy {
            Strategy::Gossip { .. } | Strategy::PushPull { .. } => {
                !self.log.seen().is_bottom() && !self.behind().is_empty()
            }
            Strategy::Hybrid { .. } => self.lazy_dirty,
            Strategy::Flood | Strategy::Tree => false,
        }
    }

    fn run_round(&mut self, now: Time) {
        match self.config.strategy.clone() {
            Strategy::Gossip { fanout, .. } => {
                let mut behind = self.behind();
                behind.shuffle(&mut self.rng);
                for name in behind.into_iter().take(fanout.max(1)) {
                    self.enqueue_missing(&name);
                    self.flush_peer(&name, now, &mut None);
                }
            }
            Strategy::PushPull { .. } => {
                let behind = self.behind();
                if !behind.is_empty() {
                    let pick = self.rng.random_range(0..behind.len());
                    self.send_digest(&behind[pick], true, None);
                }
            }
            Strategy::Hybrid { lazy_fanout, .. } => {
                if !self.lazy_dirty {
                    return;
                }
                self.lazy_dirty = false;
                let targets = self.targets.clone();
                let mut others: Vec<P> = self
                    .others()
                    .filter(|m| !targets.contains(m))
                    .cloned()
                    .collect();
                others.shuffle(&mut self.rng);
                for name in others.into_iter().take(lazy_fanout.max(1)) {
                    self.send_digest(&name, false, None);
                }
            }
            Strategy::Flood | Strategy::Tree => {}
        }
    }
}

/// A batch of deltas built for one peer (by their ids), to hand to the next peer with the
/// same batch.
type SharedRuns<L> = (Vec<Dot<ReplicaId>>, Arc<Vec<Run<L>>>);

/// How far past what is held of an origin a received delta's counter may lie. Deltas of an
/// origin arrive nearly in order (a gap is what is still on its way), so a genuine sender
/// never comes near this; each number accepted ahead of a gap costs a loose id until the gap
/// fills.
const MAX_COUNTER_AHEAD: u64 = 1 << 12;

/// The shortest interval between two compactions of the log.
const COMPACT_EVERY: Duration = Duration::from_secs(1);

/// The first multiple of `interval` strictly after `now` (`now` itself for a zero interval),
/// so that a node's batches leave on a steady beat and a round never repeats in one instant.
fn next_tick(now: Time, interval: Duration) -> Time {
    let step = interval.as_nanos();
    if step == 0 {
        return now;
    }
    let t = now.since_origin().as_nanos();
    let ticks = t / step + 1;
    let nanos = ticks.saturating_mul(step);
    Time::from_duration(Duration::from_nanos(
        u64::try_from(nanos).unwrap_or(u64::MAX),
    ))
}

/// Checks a packet before anything is applied, so a bad one changes nothing.
fn validate<L, P: PartialEq + std::fmt::Debug>(
    me: &P,
    from: &P,
    packet: &Packet<L>,
) -> Result<(), TransportError> {
    if from == me {
        return Err(TransportError::FromSelf);
    }
    if packet.snap.is_some() && packet.have.is_none() {
        return Err(TransportError::SnapshotWithoutDigest);
    }
    if let Some((lo, hi)) = packet.seq
        && (lo == 0 || lo > hi)
    {
        return Err(TransportError::BadSequence { lo, hi });
    }
    for run in packet.runs.iter() {
        let last = run
            .first
            .checked_add(run.deltas.len() as u64)
            .map(|end| end.saturating_sub(1));
        if run.first == 0 || last.is_none() {
            return Err(TransportError::BadRun {
                origin: run.origin,
                first: run.first,
                len: run.deltas.len(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_align_to_the_interval() {
        // (now, interval, next tick), in milliseconds: strictly after `now`, on a multiple.
        for (now, interval, tick) in [
            (0, 200, 200),
            (1, 200, 200),
            (200, 200, 400),
            (399, 200, 400),
            (7, 0, 7),
        ] {
            assert_eq!(
                next_tick(Time::from_millis(now), Duration::from_millis(interval)),
                Time::from_millis(tick),
                "now {now} ms, interval {interval} ms"
            );
        }
    }
}
