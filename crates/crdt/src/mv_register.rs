//! `MvRegister`: a multi-value register that keeps concurrent writes instead of losing them.
//!
//! Every write carries a version vector: the join of the clocks of the values it overwrites,
//! with the writer's own entry incremented. A write therefore dominates exactly what its writer
//! had seen. Join keeps every write that no other write dominates: after concurrent writes the
//! register holds several *siblings*, which is the conflict, detected by version vectors
//! comparing as [`Causality::Concurrent`](crate::Causality::Concurrent). The application
//! resolves it by writing again: the new clock dominates every sibling.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Deserializer, Serialize};

use crate::wire::MapOnly;
use crate::{Causality, CrdtError, Decompose, Lattice, VersionVector};

/// One write: a value and the version vector that places it in causal history.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Sibling<T, A: Ord> {
    /// The history this write saw, including itself.
    pub clock: VersionVector<A>,
    /// The value written.
    pub value: T,
}

/// The wire form: exactly these two fields, as a JSON object.
#[derive(Deserialize)]
#[serde(rename = "Sibling", deny_unknown_fields)]
struct SiblingFields<T, A: Ord> {
    clock: VersionVector<A>,
    value: T,
}

impl<'de, T: Deserialize<'de>, A: Ord + Deserialize<'de>> Deserialize<'de> for Sibling<T, A> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let SiblingFields { clock, value } = SiblingFields::deserialize(MapOnly(deserializer))?;
        Ok(Sibling { clock, value })
    }
}

impl<T: Ord, A: Ord + Clone> Sibling<T, A> {
    /// `true` iff `other` makes `self` obsolete: a strictly later clock.
    fn dominated_by(&self, other: &Self) -> bool {
        self.clock.compare(&other.clock) == Causality::Before
    }

    /// A total order, only to keep the sibling list canonical.
    fn canonical_cmp(&self, other: &Self) -> Ordering {
        self.clock
            .iter()
            .cmp(other.clock.iter())
            .then_with(|| self.value.cmp(&other.value))
    }
}

/// A multi-value register.
///
/// JSON: an array of siblings, `[{"clock":{"a":1},"value":...},..]`, in a canonical order;
/// `[]` for a register never written.
///
/// ```
/// use gossip_crdt::{Lattice, MvRegister};
///
/// let mut a = MvRegister::new();
/// let mut b = MvRegister::new();
/// a.write("a", "tea")?;
/// b.write("b", "coffee")?; // concurrent with a's write
/// a.join(&b);
/// assert!(a.is_conflicted()); // both kept, ordered by clock: a's, then b's
/// assert_eq!(a.values().collect::<Vec<_>>(), vec![&"tea", &"coffee"]);
///
/// a.write("a", "tea and coffee")?; // resolving: this write saw both siblings
/// b.join(&a);
/// assert_eq!(b.values().collect::<Vec<_>>(), vec![&"tea and coffee"]);
/// # Ok::<(), gossip_crdt::CrdtError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
#[serde(bound(
    serialize = "T: Serialize, A: Ord + Serialize",
    deserialize = "T: Ord + Clone + Deserialize<'de>, A: Ord + Clone + Deserialize<'de>"
))]
pub struct MvRegister<T, A: Ord> {
    #[serde(deserialize_with = "deserialize_siblings")]
    siblings: Vec<Sibling<T, A>>,
}

/// Decodes any list of siblings and keeps its maximal ones in canonical order, so that a
/// decoded register obeys the same invariant as one built by writes and joins.
///
/// Refuses a list with more concurrent siblings than replicas named in their clocks: writes
/// cannot produce one (a replica's own writes are causally ordered, so each sibling has a
/// different writer, and a writer is in its own clock), and without that bound a short input
/// such as `{"x":i,"y":n-i}` for every `i` would cost `n²` comparisons to decode.
fn deserialize_siblings<'de, D, T, A>(deserializer: D) -> Result<Vec<Sibling<T, A>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Ord + Clone + Deserialize<'de>,
    A: Ord + Clone + Deserialize<'de>,
{
    let raw = Vec::<Sibling<T, A>>::deserialize(deserializer)?;
    let replicas = raw
        .iter()
        .flat_map(|s| s.clock.iter().map(|(a, _)| a))
        .collect::<BTreeSet<&A>>()
        .len();
    maximal(raw, Some(replicas.max(1))).ok_or_else(|| {
        serde::de::Error::custom(
            "malformed MvRegister: more concurrent siblings than replicas in their clocks",
        )
    })
}

/// `true` iff `cover` makes `sibling` redundant: a strictly later clock, or the same write.
fn covers<T: PartialEq, A: Ord + Clone>(cover: &Sibling<T, A>, sibling: &Sibling<T, A>) -> bool {
    match sibling.clock.compare(&cover.clock) {
        Causality::Before => true,
        Causality::Equal => sibling.value == cover.value,
        Causality::After | Causality::Concurrent => false,
    }
}

/// The siblings of `candidates` that nothing else covers, each once, in canonical order; `None`
/// as soon as more than `limit` of them survive.
///
/// A clock can only be dominated by one with a strictly larger sum of entries, so candidates
/// are taken largest sum first and each is checked against those already kept, never the
/// other way round. And whatever covers a sibling holds every replica of its clock, so only
/// the kept siblings holding its rarest replica are compared. Concurrent siblings with
/// disjoint writers thus cost `O(log n)` each instead of `O(n)`.
fn maximal<T: Ord + Clone, A: Ord + Clone>(
    mut candidates: Vec<Sibling<T, A>>,
    limit: Option<usize>,
) -> Option<Vec<Sibling<T, A>>> {
    candidates.sort_by_cached_key(|s| {
        std::cmp::Reverse(s.clock.iter().map(|(_, n)| u128::from(n)).sum::<u128>())
    });
    let mut kept: Vec<Sibling<T, A>> = Vec::new();
    // For each replica, the kept siblings whose clocks name it.
    let mut holders: BTreeMap<A, Vec<usize>> = BTreeMap::new();
    // Kept siblings with an empty clock (only `from_sibling` makes those).
    let mut unclocked: Vec<usize> = Vec::new();
    for candidate in candidates {
        let covered = if candidate.clock.is_empty() {
            kept.len() > unclocked.len() || unclocked.iter().any(|&i| covers(&kept[i], &candidate))
        } else {
            let mut rarest: Option<&Vec<usize>> = None;
            for (replica, _) in candidate.clock.iter() {
                match holders.get(replica) {
                    None => {
                        rarest = None;
                        break;
                    }
                    Some(list) if rarest.is_none_or(|r| list.len() < r.len()) => {
                        rarest = Some(list);
                    }
                    Some(_) => {}
                }
            }
            rarest.is_some_and(|list| list.iter().any(|&i| covers(&kept[i], &candidate)))
        };
        if covered {
            continue;
        }
        let index = kept.len();
        for (replica, _) in candidate.clock.iter() {
            holders.entry(replica.clone()).or_default().push(index);
        }
        if candidate.clock.is_empty() {
            unclocked.push(index);
        }
        kept.push(candidate);
        if limit.is_some_and(|limit| kept.len() > limit) {
            return None;
        }
    }
    kept.sort_by(|a, b| a.canonical_cmp(b));
    Some(kept)
}

impl<T, A: Ord> Default for MvRegister<T, A> {
    fn default() -> Self {
        MvRegister {
            siblings: Vec::new(),
        }
    }
}

impl<T: Ord + Clone, A: Ord + Clone> MvRegister<T, A> {
    /// A register never written.
    pub fn new() -> Self {
        Self::default()
    }

    /// The history every current sibling belongs to: the join of their clocks. A write made
    /// now would dominate all of them.
    pub fn clock(&self) -> VersionVector<A> {
        let mut clock = VersionVector::new();
        for s in &self.siblings {
            clock.join(&s.clock);
        }
        clock
    }

    /// The delta that writes `value` on behalf of `replica`, overwriting every sibling seen
    /// here, without applying it.
    pub fn write_delta(&self, replica: A, value: T) -> Result<Self, CrdtError> {
        let mut clock = self.clock();
        clock.increment(replica)?;
        Ok(MvRegister {
            siblings: vec![Sibling { clock, value }],
        })
    }

    /// Writes `value` on behalf of `replica` and returns the delta.
    pub fn write(&mut self, replica: A, value: T) -> Result<Self, CrdtError> {
        let delta = self.write_delta(replica, value)?;
        self.join(&delta);
        Ok(delta)
    }

    /// The current values: one if the last writes were ordered, several after a conflict,
    /// none if never written.
    pub fn values(&self) -> impl ExactSizeIterator<Item = &T> {
        self.siblings.iter().map(|s| &s.value)
    }

    /// The current writes with their clocks.
    pub fn siblings(&self) -> &[Sibling<T, A>] {
        &self.siblings
    }

    /// A register holding one write; join such registers to build any state.
    pub fn from_sibling(sibling: Sibling<T, A>) -> Self {
        MvRegister {
            siblings: vec![sibling],
        }
    }

    /// `true` iff concurrent writes are waiting to be resolved.
    pub fn is_conflicted(&self) -> bool {
        self.siblings.len() > 1
    }
}

impl<T: Ord + Clone, A: Ord + Clone> Lattice for MvRegister<T, A> {
    /// Cost: `O(s·t)` comparisons for `s` and `t` siblings while that is small; beyond, the
    /// indexed merge of `maximal`, about `O((s + t) log(s + t))` when writers differ.
    fn join(&mut self, other: &Self) -> bool {
        if other.siblings.is_empty() {
            return false;
        }
        if self.siblings.len().saturating_mul(other.siblings.len()) > 64 {
            let all = self
                .siblings
                .iter()
                .chain(&other.siblings)
                .cloned()
                .collect();
            let merged = maximal(all, None).unwrap_or_default();
            let changed = merged != self.siblings;
            self.siblings = merged;
            return changed;
        }
        let mut changed = false;
        for theirs in &other.siblings {
            if self
                .siblings
                .iter()
                .any(|mine| mine == theirs || theirs.dominated_by(mine))
            {
                continue;
            }
            self.siblings.retain(|mine| !mine.dominated_by(theirs));
            self.siblings.push(theirs.clone());
            changed = true;
        }
        if changed {
            self.siblings.sort_by(|a, b| a.canonical_cmp(b));
        }
        changed
    }

    fn leq(&self, other: &Self) -> bool {
        self.siblings.iter().all(|mine| {
            other
                .siblings
                .iter()
                .any(|theirs| mine == theirs || mine.dominated_by(theirs))
        })
    }

    fn is_bottom(&self) -> bool {
        self.siblings.is_empty()
    }
}

impl<T: Ord + Clone, A: Ord + Clone> Decompose for MvRegister<T, A> {
    fn decompose(&self) -> Vec<Self> {
        self.siblings
            .iter()
            .map(|s| MvRegister {
                siblings: vec![s.clone()],
            })
            .collect()
    }
}

#[cfg(all(test, feature = "laws"))]
mod tests {
    use super::*;
    use quickcheck::{Arbitrary, Gen, QuickCheck};

    /// Replica ids from a space of four, so that clocks overlap and dominate each other.
    #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
    struct R(u8);

    impl Arbitrary for R {
        fn arbitrary(g: &mut Gen) -> Self {
            R(u8::arbitrary(g) % 4)
        }
    }

    fn sibling(g: &mut Gen) -> Sibling<u8, R> {
        Sibling {
            clock: VersionVector::arbitrary(g),
            value: u8::arbitrary(g) % 3,
        }
    }

    #[derive(Debug, Clone)]
    struct Siblings(Vec<Sibling<u8, R>>);

    impl Arbitrary for Siblings {
        fn arbitrary(g: &mut Gen) -> Self {
            let len = usize::arbitrary(g) % 40;
            Siblings((0..len).map(|_| sibling(g)).collect())
        }
    }

    /// The definition: keep what nothing else covers, pairwise.
    fn naive(list: &[Sibling<u8, R>]) -> Vec<Sibling<u8, R>> {
        let mut kept: Vec<Sibling<u8, R>> = Vec::new();
        for candidate in list {
            if kept.iter().any(|k| covers(k, candidate)) {
                continue;
            }
            kept.retain(|k| !k.dominated_by(candidate));
            kept.push(candidate.clone());
        }
        kept.sort_by(|a, b| a.canonical_cmp(b));
        kept
    }

    #[test]
    fn maximal_agrees_with_the_pairwise_definition() {
        fn prop(list: Siblings, limit: u8) -> bool {
            let expected = naive(&list.0);
            let limit = usize::from(limit % 8);
            let limited = match maximal(list.0.clone(), Some(limit)) {
                Some(kept) => kept == expected,
                None => expected.len() > limit,
            };
            maximal(list.0, None).is_some_and(|kept| kept == expected) && limited
        }
        QuickCheck::new().quickcheck(prop as fn(Siblings, u8) -> bool);
    }

    #[test]
    fn large_joins_agree_with_small_ones() {
        fn prop(a: Siblings, b: Siblings) -> bool {
            let left = MvRegister {
                siblings: naive(&a.0),
            };
            let right = MvRegister {
                siblings: naive(&b.0),
            };
            let mut joined = left.clone();
            let changed = joined.join(&right);
            let all: Vec<_> = a.0.iter().chain(&b.0).cloned().collect();
            joined.siblings == naive(&all) && changed == (joined != left)
        }
        QuickCheck::new().quickcheck(prop as fn(Siblings, Siblings) -> bool);
    }
}
