//! `VersionVector`: per-replica event counts, and the causal order they induce.
//!
//! Each replica counts its own events; a vector holds the highest count seen from every
//! replica. Comparing two vectors says whether one history contains the other or whether they
//! diverged: the basis of conflict detection (see [`MvRegister`](crate::MvRegister)) and of the
//! transport's digests.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{CrdtError, Decompose, Lattice, Resettable};

/// How two histories relate.
///
/// JSON: a string, `"before"`, `"after"`, `"equal"` or `"concurrent"`; [`Display`] writes the
/// same word.
///
/// [`Display`]: std::fmt::Display
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Causality {
    /// The left history is strictly contained in the right one: left happened before.
    Before,
    /// The left history strictly contains the right one.
    After,
    /// Same events.
    Equal,
    /// Each side saw an event the other did not: they diverged, and whatever they wrote
    /// conflicts.
    Concurrent,
}

impl Causality {
    /// The word for the relation, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Causality::Before => "before",
            Causality::After => "after",
            Causality::Equal => "equal",
            Causality::Concurrent => "concurrent",
        }
    }
}

impl std::fmt::Display for Causality {
    /// `before`, `after`, `equal` or `concurrent`.
    ///
    /// ```
    /// use gossip_crdt::Causality;
    ///
    /// assert_eq!(Causality::Concurrent.to_string(), "concurrent");
    /// ```
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A version vector: a map from replica id to the number of that replica's events seen.
///
/// Missing entries are zero, and zeros are never stored, so equal histories are equal values.
/// Join is the pointwise maximum; `leq` is pointwise `≤`. [`compare`](Self::compare) (and
/// `PartialOrd`) gives the causal relation.
///
/// JSON: an object from replica id to count, e.g. `{"a":2,"b":1}`. Replica ids must therefore
/// serialise as JSON object keys (strings or integers): encoding a vector whose ids are tuples
/// or structs fails at run time, with serde's "key must be a string" error.
///
/// ```
/// use gossip_crdt::{Causality, VersionVector};
///
/// let mut alice = VersionVector::new();
/// alice.increment("alice")?;
/// let mut bob = alice.clone(); // bob has seen alice's write
/// bob.increment("bob")?;
/// assert_eq!(alice.compare(&bob), Causality::Before);
///
/// alice.increment("alice")?; // alice writes again without seeing bob's write
/// assert_eq!(alice.compare(&bob), Causality::Concurrent);
/// assert_eq!(alice.partial_cmp(&bob), None);
/// # Ok::<(), gossip_crdt::CrdtError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct VersionVector<A: Ord> {
    counts: BTreeMap<A, u64>,
}

impl<A: Ord> Default for VersionVector<A> {
    fn default() -> Self {
        VersionVector {
            counts: BTreeMap::new(),
        }
    }
}

impl<'de, A: Ord + Deserialize<'de>> Deserialize<'de> for VersionVector<A> {
    /// Accepts any object of replica → count and normalises it: zeros are dropped (they carry
    /// no information, and dropping them keeps equality structural) and a replica named twice
    /// keeps its largest count, as [`FromIterator`] does.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries<A>(std::marker::PhantomData<A>);

        impl<'de, A: Ord + Deserialize<'de>> serde::de::Visitor<'de> for Entries<A> {
            type Value = VersionVector<A>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map from replica id to a count (an unsigned 64-bit integer)")
            }

            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<Self::Value, M::Error> {
                let mut counts = BTreeMap::new();
                while let Some((replica, count)) = map.next_entry::<A, u64>()? {
                    if count == 0 {
                        continue;
                    }
                    let entry = counts.entry(replica).or_insert(0);
                    if *entry < count {
                        *entry = count;
                    }
                }
                Ok(VersionVector { counts })
            }
        }

        deserializer.deserialize_map(Entries(std::marker::PhantomData))
    }
}

impl<A: Ord + Clone> VersionVector<A> {
    /// The empty vector: no events seen.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of `replica`'s events seen (0 if none).
    pub fn get(&self, replica: &A) -> u64 {
        self.counts.get(replica).copied().unwrap_or(0)
    }

    /// The delta that records one more event of `replica`, without applying it: a vector with
    /// the single entry `replica → get(replica) + 1`.
    pub fn increment_delta(&self, replica: A) -> Result<Self, CrdtError> {
        let next = self
            .get(&replica)
            .checked_add(1)
            .ok_or(CrdtError::Overflow {
                operation: "VersionVector::increment",
            })?;
        Ok(VersionVector {
            counts: BTreeMap::from([(replica, next)]),
        })
    }

    /// Records one more event of `replica` and returns the delta.
    pub fn increment(&mut self, replica: A) -> Result<Self, CrdtError> {
        let delta = self.increment_delta(replica)?;
        self.join(&delta);
        Ok(delta)
    }

    /// `replica`'s entry, to change in place (never to 0: a missing entry means 0).
    pub(crate) fn entry_mut(&mut self, replica: &A) -> Option<&mut u64> {
        self.counts.get_mut(replica)
    }

    /// Every entry, to change in place, in replica order (never to 0).
    pub(crate) fn entries_mut(&mut self) -> impl Iterator<Item = (&A, &mut u64)> {
        self.counts.iter_mut()
    }

    /// Raises `replica`'s entry to at least `count` (a no-op if it is already there); returns
    /// `true` iff the entry grew. This is a join with a one-entry vector.
    pub fn witness(&mut self, replica: A, count: u64) -> bool {
        if count == 0 {
            return false;
        }
        let entry = self.counts.entry(replica).or_insert(0);
        if *entry < count {
            *entry = count;
            true
        } else {
            false
        }
    }

    /// The causal relation of `self` to `other`, in one pass over both.
    pub fn compare(&self, other: &Self) -> Causality {
        let mut self_ahead = false;
        let mut other_ahead = false;
        let mut left = self.counts.iter().peekable();
        let mut right = other.counts.iter().peekable();
        loop {
            match (left.peek(), right.peek()) {
                (None, None) => break,
                (Some(_), None) => {
                    self_ahead = true;
                    break;
                }
                (None, Some(_)) => {
                    other_ahead = true;
                    break;
                }
                (Some((ka, va)), Some((kb, vb))) => match ka.cmp(kb) {
                    Ordering::Less => {
                        self_ahead = true;
                        left.next();
                    }
                    Ordering::Greater => {
                        other_ahead = true;
                        right.next();
                    }
                    Ordering::Equal => {
                        match va.cmp(vb) {
                            Ordering::Less => other_ahead = true,
                            Ordering::Greater => self_ahead = true,
                            Ordering::Equal => {}
                        }
                        left.next();
                        right.next();
                    }
                },
            }
            if self_ahead && other_ahead {
                return Causality::Concurrent;
            }
        }
        match (self_ahead, other_ahead) {
            (false, false) => Causality::Equal,
            (true, false) => Causality::After,
            (false, true) => Causality::Before,
            (true, true) => Causality::Concurrent,
        }
    }

    /// `true` iff the two histories diverged.
    pub fn concurrent(&self, other: &Self) -> bool {
        self.compare(other) == Causality::Concurrent
    }

    /// The non-zero entries, by replica id.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&A, u64)> {
        self.counts.iter().map(|(a, n)| (a, *n))
    }

    /// How many replicas have a non-zero entry.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// `true` iff no event has been seen.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// The total number of events seen (saturating).
    pub fn total(&self) -> u64 {
        self.counts
            .values()
            .fold(0u64, |acc, n| acc.saturating_add(*n))
    }
}

impl<A: Ord + Clone> Lattice for VersionVector<A> {
    fn join(&mut self, other: &Self) -> bool {
        let mut changed = false;
        for (replica, count) in &other.counts {
            match self.counts.get_mut(replica) {
                Some(mine) if *mine >= *count => {}
                Some(mine) => {
                    *mine = *count;
                    changed = true;
                }
                None => {
                    self.counts.insert(replica.clone(), *count);
                    changed = true;
                }
            }
        }
        changed
    }

    fn leq(&self, other: &Self) -> bool {
        if self.counts.len() > other.counts.len() {
            // Some replica of ours is missing there (no zeros are stored).
            return false;
        }
        if self.counts.len().saturating_mul(8) < other.counts.len() {
            // A small vector (a delta) against a large one: look each entry up.
            return self.counts.iter().all(|(a, n)| other.get(a) >= *n);
        }
        matches!(self.compare(other), Causality::Before | Causality::Equal)
    }

    fn is_bottom(&self) -> bool {
        self.counts.is_empty()
    }
}

impl<A: Ord + Clone> Decompose for VersionVector<A> {
    fn decompose(&self) -> Vec<Self> {
        self.counts
            .iter()
            .map(|(a, n)| VersionVector {
                counts: BTreeMap::from([(a.clone(), *n)]),
            })
            .collect()
    }
}

impl<A: Ord + Clone> PartialOrd for VersionVector<A> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        match self.compare(other) {
            Causality::Before => Some(Ordering::Less),
            Causality::After => Some(Ordering::Greater),
            Causality::Equal => Some(Ordering::Equal),
            Causality::Concurrent => None,
        }
    }
}

impl<A: Ord + std::fmt::Display> std::fmt::Display for VersionVector<A> {
    /// `{a: 2, b: 1}`, replicas in order; `{}` when empty.
    ///
    /// ```
    /// use gossip_crdt::VersionVector;
    ///
    /// let vv: VersionVector<&str> = [("paris", 2), ("sydney", 1)].into_iter().collect();
    /// assert_eq!(vv.to_string(), "{paris: 2, sydney: 1}");
    /// ```
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("{")?;
        for (i, (replica, count)) in self.counts.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{replica}: {count}")?;
        }
        f.write_str("}")
    }
}

impl<A: Ord> FromIterator<(A, u64)> for VersionVector<A> {
    /// Builds a vector from `(replica, count)` pairs; a replica given twice keeps its largest
    /// count, and zero counts are dropped.
    fn from_iter<I: IntoIterator<Item = (A, u64)>>(iter: I) -> Self {
        let mut counts = BTreeMap::new();
        for (a, n) in iter {
            if n == 0 {
                continue;
            }
            let entry = counts.entry(a).or_insert(0);
            if *entry < n {
                *entry = n;
            }
        }
        VersionVector { counts }
    }
}

impl<A: Ord + Clone> Resettable for VersionVector<A> {
    /// The counts above `observed`'s, per replica.
    fn reset_by(&self, observed: &Self) -> Self {
        self.iter()
            .map(|(a, n)| (a.clone(), n.saturating_sub(observed.get(a))))
            .collect()
    }
}
