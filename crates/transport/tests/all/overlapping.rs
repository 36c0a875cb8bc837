//! Deltas that overlap (two replicas write the same element) reach every replica whole, even
//! when they travel different routes: a replica that already held part of a delta still
//! passes on all of it, since the next replica may lack that part.

use crate::common;

use std::time::Duration;

use common::{Cluster, Faults, base, ms};
use gossip_transport::{Config, Overlay, Strategy};

/// Both hubs of a star are cut off while the leaves, relaying for each other, write
/// overlapping elements; after the heal every replica holds every element.
#[test]
fn overlapping_writes_reach_hubs_that_were_cut_off() {
    let config = Config {
        strategy: Strategy::Tree,
        overlay: Overlay::Star { hubs: 2 },
        ..base()
    };
    let faults = Faults {
        latency: ms(5),
        jitter: ms(10),
        ..Faults::default()
    };
    let mut cluster = Cluster::new(5, config, faults, 21);
    cluster.partition(&[0, 1], &[2, 3, 4]);
    let elements = 600u64;
    for e in 0..elements {
        // Each element written by two of the three leaves, in turn.
        let first = 2 + (e % 3) as u32;
        let second = 2 + ((e + 1) % 3) as u32;
        cluster.update(first, e);
        cluster.update(second, e);
        assert!(cluster.run_for(ms(3)), "no livelock");
    }
    assert!(cluster.run_for(ms(500)), "no livelock");
    cluster.heal();
    assert!(cluster.run_for(Duration::from_secs(20)), "no livelock");
    for n in 0..5u32 {
        let len = cluster.nodes[n as usize].state().len();
        assert_eq!(len, elements as usize, "replica {n} holds {len} elements");
    }
}
