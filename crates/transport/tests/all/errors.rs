//! Malformed packets are refused whole: an error, and no change to the replica.

use gossip_crdt::{GSet, Lattice};
use gossip_transport::{Config, Packet, ReplicaId, Replicator, Run, Start, Time, TransportError};

fn replica() -> Replicator<GSet<u64>, &'static str> {
    let mut r = Replicator::new(
        "a",
        vec!["a", "b"],
        Config::maelstrom(),
        Start::new(Time::ZERO, 1, 1),
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
        assert_eq!(
            r.stats().received_packets,
            before.received_packets,
            "{name}: counted as received"
        );
        assert_eq!(
            r.stats().refused.total(),
            before.refused.total() + 1,
            "{name}: not counted as refused"
        );
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
        Config::maelstrom(),
        Start::new(Time::ZERO, 1, 1),
    );
    while a.poll_transmit().is_some() {}
    let run = |first, element| Run {
        origin: ReplicaId(3),
        first,
        deltas: vec![[element].into_iter().collect()],
    };
    let packet = Packet {
        runs: vec![run(10, 1), run(3_000, 2)].into(),
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

/// A counter far past everything held of its origin is refused with the whole packet: kept,
/// it would be a loose id no gap-filling ever reclaims.
#[test]
fn a_counter_far_past_its_origin_is_refused() {
    let mut a = replica();
    let packet = |first: u64| Packet {
        runs: vec![Run {
            origin: ReplicaId(3),
            first,
            deltas: vec![[first].into_iter().collect()],
        }]
        .into(),
        ..Packet::new(1)
    };
    for first in [u64::MAX - 1, 1 << 40, 10_000] {
        assert_eq!(
            a.handle_packet(Time::ZERO, "b", packet(first)),
            Err(TransportError::TooFarAhead)
        );
    }
    assert!(a.state().is_bottom());
    assert_eq!(a.stats().refused.too_far_ahead, 3);
    // Once the gap before it has filled, the same delta is welcome.
    let filler = Packet {
        runs: vec![Run {
            origin: ReplicaId(3),
            first: 1,
            deltas: (1..9_000u64).map(|n| [n].into_iter().collect()).collect(),
        }]
        .into(),
        ..Packet::new(1)
    };
    assert_eq!(a.handle_packet(Time::ZERO, "b", filler), Ok(()));
    assert_eq!(a.handle_packet(Time::ZERO, "b", packet(10_000)), Ok(()));
    assert!(a.state().contains(&10_000));
}

/// Link sequence numbers far past what arrived on the link are refused, so a sender cannot
/// make a replica keep one gap range per packet without bound.
#[test]
fn sequence_numbers_far_ahead_are_refused() {
    let mut a = replica();
    for n in 0..100u64 {
        let lo = 10_000 + 3 * n;
        let packet = Packet {
            seq: Some((lo, lo)),
            ..Packet::new(1)
        };
        assert_eq!(
            a.handle_packet(Time::ZERO, "b", packet),
            Err(TransportError::TooFarAhead)
        );
    }
    assert_eq!(a.stats().refused.too_far_ahead, 100);
    let near = Packet {
        seq: Some((5, 5)),
        ..Packet::new(1)
    };
    assert_eq!(a.handle_packet(Time::ZERO, "b", near), Ok(()));
}

/// Only members are peers: a packet from anyone else is refused and leaves no trace.
#[test]
fn a_sender_that_is_not_a_member_is_refused() {
    let mut a = replica();
    for n in 0..1_000 {
        let name: &'static str = Box::leak(format!("x{n}").into_boxed_str());
        let packet = Packet {
            seq: Some((1, 1)),
            pull: true,
            have: Some(Default::default()),
            ..Packet::new(1)
        };
        assert_eq!(
            a.handle_packet(Time::ZERO, name, packet),
            Err(TransportError::NotMember)
        );
    }
    assert_eq!(a.stats().refused.not_member, 1_000);
    a.handle_timeout(Time::from_millis(5_000));
    while let Some((to, _)) = a.poll_transmit() {
        assert_eq!(to, "b", "only members are sent anything");
    }
}
