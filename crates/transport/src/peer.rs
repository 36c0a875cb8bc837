//! What a replica knows about one peer, and the reliable link to it.
//!
//! Knowledge: the deltas the peer is known to hold (it acknowledged them, sent them to us, or
//! listed them in a digest). Nothing known is ever sent to it again, which also covers "never
//! send a delta back to where it came from".
//!
//! The link: eager pushes carry link sequence numbers and stay in flight until the peer's
//! cumulative acknowledgement covers them. On timeout every packet in flight is resent as one
//! packet covering their whole range (holding only the deltas still not known there), so a
//! partition costs one retransmission per timeout, not one per lost packet.

use std::collections::BTreeMap;
use std::time::Duration;

use gossip_crdt::{CausalContext, Dot, Lattice};

use crate::dot_set::DotSet;
use crate::{ReplicaId, Time};

/// How far past everything received on a link a packet's sequence numbers may lie. Numbers
/// beyond a gap are kept as ranges until the gap fills, so this bounds what a sender can make
/// a replica keep; a genuine sender has far fewer packets unacknowledged (retransmissions
/// coalesce them), and one refused is retransmitted.
pub(crate) const MAX_SEQ_AHEAD: u64 = 1 << 12;

/// How many link sequence numbers a sender leaves unacknowledged before it holds new pushes
/// back: half of [`MAX_SEQ_AHEAD`], so that a retransmission covering everything in flight,
/// and the packets split off it, stay within what the receiver keeps track of. A sender that
/// outran it would send numbers the receiver refuses; refused numbers are never acknowledged,
/// and their retransmission, merged with the rest of the range, would be refused again.
pub(crate) const SEND_WINDOW: u64 = MAX_SEQ_AHEAD / 2;

/// Packets in flight to a peer, covering link sequence numbers `lo..=hi`.
#[derive(Debug, Clone)]
pub(crate) struct Flight {
    pub(crate) lo: u64,
    pub(crate) dots: Vec<Dot<ReplicaId>>,
    /// When this range was (re)sent last.
    pub(crate) sent_at: Time,
    /// When its oldest packet was first sent: how long the peer has been silent.
    pub(crate) first_sent: Time,
    /// A relay request (or its end) this range carries.
    pub(crate) relay: Option<bool>,
    /// How long to wait for its acknowledgement: the first timeout, doubled at each resend
    /// (up to a cap), per flight, so one slow range does not slow down the others.
    pub(crate) timeout: Duration,
    /// A snapshot this range carries, by the deltas it covers: known there once acknowledged.
    pub(crate) snapshot: Option<CausalContext<ReplicaId>>,
    /// A digest this range carries (with whether it asks for the peer's): a resend carries
    /// the digest as it is then.
    pub(crate) digest: Option<bool>,
}

/// One peer, as this replica sees it.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    /// The peer's incarnation, once heard from.
    pub(crate) inc: Option<u64>,
    /// Deltas the peer is known to hold.
    pub(crate) known: CausalContext<ReplicaId>,
    /// Deltas queued for the next eager push, in id order (sorted, no repeats), with their
    /// total encoded size. A sorted vector rather than a tree: a hub queues a whole batch per
    /// leaf at once, which is one merge here.
    pub(crate) pending: Vec<Dot<ReplicaId>>,
    pub(crate) pending_bytes: usize,
    /// Outgoing link: its restart mark (the peer incarnation it was restarted for, `None` if
    /// never), next sequence number, packets in flight keyed by their `hi`.
    pub(crate) send_epoch: Option<u64>,
    pub(crate) next_seq: u64,
    pub(crate) flights: BTreeMap<u64, Flight>,
    /// Every delta in some flight, so that queueing checks in O(1).
    in_flight: DotSet,
    /// Incoming link: its restart mark as the peer sends it, everything up to `recv_cum`
    /// arrived, ranges beyond a gap (`lo → hi`).
    pub(crate) recv_epoch: Option<u64>,
    pub(crate) recv_cum: u64,
    pub(crate) recv_ahead: BTreeMap<u64, u64>,
    /// Since when we owe the peer an acknowledgement, if we do.
    pub(crate) ack_owed_since: Option<Time>,
    /// The peer asked us to relay for it (its hub is unreachable).
    pub(crate) relay_for: bool,
    /// Whether we asked this peer to relay for us.
    pub(crate) relaying_us: bool,
    /// A digest from this peer announced deltas we lacked: pull them at this time.
    pub(crate) graft_at: Option<(Time, CausalContext<ReplicaId>)>,
    /// The challenge sent to the peer after it showed an unexpected incarnation, and when.
    pub(crate) challenge: Option<(u64, Time)>,
    /// When a pull of ours last answered one of the peer's: answers pull back at most once
    /// per first timeout, so two replicas that each lack something cannot pull each other
    /// back and forth at the speed of the network while the repair is on its way.
    pub(crate) pull_answered_at: Option<Time>,
}

impl Peer {
    pub(crate) fn new() -> Self {
        Peer {
            inc: None,
            known: CausalContext::new(),
            pending: Vec::new(),
            pending_bytes: 0,
            send_epoch: None,
            next_seq: 1,
            flights: BTreeMap::new(),
            in_flight: DotSet::default(),
            recv_epoch: None,
            recv_cum: 0,
            recv_ahead: BTreeMap::new(),
            ack_owed_since: None,
            relay_for: false,
            relaying_us: false,
            graft_at: None,
            challenge: None,
            pull_answered_at: None,
        }
    }

    /// How many entries this record keeps (ids known, queued and in flight, gap ranges).
    pub(crate) fn footprint(&self) -> usize {
        crate::log::entries(&self.known)
            + self.pending.len()
            + self
                .flights
                .values()
                .map(|f| 1 + f.dots.len())
                .sum::<usize>()
            + self.in_flight.len()
            + self.recv_ahead.len()
            + self
                .graft_at
                .as_ref()
                .map_or(0, |(_, have)| crate::log::entries(have))
    }

    /// Where the numbers of a packet on the incoming link restarted for `to` would be counted
    /// from: what has arrived on the link, nothing if the packet restarts it, and `None` if
    /// its numbers are ignored (an older link).
    pub(crate) fn recv_base(&self, to: Option<u64>) -> Option<u64> {
        match to.cmp(&self.recv_epoch) {
            std::cmp::Ordering::Less => None,
            std::cmp::Ordering::Equal => Some(self.recv_cum),
            std::cmp::Ordering::Greater => Some(0),
        }
    }

    /// Records that the peer holds `dots` (best given in id order: see
    /// [`CausalContext::insert_sorted`]).
    pub(crate) fn learn_all(&mut self, dots: impl IntoIterator<Item = Dot<ReplicaId>>) {
        self.known.insert_sorted(dots);
    }

    /// Records a digest from the peer.
    pub(crate) fn learn_digest(&mut self, have: &CausalContext<ReplicaId>) {
        self.known.join(have);
    }

    /// Sends a new packet: takes the next sequence number and puts its flight in the air, for
    /// a first timeout of `timeout`. Returns the number.
    pub(crate) fn open_flight(
        &mut self,
        now: Time,
        timeout: Duration,
        dots: Vec<Dot<ReplicaId>>,
        relay: Option<bool>,
        snapshot: Option<CausalContext<ReplicaId>>,
    ) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.add_flight(
            seq,
            Flight {
                lo: seq,
                dots,
                sent_at: now,
                first_sent: now,
                relay,
                timeout,
                snapshot,
                digest: None,
            },
        );
        seq
    }

    /// Puts a flight (covering numbers up to `hi`) in the air.
    pub(crate) fn add_flight(&mut self, hi: u64, flight: Flight) {
        if let Some(replaced) = self.flights.insert(hi, flight) {
            self.forget_flight(&replaced);
        }
        // After forgetting the replaced flight, so that deltas in both stay in the air.
        if let Some(added) = self.flights.get(&hi) {
            self.in_flight.extend(added.dots.iter().cloned());
        }
    }

    /// Takes the flight covering numbers up to `hi` out of the air.
    pub(crate) fn take_flight(&mut self, hi: u64) -> Option<Flight> {
        let flight = self.flights.remove(&hi)?;
        self.forget_flight(&flight);
        Some(flight)
    }

    fn forget_flight(&mut self, flight: &Flight) {
        for dot in &flight.dots {
            self.in_flight.remove(dot);
        }
    }

    /// Queues `dot` for the next push unless the peer holds it or it is already on its way.
    /// Returns `true` iff it was queued.
    pub(crate) fn enqueue(&mut self, dot: Dot<ReplicaId>, bytes: usize) -> bool {
        if self.known.contains(&dot) || self.in_flight.contains(&dot) {
            return false;
        }
        match self.pending.binary_search(&dot) {
            Ok(_) => false,
            Err(at) => {
                self.pending.insert(at, dot);
                self.pending_bytes += bytes;
                true
            }
        }
    }

    /// Queues every delta of `batch` (sorted by id, no repeats, with encoded sizes) unless the
    /// peer holds it or it is already on its way: what [`Peer::enqueue`] does one by one, as
    /// one merge. Returns `true` iff something was queued.
    pub(crate) fn enqueue_sorted<'a>(
        &mut self,
        batch: impl Iterator<Item = (&'a Dot<ReplicaId>, usize)>,
    ) -> bool {
        let fresh: Vec<(&Dot<ReplicaId>, usize)> = batch
            .filter(|(dot, _)| !self.known.contains(dot) && !self.in_flight.contains(*dot))
            .collect();
        if fresh.is_empty() {
            return false;
        }
        if self.pending.is_empty() {
            self.pending_bytes += fresh.iter().map(|(_, bytes)| bytes).sum::<usize>();
            self.pending = fresh.into_iter().map(|(dot, _)| *dot).collect();
            return true;
        }
        let old = std::mem::take(&mut self.pending);
        let mut merged = Vec::with_capacity(old.len() + fresh.len());
        let mut queued = false;
        let mut old = old.into_iter().peekable();
        for (dot, bytes) in fresh {
            while let Some(o) = old.next_if(|o| o < dot) {
                merged.push(o);
            }
            if old.peek() == Some(dot) {
                continue; // already queued
            }
            merged.push(*dot);
            self.pending_bytes += bytes;
            queued = true;
        }
        merged.extend(old);
        self.pending = merged;
        queued
    }

    /// Records an incoming packet carrying link sequence numbers `lo..=hi`. Returns `true` iff
    /// it carried something not seen before on this link.
    pub(crate) fn receive_seq(&mut self, lo: u64, hi: u64, now: Time) -> bool {
        // Always acknowledge, even duplicates: the sender evidently missed our last ack.
        self.ack_owed_since.get_or_insert(now);
        if hi <= self.recv_cum {
            return false;
        }
        let lo = lo.max(self.recv_cum + 1);
        let entry = self.recv_ahead.entry(lo).or_insert(hi);
        *entry = (*entry).max(hi);
        // Advance the cumulative point over every range that now touches it.
        while let Some((&start, &end)) = self.recv_ahead.first_key_value() {
            if start > self.recv_cum.saturating_add(1) {
                break;
            }
            self.recv_ahead.pop_first();
            self.recv_cum = self.recv_cum.max(end);
        }
        true
    }

    /// Applies the peer's cumulative acknowledgement: flights it covers are delivered, and
    /// their deltas are known there. Returns `true` iff some flight completed.
    pub(crate) fn acknowledge(&mut self, upto: u64) -> bool {
        let done: Vec<u64> = self.flights.range(..=upto).map(|(hi, _)| *hi).collect();
        if done.is_empty() {
            return false;
        }
        for hi in done {
            if let Some(flight) = self.take_flight(hi) {
                self.known.insert_sorted(flight.dots);
                if let Some(have) = &flight.snapshot {
                    self.known.join(have);
                }
            }
        }
        true
    }

    /// `true` iff [`SEND_WINDOW`] numbers or more are unacknowledged on the outgoing link: new
    /// pushes wait in the queue, and leave once acknowledgements free the window (or ride on
    /// the next retransmission). Flights never overlap, so the one with the lowest `hi` holds
    /// the lowest number in flight.
    pub(crate) fn window_full(&self) -> bool {
        self.flights
            .first_key_value()
            .is_some_and(|(_, f)| self.next_seq.saturating_sub(f.lo) >= SEND_WINDOW)
    }

    /// The oldest first-send time of anything in flight.
    pub(crate) fn silent_since(&self) -> Option<Time> {
        self.flights.values().map(|f| f.first_sent).min()
    }

    /// When the next retransmission is due, if anything is in flight.
    pub(crate) fn retransmit_at(&self) -> Option<Time> {
        self.flights.values().map(|f| f.sent_at + f.timeout).min()
    }

    /// `true` iff the peer has left packets unacknowledged for `suspect_after`.
    pub(crate) fn suspected(&self, now: Time, suspect_after: Duration) -> bool {
        self.silent_since()
            .is_some_and(|since| now - since >= suspect_after)
    }

    /// What the peer holds or will once the snapshots on their way arrive.
    pub(crate) fn known_with_snapshots(&self) -> CausalContext<ReplicaId> {
        let mut covered = self.known.clone();
        for have in self.flights.values().filter_map(|f| f.snapshot.as_ref()) {
            covered.join(have);
        }
        covered
    }

    /// The peer left the members: forgets what was queued or in flight for it (returned, to
    /// go elsewhere) and every role it had. The link's numbers and what it is known to hold
    /// are kept: if the same life comes back, the link resumes where it stopped (the emptied
    /// flights are resent as empty ranges, so that its acknowledgements can move past them),
    /// and a late acknowledgement can vouch for nothing.
    pub(crate) fn depart(&mut self) -> Vec<Dot<ReplicaId>> {
        let mut orphans = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        self.in_flight.clear();
        for flight in self.flights.values_mut() {
            orphans.append(&mut flight.dots);
            flight.snapshot = None;
            flight.relay = None;
            flight.digest = None;
        }
        self.relay_for = false;
        self.relaying_us = false;
        self.graft_at = None;
        self.challenge = None;
        self.ack_owed_since = None;
        orphans
    }

    /// The peer is a member again: what is still in flight counts as sent now, so that it is
    /// not suspected for the time it was away.
    pub(crate) fn rejoin(&mut self, now: Time) {
        for flight in self.flights.values_mut() {
            flight.first_sent = now;
        }
    }

    /// Forgets everything about a previous incarnation of the peer, and restarts the
    /// outgoing link marked with the new incarnation: packets sent before, which may still
    /// reach the new life, can then never be mistaken for the restarted link's.
    pub(crate) fn reset(&mut self, inc: u64) {
        *self = Peer::new();
        self.inc = Some(inc);
        self.send_epoch = Some(inc);
    }

    /// Accepts the incoming link's restart mark `to`. Returns `false` for a packet from an
    /// older link (meant for an earlier life of ours): its sequence numbers must be ignored.
    pub(crate) fn accept_epoch(&mut self, to: Option<u64>) -> bool {
        match to.cmp(&self.recv_epoch) {
            std::cmp::Ordering::Less => false,
            std::cmp::Ordering::Equal => true,
            std::cmp::Ordering::Greater => {
                self.recv_epoch = to;
                self.recv_cum = 0;
                self.recv_ahead.clear();
                self.ack_owed_since = None;
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replica_id::dot;

    /// A peer that holds some deltas, has some in flight and some queued.
    fn busy_peer() -> Peer {
        let mut p = Peer::new();
        p.learn_all([dot(1, 1), dot(1, 2)]);
        p.open_flight(
            Time::ZERO,
            Duration::from_secs(1),
            vec![dot(2, 1)],
            None,
            None,
        );
        assert!(p.enqueue(dot(3, 5), 10));
        assert!(p.enqueue(dot(1, 9), 10));
        p
    }

    #[test]
    fn queueing_a_sorted_batch_is_queueing_each_delta() {
        let mut batch: Vec<(Dot<ReplicaId>, usize)> = [
            (1, 1),
            (1, 2),
            (1, 3),
            (1, 9),
            (2, 1),
            (2, 2),
            (3, 4),
            (3, 5),
            (4, 1),
        ]
        .into_iter()
        .map(|(r, c)| (dot(r, c), (r * 100 + c) as usize))
        .collect();
        batch.sort();
        let mut one_by_one = busy_peer();
        let mut queued = false;
        for (d, bytes) in &batch {
            queued |= one_by_one.enqueue(*d, *bytes);
        }
        let mut merged = busy_peer();
        assert_eq!(
            merged.enqueue_sorted(batch.iter().map(|(d, b)| (d, *b))),
            queued
        );
        assert!(queued);
        assert_eq!(merged.pending, one_by_one.pending);
        assert_eq!(merged.pending_bytes, one_by_one.pending_bytes);
        assert!(merged.pending.windows(2).all(|w| w[0] < w[1]));
        // Nothing new the second time; into an empty queue, everything not held.
        assert!(!merged.enqueue_sorted(batch.iter().map(|(d, b)| (d, *b))));
        let mut fresh = Peer::new();
        assert!(fresh.enqueue_sorted(batch.iter().map(|(d, b)| (d, *b))));
        assert_eq!(fresh.pending.len(), batch.len());
    }
}
