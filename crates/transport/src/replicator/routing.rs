//! Who gets eager pushes: the plan's fixed targets, or a star's hub with failover to the
//! next candidate when the hub goes silent, and the peers that asked us to relay for them.

use gossip_crdt::{Decompose, Lattice};
use serde::Serialize;

use super::Replicator;
use crate::overlay::{Plan, kary_detour};
use crate::{Overlay, Time};

impl<L, P> Replicator<L, P>
where
    L: Lattice + Decompose + Serialize,
    P: Ord + Clone + std::fmt::Debug,
{
    /// `true` iff `name` gets eager pushes now.
    pub(super) fn is_target(&self, name: &P) -> bool {
        self.targets.binary_search(name).is_ok()
    }

    /// Recomputes the eager targets after the plan, the hub or a relay changed.
    pub(super) fn refresh_targets(&mut self) {
        // What was spread to the old targets is theirs, as if queued at once.
        self.distribute();
        let mut targets = self.compute_targets();
        targets.sort();
        targets.dedup();
        self.targets = targets;
    }

    /// The peers that get eager pushes, from scratch.
    pub(super) fn compute_targets(&self) -> Vec<P> {
        match &self.plan {
            Plan::None => Vec::new(),
            Plan::Fixed(v) => match self.config.overlay {
                Overlay::Kary { k } if v.iter().any(|n| self.is_suspected(n)) => self.detour(k),
                _ => v.clone(),
            },
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

    /// `true` iff `name` has left a packet unacknowledged for longer than the suspicion
    /// threshold.
    pub(super) fn is_suspected(&self, name: &P) -> bool {
        let suspicion = self.config.suspicion();
        self.peers
            .get(name)
            .is_some_and(|p| p.suspected(self.now, suspicion))
    }

    /// K-ary tree: the neighbours this member pushes to with the suspected members routed
    /// around (see `overlay::kary_detour`).
    fn detour(&self, k: usize) -> Vec<P> {
        let Ok(i) = self.members.binary_search(&self.me) else {
            return Vec::new();
        };
        let members = &self.members;
        kary_detour(i, members.len(), k, |j| self.is_suspected(&members[j]))
            .into_iter()
            .map(|j| members[j].clone())
            .collect()
    }

    /// K-ary tree: routes around eager targets that stopped acknowledging, and back to them
    /// once they answer, without waiting for the member list to change. Every new target is
    /// greeted with our digest and a request for its own, reliably, as a member that joins
    /// is: each side is then sent exactly what it lacks, and a new target that is down too
    /// leaves the greeting unacknowledged and is routed around in turn.
    pub(super) fn refresh_detours(&mut self) {
        if !matches!(
            (&self.plan, &self.config.overlay),
            (Plan::Fixed(_), Overlay::Kary { .. })
        ) {
            return;
        }
        let mut targets = self.compute_targets();
        targets.sort();
        targets.dedup();
        if targets == self.targets {
            return;
        }
        // What was spread to the old targets is theirs, as if queued at once.
        self.distribute();
        let old = std::mem::replace(&mut self.targets, targets);
        for target in self.targets.clone() {
            if old.binary_search(&target).is_err() {
                self.send_control(&target, true, None);
            }
        }
    }

    /// The time at which an eager target that is waiting for acknowledgements becomes
    /// suspected, if it is a k-ary tree's (where that changes the routes).
    pub(super) fn next_suspicion(&self) -> Option<Time> {
        if !matches!(
            (&self.plan, &self.config.overlay),
            (Plan::Fixed(_), Overlay::Kary { .. })
        ) {
            return None;
        }
        let suspicion = self.config.suspicion();
        self.targets
            .iter()
            .filter_map(|t| self.peers.get(t)?.silent_since())
            .map(|since| since + suspicion)
            .min()
    }

    /// Star: the first candidate hub not suspected, or `None` when this node is it (or every
    /// candidate before it is unreachable).
    pub(super) fn choose_hub(&self, now: Time) -> Option<P> {
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
    pub(super) fn refresh_hub(&mut self, now: Time) {
        let Plan::Star { .. } = &self.plan else {
            return;
        };
        let new = self.choose_hub(now);
        if new == self.hub {
            return;
        }
        let old = std::mem::replace(&mut self.hub, new);
        self.refresh_targets();
        if let Some(old) = &old {
            self.release_hub(old);
        }
        self.follow_hub();
    }

    /// Stops using `old` as the hub: what waited for it goes to the new route instead, and
    /// if it relayed for us, it is told to stop.
    pub(super) fn release_hub(&mut self, old: &P) {
        self.queued.remove(old);
        let Some(peer) = self.peers.get_mut(old) else {
            return; // it left
        };
        peer.pending.clear();
        peer.pending_bytes = 0;
        if peer.relaying_us {
            peer.relaying_us = false;
            self.send_digest(old, false, Some(false));
        }
    }

    /// After the hub changed to `self.hub`: offer the primary hub what it lacks, ask a
    /// fallback hub to relay for us, or, acting as hub, learn what every member lacks.
    pub(super) fn follow_hub(&mut self) {
        let Plan::Star { candidates } = &self.plan else {
            return;
        };
        let primary = candidates.first().cloned();
        match &self.hub.clone() {
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
}
