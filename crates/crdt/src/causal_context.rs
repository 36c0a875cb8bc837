//! Dots and causal contexts: which events a replica has seen, including out-of-order ones.
//!
//! A *dot* names one event: the replica that produced it and that replica's event number.
//! A causal context is a set of dots, stored as a version vector for the gap-free prefix of
//! each replica plus a "cloud" of dots that arrived ahead of a gap (deltas can arrive in any
//! order). [`OrSet`](crate::OrSet) uses it to tell "removed" from "never seen".

use std::collections::BTreeSet;

use serde::{Deserialize, Deserializer, Serialize};

use crate::wire::MapOnly;
use crate::{Lattice, VersionVector};

/// One event: the `counter`-th event of `replica`. Counters start at 1.
///
/// JSON: a two-element array `[replica, counter]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
/// JSON: `{"vv":{"a":3},"cloud":[["b",5]]}`.
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

    /// The highest counter seen from `replica`, gaps or not.
    pub fn max_counter(&self, replica: &A) -> u64 {
        let gap_free = self.vv.get(replica);
        let ahead = self
            .cloud
            .range(
                Dot {
                    replica: replica.clone(),
                    counter: 0,
                }..,
            )
            .take_while(|d| d.replica == *replica)
            .map(|d| d.counter)
            .max()
            .unwrap_or(0);
        gap_free.max(ahead)
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
        if dot.counter != have + 1 {
            // Ahead of a gap: it waits in the cloud (nothing there can be absorbed yet).
            return self.cloud.insert(dot);
        }
        // Extends the gap-free prefix, and may close a gap: absorb the run that follows.
        let mut top = dot.counter;
        while !self.cloud.is_empty() {
            let next = Dot {
                replica: dot.replica.clone(),
                counter: top + 1,
            };
            if !self.cloud.remove(&next) {
                break;
            }
            top += 1;
        }
        self.vv.witness(dot.replica, top);
        true
    }

    /// The gap-free part, as a version vector.
    pub fn vector(&self) -> &VersionVector<A> {
        &self.vv
    }

    /// The dots seen ahead of a gap.
    pub fn cloud(&self) -> impl Iterator<Item = &Dot<A>> {
        self.cloud.iter()
    }

    /// Assembles a context from a gap-free prefix and loose dots, normalising it.
    pub(crate) fn from_vector_and_cloud(vv: VersionVector<A>, cloud: BTreeSet<Dot<A>>) -> Self {
        let mut ctx = CausalContext { vv, cloud };
        ctx.cloud.retain(|d| d.counter > 0);
        ctx.compact();
        ctx
    }

    /// Moves every cloud dot that extends the vector into it, and drops covered ones.
    fn compact(&mut self) {
        let cloud = std::mem::take(&mut self.cloud);
        // The cloud is sorted by (replica, counter), so one pass absorbs each run.
        for dot in cloud {
            let have = self.vv.get(&dot.replica);
            if dot.counter <= have {
                continue;
            }
            if dot.counter == have + 1 {
                self.vv.witness(dot.replica, dot.counter);
            } else {
                self.cloud.insert(dot);
            }
        }
    }
}

impl<A: Ord + Clone> Lattice for CausalContext<A> {
    fn join(&mut self, other: &Self) -> bool {
        let mut changed = self.vv.join(&other.vv);
        for dot in &other.cloud {
            if !self.contains(dot) {
                self.cloud.insert(dot.clone());
                changed = true;
            }
        }
        if changed {
            self.compact();
        }
        changed
    }

    fn leq(&self, other: &Self) -> bool {
        // Every dot of self's vector must be in other: other's vector covers it, or the
        // missing range is entirely in other's cloud.
        let vector_covered = self.vv.iter().all(|(replica, count)| {
            let have = other.vv.get(replica);
            if have >= count {
                return true;
            }
            // The gap can only be filled by cloud dots; bail out before walking a huge range.
            let gap = count - have;
            gap <= other.cloud.len() as u64
                && (have + 1..=count).all(|counter| {
                    other.cloud.contains(&Dot {
                        replica: replica.clone(),
                        counter,
                    })
                })
        });
        vector_covered && self.cloud.iter().all(|d| other.contains(d))
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
