//! A hash set of delta ids with a hasher suited to them.
//!
//! A hub tracks, per leaf, which deltas are on their way; every delta it relays enters and
//! leaves one such set per leaf, so at a thousand leaves these are the hub's commonest
//! operations. Membership is all that is asked of the set, and an id is two integers (a
//! replica id, itself random, and a counter), so a fast integer hash (`rustc-hash`'s) is
//! enough: no ordering to maintain, and no defence against chosen keys is needed for ids this
//! replica itself put in flight.

use std::collections::HashSet;

use gossip_crdt::Dot;
use rustc_hash::FxBuildHasher;

use crate::ReplicaId;

/// A set of delta ids.
pub(crate) type DotSet = HashSet<Dot<ReplicaId>, FxBuildHasher>;

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
        // A table uses the low bits to pick a bucket and the high 7 bits as a tag: sequential
        // counters of one replica must differ in both at least about as much as random
        // hashes would (about 650 buckets of 1024 for 1024 keys), and use most tags.
        let hash = |d: &Dot<ReplicaId>| std::hash::BuildHasher::hash_one(&FxBuildHasher, d);
        let hashes: Vec<u64> = (1..=1024).map(|c| hash(&dot(42, c))).collect();
        let low: HashSet<u64> = hashes.iter().map(|h| h & 1023).collect();
        let high: HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        assert!(low.len() > 600, "{} distinct low parts of 1024", low.len());
        assert!(high.len() >= 64, "{} distinct tags of 128", high.len());
    }
}
