//! `Start`: what a replica needs to come to life: its randomness and its incarnation.

use crate::Time;

/// The seed, incarnation and time a [`Replicator`](crate::Replicator) starts with.
///
/// The **incarnation** orders the lives of one member: a replica that restarts with its state
/// lost must use a larger number than any earlier life of the same member (wall-clock
/// milliseconds at start do; so does a restart counter). Peers seeing a larger one know the
/// member forgot everything and send it all again; packets from a smaller one are late
/// leftovers and only their deltas are used.
///
/// ```
/// use gossip_transport::{Start, Time};
///
/// let first_life = Start::at(Time::ZERO, 42);
/// let second_life = Start { incarnation: 1, ..first_life };
/// assert!(second_life.incarnation > first_life.incarnation);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start {
    /// Seeds every random choice of the replica (its replica id, peer picks).
    pub seed: u64,
    /// Orders this life against the member's earlier ones.
    pub incarnation: u64,
    /// The time the replica starts at.
    pub now: Time,
}

impl Start {
    /// A first life (incarnation 0) at `now`, seeded with `seed`.
    pub fn at(now: Time, seed: u64) -> Start {
        Start {
            seed,
            incarnation: 0,
            now,
        }
    }
}
