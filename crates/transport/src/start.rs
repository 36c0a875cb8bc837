//! `Start`: what a replica needs to come to life: its randomness, its replica id and its
//! incarnation.
//!
//! Two different things are random at start, and they must not be confused:
//!
//! - the **seed** steers choices (which peer a gossip round picks, challenge numbers). Every
//!   member may be given the same seed (Maelstrom passes the same arguments to every node),
//!   so nothing that must be unique comes from it;
//! - the **life** names this incarnation of this member: its [`ReplicaId`] (the origin of
//!   every delta it makes) and its incarnation number (how peers tell it from an earlier or
//!   later life of the same member). Both must differ from every other member's and every
//!   earlier life's, whatever the seed: a delta id used twice is a write lost.
//!
//! A shell draws the life from the operating system's randomness
//! ([`Start::new`] with a fresh random `life`); a simulator derives it from the member and a
//! restart counter, so one seed still replays one run.

use crate::{ReplicaId, Time};

/// The seed, life and time a [`Replicator`](crate::Replicator) starts with.
///
/// The **incarnation** only has to differ from the member's earlier lives: it carries no
/// order, so a clock that stepped back across a restart changes nothing. A peer that hears
/// a different incarnation from a member settles which life is current with a challenge only
/// the live one can answer, then forgets what it knew of the old life and sends it
/// everything again.
///
/// ```
/// use gossip_transport::{Start, Time};
///
/// let first_life = Start::new(Time::ZERO, 42, 0x5eed_0001);
/// let second_life = Start::new(Time::ZERO, 42, 0x5eed_0002);
/// assert_ne!(first_life.replica, second_life.replica);
/// assert_ne!(first_life.incarnation, second_life.incarnation);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start {
    /// Seeds every random choice of the replica (peer picks, challenge numbers). May be the
    /// same for every member.
    pub seed: u64,
    /// Names this life's deltas: unique per member and per life.
    pub replica: ReplicaId,
    /// Tells this life from the member's other lives: different from every earlier one.
    pub incarnation: u64,
    /// The time the replica starts at.
    pub now: Time,
}

impl Start {
    /// A life at `now` whose replica id and incarnation are derived from `life`, a number that
    /// must be unique per member and per life (64 random bits from the operating system in a
    /// shell; member and restart count mixed together in a simulator). `seed` only steers
    /// choices.
    pub fn new(now: Time, seed: u64, life: u64) -> Start {
        Start {
            seed,
            replica: ReplicaId::from_bits(mix(life)),
            incarnation: mix(life ^ INCARNATION_SALT),
            now,
        }
    }

    /// A new life of a replica that resumes from storage: it keeps `replica`, the id its
    /// saved deltas and lease were taken under (see
    /// [`Replicator::resume`](crate::Replicator::resume)), and draws a fresh incarnation from
    /// `life`, as [`new`](Self::new) does. Keeping the id keeps digests and per-replica state
    /// (a counter's entries) from growing with every restart; the lease keeps its counters
    /// unique. Keep it only when the saved ids reach the lease without a gap (a clean
    /// shutdown): past a gap that never fills, peers would keep every later id one by one.
    pub fn resume(now: Time, seed: u64, life: u64, replica: ReplicaId) -> Start {
        Start {
            replica,
            ..Start::new(now, seed, life)
        }
    }
}

/// Keeps the incarnation independent of the replica id drawn from the same life.
const INCARNATION_SALT: u64 = 0x6a09_e667_f3bc_c908;

/// SplitMix64's finaliser: a bijection on `u64` that spreads every input bit over the
/// output, so nearby inputs (member 1, member 2) give unrelated outputs.
pub(crate) fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn lives_differ_whatever_the_seed() {
        let lives: Vec<Start> = (0..10_000).map(|l| Start::new(Time::ZERO, 5, l)).collect();
        let ids: HashSet<ReplicaId> = lives.iter().map(|s| s.replica).collect();
        let incs: HashSet<u64> = lives.iter().map(|s| s.incarnation).collect();
        assert_eq!(ids.len(), lives.len());
        assert_eq!(incs.len(), lives.len());
        assert!(ids.iter().all(|id| id.0 > 0 && id.0 < 1 << 53));
    }
}
