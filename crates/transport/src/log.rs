//! The delta log: every delta this replica holds, by id, next to the state they join to.
//!
//! Deltas are kept (not just joined into the state) so that a peer can be sent exactly the
//! ones it lacks: given a digest, the log answers with the difference, which is what makes
//! repair after a partition cost the size of the gap instead of the whole state.
//!
//! Kept, but not forever: once every peer that could still need a delta holds it, the delta
//! is dropped (its effect stays in the state). A peer that later turns out to lack a dropped
//! delta (a restarted node, say) is sent a *snapshot*: the whole state and the ids it covers.

use std::collections::BTreeMap;

use gossip_crdt::{CausalContext, Decompose, Dot, Lattice};
use serde::Serialize;

use crate::packet::{Packet, Run};
use crate::weigh::Weigh;
use crate::window::Window;
use crate::{ReplicaId, Time};

/// One stored delta, its encoded size (measured once) and when it arrived.
#[derive(Debug, Clone)]
struct Stored<L> {
    delta: L,
    bytes: usize,
    at: Time,
}

/// What one insertion did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Inserted<L> {
    /// A delta this replica did not have; its id is now in the log. With what the state
    /// gained, when asked for.
    New(Option<L>),
    /// The id was already known: nothing changed.
    Duplicate,
}

/// The state, the deltas it was built from, and their ids.
#[derive(Debug)]
pub(crate) struct DeltaLog<L> {
    /// Sizes deltas in the shell's encoding.
    weigh: Box<dyn Weigh<L>>,
    state: L,
    seen: CausalContext<ReplicaId>,
    deltas: BTreeMap<ReplicaId, Window<Stored<L>>>,
    /// Ids in `seen` whose deltas are no longer stored (dropped, or learned from a snapshot):
    /// only a snapshot can carry them.
    compacted: CausalContext<ReplicaId>,
}

impl<L: Lattice + Decompose + Serialize> DeltaLog<L> {
    pub(crate) fn new(weigh: Box<dyn Weigh<L>>) -> Self {
        DeltaLog {
            weigh,
            state: L::default(),
            seen: CausalContext::new(),
            deltas: BTreeMap::new(),
            compacted: CausalContext::new(),
        }
    }

    pub(crate) fn state(&self) -> &L {
        &self.state
    }

    pub(crate) fn seen(&self) -> &CausalContext<ReplicaId> {
        &self.seen
    }

    /// How many deltas are stored.
    pub(crate) fn len(&self) -> usize {
        self.deltas.values().map(Window::len).sum()
    }

    /// Replaces the weigher (before anything is stored).
    pub(crate) fn set_weigh(&mut self, weigh: Box<dyn Weigh<L>>) {
        self.weigh = weigh;
    }

    /// The size of `packet` in the shell's encoding.
    pub(crate) fn packet_size(&self, packet: &Packet<L>) -> usize {
        self.weigh.packet(packet)
    }

    /// How many entries the log keeps (ids, slots, gaps included), for
    /// [`Replicator::footprint`](crate::Replicator::footprint).
    pub(crate) fn footprint(&self) -> usize {
        entries(&self.seen)
            + entries(&self.compacted)
            + self.deltas.values().map(Window::slots).sum::<usize>()
    }

    /// `true` iff a peer holding `known` lacks something only a snapshot can carry.
    pub(crate) fn needs_snapshot(&self, known: &CausalContext<ReplicaId>) -> bool {
        !self.compacted.leq(known)
    }

    /// Joins a snapshot (a state and the ids it covers). Returns what the state gained (the
    /// part of `state` that was new here) and whether `have` named ids new here. Its ids count
    /// as compacted here: no per-id delta exists for them.
    pub(crate) fn absorb_snapshot(
        &mut self,
        state: L,
        have: &CausalContext<ReplicaId>,
    ) -> (L, bool) {
        // Every id the snapshot covers counts as compacted, also those held here as deltas: a
        // peer lacking one of those is sent a snapshot where a delta would do, which is rare
        // (snapshots go to restarted peers) and never wrong. Counting only the new ones would
        // walk the snapshot's ranges id by id, and a range's top is a number a peer sent.
        self.compacted.join(have);
        let news = self.state.absorb(state);
        let learned = self.seen.join(have);
        (news, learned)
    }

    /// Stores `delta`, already joined into the state, under the new id `dot`.
    pub(crate) fn record(&mut self, dot: Dot<ReplicaId>, delta: L, now: Time) {
        self.seen.insert(dot);
        self.store(dot, delta, now);
    }

    /// Drops every stored delta of origin `o` numbered up to `upto` (for each `(o, upto)` in
    /// `floor`, sorted by origin) that arrived before `before`: each peer that could still need
    /// it holds it. Returns when the oldest delta under the floor that was too young to go
    /// arrived, if any.
    pub(crate) fn compact(&mut self, floor: &[(ReplicaId, u64)], before: Time) -> Option<Time> {
        let mut youngest_kept: Option<Time> = None;
        let mut emptied = false;
        // Both are sorted by origin: one merged walk, no lookups.
        let mut floor = floor.iter().peekable();
        for (origin, deltas) in &mut self.deltas {
            while floor.next_if(|(o, _)| o < origin).is_some() {}
            let Some((_, upto)) = floor.next_if(|(o, _)| o == origin) else {
                continue;
            };
            // Oldest first; deltas of one origin arrive roughly in order, so the first one
            // too young to go ends the walk.
            while let Some((counter, at)) = deltas.first().map(|(c, s)| (c, s.at)) {
                if counter > *upto {
                    break;
                }
                if at >= before {
                    youngest_kept = Some(youngest_kept.map_or(at, |t| t.min(at)));
                    break;
                }
                if deltas.remove(counter).is_some() {
                    self.compacted.insert(Dot {
                        replica: *origin,
                        counter,
                    });
                }
            }
            emptied |= deltas.is_empty();
        }
        if emptied {
            self.deltas.retain(|_, deltas| !deltas.is_empty());
        }
        youngest_kept
    }

    /// The origins that have stored deltas, with the highest number stored for each.
    pub(crate) fn stored_origins(&self) -> impl Iterator<Item = (ReplicaId, u64)> + '_ {
        self.deltas
            .iter()
            .filter_map(|(o, d)| d.last().map(|top| (*o, top)))
    }

    /// Stores `delta` under `dot` and joins it into the state. With `keep_news`, what the
    /// state gained is also handed back.
    ///
    /// The whole delta is stored, not only the part that was new here: a peer that is sent
    /// this id counts it as held from then on, and the part already here came under other ids
    /// that peer may lack, and whose copies elsewhere may in turn have been cut down by
    /// replicas that held this one. A delta stored cut down would then miss its overlap at
    /// every replica that holds both ids.
    pub(crate) fn insert(
        &mut self,
        dot: Dot<ReplicaId>,
        delta: L,
        now: Time,
        keep_news: bool,
    ) -> Inserted<L> {
        if !self.seen.insert(dot) {
            return Inserted::Duplicate; // seen before (or the invalid counter 0)
        }
        let kept = if keep_news {
            Some(self.state.absorb(delta.clone()))
        } else {
            self.state.join(&delta);
            None
        };
        self.store(dot, delta, now);
        Inserted::New(kept)
    }

    /// Keeps `delta` (already joined into the state) under `dot`, already in `seen`.
    fn store(&mut self, dot: Dot<ReplicaId>, delta: L, now: Time) {
        let bytes = self.weigh.delta(&delta);
        let stored = Stored {
            delta,
            bytes,
            at: now,
        };
        if self
            .deltas
            .entry(dot.replica)
            .or_insert_with(Window::new)
            .insert(dot.counter, stored)
            .is_err()
        {
            // A number far from the origin's others (only a corrupt counter gets there): its
            // effect is in the state, and a peer lacking it gets a snapshot.
            self.compacted.insert(dot);
        }
    }

    /// `true` iff the delta with this id is stored (not only joined into the state).
    pub(crate) fn is_stored(&self, dot: &Dot<ReplicaId>) -> bool {
        self.deltas
            .get(&dot.replica)
            .is_some_and(|m| m.get(dot.counter).is_some())
    }

    /// When the delta with this id was stored, if it still is.
    pub(crate) fn stored_at(&self, dot: &Dot<ReplicaId>) -> Option<Time> {
        self.deltas
            .get(&dot.replica)
            .and_then(|m| m.get(dot.counter))
            .map(|s| s.at)
    }

    /// The encoded size of the delta with this id (0 if absent).
    pub(crate) fn size_of(&self, dot: &Dot<ReplicaId>) -> usize {
        self.deltas
            .get(&dot.replica)
            .and_then(|m| m.get(dot.counter))
            .map_or(0, |s| s.bytes)
    }

    /// Every id in the log that `known` does not contain, in id order.
    pub(crate) fn missing_from(&self, known: &CausalContext<ReplicaId>) -> Vec<Dot<ReplicaId>> {
        let mut out = Vec::new();
        for (origin, deltas) in &self.deltas {
            let floor = known.vector().get(origin);
            for counter in deltas.iter_from(floor.saturating_add(1)).map(|(c, _)| c) {
                let dot = Dot {
                    replica: *origin,
                    counter,
                };
                if !known.contains(&dot) {
                    out.push(dot);
                }
            }
        }
        out
    }

    /// Groups `dots` (sorted, present in the log) into runs of consecutive deltas.
    pub(crate) fn runs(&self, dots: &[Dot<ReplicaId>]) -> Vec<Run<L>> {
        let mut runs: Vec<Run<L>> = Vec::new();
        for dot in dots {
            let Some(stored) = self
                .deltas
                .get(&dot.replica)
                .and_then(|m| m.get(dot.counter))
            else {
                continue;
            };
            match runs.last_mut() {
                Some(run)
                    if run.origin == dot.replica
                        && run.first + run.deltas.len() as u64 == dot.counter =>
                {
                    run.deltas.push(stored.delta.clone());
                }
                _ => runs.push(Run {
                    origin: dot.replica,
                    first: dot.counter,
                    deltas: vec![stored.delta.clone()],
                }),
            }
        }
        runs
    }
}

/// How many entries a causal context keeps: vector entries and loose ids.
pub(crate) fn entries(context: &CausalContext<ReplicaId>) -> usize {
    context.vector().len() + context.cloud().count()
}
