//! Named maps for the common cases: counters, multi-value registers and sets by key.
//!
//! Each is an alias of [`OrMap`] with methods that do the nested update in one call, so that
//! the value delta is always computed from the stored value (see [`OrMap`] for why).

use crate::{CrdtError, MvRegister, OrMap, OrSet, PnCounter};

/// Counters by key: `likes["post-1"] += 1`. A remove resets the counter: increments the
/// remove saw are gone, concurrent ones count.
///
/// ```
/// use gossip_crdt::{CounterMap, Lattice};
///
/// let mut a: CounterMap<&str, &str> = CounterMap::new();
/// a.increment("a", "post-1", 3)?;
/// let mut b = a.clone();
/// let reset = a.remove(&"post-1");
/// let like = b.increment("b", "post-1", 1)?; // concurrent with the reset
/// a.join(&like);
/// b.join(&reset);
/// assert_eq!((a.value(&"post-1"), b.value(&"post-1")), (1, 1));
/// assert_eq!(a.value(&"post-2"), 0);
/// # Ok::<(), gossip_crdt::CrdtError>(())
/// ```
pub type CounterMap<K, A> = OrMap<K, PnCounter<A>, A>;

impl<K: Ord + Clone, A: Ord + Clone> OrMap<K, PnCounter<A>, A> {
    /// The delta that adds `by` to `key`'s counter, without applying it.
    pub fn increment_delta(&self, replica: A, key: K, by: u64) -> Result<Self, CrdtError> {
        self.update_delta(replica.clone(), key, |counter| {
            counter.increment_delta(replica, by)
        })
    }

    /// Adds `by` to `key`'s counter and returns the delta.
    pub fn increment(&mut self, replica: A, key: K, by: u64) -> Result<Self, CrdtError> {
        self.update(replica.clone(), key, |counter| {
            counter.increment_delta(replica, by)
        })
    }

    /// The delta that subtracts `by` from `key`'s counter, without applying it.
    pub fn decrement_delta(&self, replica: A, key: K, by: u64) -> Result<Self, CrdtError> {
        self.update_delta(replica.clone(), key, |counter| {
            counter.decrement_delta(replica, by)
        })
    }

    /// Subtracts `by` from `key`'s counter and returns the delta.
    pub fn decrement(&mut self, replica: A, key: K, by: u64) -> Result<Self, CrdtError> {
        self.update(replica.clone(), key, |counter| {
            counter.decrement_delta(replica, by)
        })
    }

    /// `key`'s value since its last observed remove; 0 for an absent key.
    pub fn value(&self, key: &K) -> i128 {
        self.get(key).map_or(0, |counter| counter.value())
    }

    /// The delta that adds `by` (negative to subtract) to `key`'s counter, without applying it.
    #[deprecated(note = "use `increment_delta` or `decrement_delta`")]
    pub fn add_delta(&self, replica: A, key: K, by: i64) -> Result<Self, CrdtError> {
        if by < 0 {
            self.decrement_delta(replica, key, by.unsigned_abs())
        } else {
            self.increment_delta(replica, key, by.unsigned_abs())
        }
    }

    /// Adds `by` (negative to subtract) to `key`'s counter and returns the delta.
    #[deprecated(note = "use `increment` or `decrement`")]
    pub fn add(&mut self, replica: A, key: K, by: i64) -> Result<Self, CrdtError> {
        if by < 0 {
            self.decrement(replica, key, by.unsigned_abs())
        } else {
            self.increment(replica, key, by.unsigned_abs())
        }
    }

    /// Renamed [`value`](Self::value); this alias goes in the next release.
    #[deprecated(note = "renamed to `value`")]
    pub fn count(&self, key: &K) -> i128 {
        self.value(key)
    }
}

/// Multi-value registers by key: a document store that keeps concurrent writes of a field
/// as siblings instead of losing one. A remove drops the writes it saw.
///
/// ```
/// use gossip_crdt::{Lattice, RegisterMap};
///
/// let mut a: RegisterMap<&str, &str, &str> = RegisterMap::new();
/// let mut b = a.clone();
/// a.write("a", "title", "Draft")?;
/// b.write("b", "title", "Final")?;
/// a.join(&b);
/// assert_eq!(a.read(&"title"), vec!["Draft", "Final"]); // a conflict, both kept
/// a.write("a", "title", "Final draft")?; // resolved: this write saw both
/// assert_eq!(a.read(&"title"), vec!["Final draft"]);
/// # Ok::<(), gossip_crdt::CrdtError>(())
/// ```
pub type RegisterMap<K, T, A> = OrMap<K, MvRegister<T, A>, A>;

impl<K: Ord + Clone, T: Ord + Clone, A: Ord + Clone> OrMap<K, MvRegister<T, A>, A> {
    /// The delta that writes `value` under `key`, overwriting every write seen here, without
    /// applying it.
    pub fn write_delta(&self, replica: A, key: K, value: T) -> Result<Self, CrdtError> {
        self.update_delta(replica.clone(), key, |register| {
            register.write_delta(replica, value)
        })
    }

    /// Writes `value` under `key` and returns the delta.
    pub fn write(&mut self, replica: A, key: K, value: T) -> Result<Self, CrdtError> {
        self.update(replica.clone(), key, |register| {
            register.write_delta(replica, value)
        })
    }

    /// `key`'s current values: one, several after concurrent writes, none if absent.
    pub fn read(&self, key: &K) -> Vec<T> {
        self.get(key)
            .map(|register| register.read().cloned().collect())
            .unwrap_or_default()
    }
}

/// Add-wins sets by key: tags per document, members per group. Removing a key empties the
/// set of what the remove saw; an element added concurrently stays.
///
/// ```
/// use gossip_crdt::{Lattice, SetMap};
///
/// let mut a: SetMap<&str, &str, &str> = SetMap::new();
/// a.insert("a", "doc-1", "draft")?;
/// let mut b = a.clone();
/// let cleared = a.remove(&"doc-1");
/// let tagged = b.insert("b", "doc-1", "urgent")?;
/// a.join(&tagged);
/// b.join(&cleared);
/// assert_eq!(a.elements(&"doc-1"), vec!["urgent"]);
/// assert_eq!(a, b);
/// # Ok::<(), gossip_crdt::CrdtError>(())
/// ```
pub type SetMap<K, T, A> = OrMap<K, OrSet<T, A>, A>;

impl<K: Ord + Clone, T: Ord + Clone, A: Ord + Clone> OrMap<K, OrSet<T, A>, A> {
    /// The delta that inserts `element` into `key`'s set, without applying it.
    pub fn insert_delta(&self, replica: A, key: K, element: T) -> Result<Self, CrdtError> {
        self.update_delta(replica.clone(), key, |set| {
            set.insert_delta(replica, element)
        })
    }

    /// Inserts `element` into `key`'s set and returns the delta.
    pub fn insert(&mut self, replica: A, key: K, element: T) -> Result<Self, CrdtError> {
        self.update(replica.clone(), key, |set| {
            set.insert_delta(replica, element)
        })
    }

    /// The delta that removes `element` (the inserts seen here) from `key`'s set, without
    /// applying it. The key stays, with the rest of its set. Named apart from
    /// [`remove`](OrMap::remove), which removes the key; it updates the key, so like
    /// [`insert`](Self::insert) it draws a presence dot and can fail.
    pub fn remove_element_delta(&self, replica: A, key: K, element: &T) -> Result<Self, CrdtError> {
        self.update_delta(replica, key, |set| Ok(set.remove_delta(element)))
    }

    /// Removes `element` from `key`'s set and returns the delta.
    pub fn remove_element(&mut self, replica: A, key: K, element: &T) -> Result<Self, CrdtError> {
        self.update(replica, key, |set| Ok(set.remove_delta(element)))
    }

    /// `true` iff `key` is present and its set contains `element`.
    pub fn contains_element(&self, key: &K, element: &T) -> bool {
        self.get(key).is_some_and(|set| set.contains(element))
    }

    /// The elements of `key`'s set, in ascending order; none if the key is absent.
    pub fn elements(&self, key: &K) -> Vec<T> {
        self.get(key)
            .map(|set| set.iter().cloned().collect())
            .unwrap_or_default()
    }
}
