//! `OrSet`: the observed-remove, add-wins set. Elements can come back after removal.
//!
//! Each add is tagged with a fresh [`Dot`]; a remove deletes only the dots it has *observed*.
//! An add concurrent with a remove carries a dot the remove never saw, so it survives
//! ("add wins"), and re-adding after a remove simply makes a new dot. A causal context records
//! every dot ever seen, so a replica can tell "removed" (seen, gone) from "not yet arrived".
//! This is the delta-state formulation of Almeida, Shoker and Baquero: deltas are small and
//! need no causal delivery.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::{CausalContext, CrdtError, Decompose, Dot, Lattice};

/// An add-wins observed-remove set.
///
/// JSON: `{"entries":[[element,[[replica,counter],..]],..],"context":{"vv":{..},"cloud":[..]}}`:
/// each present element with the dots of the adds that keep it alive, and the causal context.
/// Entries are an array of pairs, not an object, so elements need not be strings.
///
/// ```
/// use gossip_crdt::{Lattice, OrSet};
///
/// let mut a = OrSet::new();
/// a.add("a", "milk")?;
/// let mut b = a.clone();
///
/// let removal = a.remove(&"milk"); // a removes milk ...
/// let re_add = b.add("b", "milk")?; // ... while b adds it again, concurrently
/// a.join(&re_add);
/// b.join(&removal);
/// assert!(a.contains(&"milk") && b.contains(&"milk")); // the add wins
/// assert_eq!(a, b);
/// # Ok::<(), gossip_crdt::CrdtError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "OrSetRepr<T, A>", into = "OrSetRepr<T, A>")]
#[serde(bound(
    serialize = "T: Ord + Clone + Serialize, A: Ord + Clone + Serialize",
    deserialize = "T: Ord + Clone + Deserialize<'de>, A: Ord + Clone + Deserialize<'de>"
))]
pub struct OrSet<T: Ord, A: Ord> {
    /// Present elements and the live dots that support them; never an empty dot set.
    entries: BTreeMap<T, BTreeSet<Dot<A>>>,
    /// Every dot this replica has seen, live or removed.
    context: CausalContext<A>,
}

/// The wire form.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(bound(
    serialize = "T: Serialize, A: Ord + Serialize",
    deserialize = "T: Deserialize<'de>, A: Ord + Clone + Deserialize<'de>"
))]
struct OrSetRepr<T, A: Ord> {
    entries: Vec<(T, Vec<Dot<A>>)>,
    context: CausalContext<A>,
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
        let mut seen = BTreeSet::new();
        for (element, dots) in repr.entries {
            for dot in dots {
                if !repr.context.contains(&dot) {
                    return Err(MalformedOrSet("an entry's dot is missing from the context"));
                }
                if !seen.insert(dot.clone()) {
                    return Err(MalformedOrSet("a dot supports two entries"));
                }
                entries.entry(element.clone()).or_default().insert(dot);
            }
        }
        Ok(OrSet {
            entries,
            context: repr.context,
        })
    }
}

impl<T: Ord + Clone, A: Ord + Clone> From<OrSet<T, A>> for OrSetRepr<T, A> {
    fn from(set: OrSet<T, A>) -> Self {
        OrSetRepr {
            entries: set
                .entries
                .into_iter()
                .map(|(t, dots)| (t, dots.into_iter().collect()))
                .collect(),
            context: set.context,
        }
    }
}

impl<T: Ord, A: Ord> Default for OrSet<T, A> {
    fn default() -> Self {
        OrSet {
            entries: BTreeMap::new(),
            context: CausalContext::default(),
        }
    }
}

impl<T: Ord + Clone, A: Ord + Clone> OrSet<T, A> {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The delta that adds `value` on behalf of `replica`, without applying it: a fresh dot
    /// for `value`, whose context also covers the dots it replaces.
    pub fn add_delta(&self, replica: A, value: T) -> Result<Self, CrdtError> {
        let dot = self.context.next_dot(replica).ok_or(CrdtError::Overflow {
            operation: "OrSet::add",
        })?;
        let mut context: CausalContext<A> = self
            .entries
            .get(&value)
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        context.insert(dot.clone());
        Ok(OrSet {
            entries: BTreeMap::from([(value, BTreeSet::from([dot]))]),
            context,
        })
    }

    /// Adds `value` on behalf of `replica` and returns the delta.
    pub fn add(&mut self, replica: A, value: T) -> Result<Self, CrdtError> {
        let delta = self.add_delta(replica, value)?;
        self.join(&delta);
        Ok(delta)
    }

    /// The delta that removes `value` as this replica sees it, without applying it: no
    /// entries, and a context holding the dots being removed. Adds this replica has not seen
    /// survive it. Removing an absent element gives the empty delta.
    pub fn remove_delta(&self, value: &T) -> Self {
        OrSet {
            entries: BTreeMap::new(),
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

    /// Assembles a state from entries whose dots all lie in `context` (the caller's promise).
    #[cfg(feature = "laws")]
    pub(crate) fn from_parts(entries: BTreeMap<T, Vec<Dot<A>>>, context: CausalContext<A>) -> Self {
        OrSet {
            entries: entries
                .into_iter()
                .map(|(t, dots)| (t, dots.into_iter().collect()))
                .filter(|(_, dots): &(T, BTreeSet<Dot<A>>)| !dots.is_empty())
                .collect(),
            context,
        }
    }
}

impl<T: Ord + Clone, A: Ord + Clone> Lattice for OrSet<T, A> {
    /// A dot survives if both sides have it, or if one side has it and the other has never
    /// seen it; a dot one side has seen but no longer holds was removed there.
    fn join(&mut self, other: &Self) -> bool {
        let mut changed = false;
        // Our dots that the other side saw and dropped: removed.
        self.entries.retain(|element, dots| {
            let theirs = other.entries.get(element);
            let before = dots.len();
            dots.retain(|d| theirs.is_some_and(|t| t.contains(d)) || !other.context.contains(d));
            changed |= dots.len() != before;
            !dots.is_empty()
        });
        // Their dots that we have never seen: added.
        for (element, dots) in &other.entries {
            for dot in dots {
                if !self.context.contains(dot) {
                    self.entries
                        .entry(element.clone())
                        .or_default()
                        .insert(dot.clone());
                    changed = true;
                }
            }
        }
        changed |= self.context.join(&other.context);
        changed
    }

    fn is_bottom(&self) -> bool {
        self.entries.is_empty() && self.context.is_bottom()
    }
}

impl<T: Ord + Clone, A: Ord + Clone> Decompose for OrSet<T, A> {
    /// One part per live dot (with its element), and one per removed dot (context only).
    fn decompose(&self) -> Vec<Self> {
        let mut parts = Vec::new();
        let mut live = BTreeSet::new();
        for (element, dots) in &self.entries {
            for dot in dots {
                live.insert(dot.clone());
                parts.push(OrSet {
                    entries: BTreeMap::from([(element.clone(), BTreeSet::from([dot.clone()]))]),
                    context: CausalContext::from_iter([dot.clone()]),
                });
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
                    context: CausalContext::from_iter([dot]),
                });
            }
        }
        parts
    }
}
