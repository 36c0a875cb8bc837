//! New deltas on their way out: spread to the eager targets, queued per peer, and flushed
//! as packets within the byte budget, at once or on a steady beat.

use std::sync::Arc;
use std::time::Duration;

use gossip_crdt::{Decompose, Dot, Lattice};
use serde::Serialize;

use super::Replicator;
use crate::packet::Run;
use crate::{PacketKind, ReplicaId, Time};

impl<L, P> Replicator<L, P>
where
    L: Lattice + Decompose + Serialize,
    P: Ord + Clone + std::fmt::Debug,
{
    /// Queues a new delta for every eager target but the one it came from.
    pub(super) fn spread(&mut self, dot: &Dot<ReplicaId>, from: Option<&P>) {
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
        self.fanout.push((*dot, from.cloned(), bytes));
        self.fanout_bytes += bytes;
        if self.fanout_bytes >= self.config.max_packet_bytes {
            self.distribute();
        }
    }

    /// Queues the spread deltas waiting in `fanout` for every eager target, peer by peer.
    pub(super) fn distribute(&mut self) {
        if self.fanout.is_empty() {
            return;
        }
        let mut fanout = std::mem::take(&mut self.fanout);
        self.fanout_bytes = 0;
        // In id order, so that each target's queue takes the batch in one merge.
        fanout.sort_unstable_by_key(|a| a.0);
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
    pub(super) fn enqueue_missing(&mut self, name: &P) {
        self.peer_mut(name);
        let Some(peer) = self.peers.get(name) else {
            return; // inserted just above
        };
        if self.log.needs_snapshot(&peer.known)
            && self.log.needs_snapshot(&peer.known_with_snapshots())
        {
            self.send_snapshot(name);
        }
        let Some(peer) = self.peers.get(name) else {
            return;
        };
        // A snapshot on its way covers every delta stored here when it left: only what came
        // since is missing. Without one, what the peer knows is read in place (a digest per
        // packet must not copy it).
        let covered;
        let known = if peer.flights.values().any(|f| f.snapshot.is_some()) {
            covered = peer.known_with_snapshots();
            &covered
        } else {
            &peer.known
        };
        let missing = self.log.missing_from(known);
        for dot in missing {
            let bytes = self.log.size_of(&dot);
            self.enqueue(name, dot, bytes);
        }
    }

    /// Queues `dot` for `name` unless it holds it or it is on its way.
    pub(super) fn enqueue(&mut self, name: &P, dot: Dot<ReplicaId>, bytes: usize) {
        if self.peer_mut(name).enqueue(dot, bytes) {
            self.note_queued(name);
        }
    }

    /// Records that `name` has deltas queued (and whether they passed the byte budget).
    pub(super) fn note_queued(&mut self, name: &P) {
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

    /// Flushes what is due, and arms the timers the new state needs.
    pub(super) fn after_input(&mut self, now: Time) {
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

    /// The batching interval for this node's role.
    pub(super) fn flush_interval(&self) -> Duration {
        if self.targets.len() > 1 {
            self.config.relay_flush
        } else {
            self.config.flush
        }
    }

    pub(super) fn flush_all(&mut self, now: Time) {
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
    pub(super) fn flush_peer(&mut self, name: &P, now: Time, shared: &mut Option<SharedRuns<L>>) {
        let first_rto = self.config.first_rto();
        let peer = self.peer_mut(name);
        if peer.window_full() {
            // The queue stays (and grows): it leaves in fewer, larger packets once
            // acknowledgements free the window, or rides on the next retransmission.
            self.stats.held_back += 1;
            return;
        }
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
    pub(super) fn chunks(&self, dots: Vec<Dot<ReplicaId>>) -> Vec<Vec<Dot<ReplicaId>>> {
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
}

/// A batch of deltas built for one peer (by their ids), to hand to the next peer with the
/// same batch.
type SharedRuns<L> = (Vec<Dot<ReplicaId>>, Arc<Vec<Run<L>>>);

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
