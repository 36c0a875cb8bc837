//! `OrSet`: the observed-remove, add-wins set. Elements can come back after removal.
//!
//! Each add is tagged with a fresh [`Dot`]; a remove deletes only the dots it has *observed*.
//! An add concurrent with a remove carries a dot the remove never saw, so it survives
//! ("add wins"), and re-adding after a remove simply makes a new dot. A causal context records
//! every dot ever seen, so a replica can tell "removed" (seen, gone) from "not yet arrived".
//! This is the delta-state formulation of Almeida, Shoker and Baquero: deltas are small and
//! need no causal delivery.

use std::collections::{BTreeMap, BTreeSet};

use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::wire::MapOnly;
use crate::{CausalContext, CrdtError, Decompose, Dot, Lattice, Resettable, VersionVector};

/// An add-wins observed-remove set.
///
/// JSON: `{"entries":[[element,[[replica,counter],..]],..],"context":{"vv":{..},"cloud":[..]}}`:
/// each present element with the dots of the adds that keep it alive, and the causal context.
/// Entries are an array of pairs, not an object, so elements need not be strings. Replica ids
/// are keys of the context's version vector, so in JSON they must be strings or integers:
/// encoding a set whose ids are tuples or structs fails at run time, with serde's "key must be
/// a string" error (compact binary formats take any id).
///
/// ```
/// use gossip_crdt::{Lattice, OrSet};
///
/// let mut a = OrSet::new();
/// a.insert("a", "milk")?;
/// let mut b = a.clone();
///
/// let removal = a.remove(&"milk"); // a removes milk ...
/// let re_add = b.insert("b", "milk")?; // ... while b inserts it again, concurrently
/// a.join(&re_add);
/// b.join(&removal);
/// assert!(a.contains(&"milk") && b.contains(&"milk")); // the add wins
/// assert_eq!(a, b);
/// # Ok::<(), gossip_crdt::CrdtError>(())
/// ```
#[derive(Clone)]
pub struct OrSet<T: Ord, A: Ord> {
    /// Present elements and the live dots that support them; never an empty dot set.
    entries: BTreeMap<T, BTreeSet<Dot<A>>>,
    /// The same live dots, by dot: which element each supports. An index, so that a join
    /// finds the entries a removal touches without walking them all.
    dots: BTreeMap<Dot<A>, T>,
    /// Every dot this replica has seen, live or removed.
    context: CausalContext<A>,
}

// Equality, hashing and debug output look at the state, not at the index derived from it.

impl<T: Ord, A: Ord> PartialEq for OrSet<T, A> {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries && self.context == other.context
    }
}

impl<T: Ord, A: Ord> Eq for OrSet<T, A> {}

impl<T: Ord + std::hash::Hash, A: Ord + std::hash::Hash> std::hash::Hash for OrSet<T, A> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.entries.hash(state);
        self.context.hash(state);
    }
}

impl<T: Ord + std::fmt::Debug, A: Ord + std::fmt::Debug> std::fmt::Debug for OrSet<T, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrSet")
            .field("entries", &self.entries)
            .field("context", &self.context)
            .finish()
    }
}

/// The wire form, as decoded before its invariants are checked.
#[derive(Deserialize)]
#[serde(rename = "OrSet", deny_unknown_fields)]
#[serde(bound(deserialize = "T: Deserialize<'de>, A: Ord + Clone + Deserialize<'de>"))]
struct OrSetRepr<T, A: Ord> {
    entries: Vec<(T, Vec<Dot<A>>)>,
    context: CausalContext<A>,
}

impl<T: Serialize + Ord, A: Serialize + Ord> Serialize for OrSet<T, A> {
    /// Borrows the state: `{"entries":[[element,[dot,..]],..],"context":..}`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        /// The entries as an array of `[element, dots]` pairs.
        struct Entries<'a, T, A>(&'a BTreeMap<T, BTreeSet<Dot<A>>>);

        impl<T: Serialize, A: Serialize> Serialize for Entries<'_, T, A> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_seq(self.0.iter())
            }
        }

        let mut state = serializer.serialize_struct("OrSet", 2)?;
        state.serialize_field("entries", &Entries(&self.entries))?;
        state.serialize_field("context", &self.context)?;
        state.end()
    }
}

impl<'de, T, A> Deserialize<'de> for OrSet<T, A>
where
    T: Ord + Clone + Deserialize<'de>,
    A: Ord + Clone + Deserialize<'de>,
{
    /// Refuses a state whose entries break its invariants (a dot outside the context, one dot
    /// for two elements, counter 0); normalises the rest (duplicates, empty entries).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let repr = OrSetRepr::deserialize(MapOnly(deserializer))?;
        OrSet::try_from(repr).map_err(serde::de::Error::custom)
    }
}

/// Why a decoded `OrSet` was refused.
#[derive(Debug)]
struct MalformedOrSet(&'static str);

impl std::fmt::Display for MalformedOrSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed OrSet: {}", self.0)
    }
}

impl<T: Ord + Clone, A: Ord + Clone> TryFrom<OrSetRepr<T, A>> for OrSet<T, A> {
    type Error = MalformedOrSet;

    fn try_from(repr: OrSetRepr<T, A>) -> Result<Self, Self::Error> {
        let mut entries: BTreeMap<T, BTreeSet<Dot<A>>> = BTreeMap::new();
        // Which element each dot supports: one add tags one element.
        let mut owner: BTreeMap<Dot<A>, T> = BTreeMap::new();
        for (element, dots) in repr.entries {
            for dot in dots {
                if dot.counter == 0 {
                    return Err(MalformedOrSet("a dot has counter 0 (counters start at 1)"));
                }
                if !repr.context.contains(&dot) {
                    return Err(MalformedOrSet("an entry's dot is missing from the context"));
                }
                match owner.get(&dot) {
                    // The same dot listed twice for one element: redundant, not contradictory.
                    Some(other) if *other == element => continue,
                    Some(_) => return Err(MalformedOrSet("a dot supports two entries")),
                    None => {
                        owner.insert(dot.clone(), element.clone());
                    }
                }
                entries.entry(element.clone()).or_default().insert(dot);
            }
        }
        Ok(OrSet {
            entries,
            dots: owner,
            context: repr.context,
        })
    }
}

impl<T: Ord, A: Ord> Default for OrSet<T, A> {
    fn default() -> Self {
        OrSet {
            entries: BTreeMap::new(),
            dots: BTreeMap::new(),
            context: CausalContext::default(),
        }
    }
}

impl<T: Ord + Clone, A: Ord + Clone> OrSet<T, A> {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The delta that inserts `value` on behalf of `replica`, without applying it: a fresh dot
    /// for `value`, whose context also covers the dots it replaces.
    pub fn insert_delta(&self, replica: A, value: T) -> Result<Self, CrdtError> {
        let dot = self.context.next_dot(replica).ok_or(CrdtError::Overflow {
            operation: "OrSet::insert",
        })?;
        let mut context: CausalContext<A> = self
            .entries
            .get(&value)
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        context.insert(dot.clone());
        Ok(OrSet::from_entries(
            BTreeMap::from([(value, BTreeSet::from([dot]))]),
            context,
        ))
    }

    /// Inserts `value` on behalf of `replica` and returns the delta.
    pub fn insert(&mut self, replica: A, value: T) -> Result<Self, CrdtError> {
        let delta = self.insert_delta(replica, value)?;
        self.join(&delta);
        Ok(delta)
    }

    /// Renamed [`insert_delta`](Self::insert_delta); this alias goes in the next release.
    #[deprecated(note = "renamed to `insert_delta`")]
    pub fn add_delta(&self, replica: A, value: T) -> Result<Self, CrdtError> {
        self.insert_delta(replica, value)
    }

    /// Renamed [`insert`](Self::insert); this alias goes in the next release.
    #[deprecated(note = "renamed to `insert`")]
    pub fn add(&mut self, replica: A, value: T) -> Result<Self, CrdtError> {
        self.insert(replica, value)
    }

    /// The delta that removes `value` as this replica sees it, without applying it: no
    /// entries, and a context holding the dots being removed. Adds this replica has not seen
    /// survive it. Removing an absent element gives the empty delta.
    pub fn remove_delta(&self, value: &T) -> Self {
        OrSet {
            entries: BTreeMap::new(),
            dots: BTreeMap::new(),
            context: self
                .entries
                .get(value)
                .into_iter()
                .flatten()
                .cloned()
                .collect(),
        }
    }

    /// Removes `value` (the adds observed so far) and returns the delta.
    pub fn remove(&mut self, value: &T) -> Self {
        let delta = self.remove_delta(value);
        self.join(&delta);
        delta
    }

    /// `true` iff some add of `value` is live.
    pub fn contains(&self, value: &T) -> bool {
        self.entries.contains_key(value)
    }

    /// The present elements, in ascending order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &T> {
        self.entries.keys()
    }

    /// How many elements are present.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// `true` iff no element is present.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every dot this replica has seen.
    pub fn context(&self) -> &CausalContext<A> {
        &self.context
    }

    /// The same set without the adds `seen` contains: what is left once a remove that saw
    /// `seen` has taken its dots away. The context is kept whole. `O(live dots)`.
    pub(crate) fn without_seen(&self, seen: &CausalContext<A>) -> Self {
        let entries = self
            .entries
            .iter()
            .filter_map(|(element, dots)| {
                let kept: BTreeSet<Dot<A>> =
                    dots.iter().filter(|d| !seen.contains(d)).cloned().collect();
                (!kept.is_empty()).then(|| (element.clone(), kept))
            })
            .collect();
        OrSet::from_entries(entries, self.context.clone())
    }

    /// Assembles a state from entries whose dots all lie in `context` (the caller's promise).
    #[cfg(feature = "laws")]
    pub(crate) fn from_parts(entries: BTreeMap<T, Vec<Dot<A>>>, context: CausalContext<A>) -> Self {
        OrSet::from_entries(
            entries
                .into_iter()
                .map(|(t, dots)| (t, dots.into_iter().collect()))
                .filter(|(_, dots): &(T, BTreeSet<Dot<A>>)| !dots.is_empty())
                .collect(),
            context,
        )
    }

    /// Assembles a state from non-empty entries, each dot under one element, all in `context`.
    fn from_entries(entries: BTreeMap<T, BTreeSet<Dot<A>>>, context: CausalContext<A>) -> Self {
        let dots = entries
            .iter()
            .flat_map(|(element, dots)| dots.iter().map(move |d| (d.clone(), element.clone())))
            .collect();
        OrSet {
            entries,
            dots,
            context,
        }
    }

    /// Our live dots that `context` contains, found by range over the index: for each replica
    /// of its gap-free prefix, then each loose dot. Lazy, so a caller that stops early pays
    /// for what it took: `O((|context| + taken) log n)`, where `|context|` counts replicas and
    /// loose dots, never events.
    fn live_dots_in<'a>(
        &'a self,
        context: &'a CausalContext<A>,
    ) -> impl Iterator<Item = &'a Dot<A>> + 'a {
        let prefix = context.vector().iter().flat_map(move |(replica, count)| {
            let from = Dot {
                replica: replica.clone(),
                counter: 1,
            };
            let to = Dot {
                replica: replica.clone(),
                counter: count,
            };
            self.dots.range(from..=to).map(|(dot, _)| dot)
        });
        let loose = context
            .cloud()
            .filter_map(move |dot| self.dots.get_key_value(dot).map(|(dot, _)| dot));
        prefix.chain(loose)
    }
}

impl<T: Ord + Clone, A: Ord + Clone> Lattice for OrSet<T, A> {
    /// A dot survives if both sides have it, or if one side has it and the other has never
    /// seen it; a dot one side has seen but no longer holds was removed there.
    ///
    /// Cost: `O((|other| + k) log n)`, where `|other|` counts its live dots, loose dots and
    /// replicas, and `k` is the number of our live dots its context covers, at most its live
    /// dots plus the dots this join removes; a small delta costs little however large `self`
    /// is.
    fn join(&mut self, other: &Self) -> bool {
        let mut changed = false;
        // Our dots that the other side saw and dropped: removed. Only dots in its context can
        // be, so look those up instead of walking every entry.
        let covered: Vec<Dot<A>> = self.live_dots_in(&other.context).cloned().collect();
        for dot in covered {
            let Some(element) = self.dots.get(&dot) else {
                continue;
            };
            if other.entries.get(element).is_some_and(|t| t.contains(&dot)) {
                continue;
            }
            let Some(element) = self.dots.remove(&dot) else {
                continue;
            };
            if let Some(dots) = self.entries.get_mut(&element) {
                dots.remove(&dot);
                if dots.is_empty() {
                    self.entries.remove(&element);
                }
            }
            changed = true;
        }
        // Their dots that we have never seen: added.
        for (element, dots) in &other.entries {
            for dot in dots {
                if !self.context.contains(dot) {
                    self.entries
                        .entry(element.clone())
                        .or_default()
                        .insert(dot.clone());
                    self.dots.insert(dot.clone(), element.clone());
                    changed = true;
                }
            }
        }
        changed |= self.context.join(&other.context);
        changed
    }

    /// `self ≤ other` iff joining `self` into `other` changes nothing: `other` has seen every
    /// dot `self` has, and still holds, under the same element, every dot of its own that
    /// `self` has seen. Costs about the smaller side's size times `log`, without cloning.
    fn leq(&self, other: &Self) -> bool {
        let holds = |dot: &Dot<A>, element: &T| {
            self.entries
                .get(element)
                .is_some_and(|dots| dots.contains(dot))
        };
        self.context.leq(&other.context)
            && if other.dots.len() <= self.context.parts_len() {
                other
                    .dots
                    .iter()
                    .filter(|(dot, _)| self.context.contains(dot))
                    .all(|(dot, element)| holds(dot, element))
            } else {
                other.live_dots_in(&self.context).all(|dot| {
                    other
                        .dots
                        .get(dot)
                        .is_some_and(|element| holds(dot, element))
                })
            }
    }

    fn is_bottom(&self) -> bool {
        self.entries.is_empty() && self.context.is_bottom()
    }
}

/// The counters of `dots`, grouped by replica, ascending (`dots` must be sorted).
fn counters_by_replica<'a, A: Ord + 'a>(
    dots: impl Iterator<Item = &'a Dot<A>>,
) -> BTreeMap<&'a A, Vec<u64>> {
    let mut out: BTreeMap<&A, Vec<u64>> = BTreeMap::new();
    for dot in dots {
        out.entry(&dot.replica).or_default().push(dot.counter);
    }
    out
}

impl<T: Ord + Clone, A: Ord + Clone> Decompose for OrSet<T, A> {
    /// One part per live dot (with its element), and one per removed dot (context only).
    ///
    /// **Cost: one part per dot ever seen**, live or removed, so `O(events)` time and memory.
    /// Fine for deltas and small states; a state from an untrusted peer may claim `2^64`
    /// events in a dozen bytes (`{"vv":{"a":18446744073709551615}}`), so never decompose one.
    /// [`difference`](Decompose::difference) does not call this and stays bounded.
    fn decompose(&self) -> Vec<Self> {
        let mut parts = Vec::new();
        let mut live = BTreeSet::new();
        for (element, dots) in &self.entries {
            for dot in dots {
                live.insert(dot.clone());
                parts.push(OrSet::from_entries(
                    BTreeMap::from([(element.clone(), BTreeSet::from([dot.clone()]))]),
                    CausalContext::from_iter([dot.clone()]),
                ));
            }
        }
        let vector_dots = self.context.vector().iter().flat_map(|(replica, count)| {
            (1..=count).map(move |counter| Dot {
                replica: replica.clone(),
                counter,
            })
        });
        for dot in vector_dots.chain(self.context.cloud().cloned()) {
            if !live.contains(&dot) {
                parts.push(OrSet {
                    entries: BTreeMap::new(),
                    dots: BTreeMap::new(),
                    context: CausalContext::from_iter([dot]),
                });
            }
        }
        parts
    }

    /// What `known` lacks of `self`, without enumerating the context: `O((|self| + |d|) log
    /// n)`, where `|x|` counts live dots, loose (cloud) dots and replicas, never the events a
    /// gap-free prefix stands for, and `d` is the result. `known` is only looked up, never
    /// walked, so a small delta costs little however large the state it is checked against.
    ///
    /// `known ⊔ d == known ⊔ self` and `d ≤ self` hold as for the default, and `d` is bottom
    /// exactly when `self ≤ known`. But `d` is not always the join of the parts `known` lacks:
    /// to keep its context a compact prefix it may repeat dots `known` already has (removed
    /// ones as they are, live ones with their element).
    fn difference(&self, known: &Self) -> Self {
        let known_live = &known.dots;
        let self_live = &self.dots;

        // Live dots of `self` that must travel: adds `known` never saw, and (in states built
        // from conflicting histories) dots `known` holds for another element, which the join
        // then drops on both sides.
        let mut entries: BTreeMap<T, BTreeSet<Dot<A>>> = BTreeMap::new();
        // Live dots of `self` that `known` already has or already removed. They need not
        // travel, but a context that covers one must carry it live, or it would remove it.
        let mut optional: BTreeMap<&A, Vec<u64>> = BTreeMap::new();
        // Dots that must travel in the context and that the ranges below do not cover.
        let mut explicit: BTreeSet<Dot<A>> = BTreeSet::new();
        for (dot, element) in self_live {
            if !known.context.contains(dot) {
                entries
                    .entry(element.clone())
                    .or_default()
                    .insert(dot.clone());
                continue;
            }
            match known_live.get(dot) {
                Some(theirs) if theirs != element => {
                    entries
                        .entry(element.clone())
                        .or_default()
                        .insert(dot.clone());
                    explicit.insert(dot.clone());
                }
                _ => optional.entry(&dot.replica).or_default().push(dot.counter),
            }
        }
        // Removals: dots `known` holds live and `self` has seen and dropped. Only `known`'s
        // live dots inside `self`'s context can be, so they are found by range.
        for dot in known.live_dots_in(&self.context) {
            if !self_live.contains_key(dot) {
                explicit.insert(dot.clone());
            }
        }
        // Loose dots of `self` that `known` never saw.
        for dot in self.context.cloud() {
            if !known.context.contains(dot) {
                explicit.insert(dot.clone());
            }
        }

        // Per replica, the diff's context is a prefix `1..=p` plus loose dots above `p`. Each
        // optional dot under the prefix must be carried live; each needed dot above it costs a
        // loose dot. Choose `p` to carry the fewest, the smallest on a tie (so `p = 0`, no
        // entry at all, when nothing in the prefix is new).
        let explicit_by_replica = counters_by_replica(explicit.iter());
        let mut vector = VersionVector::new();
        let mut cloud: BTreeSet<Dot<A>> = BTreeSet::new();
        for (replica, n) in self.context.vector().iter() {
            let m = known.context.vector().get(replica);
            let optional_here: &[u64] = optional.get(replica).map_or(&[], Vec::as_slice);
            // Sorted, as `self_live` is; those above `n` are loose and never under a prefix.
            let optional_here = &optional_here[..optional_here.partition_point(|c| *c <= n)];
            let explicit_here: &[u64] = explicit_by_replica.get(replica).map_or(&[], Vec::as_slice);
            // Events in `(m, n]` are new to `known` unless loose there. Counting those is a
            // walk of `known`'s loose dots, so only a window of `n` proportional to what this
            // replica carries anyway is looked at: prefixes below the window are considered
            // only when the window reaches down to `m` (below `m` the count no longer changes).
            let carried = optional_here.len().saturating_add(explicit_here.len());
            let window = u64::try_from(carried)
                .unwrap_or(u64::MAX)
                .saturating_add(1)
                .saturating_mul(4);
            let floor = m.max(n.saturating_sub(window));
            let known_loose: Vec<u64> = if n > floor {
                // At most `n - floor <= window` distinct counters.
                known
                    .context
                    .loose_between(replica, floor + 1, n)
                    .map(|d| d.counter)
                    .collect()
            } else {
                Vec::new()
            };
            let above = |sorted: &[u64], low: u64| -> u128 {
                (sorted.len() - sorted.partition_point(|c| *c <= low)) as u128
            };
            let between = |sorted: &[u64], low: u64, high: u64| -> u128 {
                (sorted.partition_point(|c| *c <= high) - sorted.partition_point(|c| *c <= low))
                    as u128
            };
            // Needed dots in (p, n]: the events `known` never saw there, plus the explicit ones.
            // Only called with `max(p, m) >= floor`, where `known_loose` is complete.
            let needed_above = |p: u64| -> u128 {
                let low = p.max(m);
                let unseen = if n > low {
                    u128::from(n - low) - between(&known_loose, low, n)
                } else {
                    0
                };
                unseen + above(explicit_here, p)
            };
            let allowed = |p: u64| p.max(m) >= floor;
            // Candidates in ascending order: no prefix, just under each optional dot, all.
            let candidates = std::iter::once((0u64, 0usize))
                .chain(
                    optional_here
                        .iter()
                        .enumerate()
                        .map(|(i, counter)| (counter - 1, i)),
                )
                .chain(std::iter::once((n, optional_here.len())));
            let mut best: Option<(u128, u64)> = None;
            for (p, carried_live) in candidates {
                if !allowed(p) {
                    continue;
                }
                let cost = carried_live as u128 + needed_above(p);
                if best.is_none_or(|(b, _)| cost < b) {
                    best = Some((cost, p));
                }
            }
            // `p = n` is always allowed (`n >= floor`), so there is a best.
            let p = best.map_or(n, |(_, p)| p);
            vector.witness(replica.clone(), p);
            // Optional dots under the prefix travel live.
            for counter in optional_here.iter().take_while(|c| **c <= p) {
                let dot = Dot {
                    replica: replica.clone(),
                    counter: *counter,
                };
                if let Some(element) = self_live.get(&dot) {
                    entries.entry(element.clone()).or_default().insert(dot);
                }
            }
            // Unseen events above the prefix travel as loose dots: at most `n - floor`, and
            // no more than choosing `p = n` would have carried.
            let mut counter = p.max(m);
            while counter < n {
                counter += 1;
                if known_loose.binary_search(&counter).is_err() {
                    cloud.insert(Dot {
                        replica: replica.clone(),
                        counter,
                    });
                }
            }
        }
        for dot in explicit {
            if dot.counter > vector.get(&dot.replica) {
                cloud.insert(dot);
            }
        }
        OrSet::from_entries(entries, CausalContext::from_vector_and_cloud(vector, cloud))
    }
}

impl<T: Ord + Clone, A: Ord + Clone> Resettable for OrSet<T, A> {
    /// The adds `observed` has not seen; the context is kept whole.
    fn reset_by(&self, observed: &Self) -> Self {
        self.without_seen(&observed.context)
    }
}

#[cfg(all(test, feature = "laws"))]
mod tests {
    use super::*;
    use quickcheck::QuickCheck;

    /// The dot index is exactly the entries seen by dot, and every live dot is in the context.
    fn consistent<T: Ord + Clone, A: Ord + Clone>(set: &OrSet<T, A>) -> bool {
        let rebuilt = OrSet::from_entries(set.entries.clone(), set.context.clone());
        rebuilt.dots == set.dots
            && set.dots.keys().all(|d| set.context.contains(d))
            && set.entries.values().all(|dots| !dots.is_empty())
    }

    #[test]
    fn the_dot_index_follows_every_operation() {
        fn prop(a: OrSet<u8, u8>, b: OrSet<u8, u8>, ops: Vec<(bool, u8, u8)>) -> bool {
            let mut x = a.clone();
            x.join(&b);
            let mut ok = consistent(&a) && consistent(&b) && consistent(&x);
            for (add, replica, value) in ops.into_iter().take(16) {
                let (replica, value) = (replica % 3, value % 6);
                let delta = if add {
                    x.insert(replica, value).unwrap_or_default()
                } else {
                    x.remove(&value)
                };
                ok &= consistent(&x) && consistent(&delta);
            }
            let mut y = b.clone();
            y.join(&x);
            ok &= consistent(&y) && consistent(&x.difference(&a)) && consistent(&a.difference(&x));
            ok &= x.decompose().iter().all(consistent);
            let json = serde_json::to_string(&x).unwrap_or_default();
            ok &= serde_json::from_str::<OrSet<u8, u8>>(&json)
                .is_ok_and(|d| d == x && consistent(&d));
            ok
        }
        QuickCheck::new()
            .quickcheck(prop as fn(OrSet<u8, u8>, OrSet<u8, u8>, Vec<(bool, u8, u8)>) -> bool);
    }
}
