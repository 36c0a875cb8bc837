//! Every strategy converges under faults: quickcheck generates fault schedules (updates,
//! partitions, heals, restarts with state loss, waits) over a lossy, duplicating, reordering
//! network; after the faults stop and the network heals, every replica must hold every update
//! (except those only a restarted replica ever had) and all replicas must be equal.
//!
//! A failure prints the seed; `TRANSPORT_SEED=<seed> cargo test -p gossip-transport --test
//! convergence` replays it.

use crate::common;

use std::time::Duration;

use common::{Cluster, Faults, ms, strategies};
use gossip_transport::{Config, Overlay};
use quickcheck::{Arbitrary, Gen, QuickCheck, TestResult};

#[derive(Debug, Clone)]
enum Op {
    Update(u32),
    /// Splits the cluster by a bitmask of members.
    Partition(u32),
    Heal,
    Restart(u32),
    Wait(u64),
}

#[derive(Debug, Clone)]
struct Schedule {
    nodes: u32,
    seed: u64,
    p_loss: f64,
    p_dup: f64,
    jitter_ms: u64,
    ops: Vec<Op>,
}

impl Arbitrary for Schedule {
    fn arbitrary(g: &mut Gen) -> Self {
        let nodes = 2 + u32::from(u8::arbitrary(g) % 7);
        let len = usize::from(u8::arbitrary(g) % 40);
        let ops = (0..len)
            .map(|_| match u8::arbitrary(g) % 16 {
                0..=7 => Op::Update(u32::from(u8::arbitrary(g)) % nodes),
                8 => Op::Partition(u32::arbitrary(g)),
                9 => Op::Heal,
                10 => Op::Restart(u32::from(u8::arbitrary(g)) % nodes),
                _ => Op::Wait(u64::from(u8::arbitrary(g)) * 4),
            })
            .collect();
        Schedule {
            nodes,
            seed: u64::arbitrary(g),
            p_loss: f64::from(u8::arbitrary(g) % 4) * 0.1,
            p_dup: f64::from(u8::arbitrary(g) % 3) * 0.1,
            jitter_ms: u64::from(u8::arbitrary(g) % 30),
            ops,
        }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        // Drop the second half, then single operations.
        let me = self.clone();
        let n = self.ops.len();
        let halves = (n > 1).then(|| self.ops[..n / 2].to_vec());
        let singles = (0..n).map(move |i| {
            let mut ops = me.ops.clone();
            ops.remove(i);
            ops
        });
        let me = self.clone();
        Box::new(
            halves
                .into_iter()
                .chain(singles)
                .map(move |ops| Schedule { ops, ..me.clone() }),
        )
    }
}

/// Runs `schedule` under `config`; `Err` explains what went wrong.
fn run(config: &Config<u32>, schedule: &Schedule) -> Result<(), String> {
    let faults = Faults {
        latency: ms(5),
        jitter: ms(schedule.jitter_ms),
        p_loss: schedule.p_loss,
        p_dup: schedule.p_dup,
    };
    let mut config = config.clone();
    if let Overlay::Given(_) = config.overlay {
        let n = schedule.nodes;
        config.overlay = Overlay::Given((0..n).map(|i| (i, vec![(i + 1) % n])).collect());
    }
    let mut cluster = Cluster::new(schedule.nodes, config, faults, schedule.seed);
    let mut value = 0u64;
    // Updates whose node was restarted afterwards may be lost with it.
    let mut expected: Vec<(u32, u64)> = Vec::new();
    for op in &schedule.ops {
        match *op {
            Op::Update(node) => {
                value += 1;
                cluster.update(node, value);
                expected.push((node, value));
            }
            Op::Partition(mask) => {
                let (a, b): (Vec<u32>, Vec<u32>) = cluster
                    .members()
                    .into_iter()
                    .partition(|m| mask & (1 << m) != 0);
                cluster.partition(&a, &b);
            }
            Op::Heal => cluster.heal(),
            Op::Restart(node) => {
                cluster.restart(node);
                expected.retain(|(n, _)| *n != node);
            }
            Op::Wait(ms_) => {
                if !cluster.run_for(ms(ms_)) {
                    return Err("livelock while running the schedule".into());
                }
            }
        }
        if !cluster.run_for(ms(1)) {
            return Err("livelock".into());
        }
    }
    cluster.heal();
    cluster.faults.p_loss = 0.0;
    cluster.faults.p_dup = 0.0;
    if !cluster.run_for(Duration::from_secs(30)) {
        return Err("livelock after healing".into());
    }
    let state = cluster.nodes[0].state().clone();
    if !cluster.converged() {
        let states: Vec<Vec<u64>> = cluster
            .nodes
            .iter()
            .map(|n| n.state().iter().copied().collect())
            .collect();
        return Err(format!("replicas differ after healing: {states:?}"));
    }
    for (node, v) in &expected {
        if !state.contains(v) {
            return Err(format!("update {v} made on node {node} was lost"));
        }
    }
    if !cluster.quiet() {
        return Err("still sending 30 s after the last update".into());
    }
    Ok(())
}

fn seed() -> u64 {
    std::env::var("TRANSPORT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            use std::hash::{BuildHasher, RandomState};
            RandomState::new().hash_one(std::time::SystemTime::now())
        })
}

fn cases() -> u64 {
    std::env::var("TRANSPORT_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60)
}

fn config(name: &str) -> Config<u32> {
    strategies()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, c)| c)
        .unwrap_or_else(|| panic!("no strategy named {name}"))
}

fn check(name: &'static str, prop: fn(Schedule) -> TestResult) {
    let seed = seed();
    eprintln!(
        "{name}: seed {seed} (replay: TRANSPORT_SEED={seed} cargo test -p gossip-transport --test all convergence::)"
    );
    QuickCheck::new()
        .tests(cases())
        .rng(Gen::from_size_and_seed(40, seed))
        .quickcheck(prop);
}

fn verdict(name: &'static str, schedule: Schedule) -> TestResult {
    match run(&config(name), &schedule) {
        Ok(()) => TestResult::passed(),
        Err(why) => TestResult::error(format!("{name}: {why}\nschedule: {schedule:?}")),
    }
}

macro_rules! converges {
    ($($test:ident => $name:literal),* $(,)?) => {$(
        #[test]
        fn $test() {
            fn prop(schedule: Schedule) -> TestResult {
                verdict($name, schedule)
            }
            check($name, prop);
        }
    )*};
}

converges! {
    flood_over_a_full_mesh_converges => "flood/full",
    flood_over_a_ring_converges => "flood/ring",
    a_binary_tree_converges => "tree/kary2",
    a_star_with_fallback_hubs_converges => "tree/star3",
    push_gossip_converges => "gossip/fanout2",
    push_pull_anti_entropy_converges => "push-pull",
    the_hybrid_over_a_star_converges => "hybrid/star2",
    the_hybrid_over_a_tree_converges => "hybrid/kary3",
}

#[test]
fn every_strategy_has_a_convergence_test() {
    let tested = [
        "flood/full",
        "flood/ring",
        "tree/kary2",
        "tree/star3",
        "gossip/fanout2",
        "push-pull",
        "hybrid/star2",
        "hybrid/kary3",
    ];
    for (name, _) in strategies() {
        assert!(tested.contains(&name), "{name} has no convergence test");
    }
}

/// Found by the sweep: a suspected peer's queued deltas were folded into a retransmission
/// under an old sequence range that the peer had already acknowledged, so the ack "covered"
/// a delta that was lost with the retransmission.
#[test]
fn regression_queued_deltas_never_reuse_an_acknowledged_sequence_number() {
    let schedule = Schedule {
        nodes: 5,
        seed: 5039386952131103953,
        p_loss: 0.3,
        p_dup: 0.0,
        jitter_ms: 26,
        ops: vec![
            Op::Update(2),
            Op::Wait(112),
            Op::Update(0),
            Op::Update(1),
            Op::Wait(524),
        ],
    };
    assert_eq!(run(&config("tree/kary2"), &schedule), Ok(()));
}

/// Found by the sweep: a restarted hub learned a delta only from a snapshot, and a leaf whose
/// earlier, smaller snapshot was still in flight never got it (the in-flight check ignored
/// what the snapshot covered).
#[test]
fn regression_a_newer_snapshot_is_sent_when_the_one_in_flight_falls_short() {
    let schedule = Schedule {
        nodes: 6,
        seed: 7460766102617913094,
        p_loss: 0.1,
        p_dup: 0.1,
        jitter_ms: 26,
        ops: vec![
            Op::Wait(924),
            Op::Update(2),
            Op::Wait(988),
            Op::Update(1),
            Op::Update(3),
            Op::Wait(752),
            Op::Update(0),
            Op::Update(5),
            Op::Wait(444),
            Op::Update(3),
            Op::Wait(376),
            Op::Update(5),
            Op::Update(5),
            Op::Restart(0),
        ],
    };
    assert_eq!(run(&config("tree/star3"), &schedule), Ok(()));
}

/// Found by the sweep: a retransmitted snapshot carried the newer state under its old
/// sequence number, and the acknowledgement of the original packet vouched for the newer
/// deltas, which the peer never received.
#[test]
fn regression_an_acknowledged_snapshot_vouches_only_for_what_it_first_covered() {
    use Op::*;
    let schedule = Schedule {
        nodes: 4,
        seed: 16782916804459804715,
        p_loss: 0.3,
        p_dup: 0.0,
        jitter_ms: 20,
        ops: vec![
            Wait(388),
            Wait(484),
            Wait(56),
            Update(3),
            Wait(748),
            Update(0),
            Update(1),
            Update(1),
            Wait(792),
            Heal,
            Update(0),
            Update(3),
            Update(0),
            Update(3),
            Wait(464),
            Update(0),
            Wait(232),
            Restart(2),
            Update(1),
            Wait(116),
            Wait(108),
            Update(0),
            Update(1),
            Wait(280),
        ],
    };
    assert_eq!(run(&config("tree/kary2"), &schedule), Ok(()));
}

/// The local-network timings of `gossip-net` (`Preset::Lan`): a star with three hubs, leaves
/// pushing each update at once, the hub batching every 5 ms, retransmission after 200 ms.
fn lan_shell() -> Config<u32> {
    Config {
        strategy: gossip_transport::Strategy::Tree,
        overlay: Overlay::Star { hubs: 3 },
        flush: ms(0),
        relay_flush: ms(5),
        ack_delay: ms(20),
        rto: ms(200),
        max_rto: ms(1000),
        suspect_after: ms(1000),
        ..Config::lan()
    }
}

/// One leaf writes far faster than a sequence number per packet can be tracked across a
/// retransmission timeout (30 packets a millisecond against a receiver that keeps track of
/// 4,096 numbers past a gap), and a millisecond of its packets is lost. The writer must hold
/// its new packets back instead of sending numbers the hub refuses: refused numbers are never
/// acknowledged, and resending them merged into ever wider ranges kept the link refused for
/// good. Every update reaches everyone and nothing is refused.
#[test]
fn a_fast_writer_recovers_from_a_loss_without_running_past_the_receivers_window() {
    let (hub, writer, other) = (0, 1, 2);
    let mut net = Cluster::new(
        3,
        lan_shell(),
        Faults {
            latency: ms(1),
            ..Faults::default()
        },
        11,
    );
    let mut value = 0;
    for millis in 0..1000 {
        if millis == 100 {
            net.cut_one_way(writer, hub);
        }
        if millis == 101 {
            net.heal();
        }
        for _ in 0..30 {
            value += 1;
            net.update(writer, value);
        }
        assert!(net.run_for(ms(1)));
    }
    assert!(net.run_for(Duration::from_secs(20)));
    assert!(net.net_stats().dropped > 0, "the cut dropped packets");
    for node in [hub, writer, other] {
        assert_eq!(net.node(node).state().len() as u64, value, "node {node}");
    }
    let stats = net.stats();
    assert_eq!(stats.refused.too_far_ahead, 0);
    assert!(stats.held_back > 0, "the writer held pushes back: {stats}");
}
