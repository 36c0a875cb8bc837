//! Change events: a watching replica reports every growth of its state exactly once, with
//! what it gained and where it came from, so that the changes add up to the state.

use crate::common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{Cluster, Faults, ms, strategies};
use gossip_crdt::{GSet, Lattice};
use gossip_transport::Source;

#[test]
fn the_changes_add_up_to_the_state_under_every_strategy() {
    for (name, config) in strategies() {
        if name == "flood/ring" {
            continue; // its overlay names eight members
        }
        let faults = Faults {
            latency: ms(5),
            jitter: ms(20),
            p_loss: 0.1,
            p_dup: 0.1,
        };
        let mut cluster = Cluster::new(4, config, faults, 17);
        for n in 0..4 {
            cluster.node_mut(n).watch();
        }
        let mut seen: Vec<Vec<_>> = vec![Vec::new(); 4];
        let drain = |cluster: &mut Cluster, seen: &mut Vec<Vec<_>>| {
            for (i, seen) in seen.iter_mut().enumerate() {
                while let Some(change) = cluster.node_mut(i as u32).poll_change() {
                    seen.push(change);
                }
            }
        };
        for v in 0..60u64 {
            cluster.update((v % 4) as u32, v);
            if v == 20 {
                cluster.partition(&[0, 1], &[2, 3]);
            }
            if v == 40 {
                cluster.heal();
            }
            assert!(cluster.run_for(ms(7)), "{name}: livelock");
            drain(&mut cluster, &mut seen);
        }
        cluster.faults.p_loss = 0.0;
        assert!(cluster.run_for(Duration::from_secs(30)), "{name}: livelock");
        drain(&mut cluster, &mut seen);
        assert!(cluster.converged(), "{name}");
        for (i, changes) in seen.iter().enumerate() {
            let mut sum = GSet::new();
            let mut ids = BTreeSet::new();
            for change in changes {
                assert!(!change.gained.is_bottom(), "{name}: an empty change");
                assert!(ids.insert(change.id), "{name}: {:?} twice", change.id);
                for v in change.gained.iter() {
                    assert!(!sum.contains(v), "{name}: node {i} gained {v} twice");
                }
                sum.join(&change.gained);
                let local = change.gained.iter().all(|v| v % 4 == i as u64);
                if change.source == Source::Local {
                    assert!(local, "{name}: a local change of another node's value");
                } else {
                    assert_ne!(change.source, Source::Peer(i as u32), "{name}: from itself");
                }
            }
            assert_eq!(&sum, cluster.nodes[i].state(), "{name}: node {i}");
            let locals = changes.iter().filter(|c| c.source == Source::Local).count();
            assert_eq!(locals, 15, "{name}: node {i} made 15 updates");
        }
    }
}

#[test]
fn an_unwatched_replica_records_nothing() {
    let mut cluster = Cluster::new(2, common::base(), Faults::default(), 3);
    cluster.update(0, 1);
    assert!(cluster.run_for(Duration::from_secs(5)));
    assert!(cluster.nodes[1].state().contains(&1));
    assert!(cluster.node_mut(0).poll_change().is_none());
    assert!(cluster.node_mut(1).poll_change().is_none());
}

#[test]
fn lag_counts_own_deltas_a_cut_off_peer_lacks_and_falls_to_zero_once_healed() {
    let mut cluster = Cluster::new(2, common::base(), Faults::default(), 5);
    cluster.update(0, 1);
    assert!(cluster.run_for(Duration::from_secs(5)), "livelock");
    assert_eq!(cluster.node(0).lag(), gossip_transport::Lag::default());

    cluster.partition(&[0], &[1]);
    let made_at = cluster.now();
    for v in 2..5 {
        cluster.update(0, v);
    }
    // Node 1 cannot acknowledge them (nor receive them): all three count, the oldest first.
    assert!(cluster.run_for(Duration::from_secs(2)), "livelock");
    let lag = cluster.node(0).lag();
    assert_eq!(lag.deltas, 3);
    assert_eq!(lag.oldest, Some(made_at));
    // Node 1's lag is about its own deltas: it made none.
    assert_eq!(cluster.node(1).lag().deltas, 0);

    cluster.heal();
    assert!(cluster.run_for(Duration::from_secs(30)), "livelock");
    assert!(cluster.converged());
    assert_eq!(cluster.node(0).lag(), gossip_transport::Lag::default());
}
