//! `ReplicaId`: who generated a delta.
//!
//! Deltas are numbered per *incarnation* of a replica, not per node: a node that restarts
//! with its state lost must not reuse the numbers its previous life already gave out (peers
//! would take the new deltas for old ones and drop them). So each `Replicator` draws a fresh
//! random id when it starts, and that id names its deltas.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The id of one incarnation of a replica: the `origin` of the deltas it generates.
///
/// Drawn at random below 2^53 so it survives any JSON parser as an exact integer. JSON: a
/// number (or a string of digits where it is an object key, e.g. in digests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReplicaId(pub u64);

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
