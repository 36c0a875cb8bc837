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
use crate::{Causality, CrdtError, Decompose, Lattice, Resettable, VersionVector};

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
/// `[]` for a register never written. Replica ids are keys of the clocks, so in JSON they must
/// be strings or integers: encoding a register whose ids are tuples or structs fails at run
/// time, with serde's "key must be a string" error.
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
/// assert_eq!(a.read().collect::<Vec<_>>(), vec![&"tea", &"coffee"]);
///
/// a.write("a", "tea and coffee")?; // resolving: this write saw both siblings
/// b.join(&a);
/// assert_eq!(b.read().collect::<Vec<_>>(), vec![&"tea and coffee"]);
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
/// Refuses a list of more than [`MvRegister::MAX_DECODED_SIBLINGS`] siblings, as soon as it
/// reads one too many. Refuses a list with more concurrent siblings than replicas named in
/// their clocks: writes cannot produce one (a replica's own writes are causally ordered, so
/// each sibling has a different writer, and a writer is in its own clock), and without that
/// bound a short input such as `{"x":i,"y":n-i}` for every `i` would cost `n²` comparisons to
/// decode.
fn deserialize_siblings<'de, D, T, A>(deserializer: D) -> Result<Vec<Sibling<T, A>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Ord + Clone + Deserialize<'de>,
    A: Ord + Clone + Deserialize<'de>,
{
    /// Reads a sequence of siblings, stopping at the limit.
    struct Bounded<T, A>(std::marker::PhantomData<(T, A)>);

    impl<'de, T: Deserialize<'de>, A: Ord + Deserialize<'de>> serde::de::Visitor<'de>
        for Bounded<T, A>
    {
        type Value = Vec<Sibling<T, A>>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(
                f,
                "an array of at most {MAX_DECODED_SIBLINGS} siblings {{\"clock\":..,\"value\":..}}"
            )
        }

        fn visit_seq<S: serde::de::SeqAccess<'de>>(
            self,
            mut seq: S,
        ) -> Result<Self::Value, S::Error> {
            let hint = seq.size_hint().unwrap_or(0).min(MAX_DECODED_SIBLINGS);
            let mut out = Vec::with_capacity(hint);
            while let Some(sibling) = seq.next_element()? {
                if out.len() == MAX_DECODED_SIBLINGS {
                    return Err(serde::de::Error::custom(format_args!(
                        "malformed MvRegister: more than {MAX_DECODED_SIBLINGS} siblings"
                    )));
                }
                out.push(sibling);
            }
            Ok(out)
        }
    }

    let raw = deserializer.deserialize_seq(Bounded(std::marker::PhantomData))?;
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

/// The most siblings a decoded register may list; see [`MvRegister::MAX_DECODED_SIBLINGS`].
const MAX_DECODED_SIBLINGS: usize = 1024;

/// Answers "does some sibling of a list cover (or dominate) this one?" without comparing
/// against the whole list when the list is long: whatever is `≥` a clock names every replica
/// of it, so only the siblings naming its rarest replica are candidates. With distinct
/// writers that is a handful, so a query costs `O(r log s)` for a clock of `r` entries.
struct Lookup<'a, T, A: Ord> {
    list: &'a [Sibling<T, A>],
    /// `None` for a short list (or few queries): then every query scans it.
    index: Option<Index<'a, A>>,
}

/// The siblings of a list by replica named in their clocks.
struct Index<'a, A> {
    holders: BTreeMap<&'a A, Vec<usize>>,
    /// Siblings with an empty clock (only `from_sibling` makes those).
    unclocked: Vec<usize>,
}

impl<'a, T, A: Ord + Clone> Lookup<'a, T, A> {
    /// A lookup over `list` for about `queries` questions; indexes it only when scanning
    /// would cost more than building the index.
    fn new(list: &'a [Sibling<T, A>], queries: usize) -> Self {
        let index = (list.len() > 4 && queries > 4).then(|| {
            let mut holders: BTreeMap<&A, Vec<usize>> = BTreeMap::new();
            let mut unclocked = Vec::new();
            for (i, sibling) in list.iter().enumerate() {
                if sibling.clock.is_empty() {
                    unclocked.push(i);
                }
                for (replica, _) in sibling.clock.iter() {
                    holders.entry(replica).or_default().push(i);
                }
            }
            Index { holders, unclocked }
        });
        Lookup { list, index }
    }

    /// `true` iff `test` holds for some sibling of the list whose clock is `≥ x`'s. `test`
    /// must hold for any sibling whose clock is strictly greater (it refines the order).
    fn any_above(&self, x: &Sibling<T, A>, test: impl Fn(&Sibling<T, A>) -> bool) -> bool {
        let Some(index) = &self.index else {
            return self.list.iter().any(test);
        };
        if x.clock.is_empty() {
            // Every non-empty clock is strictly greater than the empty one.
            return self.list.len() > index.unclocked.len()
                || index.unclocked.iter().any(|&i| test(&self.list[i]));
        }
        let mut rarest: Option<&Vec<usize>> = None;
        for (replica, _) in x.clock.iter() {
            match index.holders.get(replica) {
                None => return false,
                Some(list) if rarest.is_none_or(|r| list.len() < r.len()) => rarest = Some(list),
                Some(_) => {}
            }
        }
        rarest.is_some_and(|list| list.iter().any(|&i| test(&self.list[i])))
    }
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

impl<T, A: Ord> MvRegister<T, A> {
    /// The most siblings a decoded register may list; a longer list is a decode error.
    ///
    /// Siblings are concurrent writes by distinct replicas, so this is more than any plausible
    /// number of replicas writing one register at once. It bounds the worst case of merging
    /// (siblings whose clocks all name the same replicas are compared pairwise) to this many
    /// comparisons per sibling received. Registers grown past it by joins still work; they
    /// cannot be decoded whole.
    pub const MAX_DECODED_SIBLINGS: usize = MAX_DECODED_SIBLINGS;
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

    /// The current values, the siblings' values in canonical order: one if the last writes
    /// were ordered, several after a conflict, none if never written.
    pub fn read(&self) -> impl ExactSizeIterator<Item = &T> {
        self.siblings.iter().map(|s| &s.value)
    }

    /// Renamed [`read`](Self::read); this alias goes in the next release.
    #[deprecated(note = "renamed to `read`")]
    pub fn values(&self) -> impl ExactSizeIterator<Item = &T> {
        self.read()
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

impl<T: Ord + Clone, A: Ord + Clone> MvRegister<T, A> {
    /// Adds `new` siblings, none covered by ours, and drops ours that one of them dominates;
    /// `new` must be an antichain in canonical order. What stays is the maximal siblings of
    /// both: ours do not dominate each other, and none of ours covers one of `new`.
    fn merge_new(&mut self, new: Vec<Sibling<T, A>>) {
        if new.is_empty() {
            return;
        }
        let lookup = Lookup::new(&new, self.siblings.len());
        let mut mine = std::mem::take(&mut self.siblings);
        mine.retain(|m| !lookup.any_above(m, |t| m.dominated_by(t)));
        // Two canonical lists merged in one pass.
        let mut merged = Vec::with_capacity(mine.len() + new.len());
        let mut left = mine.into_iter().peekable();
        let mut right = new.into_iter().peekable();
        loop {
            let take_left = match (left.peek(), right.peek()) {
                (Some(a), Some(b)) => a.canonical_cmp(b) != Ordering::Greater,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let next = if take_left { left.next() } else { right.next() };
            merged.extend(next);
        }
        self.siblings = merged;
    }

    /// The siblings of `self` that no sibling of `known` covers, in canonical order.
    fn uncovered_by(&self, known: &Self) -> Vec<Sibling<T, A>> {
        let lookup = Lookup::new(&known.siblings, self.siblings.len());
        self.siblings
            .iter()
            .filter(|m| !lookup.any_above(m, |k| covers(k, m)))
            .cloned()
            .collect()
    }
}

impl<T: Ord + Clone, A: Ord + Clone> Lattice for MvRegister<T, A> {
    /// Both sides are antichains, so each sibling is only checked against the other side,
    /// through an index by replica once both sides are more than a handful. Cost for `s` and
    /// `t` siblings with clocks of `r` entries: `O((s + t) r log(s + t))` when the writers
    /// differ; `O(s·t·r)` when every clock names the same replicas.
    fn join(&mut self, other: &Self) -> bool {
        let new = other.uncovered_by(self);
        // A sibling of theirs that we cover dominates none of ours (ours are an antichain),
        // so if all are covered nothing changes.
        let changed = !new.is_empty();
        self.merge_new(new);
        changed
    }

    /// Every sibling of `self` is covered by one of `other`'s. Same cost as [`join`](Self::join).
    fn leq(&self, other: &Self) -> bool {
        let lookup = Lookup::new(&other.siblings, self.siblings.len());
        self.siblings
            .iter()
            .all(|m| lookup.any_above(m, |t| covers(t, m)))
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

    /// The siblings `known` does not cover: the same as the default, in one pass over an
    /// index of `known` instead of one `leq` and one join per sibling.
    fn difference(&self, known: &Self) -> Self {
        MvRegister {
            siblings: self.uncovered_by(known),
        }
    }

    fn absorb(&mut self, delta: Self) -> Self {
        let news = delta.difference(self);
        self.merge_new(news.siblings.clone());
        news
    }
}

impl<T: Ord + Clone, A: Ord + Clone> Resettable for MvRegister<T, A> {
    /// The siblings no sibling of `observed` covers: writes the remove had not seen.
    fn reset_by(&self, observed: &Self) -> Self {
        let lookup = Lookup::new(&observed.siblings, self.siblings.len());
        MvRegister {
            siblings: self
                .siblings
                .iter()
                .filter(|m| !lookup.any_above(m, |t| covers(t, m)))
                .cloned()
                .collect(),
        }
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

    #[test]
    fn indexed_leq_difference_and_absorb_agree_with_pairwise() {
        fn prop(a: Siblings, b: Siblings) -> bool {
            let left = MvRegister {
                siblings: naive(&a.0),
            };
            let right = MvRegister {
                siblings: naive(&b.0),
            };
            let pairwise_leq = left
                .siblings
                .iter()
                .all(|m| right.siblings.iter().any(|t| covers(t, m)));
            let pairwise_diff: Vec<_> = left
                .siblings
                .iter()
                .filter(|m| !right.siblings.iter().any(|t| covers(t, m)))
                .cloned()
                .collect();
            let mut absorbed = right.clone();
            let news = absorbed.absorb(left.clone());
            let all: Vec<_> = a.0.iter().chain(&b.0).cloned().collect();
            left.leq(&right) == pairwise_leq
                && left.difference(&right).siblings == pairwise_diff
                && news.siblings == pairwise_diff
                && absorbed.siblings == naive(&all)
        }
        QuickCheck::new().quickcheck(prop as fn(Siblings, Siblings) -> bool);
    }
}
