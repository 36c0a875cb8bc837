//! `TwoPSet`: a set with removal, where a removal is forever.
//!
//! Two grow-only sets, one of insertions and one of removals (tombstones). An element is
//! present iff it was inserted and never removed. Because tombstones only grow, a removed
//! element can never come back; [`OrSet`](crate::OrSet) is the set to use when it must.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::wire::MapOnly;
use crate::{Decompose, GSet, Lattice, Resettable};

/// A two-phase set: insert, then (optionally) remove, once and for all.
///
/// Removing an element that was never inserted is allowed: it writes the tombstone first, and
/// a later or concurrent insert of that element has no effect. Tombstones are never collected,
/// so the state grows with every element ever removed. [`len`](Self::len) is `O(1)`: the set
/// keeps count of the inserted elements that are also removed.
///
/// JSON: `{"adds":[..],"removes":[..]}`, both sorted arrays.
///
/// ```
/// use gossip_crdt::TwoPSet;
///
/// let mut set = TwoPSet::new();
/// set.insert("x");
/// set.remove("x");
/// set.insert("x"); // too late: "x" was removed for good
/// assert!(!set.contains(&"x"));
/// assert_eq!(set.len(), 0);
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
pub struct TwoPSet<T: Ord> {
    adds: GSet<T>,
    removes: GSet<T>,
    /// How many elements of `adds` are also in `removes`: the present ones are the rest. A
    /// function of the two sets, so equality and hashing may include it.
    #[serde(skip)]
    dead: usize,
}

impl<T: Ord + fmt::Debug> fmt::Debug for TwoPSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwoPSet")
            .field("adds", &self.adds)
            .field("removes", &self.removes)
            .finish()
    }
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
        Ok(TwoPSet::from_sets(adds, removes))
    }
}

impl<T: Ord> Default for TwoPSet<T> {
    fn default() -> Self {
        TwoPSet {
            adds: GSet::default(),
            removes: GSet::default(),
            dead: 0,
        }
    }
}

impl<T: Ord> TwoPSet<T> {
    /// Assembles a set from its two halves, counting the removed inserts by looking the
    /// smaller half up in the larger: `O(min · log max)`.
    fn from_sets(adds: GSet<T>, removes: GSet<T>) -> Self {
        let dead = if adds.len() <= removes.len() {
            adds.iter().filter(|v| removes.contains(v)).count()
        } else {
            removes.iter().filter(|v| adds.contains(v)).count()
        };
        TwoPSet {
            adds,
            removes,
            dead,
        }
    }
}

impl<T: Ord + Clone> TwoPSet<T> {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The delta that inserts `value`, without applying it. Empty if `value` was inserted
    /// before.
    pub fn insert_delta(&self, value: T) -> Self {
        let adds = self.adds.insert_delta(value);
        TwoPSet::from_sets(adds, GSet::new())
    }

    /// Inserts `value` (no effect if it was ever removed) and returns the delta.
    pub fn insert(&mut self, value: T) -> Self {
        let delta = self.insert_delta(value);
        self.join(&delta);
        delta
    }

    /// The delta that removes `value` forever, without applying it. Empty if `value` was
    /// removed before.
    pub fn remove_delta(&self, value: T) -> Self {
        let removes = self.removes.insert_delta(value);
        TwoPSet::from_sets(GSet::new(), removes)
    }

    /// Removes `value` forever and returns the delta.
    pub fn remove(&mut self, value: T) -> Self {
        let delta = self.remove_delta(value);
        self.join(&delta);
        delta
    }

    /// Renamed [`insert_delta`](Self::insert_delta); this alias goes in the next release.
    #[deprecated(note = "renamed to `insert_delta`")]
    pub fn add_delta(&self, value: T) -> Self {
        self.insert_delta(value)
    }

    /// Renamed [`insert`](Self::insert); this alias goes in the next release.
    #[deprecated(note = "renamed to `insert`")]
    pub fn add(&mut self, value: T) -> Self {
        self.insert(value)
    }
}

impl<T: Ord> TwoPSet<T> {
    /// `true` iff `value` was inserted and never removed.
    pub fn contains(&self, value: &T) -> bool {
        self.adds.contains(value) && !self.removes.contains(value)
    }

    /// `true` iff `value` has been removed (whether or not it was ever inserted).
    pub fn is_removed(&self, value: &T) -> bool {
        self.removes.contains(value)
    }

    /// The present elements, in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.adds.iter().filter(|v| !self.removes.contains(v))
    }

    /// How many elements are present. `O(1)`.
    pub fn len(&self) -> usize {
        self.adds.len() - self.dead
    }

    /// `true` iff no element is present. `O(1)`.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T: Ord> FromIterator<T> for TwoPSet<T> {
    /// The set with these elements inserted (and none removed).
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        TwoPSet {
            adds: iter.into_iter().collect(),
            removes: GSet::default(),
            dead: 0,
        }
    }
}

impl<T: Ord + Clone> Extend<T> for TwoPSet<T> {
    /// Inserts each element; those removed before stay absent.
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        for value in iter {
            self.insert(value);
        }
    }
}

impl<T: Ord + Clone> Lattice for TwoPSet<T> {
    /// Keeps the count of removed inserts: a new insert counts if it was removed before, a
    /// new tombstone if its element is inserted (by now, which counts an element new to both
    /// halves once).
    fn join(&mut self, other: &Self) -> bool {
        let mut dead = 0;
        let a = if other.adds.leq(&self.adds) {
            false
        } else {
            dead += other
                .adds
                .iter()
                .filter(|v| !self.adds.contains(v) && self.removes.contains(v))
                .count();
            self.adds.join(&other.adds)
        };
        let r = if other.removes.leq(&self.removes) {
            false
        } else {
            dead += other
                .removes
                .iter()
                .filter(|v| !self.removes.contains(v) && self.adds.contains(v))
                .count();
            self.removes.join(&other.removes)
        };
        self.dead += dead;
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
        let adds = self
            .adds
            .decompose()
            .into_iter()
            .map(|adds| TwoPSet::from_sets(adds, GSet::new()));
        let removes = self
            .removes
            .decompose()
            .into_iter()
            .map(|removes| TwoPSet::from_sets(GSet::new(), removes));
        adds.chain(removes).collect()
    }
}

impl<T: Ord + Clone> Resettable for TwoPSet<T> {
    /// The adds and removes `observed` does not hold.
    fn reset_by(&self, observed: &Self) -> Self {
        TwoPSet::from_sets(
            self.adds.reset_by(&observed.adds),
            self.removes.reset_by(&observed.removes),
        )
    }
}
