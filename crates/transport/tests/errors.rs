//! Malformed packets are refused whole: an error, and no change to the replica.

use gossip_crdt::{GSet, Lattice};
use gossip_transport::{Config, Packet, ReplicaId, Replicator, Run, Start, Time, TransportError};

fn replica() -> Replicator<GSet<u64>, &'static str> {
    let mut r = Replicator::new(
        "a",
        vec!["a", "b"],
        Config::default(),
        Start::at(Time::ZERO, 1),
    );
    while r.poll_transmit().is_some() {}
    r
}

#[test]
fn bad_packets_change_nothing() {
    let cases: Vec<(&str, Packet<GSet<u64>>, TransportError)> = vec![
        ("from self", Packet::new(1), TransportError::FromSelf),
        (
            "empty range",
            Packet {
                seq: Some((5, 4)),
                ..Packet::new(1)
            },
            TransportError::BadSequence { lo: 5, hi: 4 },
        ),
        (
            "sequence from zero",
            Packet {
                seq: Some((0, 0)),
                ..Packet::new(1)
            },
            TransportError::BadSequence { lo: 0, hi: 0 },
        ),
        (
            "run from zero",
            Packet {
                runs: vec![Run {
                    origin: ReplicaId(3),
                    first: 0,
                    deltas: vec![[1].into_iter().collect()],
                }]
                .into(),
                ..Packet::new(1)
            },
            TransportError::BadRun {
                origin: ReplicaId(3),
                first: 0,
                len: 1,
            },
        ),
        (
            "run past u64::MAX",
            Packet {
                runs: vec![Run {
                    origin: ReplicaId(3),
                    first: u64::MAX,
                    deltas: vec![[1].into_iter().collect(), [2].into_iter().collect()],
                }]
                .into(),
                ..Packet::new(1)
            },
            TransportError::BadRun {
                origin: ReplicaId(3),
                first: u64::MAX,
                len: 2,
            },
        ),
    ];
    for (name, packet, expected) in cases {
        let mut r = replica();
        let from = if expected == TransportError::FromSelf {
            "a"
        } else {
            "b"
        };
        let before = r.stats().clone();
        assert_eq!(
            r.handle_packet(Time::ZERO, from, packet),
            Err(expected),
            "{name}"
        );
        assert!(r.state().is_empty(), "{name}: state changed");
        assert_eq!(r.stats(), &before, "{name}: counted as received");
        assert!(
            r.poll_transmit().is_none(),
            "{name}: answered a refused packet"
        );
    }
}

/// A delta numbered far beyond its origin's others (a corrupt or hostile counter) is applied
/// but not stored (storing it would mean a window of empty slots up to it): a peer that lacks
/// it is sent a snapshot instead, so nothing is lost.
#[test]
fn a_far_off_delta_number_is_applied_and_served_by_snapshot() {
    let mut a: Replicator<GSet<u64>, &str> = Replicator::new(
        "a",
        vec!["a", "b", "c"],
        Config::default(),
        Start::at(Time::ZERO, 1),
    );
    while a.poll_transmit().is_some() {}
    let run = |first, element| Run {
        origin: ReplicaId(3),
        first,
        deltas: vec![[element].into_iter().collect()],
    };
    let packet = Packet {
        runs: vec![run(10, 1), run(u64::MAX - 1, 2)].into(),
        ..Packet::new(1)
    };
    assert_eq!(a.handle_packet(Time::ZERO, "b", packet), Ok(()));
    assert!(a.state().contains(&1) && a.state().contains(&2));
    assert_eq!(
        a.log_len(),
        1,
        "only the delta near its origin's others is stored"
    );

    // `c` knows nothing and asks: whatever reaches it must carry both elements.
    let pull = Packet {
        have: Some(Default::default()),
        pull: true,
        ..Packet::new(5)
    };
    assert_eq!(a.handle_packet(Time::from_millis(1), "c", pull), Ok(()));
    let mut c = GSet::new();
    let mut snapshots = 0;
    for ms in [1, 500, 1000, 2000] {
        a.handle_timeout(Time::from_millis(ms));
        while let Some((to, packet)) = a.poll_transmit() {
            if to != "c" {
                continue;
            }
            if let Some(snap) = &packet.snap {
                snapshots += 1;
                c.join(snap);
            }
            for run in packet.runs.iter() {
                for delta in &run.deltas {
                    c.join(delta);
                }
            }
        }
    }
    assert!(
        snapshots > 0,
        "the far-off delta can only travel in a snapshot"
    );
    assert!(c.contains(&1) && c.contains(&2), "c got {c:?}");
}
