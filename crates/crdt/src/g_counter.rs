//! `GCounter`: a grow-only counter, one monotone entry per replica.
//!
//! Each replica only ever raises its own entry, so the pointwise maximum merges replicas
//! without double counting; the value is the sum. Maelstrom's `g-counter` workload runs on it.

use serde::{Deserialize, Serialize};

use crate::{CrdtError, Decompose, Lattice, Resettable, VersionVector};

/// A grow-only counter.
///
/// Structurally a [`VersionVector`] (replica → count, join is pointwise max) read as a sum.
/// The value is a `u128` so that no combination of `u64` entries can overflow it.
///
/// JSON: an object from replica id to that replica's contribution, e.g. `{"n1":5,"n2":3}`.
/// Replica ids are object keys, so they must be strings or integers: encoding a counter whose
/// ids are tuples or structs fails at run time, with serde's "key must be a string" error.
///
/// ```
/// use gossip_crdt::{GCounter, Lattice};
///
/// let mut a = GCounter::new();
/// let mut b = GCounter::new();
/// a.increment("a", 5)?;
/// b.increment("b", 3)?;
/// let delta = a.increment("a", 1)?; // ships as {"a":6}: the entry's new value, not "+1"
/// b.join(&delta);
/// assert_eq!(b.value(), 9);
/// # Ok::<(), gossip_crdt::CrdtError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GCounter<A: Ord> {
    entries: VersionVector<A>,
}

impl<A: Ord> Default for GCounter<A> {
    fn default() -> Self {
        GCounter {
            entries: VersionVector::default(),
        }
    }
}

impl<A: Ord + Clone> GCounter<A> {
    /// A counter at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// The delta that adds `by` on behalf of `replica`, without applying it. Adding 0 gives
    /// the empty delta.
    pub fn increment_delta(&self, replica: A, by: u64) -> Result<Self, CrdtError> {
        self.step_delta(replica, by, "GCounter::increment")
    }

    /// [`increment_delta`](Self::increment_delta), naming `operation` in the error.
    pub(crate) fn step_delta(
        &self,
        replica: A,
        by: u64,
        operation: &'static str,
    ) -> Result<Self, CrdtError> {
        if by == 0 {
            return Ok(GCounter::new());
        }
        let next = self
            .entries
            .get(&replica)
            .checked_add(by)
            .ok_or(CrdtError::Overflow { operation })?;
        Ok(GCounter {
            entries: VersionVector::from_iter([(replica, next)]),
        })
    }

    /// Adds `by` on behalf of `replica` and returns the delta.
    pub fn increment(&mut self, replica: A, by: u64) -> Result<Self, CrdtError> {
        let delta = self.increment_delta(replica, by)?;
        self.join(&delta);
        Ok(delta)
    }

    /// The counter's value: the sum of every replica's contribution.
    pub fn value(&self) -> u128 {
        self.entries.iter().map(|(_, n)| u128::from(n)).sum()
    }

    /// What `replica` has contributed.
    pub fn contribution(&self, replica: &A) -> u64 {
        self.entries.get(replica)
    }

    /// The non-zero contributions, by replica.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&A, u64)> {
        self.entries.iter()
    }
}

impl<A: Ord + Clone> Lattice for GCounter<A> {
    fn join(&mut self, other: &Self) -> bool {
        self.entries.join(&other.entries)
    }

    fn leq(&self, other: &Self) -> bool {
        self.entries.leq(&other.entries)
    }

    fn is_bottom(&self) -> bool {
        self.entries.is_bottom()
    }
}

impl<A: Ord + Clone> Decompose for GCounter<A> {
    fn decompose(&self) -> Vec<Self> {
        self.entries
            .decompose()
            .into_iter()
            .map(|entries| GCounter { entries })
            .collect()
    }
}

impl<A: Ord + Clone> Resettable for GCounter<A> {
    /// What each replica added since `observed`.
    fn reset_by(&self, observed: &Self) -> Self {
        GCounter {
            entries: self.entries.reset_by(&observed.entries),
        }
    }
}
