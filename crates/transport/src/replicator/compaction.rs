//! Log compaction: deltas every peer that could still need them holds are dropped (their
//! effect stays in the state); a peer found lacking one later gets a snapshot.

use std::time::Duration;

use gossip_crdt::{Decompose, Lattice};
use serde::Serialize;

use super::Replicator;
use crate::overlay::Plan;
use crate::peer::Peer;
use crate::{ReplicaId, Time};

impl<L, P> Replicator<L, P>
where
    L: Lattice + Decompose + Serialize,
    P: Ord + Clone + std::fmt::Debug,
{
    /// Drops stored deltas that every peer which could still need one holds (at most once a
    /// second). Those peers are the eager targets and anyone with deltas queued or in flight;
    /// anyone else who turns out to lack a dropped delta gets a snapshot. The epidemic
    /// strategies keep everything: their repair needs per-delta ids.
    pub(super) fn compact_log(&mut self, now: Time) {
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
    pub(super) fn compact_every(&self) -> Duration {
        (self.config.retain / 8).max(COMPACT_EVERY)
    }
}

/// The shortest interval between two compactions of the log.
const COMPACT_EVERY: Duration = Duration::from_secs(1);
