//! `PnCounter`: a counter that goes up and down, as two grow-only counters.
//!
//! Increments and decrements are tracked separately so each half stays monotone and merges by
//! maximum; the value is their difference. Maelstrom's `pn-counter` workload runs on it.

use serde::{Deserialize, Deserializer, Serialize};

use crate::wire::MapOnly;
use crate::{CrdtError, Decompose, GCounter, Lattice, Resettable};

/// A counter with increments and decrements.
///
/// The value is an `i128`, exact for any combination of `u64` entries.
///
/// JSON: `{"p":{..},"n":{..}}`, the increments and decrements as [`GCounter`]s (so replica
/// ids must be strings or integers in JSON, as there).
///
/// ```
/// use gossip_crdt::{Lattice, PnCounter};
///
/// let mut a = PnCounter::new();
/// let mut b = PnCounter::new();
/// let d1 = a.increment("a", 10)?;
/// let d2 = b.decrement("b", 4)?;
/// a.join(&d2);
/// b.join(&d1);
/// assert_eq!(a.value(), 6);
/// assert_eq!(a, b);
/// # Ok::<(), gossip_crdt::CrdtError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct PnCounter<A: Ord> {
    /// Increments.
    p: GCounter<A>,
    /// Decrements, as positive amounts.
    n: GCounter<A>,
}

/// The wire form: exactly these two fields, as a JSON object.
#[derive(Deserialize)]
#[serde(rename = "PnCounter", deny_unknown_fields)]
struct PnCounterFields<A: Ord> {
    p: GCounter<A>,
    n: GCounter<A>,
}

impl<'de, A: Ord + Deserialize<'de>> Deserialize<'de> for PnCounter<A> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let PnCounterFields { p, n } = PnCounterFields::deserialize(MapOnly(deserializer))?;
        Ok(PnCounter { p, n })
    }
}

impl<A: Ord> Default for PnCounter<A> {
    fn default() -> Self {
        PnCounter {
            p: GCounter::default(),
            n: GCounter::default(),
        }
    }
}

impl<A: Ord + Clone> PnCounter<A> {
    /// A counter at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// The delta that adds `by` on behalf of `replica`, without applying it. Adding 0 gives
    /// the empty delta.
    pub fn increment_delta(&self, replica: A, by: u64) -> Result<Self, CrdtError> {
        Ok(PnCounter {
            p: self.p.step_delta(replica, by, "PnCounter::increment")?,
            n: GCounter::new(),
        })
    }

    /// Adds `by` on behalf of `replica` and returns the delta.
    pub fn increment(&mut self, replica: A, by: u64) -> Result<Self, CrdtError> {
        let delta = self.increment_delta(replica, by)?;
        self.join(&delta);
        Ok(delta)
    }

    /// The delta that subtracts `by` on behalf of `replica`, without applying it: `replica`'s
    /// decrement entry raised by `by`. Subtracting 0 gives the empty delta.
    pub fn decrement_delta(&self, replica: A, by: u64) -> Result<Self, CrdtError> {
        Ok(PnCounter {
            p: GCounter::new(),
            n: self.n.step_delta(replica, by, "PnCounter::decrement")?,
        })
    }

    /// Subtracts `by` on behalf of `replica` and returns the delta.
    pub fn decrement(&mut self, replica: A, by: u64) -> Result<Self, CrdtError> {
        let delta = self.decrement_delta(replica, by)?;
        self.join(&delta);
        Ok(delta)
    }

    /// The delta that adds `delta` (negative to subtract) on behalf of `replica`, without
    /// applying it.
    #[deprecated(note = "use `increment_delta` or `decrement_delta`")]
    pub fn add_delta(&self, replica: A, delta: i64) -> Result<Self, CrdtError> {
        if delta < 0 {
            self.decrement_delta(replica, delta.unsigned_abs())
        } else {
            self.increment_delta(replica, delta.unsigned_abs())
        }
    }

    /// Adds `delta` (negative to subtract) on behalf of `replica` and returns the delta.
    #[deprecated(note = "use `increment` or `decrement`")]
    pub fn add(&mut self, replica: A, delta: i64) -> Result<Self, CrdtError> {
        if delta < 0 {
            self.decrement(replica, delta.unsigned_abs())
        } else {
            self.increment(replica, delta.unsigned_abs())
        }
    }

    /// The counter's value: all increments minus all decrements.
    pub fn value(&self) -> i128 {
        // Each half is at most (number of replicas) · u64::MAX, far inside i128.
        self.p.value() as i128 - self.n.value() as i128
    }

    /// The increments, per replica.
    pub fn increments(&self) -> &GCounter<A> {
        &self.p
    }

    /// The decrements (as positive amounts), per replica.
    pub fn decrements(&self) -> &GCounter<A> {
        &self.n
    }
}

impl<A: Ord + Clone> Lattice for PnCounter<A> {
    fn join(&mut self, other: &Self) -> bool {
        let p = self.p.join(&other.p);
        let n = self.n.join(&other.n);
        p || n
    }

    fn leq(&self, other: &Self) -> bool {
        self.p.leq(&other.p) && self.n.leq(&other.n)
    }

    fn is_bottom(&self) -> bool {
        self.p.is_bottom() && self.n.is_bottom()
    }
}

impl<A: Ord + Clone> Decompose for PnCounter<A> {
    fn decompose(&self) -> Vec<Self> {
        let ups = self.p.decompose().into_iter().map(|p| PnCounter {
            p,
            n: GCounter::new(),
        });
        let downs = self.n.decompose().into_iter().map(|n| PnCounter {
            p: GCounter::new(),
            n,
        });
        ups.chain(downs).collect()
    }
}

impl<A: Ord + Clone> Resettable for PnCounter<A> {
    /// The increments and decrements made since `observed`.
    fn reset_by(&self, observed: &Self) -> Self {
        PnCounter {
            p: self.p.reset_by(&observed.p),
            n: self.n.reset_by(&observed.n),
        }
    }
}
