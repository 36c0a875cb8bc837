//! `TwoPSet`: a set with removal, where a removal is forever.
//!
//! Two grow-only sets, one of additions and one of removals (tombstones). An element is present
//! iff it was added and never removed. Because tombstones only grow, a removed element can never
//! come back; [`OrSet`](crate::OrSet) is the set to use when it must.

use serde::{Deserialize, Deserializer, Serialize};

use crate::wire::MapOnly;
use crate::{Decompose, GSet, Lattice, Resettable};

/// A two-phase set: add, then (optionally) remove, once and for all.
///
/// Removing an element that was never added is allowed: it writes the tombstone first, and a
/// later or concurrent add of that element has no effect. Tombstones are never collected, so
/// the state grows with every element ever removed.
///
/// JSON: `{"adds":[..],"removes":[..]}`, both sorted arrays.
///
/// ```
/// use gossip_crdt::TwoPSet;
///
/// let mut set = TwoPSet::new();
/// set.add("x");
/// set.remove("x");
/// set.add("x"); // too late: "x" was removed for good
/// assert!(!set.contains(&"x"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct TwoPSet<T: Ord> {
    adds: GSet<T>,
    removes: GSet<T>,
}

/// The wire form: exactly these two fields, as a JSON object.
#[derive(Deserialize)]
#[serde(rename = "TwoPSet", deny_unknown_fields)]
struct TwoPSetFields<T: Ord> {
    adds: GSet<T>,
    removes: GSet<T>,
}

impl<'de, T: Ord + Deserialize<'de>> Deserialize<'de> for TwoPSet<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let TwoPSetFields { adds, removes } = TwoPSetFields::deserialize(MapOnly(deserializer))?;
        Ok(TwoPSet { adds, removes })
    }
}

impl<T: Ord> Default for TwoPSet<T> {
    fn default() -> Self {
        TwoPSet {
            adds: GSet::default(),
            removes: GSet::default(),
        }
    }
}

impl<T: Ord + Clone> TwoPSet<T> {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The delta that adds `value`, without applying it.
    pub fn add_delta(&self, value: T) -> Self {
        TwoPSet {
            adds: self.adds.insert_delta(value),
            removes: GSet::new(),
        }
    }

    /// Adds `value` (no effect if it was ever removed) and returns the delta.
    pub fn add(&mut self, value: T) -> Self {
        let delta = self.add_delta(value);
        self.join(&delta);
        delta
    }

    /// The delta that removes `value` forever, without applying it.
    pub fn remove_delta(&self, value: T) -> Self {
        TwoPSet {
            adds: GSet::new(),
            removes: self.removes.insert_delta(value),
        }
    }

    /// Removes `value` forever and returns the delta.
    pub fn remove(&mut self, value: T) -> Self {
        let delta = self.remove_delta(value);
        self.join(&delta);
        delta
    }

    /// `true` iff `value` was added and never removed.
    pub fn contains(&self, value: &T) -> bool {
        self.adds.contains(value) && !self.removes.contains(value)
    }

    /// `true` iff `value` has been removed (whether or not it was ever added).
    pub fn is_removed(&self, value: &T) -> bool {
        self.removes.contains(value)
    }

    /// The present elements, in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.adds.iter().filter(|v| !self.removes.contains(v))
    }

    /// How many elements are present.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// `true` iff no element is present.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

impl<T: Ord + Clone> Lattice for TwoPSet<T> {
    fn join(&mut self, other: &Self) -> bool {
        let a = self.adds.join(&other.adds);
        let r = self.removes.join(&other.removes);
        a || r
    }

    fn leq(&self, other: &Self) -> bool {
        self.adds.leq(&other.adds) && self.removes.leq(&other.removes)
    }

    fn is_bottom(&self) -> bool {
        self.adds.is_bottom() && self.removes.is_bottom()
    }
}

impl<T: Ord + Clone> Decompose for TwoPSet<T> {
    fn decompose(&self) -> Vec<Self> {
        let adds = self.adds.decompose().into_iter().map(|adds| TwoPSet {
            adds,
            removes: GSet::new(),
        });
        let removes = self.removes.decompose().into_iter().map(|removes| TwoPSet {
            adds: GSet::new(),
            removes,
        });
        adds.chain(removes).collect()
    }
}

impl<T: Ord + Clone> Resettable for TwoPSet<T> {
    /// The adds and removes `observed` does not hold.
    fn reset_by(&self, observed: &Self) -> Self {
        TwoPSet {
            adds: self.adds.reset_by(&observed.adds),
            removes: self.removes.reset_by(&observed.removes),
        }
    }
}
