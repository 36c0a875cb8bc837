//! `ReplicaId`: who generated a delta.
//!
//! Deltas are numbered per *incarnation* of a replica, not per node: a node that restarts
//! with its state lost must not reuse the numbers its previous life already gave out (peers
//! would take the new deltas for old ones and drop them). So each life of a `Replicator` has
//! an id of its own (see [`Start`](crate::Start)), and that id names its deltas. A replica
//! that learns its id may be in use elsewhere (a peer claims deltas of it that it never made)
//! moves on to a fresh one.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The id of one incarnation of a replica: the `origin` of the deltas it generates.
///
/// Drawn at random below 2^53 so it survives any JSON parser as an exact integer. JSON: a
/// number (or a string of digits where it is an object key, e.g. in digests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReplicaId(pub u64);

impl ReplicaId {
    /// The id for 64 random (or well-mixed) bits: kept below 2^53 and above 0.
    pub fn from_bits(bits: u64) -> ReplicaId {
        ReplicaId((bits & ((1 << 53) - 1)).max(1))
    }

    /// The id this replica moves on to when its current one is claimed by someone else:
    /// derived from the current one, so replicas with different ids keep different ids.
    pub(crate) fn successor(self) -> ReplicaId {
        ReplicaId::from_bits(crate::start::mix(self.0 ^ SUCCESSOR_SALT))
    }
}

/// Keeps a successor id apart from the ids drawn at start.
const SUCCESSOR_SALT: u64 = 0xbb67_ae85_84ca_a73b;

impl fmt::Display for ReplicaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.0)
    }
}

/// Delta `counter` of replica `replica`, for tests.
#[cfg(test)]
pub(crate) fn dot(replica: u64, counter: u64) -> gossip_crdt::Dot<ReplicaId> {
    gossip_crdt::Dot {
        replica: ReplicaId(replica),
        counter,
    }
}
