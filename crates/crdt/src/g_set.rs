//! `GSet`: the grow-only set, the simplest useful CRDT.
//!
//! Elements are only ever added, so merging two replicas is set union and nothing can conflict.
//! It is the state behind Maelstrom's `broadcast` and `g-set` workloads.

use std::collections::BTreeSet;
use std::ops::RangeBounds;

use serde::{Deserialize, Serialize};

use crate::{Decompose, Lattice};

/// A grow-only set.
///
/// Join is union; `leq` is subset. Elements are kept in order (`T: Ord`), which makes joining a
/// small delta into a large set cost `O(|delta| · log n)`.
///
/// JSON: a sorted array of elements, e.g. `[1,2,3]`.
///
/// ```
/// use gossip_crdt::{GSet, Lattice};
///
/// let mut replica = GSet::new();
/// let delta = replica.insert("apple"); // applied here, and returned to ship to peers
/// let mut peer = GSet::new();
/// peer.join(&delta);
/// assert!(peer.contains(&"apple"));
/// assert_eq!(peer, replica);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GSet<T: Ord> {
    elements: BTreeSet<T>,
}

impl<T: Ord> Default for GSet<T> {
    fn default() -> Self {
        GSet {
            elements: BTreeSet::new(),
        }
    }
}

impl<T: Ord + Clone> GSet<T> {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The delta that adds `value`, without applying it. Empty if `value` is already present.
    pub fn insert_delta(&self, value: T) -> Self {
        let mut delta = GSet::new();
        if !self.elements.contains(&value) {
            delta.elements.insert(value);
        }
        delta
    }

    /// Adds `value` and returns the delta to ship (empty if it was already present).
    pub fn insert(&mut self, value: T) -> Self {
        let delta = self.insert_delta(value);
        self.join(&delta);
        delta
    }

    /// `true` iff `value` was added on some replica this one has heard from.
    pub fn contains(&self, value: &T) -> bool {
        self.elements.contains(value)
    }

    /// The elements, in ascending order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &T> + DoubleEndedIterator {
        self.elements.iter()
    }

    /// The elements within `range`, in ascending order.
    ///
    /// ```
    /// use gossip_crdt::GSet;
    ///
    /// let set: GSet<u32> = (1..=10).collect();
    /// assert_eq!(set.range(8..).copied().collect::<Vec<_>>(), vec![8, 9, 10]);
    /// ```
    pub fn range<R: RangeBounds<T>>(&self, range: R) -> impl DoubleEndedIterator<Item = &T> {
        self.elements.range(range)
    }

    /// How many elements the set holds.
    pub fn len(&self) -> usize {
        self.elements.len()
    }

    /// `true` iff the set holds no element.
    pub fn is_empty(&self) -> bool {
        self.elements.is_empty()
    }
}

impl<T: Ord + Clone> Lattice for GSet<T> {
    fn join(&mut self, other: &Self) -> bool {
        if self.elements.is_empty() {
            self.elements = other.elements.clone();
            return !other.elements.is_empty();
        }
        // `BTreeSet::difference` looks a small `other` up element by element (O(|other| log n))
        // and merges two large sets linearly; either way only new elements are cloned.
        let new: Vec<T> = other.elements.difference(&self.elements).cloned().collect();
        let changed = !new.is_empty();
        self.elements.extend(new);
        changed
    }

    fn leq(&self, other: &Self) -> bool {
        self.elements.is_subset(&other.elements)
    }

    fn is_bottom(&self) -> bool {
        self.elements.is_empty()
    }
}

impl<T: Ord + Clone> Decompose for GSet<T> {
    fn decompose(&self) -> Vec<Self> {
        self.elements
            .iter()
            .map(|e| GSet {
                elements: BTreeSet::from([e.clone()]),
            })
            .collect()
    }

    fn difference(&self, known: &Self) -> Self {
        GSet {
            elements: self.elements.difference(&known.elements).cloned().collect(),
        }
    }

    /// One lookup per element of the delta, and the delta's own set reused for the result.
    fn absorb(&mut self, mut delta: Self) -> Self {
        delta.elements.retain(|e| self.elements.insert(e.clone()));
        delta
    }
}

impl<T: Ord> FromIterator<T> for GSet<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        GSet {
            elements: iter.into_iter().collect(),
        }
    }
}

impl<T: Ord> Extend<T> for GSet<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        self.elements.extend(iter);
    }
}

impl<T: Ord> IntoIterator for GSet<T> {
    type Item = T;
    type IntoIter = std::collections::btree_set::IntoIter<T>;

    fn into_iter(self) -> Self::IntoIter {
        self.elements.into_iter()
    }
}

impl<'a, T: Ord> IntoIterator for &'a GSet<T> {
    type Item = &'a T;
    type IntoIter = std::collections::btree_set::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.elements.iter()
    }
}
