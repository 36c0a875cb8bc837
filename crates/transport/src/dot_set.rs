//! A hash set of delta ids with a hasher suited to them.
//!
//! A hub tracks, per leaf, which deltas are on their way; every delta it relays enters and
//! leaves one such set per leaf, so at a thousand leaves these are the hub's commonest
//! operations. Membership is all that is asked of the set, and an id is two integers (a
//! replica id, itself random, and a counter), so a multiply-and-rotate hash is enough: no
//! ordering to maintain, and no defence against chosen keys is needed for ids this replica
//! itself put in flight.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use gossip_crdt::Dot;

use crate::ReplicaId;

/// A set of delta ids.
pub(crate) type DotSet = HashSet<Dot<ReplicaId>, BuildHasherDefault<IdHasher>>;

/// Mixes each integer written into the state with a rotate, an xor and an odd multiplier.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(26) ^ n).wrapping_mul(MULTIPLIER);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replica_id::dot;

    #[test]
    fn membership_is_exact() {
        let mut set = DotSet::default();
        for r in 0..50u64 {
            for c in 1..=200 {
                set.insert(dot(r * 0x1234_5678_9ABC, c));
            }
        }
        assert_eq!(set.len(), 10_000);
        assert!(set.contains(&dot(7 * 0x1234_5678_9ABC, 200)));
        assert!(!set.contains(&dot(7 * 0x1234_5678_9ABC, 201)));
        assert!(set.remove(&dot(0, 1)));
        assert!(!set.contains(&dot(0, 1)));
    }

    #[test]
    fn ids_of_one_replica_spread_over_the_low_and_high_bits() {
        // A table uses the low bits to pick a bucket and the high bits as a tag: sequential
        // counters of one replica must differ in both.
        let hash = |d: &Dot<ReplicaId>| {
            let mut h = IdHasher::default();
            std::hash::Hash::hash(d, &mut h);
            h.finish()
        };
        let hashes: Vec<u64> = (1..=1024).map(|c| hash(&dot(42, c))).collect();
        let low: HashSet<u64> = hashes.iter().map(|h| h & 1023).collect();
        let high: HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        assert!(low.len() > 600, "{} distinct low parts of 1024", low.len());
        assert_eq!(high.len(), 128, "every 7-bit tag is used");
    }
}
