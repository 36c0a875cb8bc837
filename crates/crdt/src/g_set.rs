//! `GSet`: the grow-only set, the simplest useful CRDT.
//!
//! Elements are only ever added, so merging two replicas is set union and nothing can conflict.
//! It is the state behind Maelstrom's `broadcast` and `g-set` workloads.

use std::collections::{BTreeSet, btree_set};
use std::fmt;
use std::ops::RangeBounds;

use serde::de::{SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Decompose, Lattice, Resettable};

/// A grow-only set.
///
/// Join is union; `leq` is subset. Elements are kept in order (`T: Ord`), which makes joining a
/// small delta into a large set cost `O(|delta| · log n)`. A set of exactly one element (the
/// usual delta) is held inline, without a tree node: a replica that stores and relays
/// thousands of deltas allocates nothing for them beyond the element itself.
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
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct GSet<T: Ord> {
    elements: Elements<T>,
}

/// The elements. Always normal: exactly one element is `One`, any other count is `Many`, so
/// that the derived equality and hash agree with set equality.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Elements<T: Ord> {
    One(T),
    Many(BTreeSet<T>),
}

impl<T: Ord> Elements<T> {
    fn from_set(mut set: BTreeSet<T>) -> Self {
        match set.len() {
            1 => set.pop_first().map_or(Elements::Many(set), Elements::One),
            _ => Elements::Many(set),
        }
    }

    /// Adds `value`; `true` iff it was new.
    fn insert(&mut self, value: T) -> bool {
        match self {
            Elements::One(a) if *a == value => false,
            Elements::One(_) => {
                let Elements::One(a) = std::mem::replace(self, Elements::Many(BTreeSet::new()))
                else {
                    return false;
                };
                *self = Elements::Many(BTreeSet::from([a, value]));
                true
            }
            Elements::Many(set) if set.is_empty() => {
                *self = Elements::One(value);
                true
            }
            Elements::Many(set) => set.insert(value),
        }
    }

    fn contains(&self, value: &T) -> bool {
        match self {
            Elements::One(a) => a == value,
            Elements::Many(set) => set.contains(value),
        }
    }

    fn len(&self) -> usize {
        match self {
            Elements::One(_) => 1,
            Elements::Many(set) => set.len(),
        }
    }
}

impl<T: Ord> Default for GSet<T> {
    fn default() -> Self {
        GSet {
            elements: Elements::Many(BTreeSet::new()),
        }
    }
}

impl<T: Ord + fmt::Debug> fmt::Debug for GSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self).finish()
    }
}

impl<T: Ord + Clone> GSet<T> {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The delta that adds `value`, without applying it. Empty if `value` is already present.
    pub fn insert_delta(&self, value: T) -> Self {
        if self.contains(&value) {
            GSet::new()
        } else {
            GSet {
                elements: Elements::One(value),
            }
        }
    }

    /// Adds `value` and returns the delta to ship (empty if it was already present).
    pub fn insert(&mut self, value: T) -> Self {
        let delta = self.insert_delta(value);
        self.join(&delta);
        delta
    }
}

impl<T: Ord> GSet<T> {
    /// `true` iff `value` was added on some replica this one has heard from.
    pub fn contains(&self, value: &T) -> bool {
        self.elements.contains(value)
    }

    /// The elements, in ascending order.
    pub fn iter(&self) -> GSetIter<'_, T> {
        GSetIter(match &self.elements {
            Elements::One(a) => Either::One(Some(a).into_iter()),
            Elements::Many(set) => Either::Many(set.iter()),
        })
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
        match &self.elements {
            Elements::One(a) => Either::One(range.contains(a).then_some(a).into_iter()),
            Elements::Many(set) => Either::Many(set.range(range)),
        }
    }

    /// How many elements the set holds.
    pub fn len(&self) -> usize {
        self.elements.len()
    }

    /// `true` iff the set holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T: Ord + Clone> Lattice for GSet<T> {
    fn join(&mut self, other: &Self) -> bool {
        match (&mut self.elements, &other.elements) {
            (_, Elements::Many(theirs)) if theirs.is_empty() => false,
            (Elements::Many(mine), _) if mine.is_empty() => {
                self.elements = other.elements.clone();
                true
            }
            (mine, Elements::One(b)) => mine.insert(b.clone()),
            (Elements::One(a), Elements::Many(theirs)) => {
                // `theirs` holds at least two elements, so something is new here.
                let mut all = theirs.clone();
                all.insert(a.clone());
                self.elements = Elements::Many(all);
                true
            }
            (Elements::Many(mine), Elements::Many(theirs)) => {
                // `BTreeSet::difference` looks a small `theirs` up element by element
                // (O(|theirs| log n)) and merges two large sets linearly; either way only new
                // elements are cloned.
                let new: Vec<T> = theirs.difference(mine).cloned().collect();
                let changed = !new.is_empty();
                mine.extend(new);
                changed
            }
        }
    }

    fn leq(&self, other: &Self) -> bool {
        match (&self.elements, &other.elements) {
            (Elements::One(a), _) => other.contains(a),
            (Elements::Many(mine), Elements::Many(theirs)) => mine.is_subset(theirs),
            // Normal form: `mine` is empty or holds at least two elements.
            (Elements::Many(mine), Elements::One(_)) => mine.is_empty(),
        }
    }

    fn is_bottom(&self) -> bool {
        self.is_empty()
    }
}

impl<T: Ord + Clone> Decompose for GSet<T> {
    fn decompose(&self) -> Vec<Self> {
        self.iter()
            .map(|e| GSet {
                elements: Elements::One(e.clone()),
            })
            .collect()
    }

    fn difference(&self, known: &Self) -> Self {
        self.iter()
            .filter(|e| !known.contains(e))
            .cloned()
            .collect()
    }

    /// One lookup per element of the delta, and the delta's own set reused for the result.
    fn absorb(&mut self, delta: Self) -> Self {
        match delta.elements {
            Elements::One(a) => {
                if self.elements.insert(a.clone()) {
                    GSet {
                        elements: Elements::One(a),
                    }
                } else {
                    GSet::new()
                }
            }
            Elements::Many(mut set) => {
                set.retain(|e| self.elements.insert(e.clone()));
                GSet {
                    elements: Elements::from_set(set),
                }
            }
        }
    }
}

impl<T: Ord> FromIterator<T> for GSet<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        GSet {
            elements: Elements::from_set(iter.into_iter().collect()),
        }
    }
}

impl<T: Ord> Extend<T> for GSet<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        for value in iter {
            self.elements.insert(value);
        }
    }
}

impl<T: Ord> IntoIterator for GSet<T> {
    type Item = T;
    type IntoIter = GSetIntoIter<T>;

    fn into_iter(self) -> Self::IntoIter {
        GSetIntoIter(match self.elements {
            Elements::One(a) => Either::One(Some(a).into_iter()),
            Elements::Many(set) => Either::Many(set.into_iter()),
        })
    }
}

impl<'a, T: Ord> IntoIterator for &'a GSet<T> {
    type Item = &'a T;
    type IntoIter = GSetIter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T: Ord + Serialize> Serialize for GSet<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self)
    }
}

impl<'de, T: Ord + Deserialize<'de>> Deserialize<'de> for GSet<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Elems<T>(std::marker::PhantomData<T>);

        impl<'de, T: Ord + Deserialize<'de>> Visitor<'de> for Elems<T> {
            type Value = GSet<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of set elements")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<GSet<T>, A::Error> {
                // One element, the usual delta, is read without building a tree.
                let Some(first) = seq.next_element()? else {
                    return Ok(GSet::default());
                };
                let Some(second) = seq.next_element()? else {
                    return Ok(GSet {
                        elements: Elements::One(first),
                    });
                };
                let mut set = BTreeSet::from([first, second]);
                while let Some(value) = seq.next_element()? {
                    set.insert(value);
                }
                Ok(GSet {
                    elements: Elements::from_set(set),
                })
            }
        }

        deserializer.deserialize_seq(Elems(std::marker::PhantomData))
    }
}

/// A [`GSet`]'s elements by reference, ascending.
#[derive(Debug, Clone)]
pub struct GSetIter<'a, T>(Either<std::option::IntoIter<&'a T>, btree_set::Iter<'a, T>>);

/// A [`GSet`]'s elements, taken, ascending.
#[derive(Debug)]
pub struct GSetIntoIter<T>(Either<std::option::IntoIter<T>, btree_set::IntoIter<T>>);

/// One of two iterators over the same items: a lone element's, or a tree's.
#[derive(Debug, Clone)]
enum Either<A, B> {
    One(A),
    Many(B),
}

impl<A: Iterator, B: Iterator<Item = A::Item>> Iterator for Either<A, B> {
    type Item = A::Item;

    fn next(&mut self) -> Option<A::Item> {
        match self {
            Either::One(a) => a.next(),
            Either::Many(b) => b.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Either::One(a) => a.size_hint(),
            Either::Many(b) => b.size_hint(),
        }
    }
}

impl<A, B> DoubleEndedIterator for Either<A, B>
where
    A: DoubleEndedIterator,
    B: DoubleEndedIterator<Item = A::Item>,
{
    fn next_back(&mut self) -> Option<A::Item> {
        match self {
            Either::One(a) => a.next_back(),
            Either::Many(b) => b.next_back(),
        }
    }
}

impl<A: ExactSizeIterator, B: ExactSizeIterator<Item = A::Item>> ExactSizeIterator
    for Either<A, B>
{
}

macro_rules! delegate_iterator {
    ($name:ident < $($gen:tt),* >, $item:ty) => {
        impl<$($gen),*> Iterator for $name<$($gen),*> {
            type Item = $item;

            fn next(&mut self) -> Option<$item> {
                self.0.next()
            }

            fn size_hint(&self) -> (usize, Option<usize>) {
                self.0.size_hint()
            }
        }

        impl<$($gen),*> DoubleEndedIterator for $name<$($gen),*> {
            fn next_back(&mut self) -> Option<$item> {
                self.0.next_back()
            }
        }

        impl<$($gen),*> ExactSizeIterator for $name<$($gen),*> {}
    };
}

delegate_iterator!(GSetIter<'a, T>, &'a T);
delegate_iterator!(GSetIntoIter<T>, T);

impl<T: Ord + Clone> Resettable for GSet<T> {
    /// The elements `observed` does not hold.
    fn reset_by(&self, observed: &Self) -> Self {
        self.iter()
            .filter(|t| !observed.contains(t))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_element_is_held_inline_and_equal_to_the_same_set_built_otherwise() {
        let one: GSet<u32> = serde_json::from_str("[7]").expect("valid");
        assert!(matches!(one.elements, Elements::One(7)));
        let dup: GSet<u32> = serde_json::from_str("[7,7]").expect("valid");
        assert_eq!(dup, one);
        let mut grown = GSet::new();
        grown.extend([7]);
        assert_eq!(grown, one);
        let mut big: GSet<u32> = [7, 8].into_iter().collect();
        assert_eq!(big.absorb([8, 7].into_iter().collect()), GSet::new());
        let new = big.absorb([9, 8].into_iter().collect());
        assert!(matches!(new.elements, Elements::One(9)), "{new:?}");
        assert_eq!(serde_json::to_string(&big).expect("encodes"), "[7,8,9]");
        assert_eq!(big.iter().rev().copied().collect::<Vec<_>>(), [9, 8, 7]);
        assert_eq!(one.range(..7).count(), 0);
        assert_eq!(one.range(7..).copied().collect::<Vec<_>>(), [7]);
        assert_eq!(one.into_iter().collect::<Vec<_>>(), [7]);
        assert_eq!(format!("{big:?}"), "{7, 8, 9}");
    }

    fn hash_of(set: &GSet<u8>) -> u64 {
        use std::hash::{BuildHasher, RandomState};
        thread_local!(static STATE: RandomState = RandomState::new());
        STATE.with(|s| s.hash_one(set))
    }

    /// Whatever way a set was built, it behaves as the set of its elements.
    fn agrees_with_a_plain_set(a: Vec<u8>, b: Vec<u8>) -> bool {
        let (sa, sb): (BTreeSet<u8>, BTreeSet<u8>) =
            (a.iter().copied().collect(), b.iter().copied().collect());
        let x: GSet<u8> = a.iter().copied().collect();
        let mut y = GSet::new();
        for v in &b {
            y.join(&GSet::new().insert_delta(*v));
        }
        let mut joined = x.clone();
        let changed = joined.join(&y);
        let mut absorbed = x.clone();
        let news = absorbed.absorb(y.clone());
        let union: BTreeSet<u8> = sa.union(&sb).copied().collect();
        let fresh: BTreeSet<u8> = sb.difference(&sa).copied().collect();
        let decoded: GSet<u8> =
            serde_json::from_str(&serde_json::to_string(&y).unwrap_or_default())
                .unwrap_or_default();
        x.iter().copied().eq(sa.iter().copied())
            && y.len() == sb.len()
            && (x == y) == (sa == sb)
            && (x != y || hash_of(&x) == hash_of(&y))
            && x.leq(&y) == sa.is_subset(&sb)
            && joined.iter().copied().eq(union.iter().copied())
            && changed != sb.is_subset(&sa)
            && absorbed == joined
            && news.iter().copied().eq(fresh.iter().copied())
            && news == fresh.iter().copied().collect()
            && decoded == y
            && x.difference(&y)
                .iter()
                .copied()
                .eq(sa.difference(&sb).copied())
    }

    #[test]
    fn every_construction_agrees_with_a_plain_set() {
        quickcheck::QuickCheck::new()
            .tests(2_000)
            .quickcheck(agrees_with_a_plain_set as fn(Vec<u8>, Vec<u8>) -> bool);
        // Small alphabets, so that sets of one element and equal sets are common.
        quickcheck::QuickCheck::new().tests(2_000).quickcheck(
            (|a: Vec<bool>, b: Vec<bool>| {
                agrees_with_a_plain_set(
                    a.into_iter().map(u8::from).collect(),
                    b.into_iter().map(u8::from).collect(),
                )
            }) as fn(Vec<bool>, Vec<bool>) -> bool,
        );
    }
}
