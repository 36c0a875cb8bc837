//! `MvRegister`: a multi-value register that keeps concurrent writes instead of losing them.
//!
//! Every write carries a version vector: the join of the clocks of the values it overwrites,
//! with the writer's own entry incremented. A write therefore dominates exactly what its writer
//! had seen. Join keeps every write that no other write dominates: after concurrent writes the
//! register holds several *siblings*, which is the conflict, detected by version vectors
//! comparing as [`Causality::Concurrent`](crate::Causality::Concurrent). The application
//! resolves it by writing again: the new clock dominates every sibling.

use std::cmp::Ordering;

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
fn deserialize_siblings<'de, D, T, A>(deserializer: D) -> Result<Vec<Sibling<T, A>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Ord + Clone + Deserialize<'de>,
    A: Ord + Clone + Deserialize<'de>,
{
    let raw = Vec::<Sibling<T, A>>::deserialize(deserializer)?;
    // One join of the whole list: it drops duplicates and dominated siblings whatever their
    // order, and sorts once.
    let mut register = MvRegister::new();
    register.join(&MvRegister { siblings: raw });
    Ok(register.siblings)
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
    fn join(&mut self, other: &Self) -> bool {
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
