//! The delta log: every delta this replica holds, by id, next to the state they join to.
//!
//! Deltas are kept (not just joined into the state) so that a peer can be sent exactly the
//! ones it lacks: given a digest, the log answers with the difference, which is what makes
//! repair after a partition cost the size of the gap instead of the whole state.

use std::collections::BTreeMap;

use gossip_crdt::{CausalContext, Decompose, Dot, Lattice};
use serde::Serialize;

use crate::ReplicaId;
use crate::packet::Run;

/// One stored delta and its encoded size, measured once.
#[derive(Debug, Clone)]
struct Stored<L> {
    delta: L,
    bytes: usize,
}

/// What one insertion did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Inserted {
    /// A delta this replica did not have; its id is now in the log.
    New,
    /// The id was already known: nothing changed.
    Duplicate,
}

/// The state, the deltas it was built from, and their ids.
#[derive(Debug, Clone)]
pub(crate) struct DeltaLog<L> {
    state: L,
    seen: CausalContext<ReplicaId>,
    deltas: BTreeMap<ReplicaId, BTreeMap<u64, Stored<L>>>,
    bytes: usize,
}

impl<L: Lattice + Decompose + Serialize> DeltaLog<L> {
    pub(crate) fn new() -> Self {
        DeltaLog {
            state: L::default(),
            seen: CausalContext::new(),
            deltas: BTreeMap::new(),
            bytes: 0,
        }
    }

    pub(crate) fn state(&self) -> &L {
        &self.state
    }

    pub(crate) fn seen(&self) -> &CausalContext<ReplicaId> {
        &self.seen
    }

    /// Total encoded size of the stored deltas.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Stores `delta` under `dot` and joins it into the state. Only the part of `delta` the
    /// state did not already hold is stored and forwarded later (redundancy removal).
    pub(crate) fn insert(&mut self, dot: Dot<ReplicaId>, delta: &L) -> Inserted {
        if self.seen.contains(&dot) || dot.counter == 0 {
            return Inserted::Duplicate;
        }
        let news = delta.difference(&self.state);
        self.state.join(&news);
        let bytes = encoded_len(&news);
        self.bytes += bytes;
        self.deltas
            .entry(dot.replica)
            .or_default()
            .insert(dot.counter, Stored { delta: news, bytes });
        self.seen.insert(dot);
        Inserted::New
    }

    /// The encoded size of the delta with this id (0 if absent).
    pub(crate) fn size_of(&self, dot: &Dot<ReplicaId>) -> usize {
        self.deltas
            .get(&dot.replica)
            .and_then(|m| m.get(&dot.counter))
            .map_or(0, |s| s.bytes)
    }

    /// Every id in the log that `known` does not contain, in id order.
    pub(crate) fn missing_from(&self, known: &CausalContext<ReplicaId>) -> Vec<Dot<ReplicaId>> {
        let mut out = Vec::new();
        for (origin, deltas) in &self.deltas {
            let floor = known.vector().get(origin);
            for counter in deltas.range(floor.saturating_add(1)..).map(|(c, _)| *c) {
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
                .and_then(|m| m.get(&dot.counter))
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

/// The length of `value`'s JSON encoding, without building it.
pub(crate) fn encoded_len<T: Serialize + ?Sized>(value: &T) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Serialising our own types into a sink cannot fail; if a user type's impl errors, the
    // size estimate is merely low.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}
