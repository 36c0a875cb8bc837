//! Members that change: joins and departures at any time, and the overlay recomputed from the
//! member set alone, so that every member that sees the same set routes the same way.

use gossip_crdt::{Decompose, Dot, Lattice};
use serde::Serialize;

use super::Replicator;
use crate::overlay::{Plan, plan};
use crate::peer::Peer;
use crate::{ReplicaId, Time};

impl<L, P> Replicator<L, P>
where
    L: Lattice + Decompose + Serialize,
    P: Ord + Clone + std::fmt::Debug,
{
    /// Replaces the member list (this replica is always one, listed or not).
    ///
    /// - The overlay is recomputed from the set, sorted: every member that sees the same set
    ///   routes the same way, whatever the order and history of the changes.
    /// - A member that left is forgotten: what was queued or in flight for it is queued for
    ///   the current eager targets instead, its roles end (relay, hub: the next candidate takes
    ///   over), and log compaction stops waiting for it. Its late packets still bring their
    ///   deltas, but nothing else, and do not make it a member again.
    /// - A member that joins is greeted reliably with a digest and a request for its own by
    ///   those that push to it, and each side is then sent exactly what it lacks. One that
    ///   comes back is challenged: the same life resumes its links, a new incarnation (its
    ///   state lost) is sent everything again.
    ///
    /// `docs/anti-entropy.md` ("Members that change") has the details.
    pub fn set_members(&mut self, now: Time, members: Vec<P>) {
        let now = self.clock(now);
        let mut members = members;
        members.push(self.me.clone());
        members.sort();
        members.dedup();
        let left: Vec<P> = self
            .members
            .iter()
            .filter(|m| members.binary_search(m).is_err())
            .cloned()
            .collect();
        let joined: Vec<P> = members
            .iter()
            .filter(|m| **m != self.me && self.members.binary_search(m).is_err())
            .cloned()
            .collect();
        if left.is_empty() && joined.is_empty() {
            return;
        }
        // What was spread to the old targets is theirs, as if queued at once.
        self.distribute();
        let old_targets = self.targets.clone();
        let old_hub = self.hub.clone();
        // What waited for a member that left (queued or in flight) goes to whoever needs it
        // now: it may be the only copy outside this replica.
        let mut orphans: Vec<Dot<ReplicaId>> = Vec::new();
        for name in &left {
            let mut peer = self.peers.remove(name).unwrap_or_else(Peer::new);
            orphans.extend(peer.depart());
            self.queued.remove(name);
            self.over_budget.retain(|n| n != name);
            self.departed.insert(name.clone(), peer);
        }
        for name in &joined {
            if let Some(mut peer) = self.departed.remove(name) {
                peer.rejoin(now);
                let known_life = peer.inc.is_some();
                self.peers.insert(name.clone(), peer);
                if known_life {
                    // Back as the life we knew (the link resumes), or as a new one (which
                    // must start over)? Only the live one can answer.
                    self.challenge(name, now);
                }
            }
        }
        self.members = members;
        self.plan = plan(
            &self.me,
            &self.members,
            &self.config.strategy,
            &self.config.overlay,
        );
        self.hub = self.choose_hub(now);
        if self.hub != old_hub {
            if let Some(old) = &old_hub {
                self.release_hub(old);
            }
            let primary = match &self.plan {
                Plan::Star { candidates } => candidates.first().cloned(),
                _ => None,
            };
            if let Some(hub) = self.hub.clone()
                && Some(&hub) != primary.as_ref()
            {
                // A fallback hub (the new primary is unreachable): ask it to relay for us.
                self.peer_mut(&hub).relaying_us = true;
                self.send_digest(&hub, true, Some(true));
            }
        }
        self.refresh_targets();
        orphans.sort();
        orphans.dedup();
        orphans.retain(|dot| self.log.is_stored(dot));
        for target in self.targets.clone() {
            for dot in &orphans {
                let bytes = self.log.size_of(dot);
                self.enqueue(&target, *dot, bytes);
            }
        }
        // Every new target (a member that joined, or one the new overlay routes to) is
        // greeted with our digest and a request for its own, reliably: the exchange then
        // sends each side exactly what it lacks.
        for target in self.targets.clone() {
            if !old_targets.contains(&target) {
                self.send_control(&target, true, None);
            }
        }
        if matches!(self.plan, Plan::None) {
            for name in &joined {
                self.send_control(name, true, None);
            }
        }
        if !left.is_empty() && !matches!(self.plan, Plan::None) {
            // Compaction may have been waiting for a member that left.
            let at = now.max(self.compacted_at + self.compact_every());
            self.compact_at = Some(self.compact_at.map_or(at, |t| t.min(at)));
        }
        self.after_input(now);
    }
}
