//! `OrMap`: an observed-remove map whose values are themselves CRDTs, maps included.
//!
//! Which keys are present is an [`OrSet`] of keys: every update of a key tags it with a fresh
//! dot, and a remove takes away the dots it has seen, so an update concurrent with a remove
//! keeps the key ("update wins"). Values merge with their own join, key by key, so a delta
//! that updates one key carries that key's presence dot and value delta and nothing else.
//!
//! A remove also *resets* the value: what the remover saw is recorded as the key's floor, and
//! the key shows its value with the floor taken away ([`Resettable`]). After a remove
//! concurrent with an update, the key holds the concurrent update alone, as if it had been
//! applied to a fresh value; the old contents do not come back.

use std::collections::BTreeMap;

use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::wire::MapOnly;
use crate::{CausalContext, CrdtError, Decompose, Lattice, OrSet, Resettable};

/// An observed-remove map from keys to CRDT values, with reset-remove.
///
/// - **Update** ([`update`](Self::update)) hands the closure the key's stored value; the
///   closure returns a delta of the value's own type, made with the value's `*_delta`
///   mutators. The map's delta carries that value delta and the key's new presence dot.
/// - **Remove** ([`remove`](Self::remove)) takes away the updates this replica has seen:
///   the key disappears unless a concurrent update survives, and then the key shows only what
///   the concurrent updates did.
/// - **Read** ([`get`](Self::get)) returns the value as the application sees it, the
///   stored value with everything removes observed taken away.
///
/// Compute value deltas only inside `update`, from the value it hands you: that is the stored
/// value, which still holds what removes took away (a counter's delta is the writer's whole
/// entry, so it must be computed from the whole entry). A delta computed from [`get`]'s
/// answer would be below what is stored and change nothing.
///
/// JSON: `{"keys":<OrSet of keys>,"values":[[key,value],..],"floors":[[key,value],..]}`;
/// `values` and `floors` list only non-empty values, in key order. Keys need not be strings;
/// replica ids must be (or integers), as in [`OrSet`]: tuple ids fail to encode at run time.
///
/// ```
/// use gossip_crdt::{Lattice, OrMap, PnCounter};
///
/// let mut a: OrMap<&str, PnCounter<&str>, &str> = OrMap::new();
/// a.update("a", "apples", |n| n.increment_delta("a", 5))?;
/// let mut b = a.clone();
///
/// let removal = a.remove(&"apples"); // a removes the key, having seen the 5 ...
/// let more = b.update("b", "apples", |n| n.increment_delta("b", 2))?; // ... as b adds 2
/// a.join(&more);
/// b.join(&removal);
/// assert_eq!(a, b);
/// // The key stays (b's update was not seen by the remove) and shows b's 2 alone.
/// assert_eq!(a.get(&"apples").map(|n| n.value()), Some(2));
/// # Ok::<(), gossip_crdt::CrdtError>(())
/// ```
///
/// [`get`]: Self::get
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrMap<K: Ord, V, A: Ord> {
    /// The present keys, each with the dots of the updates that keep it alive.
    keys: OrSet<K, A>,
    /// Every value ever written, by key, present or not; never a bottom value.
    values: BTreeMap<K, V>,
    /// What removes observed of each key's value; never a bottom value.
    floors: BTreeMap<K, V>,
}

impl<K: Ord, V, A: Ord> Default for OrMap<K, V, A> {
    fn default() -> Self {
        OrMap {
            keys: OrSet::default(),
            values: BTreeMap::new(),
            floors: BTreeMap::new(),
        }
    }
}

/// Joins `other` into `mine` key by key; `true` iff something changed. Cost: `O(|other|
/// log |mine|)` lookups plus the values' joins.
fn join_values<K: Ord + Clone, V: Lattice>(
    mine: &mut BTreeMap<K, V>,
    other: &BTreeMap<K, V>,
) -> bool {
    let mut changed = false;
    for (key, value) in other {
        match mine.get_mut(key) {
            Some(have) => changed |= have.join(value),
            None if value.is_bottom() => {}
            None => {
                mine.insert(key.clone(), value.clone());
                changed = true;
            }
        }
    }
    changed
}

/// `true` iff every value of `mine` is `≤` the value under the same key in `other`. Looks up
/// the smaller side: a map with more (non-bottom) values than `other` cannot be below it.
fn values_leq<K: Ord, V: Lattice>(mine: &BTreeMap<K, V>, other: &BTreeMap<K, V>) -> bool {
    mine.len() <= other.len()
        && mine
            .iter()
            .all(|(key, value)| other.get(key).is_some_and(|o| value.leq(o)))
}

/// What `known` lacks of `mine`, key by key.
fn values_difference<K: Ord + Clone, V: Decompose>(
    mine: &BTreeMap<K, V>,
    known: &BTreeMap<K, V>,
) -> BTreeMap<K, V> {
    mine.iter()
        .filter_map(|(key, value)| {
            let diff = match known.get(key) {
                Some(theirs) => value.difference(theirs),
                None => value.clone(),
            };
            (!diff.is_bottom()).then(|| (key.clone(), diff))
        })
        .collect()
}

impl<K: Ord + Clone, V: Resettable, A: Ord + Clone> OrMap<K, V, A> {
    /// The empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The delta that updates `key` on behalf of `replica`, without applying it. `change`
    /// receives the key's stored value (bottom if never written) and returns the value delta,
    /// made with the value's own `*_delta` mutator; its error is returned as is.
    ///
    /// The delta holds `key` alone: a fresh presence dot (whose context replaces the key's
    /// earlier dots) and the value delta, whatever the size of the map.
    pub fn update_delta<E: From<CrdtError>>(
        &self,
        replica: A,
        key: K,
        change: impl FnOnce(&V) -> Result<V, E>,
    ) -> Result<Self, E> {
        let value = match self.values.get(&key) {
            Some(stored) => change(stored)?,
            None => change(&V::default())?,
        };
        let keys = self.keys.insert_delta(replica, key.clone())?;
        let mut values = BTreeMap::new();
        if !value.is_bottom() {
            values.insert(key, value);
        }
        Ok(OrMap {
            keys,
            values,
            floors: BTreeMap::new(),
        })
    }

    /// Updates `key` on behalf of `replica` (see [`update_delta`](Self::update_delta)) and
    /// returns the delta. On error the map is unchanged.
    pub fn update<E: From<CrdtError>>(
        &mut self,
        replica: A,
        key: K,
        change: impl FnOnce(&V) -> Result<V, E>,
    ) -> Result<Self, E> {
        let delta = self.update_delta(replica, key, change)?;
        self.join(&delta);
        Ok(delta)
    }

    /// The delta that removes `key` as this replica sees it, without applying it: the key's
    /// presence dots (as removed) and its current value as the floor. Updates this replica
    /// has not seen survive it. Removing an absent key gives the empty delta.
    pub fn remove_delta(&self, key: &K) -> Self {
        if !self.keys.contains(key) {
            return OrMap::default();
        }
        let floors = self
            .values
            .get(key)
            .map(|value| BTreeMap::from([(key.clone(), value.clone())]))
            .unwrap_or_default();
        OrMap {
            keys: self.keys.remove_delta(key),
            values: BTreeMap::new(),
            floors,
        }
    }

    /// Removes `key` (the updates observed so far) and returns the delta.
    pub fn remove(&mut self, key: &K) -> Self {
        let delta = self.remove_delta(key);
        self.join(&delta);
        delta
    }

    /// `true` iff some update of `key` is live.
    pub fn contains_key(&self, key: &K) -> bool {
        self.keys.contains(key)
    }

    /// The value of `key` as the application sees it (what removes observed taken away), or
    /// `None` if the key is absent. A present key whose updates changed nothing shows bottom.
    pub fn get(&self, key: &K) -> Option<V> {
        if !self.keys.contains(key) {
            return None;
        }
        let value = self.values.get(key).cloned().unwrap_or_default();
        Some(match self.floors.get(key) {
            Some(floor) => value.reset_by(floor),
            None => value,
        })
    }

    /// The present keys, in ascending order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &K> {
        self.keys.iter()
    }

    /// The present keys with their values as [`get`](Self::get) gives them, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, V)> {
        self.keys
            .iter()
            .map(|key| (key, self.get(key).unwrap_or_default()))
    }

    /// How many keys are present.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// `true` iff no key is present.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Every presence dot this replica has seen, live or removed.
    pub fn context(&self) -> &CausalContext<A> {
        self.keys.context()
    }

    /// Assembles a map from its parts, dropping bottom values.
    #[cfg(feature = "laws")]
    pub(crate) fn from_parts(
        keys: OrSet<K, A>,
        values: BTreeMap<K, V>,
        floors: BTreeMap<K, V>,
    ) -> Self {
        OrMap {
            keys,
            values: values.into_iter().filter(|(_, v)| !v.is_bottom()).collect(),
            floors: floors.into_iter().filter(|(_, v)| !v.is_bottom()).collect(),
        }
    }
}

impl<K: Ord + Clone, V: Lattice, A: Ord + Clone> Lattice for OrMap<K, V, A> {
    /// The keys join as an OR-Set, values and floors key by key.
    ///
    /// Cost: the key set's join (`O((d + removed) log n)`, see [`OrSet`]) plus one lookup and
    /// one value join per key `other` carries: a delta for one key costs one key's work,
    /// however large the map.
    fn join(&mut self, other: &Self) -> bool {
        let keys = self.keys.join(&other.keys);
        let values = join_values(&mut self.values, &other.values);
        let floors = join_values(&mut self.floors, &other.floors);
        keys || values || floors
    }

    /// Component by component; each side's values are looked up in the other only when it
    /// has no more of them, so the cost is about the smaller side's.
    fn leq(&self, other: &Self) -> bool {
        values_leq(&self.values, &other.values)
            && values_leq(&self.floors, &other.floors)
            && self.keys.leq(&other.keys)
    }

    fn is_bottom(&self) -> bool {
        self.keys.is_bottom() && self.values.is_empty() && self.floors.is_empty()
    }
}

impl<K: Ord + Clone, V: Decompose, A: Ord + Clone> Decompose for OrMap<K, V, A> {
    /// The key set's parts, then each value's and each floor's parts under their key.
    ///
    /// Like [`OrSet::decompose`], this makes one part per presence dot ever seen: never call
    /// it on a state from an untrusted peer. [`difference`](Decompose::difference) does not.
    fn decompose(&self) -> Vec<Self> {
        let mut parts: Vec<Self> = self
            .keys
            .decompose()
            .into_iter()
            .map(|keys| OrMap {
                keys,
                values: BTreeMap::new(),
                floors: BTreeMap::new(),
            })
            .collect();
        for (key, value) in &self.values {
            parts.extend(value.decompose().into_iter().map(|part| OrMap {
                keys: OrSet::default(),
                values: BTreeMap::from([(key.clone(), part)]),
                floors: BTreeMap::new(),
            }));
        }
        for (key, floor) in &self.floors {
            parts.extend(floor.decompose().into_iter().map(|part| OrMap {
                keys: OrSet::default(),
                values: BTreeMap::new(),
                floors: BTreeMap::from([(key.clone(), part)]),
            }));
        }
        parts
    }

    /// The key set's difference, and each value's and floor's difference against the same
    /// key in `known`. Walks `self` (the delta) and looks `known` up: `O(|self| log n)` plus
    /// the values' own differences.
    fn difference(&self, known: &Self) -> Self {
        OrMap {
            keys: self.keys.difference(&known.keys),
            values: values_difference(&self.values, &known.values),
            floors: values_difference(&self.floors, &known.floors),
        }
    }
}

impl<K: Ord + Clone, V: Resettable, A: Ord + Clone> Resettable for OrMap<K, V, A> {
    /// The keys whose updates `observed` had not all seen, each reset by what `observed`
    /// held under it: a map removed from its parent map resets key by key.
    fn reset_by(&self, observed: &Self) -> Self {
        let mut floors = self.floors.clone();
        join_values(&mut floors, &observed.values);
        join_values(&mut floors, &observed.floors);
        OrMap {
            keys: self.keys.without_seen(observed.keys.context()),
            values: self.values.clone(),
            floors,
        }
    }
}

impl<K: Ord + Serialize, V: Serialize, A: Ord + Serialize> Serialize for OrMap<K, V, A> {
    /// Borrows the state: `{"keys":..,"values":[[key,value],..],"floors":[[key,value],..]}`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        /// A map as an array of `[key, value]` pairs, so keys need not be strings.
        struct Pairs<'a, K, V>(&'a BTreeMap<K, V>);

        impl<K: Serialize, V: Serialize> Serialize for Pairs<'_, K, V> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_seq(self.0.iter())
            }
        }

        let mut state = serializer.serialize_struct("OrMap", 3)?;
        state.serialize_field("keys", &self.keys)?;
        state.serialize_field("values", &Pairs(&self.values))?;
        state.serialize_field("floors", &Pairs(&self.floors))?;
        state.end()
    }
}

/// The wire form, before its invariants are checked.
#[derive(Deserialize)]
#[serde(rename = "OrMap", deny_unknown_fields)]
#[serde(bound(
    deserialize = "K: Ord + Clone + Deserialize<'de>, V: Deserialize<'de>, A: Ord + Clone + Deserialize<'de>"
))]
struct OrMapRepr<K: Ord, V, A: Ord> {
    keys: OrSet<K, A>,
    values: Vec<(K, V)>,
    floors: Vec<(K, V)>,
}

/// A list of `[key, value]` pairs as a map: a key listed twice is refused (two values for one
/// key is no state the map produces), bottom values are dropped.
fn pairs_to_map<K: Ord, V: Lattice>(
    pairs: Vec<(K, V)>,
    what: &'static str,
) -> Result<BTreeMap<K, V>, String> {
    let mut out = BTreeMap::new();
    for (key, value) in pairs {
        if out.contains_key(&key) {
            return Err(format!("malformed OrMap: a key is listed twice in {what}"));
        }
        if !value.is_bottom() {
            out.insert(key, value);
        }
    }
    Ok(out)
}

impl<'de, K, V, A> Deserialize<'de> for OrMap<K, V, A>
where
    K: Ord + Clone + Deserialize<'de>,
    V: Lattice + Deserialize<'de>,
    A: Ord + Clone + Deserialize<'de>,
{
    /// Refuses a key listed twice in `values` or `floors`; drops bottom values. The key set
    /// is checked as an [`OrSet`]. Values and floors may name absent keys: that is a removed
    /// key's history.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let repr = OrMapRepr::deserialize(MapOnly(deserializer))?;
        let values = pairs_to_map(repr.values, "values").map_err(serde::de::Error::custom)?;
        let floors = pairs_to_map(repr.floors, "floors").map_err(serde::de::Error::custom)?;
        Ok(OrMap {
            keys: repr.keys,
            values,
            floors,
        })
    }
}
