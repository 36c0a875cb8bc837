//! `LwwRegister`: a last-writer-wins register.
//!
//! Every write carries a timestamp and the id of the replica that wrote it; join keeps the
//! write with the greatest `(timestamp, replica)` pair. Replicas converge, but when two writes
//! are concurrent one of them is dropped without a trace. Use [`MvRegister`](crate::MvRegister)
//! when that loss matters.

use std::cmp::Ordering;

use serde::{Deserialize, Deserializer, Serialize};

use crate::wire::MapOnly;
use crate::{Decompose, Lattice, Resettable};

/// One write: the value and the pair that orders it against other writes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct LwwWrite<T, A> {
    /// The writer's clock when it wrote, e.g. milliseconds or a hybrid logical clock.
    pub timestamp: u64,
    /// The writing replica; breaks timestamp ties the same way on every replica.
    pub replica: A,
    /// The value written.
    pub value: T,
}

/// The wire form: exactly these three fields, as a JSON object.
#[derive(Deserialize)]
#[serde(rename = "LwwWrite", deny_unknown_fields)]
struct LwwWriteFields<T, A> {
    timestamp: u64,
    replica: A,
    value: T,
}

impl<'de, T: Deserialize<'de>, A: Deserialize<'de>> Deserialize<'de> for LwwWrite<T, A> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let LwwWriteFields {
            timestamp,
            replica,
            value,
        } = LwwWriteFields::deserialize(MapOnly(deserializer))?;
        Ok(LwwWrite {
            timestamp,
            replica,
            value,
        })
    }
}

impl<T: Ord, A: Ord> LwwWrite<T, A> {
    /// The order join uses. `(timestamp, replica)` decides; the value is compared last only so
    /// that join stays commutative if a (buggy) writer reuses a pair for two values.
    fn rank(&self, other: &Self) -> Ordering {
        (self.timestamp, &self.replica, &self.value).cmp(&(
            other.timestamp,
            &other.replica,
            &other.value,
        ))
    }
}

/// A last-writer-wins register.
///
/// **Concurrent writes lose data.** If replicas `a` and `b` both write without having seen each
/// other's write, every replica ends up with the one whose `(timestamp, replica)` is greater;
/// the other value is gone and nobody is told. That is fine for caches and "latest position"
/// data, and wrong for anything a user typed.
///
/// JSON: `null` for a register never written, else
/// `{"timestamp":7,"replica":"a","value":...}`.
///
/// ```
/// use gossip_crdt::{Lattice, LwwRegister};
///
/// let mut a = LwwRegister::new();
/// let mut b = LwwRegister::new();
/// a.write(10, "a", "written by a");
/// b.write(10, "b", "written by b"); // same timestamp, concurrent
/// a.join(&b);
/// b.join(&a);
/// // "b" > "a" breaks the tie on both replicas; a's write is silently lost.
/// assert_eq!(a.read(), Some(&"written by b"));
/// assert_eq!(a, b);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LwwRegister<T, A> {
    write: Option<LwwWrite<T, A>>,
}

impl<T, A> Default for LwwRegister<T, A> {
    fn default() -> Self {
        LwwRegister { write: None }
    }
}

impl<T: Ord + Clone, A: Ord + Clone> LwwRegister<T, A> {
    /// A register never written.
    pub fn new() -> Self {
        Self::default()
    }

    /// The delta that writes `value` at `timestamp` on behalf of `replica`, without applying
    /// it. The delta is empty when the write would lose against the current one, so
    /// `delta.is_bottom()` tells the caller its write had no effect.
    ///
    /// Never fails: the timestamp comes from the caller, so no event is drawn here.
    pub fn write_delta(&self, timestamp: u64, replica: A, value: T) -> Self {
        let candidate = LwwWrite {
            timestamp,
            replica,
            value,
        };
        match &self.write {
            Some(current) if candidate.rank(current) != Ordering::Greater => LwwRegister::new(),
            _ => LwwRegister {
                write: Some(candidate),
            },
        }
    }

    /// Writes `value` (unless a greater write is already here) and returns the delta.
    pub fn write(&mut self, timestamp: u64, replica: A, value: T) -> Self {
        let delta = self.write_delta(timestamp, replica, value);
        self.join(&delta);
        delta
    }

    /// Renamed [`write_delta`](Self::write_delta); this alias goes in the next release.
    #[deprecated(note = "renamed to `write_delta`")]
    pub fn set_delta(&self, timestamp: u64, replica: A, value: T) -> Self {
        self.write_delta(timestamp, replica, value)
    }

    /// Renamed [`write`](Self::write); this alias goes in the next release.
    #[deprecated(note = "renamed to `write`")]
    pub fn set(&mut self, timestamp: u64, replica: A, value: T) -> Self {
        self.write(timestamp, replica, value)
    }
}

impl<T, A> LwwRegister<T, A> {
    /// The current value, if the register was ever written.
    pub fn read(&self) -> Option<&T> {
        self.write.as_ref().map(|w| &w.value)
    }

    /// The winning write with its timestamp and writer.
    pub fn last_write(&self) -> Option<&LwwWrite<T, A>> {
        self.write.as_ref()
    }

    /// Renamed [`read`](Self::read); this alias goes in the next release.
    #[deprecated(note = "renamed to `read`")]
    pub fn get(&self) -> Option<&T> {
        self.read()
    }
}

impl<T: Ord + Clone, A: Ord + Clone> Lattice for LwwRegister<T, A> {
    fn join(&mut self, other: &Self) -> bool {
        let Some(theirs) = &other.write else {
            return false;
        };
        match &self.write {
            Some(mine) if theirs.rank(mine) != Ordering::Greater => false,
            _ => {
                self.write = Some(theirs.clone());
                true
            }
        }
    }

    fn leq(&self, other: &Self) -> bool {
        match (&self.write, &other.write) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(mine), Some(theirs)) => mine.rank(theirs) != Ordering::Greater,
        }
    }

    fn is_bottom(&self) -> bool {
        self.write.is_none()
    }
}

impl<T: Ord + Clone, A: Ord + Clone> Decompose for LwwRegister<T, A> {
    /// A register is a chain: it is its own (single) irreducible part.
    fn decompose(&self) -> Vec<Self> {
        if self.write.is_some() {
            vec![self.clone()]
        } else {
            Vec::new()
        }
    }
}

impl<T: Ord + Clone, A: Ord + Clone> Resettable for LwwRegister<T, A> {
    /// Empty if `observed` holds this write or a later one. A write concurrent with the remove
    /// but ranked below the write it observed is lost, as it is to that write in any register.
    fn reset_by(&self, observed: &Self) -> Self {
        if self.leq(observed) {
            LwwRegister::default()
        } else {
            self.clone()
        }
    }
}
