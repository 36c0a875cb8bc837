//! Dots and causal contexts: which events a replica has seen, including out-of-order ones.
//!
//! A *dot* names one event: the replica that produced it and that replica's event number.
//! A causal context is a set of dots, stored as a version vector for the gap-free prefix of
//! each replica plus a "cloud" of dots that arrived ahead of a gap (deltas can arrive in any
//! order). [`OrSet`](crate::OrSet) uses it to tell "removed" from "never seen".

use std::collections::BTreeSet;
use std::ops::Bound;

use serde::{Deserialize, Deserializer, Serialize};

use crate::wire::MapOnly;
use crate::{Lattice, VersionVector};

/// One event: the `counter`-th event of `replica`. Counters start at 1.
///
/// JSON: a two-element array `[replica, counter]`. `Copy` when the replica id is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dot<A> {
    /// The replica that produced the event.
    pub replica: A,
    /// Its position in that replica's events, from 1.
    pub counter: u64,
}

impl<A: Serialize> Serialize for Dot<A> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (&self.replica, self.counter).serialize(serializer)
    }
}

impl<'de, A: Deserialize<'de>> Deserialize<'de> for Dot<A> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (replica, counter) = <(A, u64)>::deserialize(deserializer)?;
        Ok(Dot { replica, counter })
    }
}

/// A set of dots, compact where it is gap-free.
///
/// Invariant (kept by every method, checked on deserialisation by normalising): no cloud dot
/// is covered by the vector, and no cloud dot directly extends it, so equal sets of dots have
/// equal representations.
///
/// JSON: `{"vv":{"a":3},"cloud":[["b",5]]}`. Replica ids are keys of `vv`, so in JSON they
/// must be strings or integers; tuple ids fail to encode at run time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct CausalContext<A: Ord> {
    vv: VersionVector<A>,
    cloud: BTreeSet<Dot<A>>,
}

/// The wire form, before normalisation.
#[derive(Deserialize)]
#[serde(rename = "CausalContext", deny_unknown_fields)]
#[serde(bound(deserialize = "A: Ord + Deserialize<'de>"))]
struct CausalContextRepr<A: Ord> {
    vv: VersionVector<A>,
    cloud: BTreeSet<Dot<A>>,
}

impl<'de, A: Ord + Clone + Deserialize<'de>> Deserialize<'de> for CausalContext<A> {
    /// Decodes any set of dots and normalises it (covered and zero dots dropped, dots that
    /// extend the vector absorbed), so equal sets of dots decode to equal values.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let repr = CausalContextRepr::deserialize(MapOnly(deserializer))?;
        Ok(CausalContext::from_vector_and_cloud(repr.vv, repr.cloud))
    }
}

impl<A: Ord> Default for CausalContext<A> {
    fn default() -> Self {
        CausalContext {
            vv: VersionVector::default(),
            cloud: BTreeSet::new(),
        }
    }
}

impl<A: Ord + Clone> CausalContext<A> {
    /// The empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// `true` iff `dot` has been seen. A dot with counter 0 names no event and is never seen.
    pub fn contains(&self, dot: &Dot<A>) -> bool {
        dot.counter > 0 && (dot.counter <= self.vv.get(&dot.replica) || self.cloud.contains(dot))
    }

    /// The highest counter seen from `replica`, gaps or not. `O(log n)`: the last loose dot of
    /// `replica` is found by range, not by walking them all.
    pub fn max_counter(&self, replica: &A) -> u64 {
        let gap_free = self.vv.get(replica);
        let ahead = self.loose_of(replica).next_back().map_or(0, |d| d.counter);
        gap_free.max(ahead)
    }

    /// The loose dots of `replica`, in counter order.
    fn loose_of(&self, replica: &A) -> std::collections::btree_set::Range<'_, Dot<A>> {
        self.loose_between(replica, 1, u64::MAX)
    }

    /// The loose dots of `replica` with counters in `low..=high` (none if `low > high`).
    pub(crate) fn loose_between(
        &self,
        replica: &A,
        low: u64,
        high: u64,
    ) -> std::collections::btree_set::Range<'_, Dot<A>> {
        let from = Dot {
            replica: replica.clone(),
            counter: low,
        };
        if low > high {
            // Empty: `from..from` is a range `BTreeSet::range` accepts.
            return self.cloud.range(from.clone()..from);
        }
        let to = Dot {
            replica: replica.clone(),
            counter: high,
        };
        self.cloud.range(from..=to)
    }

    /// Raises `replica`'s vector entry to `count`; `true` iff it grew. Clones the id only
    /// for a replica the vector does not name yet.
    fn raise(&mut self, replica: &A, count: u64) -> bool {
        match self.vv.entry_mut(replica) {
            Some(have) if *have >= count => false,
            Some(have) => {
                *have = count;
                true
            }
            None => self.vv.witness(replica.clone(), count),
        }
    }

    /// The next fresh dot for `replica` (not yet in the context), or `None` at `u64::MAX`.
    pub fn next_dot(&self, replica: A) -> Option<Dot<A>> {
        let counter = self.max_counter(&replica).checked_add(1)?;
        Some(Dot { replica, counter })
    }

    /// Adds one dot; returns `true` iff it was new.
    pub fn insert(&mut self, dot: Dot<A>) -> bool {
        // One lookup of the vector decides and does the common case, the next dot of a known
        // replica (this runs once per delta and replica, and vectors have an entry per
        // replica).
        if let Some(have) = self.vv.entry_mut(&dot.replica)
            && have.checked_add(1) == Some(dot.counter)
            && self.cloud.is_empty()
        {
            *have = dot.counter;
            return true;
        }
        let have = self.vv.get(&dot.replica);
        if dot.counter <= have {
            return false; // covered, or the invalid counter 0
        }
        // `have < dot.counter`, so `have + 1` cannot overflow.
        if dot.counter != have + 1 {
            // Ahead of a gap: it waits in the cloud (nothing there can be absorbed yet).
            return self.cloud.insert(dot);
        }
        // Extends the gap-free prefix, and may close a gap: absorb the run that follows.
        self.raise(&dot.replica, dot.counter);
        self.absorb_run(&dot.replica);
        true
    }

    /// Restores the invariant for one replica after its vector entry grew: drops the loose
    /// dots the entry now covers and moves into the entry the run that directly extends it.
    /// Each step removes a loose dot, so the cost is `O((1 + removed) log n)`, paid for by the
    /// inserts that put those dots there.
    fn absorb_run(&mut self, replica: &A) {
        let mut top = self.vv.get(replica);
        while let Some(first) = self.loose_of(replica).next() {
            if first.counter > top && Some(first.counter) != top.checked_add(1) {
                break;
            }
            top = top.max(first.counter);
            let first = first.clone();
            self.cloud.remove(&first);
        }
        self.raise(replica, top);
    }

    /// Adds dots given in ascending order; the same as [`CausalContext::insert`] on each in
    /// turn (a dot out of order only costs speed). A batch that is large next to the vector
    /// is applied in one walk of it instead of one lookup per dot: this is how a replica
    /// records a packet of deltas, one per origin, among a thousand origins.
    ///
    /// ```
    /// use gossip_crdt::{CausalContext, Dot};
    ///
    /// let dot = |replica, counter| Dot { replica, counter };
    /// let mut ctx: CausalContext<&str> = [dot("a", 1), dot("b", 1)].into_iter().collect();
    /// ctx.insert_sorted([dot("a", 2), dot("b", 1), dot("b", 3), dot("c", 1)]);
    /// assert!(ctx.contains(&dot("a", 2)) && ctx.contains(&dot("b", 3)) && ctx.contains(&dot("c", 1)));
    /// assert!(!ctx.contains(&dot("b", 2)));
    /// ```
    pub fn insert_sorted(&mut self, dots: impl IntoIterator<Item = Dot<A>>) {
        let dots: Vec<Dot<A>> = dots.into_iter().collect();
        // A walk visits every entry: worth it only for a batch of a sizeable fraction of them.
        // Stray dots waiting in the cloud take the general path.
        if dots.len().saturating_mul(8) < self.vv.len() || !self.cloud.is_empty() {
            for dot in dots {
                self.insert(dot);
            }
            return;
        }
        // The next dot of a known replica raises its entry during the walk; anything else (a
        // new replica, a gap, a dot out of order) is inserted one by one afterwards, and so
        // is every later dot of the same replica, which keeps the order of insertion.
        let mut later: Vec<Dot<A>> = Vec::new();
        {
            let mut entries = self.vv.entries_mut().peekable();
            for dot in dots {
                if later.last().is_some_and(|d| d.replica >= dot.replica) {
                    later.push(dot);
                    continue;
                }
                while entries.next_if(|(r, _)| **r < dot.replica).is_some() {}
                match entries.peek_mut() {
                    Some((r, have)) if **r == dot.replica => {
                        if have.checked_add(1) == Some(dot.counter) {
                            **have = dot.counter;
                        } else if dot.counter > **have {
                            later.push(dot);
                        }
                    }
                    _ => later.push(dot),
                }
            }
        }
        for dot in later {
            self.insert(dot);
        }
    }

    /// The gap-free part, as a version vector.
    pub fn vector(&self) -> &VersionVector<A> {
        &self.vv
    }

    /// The dots seen ahead of a gap.
    pub fn cloud(&self) -> impl Iterator<Item = &Dot<A>> {
        self.cloud.iter()
    }

    /// The size of the representation: vector entries plus loose dots (not events).
    pub(crate) fn parts_len(&self) -> usize {
        self.vv.len().saturating_add(self.cloud.len())
    }

    /// Assembles a context from a gap-free prefix and loose dots, normalising it.
    pub(crate) fn from_vector_and_cloud(vv: VersionVector<A>, cloud: BTreeSet<Dot<A>>) -> Self {
        let mut ctx = CausalContext { vv, cloud };
        ctx.cloud.retain(|d| d.counter > 0);
        ctx.compact();
        ctx
    }

    /// Moves every cloud dot that extends the vector into it, and drops covered ones. Walks
    /// the whole cloud: for building a context, never for a join.
    fn compact(&mut self) {
        let cloud = std::mem::take(&mut self.cloud);
        // The cloud is sorted by (replica, counter), so one pass absorbs each run.
        for dot in cloud {
            let have = self.vv.get(&dot.replica);
            if dot.counter <= have {
                continue;
            }
            // `have < dot.counter`, so `have + 1` cannot overflow.
            if dot.counter == have + 1 {
                self.vv.witness(dot.replica, dot.counter);
            } else {
                self.cloud.insert(dot);
            }
        }
    }
}

impl<A: Ord + Clone> Lattice for CausalContext<A> {
    /// Cost: `O(|other| log |self|)` plus `O(log |self|)` per loose dot of `self` that the
    /// join covers or absorbs (each such dot leaves the cloud for good), where `|x|` counts
    /// vector entries and loose dots, never the events a vector entry stands for.
    fn join(&mut self, other: &Self) -> bool {
        let mut changed = false;
        for (replica, count) in other.vv.iter() {
            if self.raise(replica, count) {
                changed = true;
                self.absorb_run(replica);
            }
        }
        for dot in &other.cloud {
            changed |= self.insert(dot.clone());
        }
        changed
    }

    /// Cost: about the smaller side's size times `log`: `O(|self| log |other|)` (or one walk
    /// of both vectors when they are of similar size), and never more than
    /// `O((|other| + 1) log |self|)` steps through `self`'s loose dots, which are skipped by
    /// range where `other`'s vector covers them.
    fn leq(&self, other: &Self) -> bool {
        // Where `self`'s vector is ahead of `other`'s, the first missing event of `other` is
        // right after its entry, and that event is never loose (it would extend the entry):
        // so the vectors must compare pointwise.
        if !self.vv.leq(&other.vv) {
            return false;
        }
        // Each loose dot of `self` above `other`'s vector must be one of `other`'s loose dots.
        let mut budget = other.cloud.len();
        let mut cursor = self.cloud.first();
        while let Some(dot) = cursor {
            let top = other.vv.get(&dot.replica);
            let after = if dot.counter <= top {
                // Covered, with every loose dot of this replica up to `top`: skip them.
                Dot {
                    replica: dot.replica.clone(),
                    counter: top,
                }
            } else {
                if budget == 0 || !other.cloud.contains(dot) {
                    return false;
                }
                budget -= 1;
                dot.clone()
            };
            cursor = self
                .cloud
                .range((Bound::Excluded(after), Bound::Unbounded))
                .next();
        }
        true
    }

    fn is_bottom(&self) -> bool {
        self.vv.is_bottom() && self.cloud.is_empty()
    }
}

impl<A: Ord + Clone> FromIterator<Dot<A>> for CausalContext<A> {
    fn from_iter<I: IntoIterator<Item = Dot<A>>>(iter: I) -> Self {
        let mut ctx = CausalContext::new();
        ctx.cloud = iter.into_iter().filter(|d| d.counter > 0).collect();
        ctx.compact();
        ctx
    }
}

#[cfg(test)]
mod tests {

    /// Sorted batches land where one-by-one inserts do, whatever the context held before:
    /// small and large batches, gaps, new replicas, and stray dots already waiting.
    fn batch_agrees(before: Vec<(u8, u8)>, batch: Vec<(u8, u8)>) -> bool {
        let dot = |(r, c): (u8, u8)| Dot {
            replica: r % 12,
            counter: u64::from(c % 9),
        };
        let start: CausalContext<u8> = before.into_iter().map(dot).collect();
        let mut dots: Vec<Dot<u8>> = batch.into_iter().map(dot).collect();
        dots.sort();
        let mut one_by_one = start.clone();
        for d in dots.clone() {
            one_by_one.insert(d);
        }
        let mut batched = start;
        batched.insert_sorted(dots);
        batched == one_by_one
    }

    #[test]
    fn a_sorted_batch_is_inserted_as_one_by_one() {
        quickcheck::QuickCheck::new()
            .tests(3_000)
            .quickcheck(batch_agrees as fn(Vec<(u8, u8)>, Vec<(u8, u8)>) -> bool);
        // A large batch over a gap-free context takes the walk.
        let ctx: CausalContext<u8> = (0..10u8)
            .flat_map(|r| {
                (1..=3).map(move |c| Dot {
                    replica: r,
                    counter: c,
                })
            })
            .collect();
        let mut walked = ctx.clone();
        let batch: Vec<Dot<u8>> = (0..12u8)
            .map(|r| Dot {
                replica: r,
                counter: 4,
            })
            .collect();
        walked.insert_sorted(batch.clone());
        let mut single = ctx;
        for d in batch {
            single.insert(d);
        }
        assert_eq!(walked, single);
        assert_eq!(walked.vector().get(&3), 4);
        assert!(
            walked.contains(&Dot {
                replica: 11,
                counter: 4
            }) && walked.cloud().count() == 2
        );
    }

    use super::*;

    fn dot(counter: u64) -> Dot<&'static str> {
        Dot {
            replica: "a",
            counter,
        }
    }

    #[test]
    fn inserting_out_of_order_ends_compact() {
        let mut ctx = CausalContext::new();
        assert!(ctx.insert(dot(3)));
        assert!(ctx.insert(dot(1)));
        assert_eq!(ctx.vector().get(&"a"), 1);
        assert_eq!(ctx.cloud().count(), 1, "3 waits behind the gap at 2");
        assert!(ctx.insert(dot(2)), "closing the gap");
        assert_eq!(ctx.vector().get(&"a"), 3);
        assert_eq!(ctx.cloud().count(), 0);
        assert!(!ctx.insert(dot(2)), "already seen");
        assert!(!ctx.insert(dot(0)), "counters start at 1");
        // Same set of dots, other order: same value.
        let other: CausalContext<&str> = [dot(2), dot(3), dot(1)].into_iter().collect();
        assert_eq!(ctx, other);
    }
}
