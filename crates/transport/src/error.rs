//! Why the engine refused a packet.
//!
//! Every variant means the packet was dropped *before* anything was applied: the replica's
//! state did not change. All of them point at a misbehaving (or confused) sender, never at a
//! bug in the caller, except [`TransportError::FromSelf`], which is the caller routing a
//! replica's own packet back to it.

use std::fmt;

use crate::ReplicaId;

/// A packet the engine would not apply. State is unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// The packet claims to come from this replica itself: a routing bug in the caller.
    FromSelf,
    /// A sequence range that is empty or starts at 0 (sequence numbers start at 1).
    BadSequence {
        /// First number of the range.
        lo: u64,
        /// Last number of the range.
        hi: u64,
    },
    /// A snapshot without the digest saying which deltas it covers.
    SnapshotWithoutDigest,
    /// The sender is not a member: only members are peers, and nothing is kept for others.
    NotMember,
    /// Link sequence numbers or delta counters so far ahead of what this replica holds that
    /// keeping track of them would let a sender grow its state without bound. A genuine
    /// sender's packet is accepted once the gap before it has filled.
    TooFarAhead,
    /// A run of deltas numbered from 0, or running past `u64::MAX`.
    BadRun {
        /// The run's origin.
        origin: ReplicaId,
        /// Its first number.
        first: u64,
        /// How many deltas it holds.
        len: usize,
    },
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportError::FromSelf => write!(f, "packet addressed from this replica to itself"),
            TransportError::BadSequence { lo, hi } => {
                write!(f, "bad link sequence range [{lo}, {hi}]")
            }
            TransportError::SnapshotWithoutDigest => {
                write!(f, "snapshot without the digest of what it covers")
            }
            TransportError::NotMember => write!(f, "packet from a sender that is not a member"),
            TransportError::TooFarAhead => write!(
                f,
                "link sequence numbers or delta counters too far ahead of what is held"
            ),
            TransportError::BadRun { origin, first, len } => write!(
                f,
                "bad run of {len} deltas from {origin} starting at {first}"
            ),
        }
    }
}

impl std::error::Error for TransportError {}
