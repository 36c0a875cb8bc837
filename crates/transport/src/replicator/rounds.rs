//! Periodic rounds: push gossip to a few peers that are behind, push-pull digest exchanges,
//! and the hybrid strategy's lazy digests.

use std::time::Duration;

use gossip_crdt::{Decompose, Lattice};
use rand::RngExt;
use rand::seq::SliceRandom;
use serde::Serialize;

use super::Replicator;
use crate::{Strategy, Time};

impl<L, P> Replicator<L, P>
where
    L: Lattice + Decompose + Serialize,
    P: Ord + Clone + std::fmt::Debug,
{
    pub(super) fn round_interval(&self) -> Option<Duration> {
        match self.config.strategy {
            Strategy::Gossip { interval, .. } | Strategy::PushPull { interval } => Some(interval),
            Strategy::Hybrid { lazy_interval, .. } => Some(lazy_interval),
            Strategy::Flood | Strategy::Tree => None,
        }
    }

    /// Peers not known to hold everything this replica holds.
    pub(super) fn behind(&self) -> Vec<P> {
        let seen = self.log.seen();
        self.others()
            .filter(|m| !self.peers.get(*m).is_some_and(|p| seen.leq(&p.known)))
            .cloned()
            .collect()
    }

    pub(super) fn round_due(&self) -> bool {
        match self.config.strategy {
            Strategy::Gossip { .. } | Strategy::PushPull { .. } => {
                !self.log.seen().is_bottom() && !self.behind().is_empty()
            }
            Strategy::Hybrid { .. } => self.lazy_dirty,
            Strategy::Flood | Strategy::Tree => false,
        }
    }

    pub(super) fn run_round(&mut self, now: Time) {
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
