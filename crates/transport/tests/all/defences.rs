//! What a replica does against stale, buggy or hostile peers: lives told apart without
//! trusting incarnation order, claims on its own id refused, and a hostile member that can
//! neither crash a replica, nor make it keep more than it was sent, nor lose a write.

use crate::common;

use std::time::Duration;

use common::{Cluster, Faults, base, ms};
use gossip_crdt::{CausalContext, Dot, GSet};
use gossip_transport::{Config, Packet, ReplicaId, Run, Start, TransportError};
use quickcheck::{Arbitrary, Gen, QuickCheck, TestResult};

/// Every strategy of the convergence tests but the ring, whose overlay names eight members.
fn strategies() -> Vec<(&'static str, Config<u32>)> {
    common::strategies()
        .into_iter()
        .filter(|(name, _)| *name != "flood/ring")
        .collect()
}

fn settle(cluster: &mut Cluster) {
    assert!(cluster.run_for(Duration::from_secs(20)), "livelock");
}

/// A restarted node whose new incarnation is *smaller* than its old one (a clock that
/// stepped back, a restored VM) is still recognised as a new life: it is repaired, and its
/// new writes are acknowledged by its peers.
#[test]
fn a_restart_with_a_smaller_incarnation_is_repaired_and_acknowledged() {
    for (name, config) in strategies() {
        let mut cluster = Cluster::new(4, config, Faults::default(), 7);
        for v in 0..20 {
            cluster.update(v as u32 % 4, v);
        }
        settle(&mut cluster);
        assert!(cluster.converged(), "{name}: before the restart");
        let old = cluster.nodes[2].incarnation();
        assert!(old > 1, "{name}: the first life's incarnation is random");
        let now = cluster.now();
        cluster.restart_with(
            2,
            Start {
                seed: 9,
                replica: ReplicaId(424_242),
                incarnation: 1,
                now,
            },
        );
        settle(&mut cluster);
        assert_eq!(
            cluster.nodes[2].state(),
            cluster.nodes[0].state(),
            "{name}: the restarted node was not repaired"
        );
        let delta = cluster.nodes[2].state().insert_delta(1_000);
        let now = cluster.now();
        let dot = cluster
            .node_mut(2)
            .update(now, delta)
            .expect("a new element");
        settle(&mut cluster);
        assert!(cluster.converged(), "{name}: after the restart");
        assert!(
            cluster.nodes[2].is_held_elsewhere(&dot),
            "{name}: the restarted node's write was never acknowledged"
        );
    }
}

/// One forged packet with the largest incarnation changes nothing lasting: the member's live
/// incarnation answers the challenge, and its writes keep being acknowledged.
#[test]
fn a_forged_incarnation_is_settled_by_the_live_member() {
    for (name, config) in strategies() {
        let mut cluster = Cluster::new(2, config, Faults::default(), 3);
        settle(&mut cluster);
        let forged = Packet {
            seq: Some((1, 1)),
            ..Packet::new(u64::MAX)
        };
        assert_eq!(cluster.inject(1, 0, forged), Ok(()), "{name}");
        settle(&mut cluster);
        let mut dots = Vec::new();
        for v in 0..5 {
            let delta = cluster.nodes[1].state().insert_delta(v);
            let now = cluster.now();
            dots.push(cluster.node_mut(1).update(now, delta).expect("new"));
            settle(&mut cluster);
        }
        assert!(cluster.converged(), "{name}");
        for dot in &dots {
            assert!(
                cluster.nodes[1].is_held_elsewhere(dot),
                "{name}: {dot:?} never acknowledged after a forged incarnation"
            );
        }
    }
}

/// Deltas and digests that claim a replica's own id beyond its counter are refused, and
/// the replica moves to a fresh id: its next writes are applied, acknowledged and spread.
#[test]
fn claims_on_a_replicas_own_id_are_refused() {
    for (name, config) in strategies() {
        let mut cluster = Cluster::new(3, config, Faults::default(), 5);
        for v in 0..3 {
            cluster.update(0, v);
        }
        settle(&mut cluster);
        let id = cluster.nodes[0].id();
        let next = cluster.nodes[0].seen().max_counter(&id) + 1;
        // Runs just ahead of the counter, as a forger would send them.
        let forged_run = Packet {
            runs: vec![Run {
                origin: id,
                first: next,
                deltas: (0..5).map(|i| [900 + i].into_iter().collect()).collect(),
            }]
            .into(),
            ..Packet::new(cluster.nodes[1].incarnation())
        };
        assert_eq!(cluster.inject(1, 0, forged_run), Ok(()), "{name}");
        assert!(!cluster.nodes[0].state().contains(&900), "{name}: applied");
        assert_ne!(cluster.nodes[0].id(), id, "{name}: kept a claimed id");
        // A digest claiming the new id's future, likewise.
        let id2 = cluster.nodes[0].id();
        let mut have = CausalContext::new();
        for counter in 1..=50 {
            have.insert(Dot {
                replica: id2,
                counter,
            });
        }
        let forged_digest = Packet {
            have: Some(have),
            pull: true,
            ..Packet::new(cluster.nodes[2].incarnation())
        };
        assert_eq!(cluster.inject(2, 0, forged_digest), Ok(()), "{name}");
        assert_ne!(cluster.nodes[0].id(), id2, "{name}: kept a claimed id");
        assert_eq!(cluster.nodes[0].stats().refused.own_id, 2, "{name}");
        let mut dots = Vec::new();
        for v in 10..15 {
            let delta = cluster.nodes[0].state().insert_delta(v);
            let now = cluster.now();
            let dot = cluster
                .node_mut(0)
                .update(now, delta)
                .expect("a new element");
            assert!(cluster.nodes[0].state().contains(&v), "{name}: not applied");
            dots.push(dot);
        }
        settle(&mut cluster);
        assert!(cluster.converged(), "{name}");
        for (v, dot) in (10..15).zip(&dots) {
            assert!(cluster.nodes[1].state().contains(&v), "{name}: {v} lost");
            assert!(cluster.nodes[0].is_held_elsewhere(dot), "{name}: {v}");
        }
    }
}

/// A forged claim on a replica's id that reached *another* replica is noticed when that
/// replica's digest or deltas come back, and the claimed replica moves on, so its later
/// writes are not dropped as repeats anywhere.
#[test]
fn a_claim_spread_to_others_moves_the_claimed_replica_on() {
    let config = strategies()
        .into_iter()
        .find(|(n, _)| *n == "push-pull")
        .map(|(_, c)| c)
        .expect("push-pull is listed");
    let mut cluster = Cluster::with_outsiders(3, 1, config, Faults::default(), 11);
    cluster.update(0, 1);
    settle(&mut cluster);
    let id = cluster.nodes[0].id();
    let forged = Packet {
        runs: vec![Run {
            origin: id,
            first: 2,
            deltas: vec![[777].into_iter().collect()],
        }]
        .into(),
        ..Packet::new(99)
    };
    // The outsider (member 3) tells node 1 that node 0 wrote 777 as its second delta.
    assert_eq!(cluster.inject(3, 1, forged), Ok(()));
    settle(&mut cluster);
    assert_ne!(cluster.nodes[0].id(), id, "node 0 never noticed the claim");
    cluster.update(0, 2);
    settle(&mut cluster);
    assert!(cluster.converged());
    assert!(cluster.nodes[1].state().contains(&2), "node 0's write lost");
}

// ---- a hostile member, generated ------------------------------------------------------------

/// Counters a hostile peer likes: small, near a genuine counter, and far out of range.
fn counter(g: &mut Gen, near: u64) -> u64 {
    match u8::arbitrary(g) % 6 {
        0 => 0,
        1 => u64::arbitrary(g) % 8,
        2 => near.saturating_add(u64::arbitrary(g) % 4),
        3 => u64::MAX - u64::arbitrary(g) % 4,
        4 => 1 << (u8::arbitrary(g) % 64),
        _ => u64::arbitrary(g),
    }
}

/// What the hostile member sends: every field in and far out of range.
#[derive(Debug, Clone)]
struct Forgery {
    /// 0: a genuine replica's own id; 1: an invented id.
    origin_kind: u8,
    invented: u64,
    inc: u64,
    to: Option<u64>,
    seq: Option<(u64, u64)>,
    ack: Option<(u64, u64)>,
    runs: Vec<(u64, usize)>,
    have: Vec<(u8, u64)>,
    pull: bool,
    snap: bool,
    relay: Option<bool>,
    probe: Option<u64>,
    answer: Option<u64>,
    /// Sent as an invented sender (not a member) instead of the hostile member.
    stranger: bool,
}

impl Arbitrary for Forgery {
    fn arbitrary(g: &mut Gen) -> Self {
        let runs = (0..u8::arbitrary(g) % 4)
            .map(|_| (counter(g, 1), usize::from(u8::arbitrary(g) % 5)))
            .collect();
        let have = (0..u8::arbitrary(g) % 12)
            .map(|_| (u8::arbitrary(g), counter(g, 1)))
            .collect();
        Forgery {
            origin_kind: u8::arbitrary(g) % 2,
            invented: u64::arbitrary(g) % 16,
            inc: counter(g, 1),
            to: Option::arbitrary(g).map(|_: ()| counter(g, 1)),
            seq: Option::arbitrary(g).map(|_: ()| {
                let lo = counter(g, 1);
                (lo, lo.saturating_add(u64::arbitrary(g) % 3))
            }),
            ack: Option::arbitrary(g).map(|_: ()| (counter(g, 1), counter(g, 1))),
            runs,
            have,
            pull: bool::arbitrary(g),
            snap: bool::arbitrary(g),
            relay: Option::arbitrary(g),
            probe: Option::arbitrary(g),
            answer: Option::arbitrary(g),
            stranger: u8::arbitrary(g) % 8 == 0,
        }
    }
}

/// Genuine traffic and forgeries, interleaved.
#[derive(Debug, Clone)]
enum Step {
    Update(u32),
    Wait(u64),
    Forge(u32, Forgery),
}

impl Arbitrary for Step {
    fn arbitrary(g: &mut Gen) -> Self {
        match u8::arbitrary(g) % 4 {
            0 => Step::Update(u32::arbitrary(g) % 3),
            1 => Step::Wait(u64::arbitrary(g) % 200),
            _ => Step::Forge(u32::arbitrary(g) % 3, Forgery::arbitrary(g)),
        }
    }
}

fn packet_for(cluster: &Cluster, to: u32, f: &Forgery) -> Packet<GSet<u64>> {
    let target = &cluster.nodes[to as usize];
    let own = target.id();
    let near = target.seen().max_counter(&own);
    let origin = |kind: u8, n: u64| match kind % 2 {
        0 => own,
        _ => ReplicaId(1_000_000 + n),
    };
    let runs: Vec<Run<GSet<u64>>> = f
        .runs
        .iter()
        .enumerate()
        .map(|(i, &(first, len))| {
            let kind = f.origin_kind.wrapping_add(i as u8);
            Run {
                origin: origin(kind, f.invented),
                // Counters of the receiver's own id at or just ahead of its own, as a
                // forger would send them.
                first: if kind.is_multiple_of(2) {
                    near.saturating_add(first % 3)
                } else {
                    first
                },
                // The content is a function of the id: a forger that tells two replicas
                // different things under one id cannot be caught without signatures.
                deltas: (0..len as u64)
                    .map(|k| {
                        [5_000_000 + first.wrapping_add(k) % 1_000]
                            .into_iter()
                            .collect()
                    })
                    .collect(),
            }
        })
        .collect();
    let have = (!f.have.is_empty()).then(|| {
        let mut have = CausalContext::new();
        for &(kind, counter) in &f.have {
            have.insert(Dot {
                replica: origin(kind, u64::from(kind)),
                counter,
            });
        }
        have
    });
    let snap = f
        .snap
        .then(|| [6_000_000 + f.invented].into_iter().collect::<GSet<u64>>());
    Packet {
        inc: f.inc,
        to: f.to,
        seq: f.seq,
        ack: f
            .ack
            .map(|(inc, seq)| gossip_transport::Ack { inc, seq, to: None }),
        runs: runs.into(),
        have,
        pull: f.pull,
        relay: f.relay,
        snap,
        probe: f.probe,
        answer: f.answer,
    }
}

/// Entries a packet may add to a replica's bookkeeping: a few per byte of the packet, plus
/// the slack one stored-delta window may allocate ahead of its entries.
fn allowance(packet: &Packet<GSet<u64>>) -> usize {
    let bytes = serde_json::to_vec(packet).map_or(0, |v| v.len());
    2 * bytes + 2 * 1024 + 16
}

fn hostile_run(steps: Vec<Step>) -> Result<(), String> {
    let hostile = 3;
    let mut cluster = Cluster::with_outsiders(3, 1, base(), Faults::default(), 21);
    let mut value = 0;
    let mut written: Vec<(u32, u64, Dot<ReplicaId>)> = Vec::new();
    for step in &steps {
        match step {
            Step::Update(node) => {
                value += 1;
                let delta = cluster.nodes[*node as usize].state().insert_delta(value);
                let now = cluster.now();
                let Some(dot) = cluster.node_mut(*node).update(now, delta) else {
                    return Err(format!("update {value} on node {node} returned no id"));
                };
                if !cluster.nodes[*node as usize].state().contains(&value) {
                    return Err(format!("update {value} acknowledged but not applied"));
                }
                written.push((*node, value, dot));
            }
            Step::Wait(n) => {
                if !cluster.run_for(ms(*n)) {
                    return Err("livelock".into());
                }
            }
            Step::Forge(to, forgery) => {
                let packet = packet_for(&cluster, *to, forgery);
                let allowed = allowance(&packet);
                let from = if forgery.stranger { 40 } else { hostile };
                let before = cluster.nodes[*to as usize].footprint();
                match cluster.inject(from, *to, packet) {
                    Ok(())
                    | Err(
                        TransportError::NotMember
                        | TransportError::TooFarAhead
                        | TransportError::BadRun { .. }
                        | TransportError::BadSequence { .. }
                        | TransportError::SnapshotWithoutDigest,
                    ) => {}
                    Err(e) => return Err(format!("unexpected refusal {e}")),
                }
                let after = cluster.nodes[*to as usize].footprint();
                if after > before + allowed {
                    return Err(format!(
                        "one forged packet grew node {to}'s bookkeeping by {} entries (allowed {allowed})",
                        after - before
                    ));
                }
            }
        }
    }
    if !cluster.run_for(Duration::from_secs(30)) {
        return Err("livelock after the last step".into());
    }
    if !cluster.converged() {
        let states: Vec<Vec<u64>> = cluster
            .nodes
            .iter()
            .map(|n| n.state().iter().copied().collect())
            .collect();
        return Err(format!("the genuine replicas differ: {states:?}"));
    }
    for (node, v, _) in &written {
        if !cluster.nodes[0].state().contains(v) {
            return Err(format!("write {v} acknowledged by node {node} is missing"));
        }
    }
    Ok(())
}

#[test]
fn a_hostile_member_cannot_crash_bloat_or_lose_writes() {
    fn prop(steps: Vec<Step>) -> TestResult {
        match hostile_run(steps) {
            Ok(()) => TestResult::passed(),
            Err(e) => TestResult::error(e),
        }
    }
    let tests = std::env::var("QUICKCHECK_TESTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    QuickCheck::new()
        .tests(tests)
        .rng(Gen::new(40))
        .quickcheck(prop as fn(Vec<Step>) -> TestResult);
}

#[test]
fn regression_far_apart_runs_of_an_invented_origin_converge() {
    let forge = |runs: Vec<(u64, usize)>, kind: u8| Forgery {
        origin_kind: kind,
        invented: 12,
        inc: 7,
        to: None,
        seq: None,
        ack: None,
        runs,
        have: Vec::new(),
        pull: false,
        snap: false,
        relay: None,
        probe: None,
        answer: None,
        stranger: false,
    };
    let steps = vec![
        Step::Forge(0, forge(vec![(4096, 4)], 1)),
        Step::Update(1),
        Step::Forge(1, forge(vec![(3, 1), (1, 4)], 0)),
    ];
    if let Err(e) = hostile_run(steps) {
        panic!("{e}");
    }
}
