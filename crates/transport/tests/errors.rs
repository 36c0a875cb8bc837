//! Malformed packets are refused whole: an error, and no change to the replica.

use gossip_crdt::GSet;
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
                }],
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
                }],
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
