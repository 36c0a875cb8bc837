//! Members that change: random schedules of joins, leaves, crashes (a fresh life, state lost)
//! and partitions, under every strategy. After healing, the live members hold the same state,
//! and nothing written by a member that stayed is lost. A departed member neither blocks log
//! compaction nor stays the star's hub.

use crate::common;

use std::time::Duration;

use common::{Cluster, Faults, base, ms, strategies};
use gossip_transport::{Config, Overlay, Strategy};
use quickcheck::{Arbitrary, Gen, QuickCheck, TestResult};

#[derive(Debug, Clone)]
enum Op {
    Update(u32),
    Leave(u32),
    Join(u32),
    Crash(u32),
    Partition(u32),
    Heal,
    Wait(u64),
}

impl Arbitrary for Op {
    fn arbitrary(g: &mut Gen) -> Self {
        let node = u32::arbitrary(g) % 6;
        match u8::arbitrary(g) % 12 {
            0..=4 => Op::Update(node),
            5 => Op::Leave(node),
            6 => Op::Join(node),
            7 => Op::Crash(node),
            8 => Op::Partition(u32::arbitrary(g)),
            9 => Op::Heal,
            _ => Op::Wait(u64::arbitrary(g) % 400),
        }
    }
}

fn run(config: &Config<u32>, ops: &[Op], seed: u64) -> Result<(), String> {
    let faults = Faults {
        latency: ms(5),
        jitter: ms(10),
        p_loss: 0.05,
        p_dup: 0.05,
    };
    let mut cluster = Cluster::new(6, config.clone(), faults, seed);
    cluster.trace = std::env::var("MEMBERSHIP_TRACE").is_ok();
    let mut value = 0;
    // Writes by members that have stayed (and kept their state) since.
    let mut expected: Vec<(u32, u64)> = Vec::new();
    for op in ops {
        match *op {
            Op::Update(n) if !cluster.gone.contains(&n) => {
                value += 1;
                cluster.update(n, value);
                expected.push((n, value));
            }
            Op::Leave(n) if !cluster.gone.contains(&n) && cluster.live().len() > 2 => {
                cluster.leave(n);
                expected.retain(|(m, _)| *m != n);
            }
            Op::Join(n) if cluster.gone.contains(&n) => cluster.join(n),
            Op::Crash(n) if !cluster.gone.contains(&n) => {
                cluster.restart(n);
                expected.retain(|(m, _)| *m != n);
            }
            Op::Partition(mask) => {
                let (a, b): (Vec<u32>, Vec<u32>) = cluster
                    .live()
                    .into_iter()
                    .partition(|m| mask & (1 << m) != 0);
                cluster.partition(&a, &b);
            }
            Op::Heal => cluster.heal(),
            Op::Wait(d) if !cluster.run_for(ms(d)) => return Err("livelock".into()),
            _ => {}
        }
        if !cluster.run_for(ms(1)) {
            return Err("livelock".into());
        }
    }
    cluster.heal();
    cluster.faults.p_loss = 0.0;
    cluster.faults.p_dup = 0.0;
    if !cluster.run_for(Duration::from_secs(40)) {
        return Err("livelock after healing".into());
    }
    if !cluster.live_converged() {
        let states: Vec<(u32, usize)> = cluster
            .live()
            .into_iter()
            .map(|n| (n, cluster.nodes[n as usize].state().len()))
            .collect();
        return Err(format!("live members differ after healing: {states:?}"));
    }
    let Some(&first) = cluster.live().first() else {
        return Err("nobody left".into());
    };
    let state = cluster.nodes[first as usize].state();
    for (n, v) in &expected {
        if !state.contains(v) {
            return Err(format!("write {v} by member {n}, which stayed, was lost"));
        }
    }
    Ok(())
}

fn verdict(name: &str, ops: Vec<Op>, seed: u64) -> TestResult {
    let Some((_, config)) = strategies().into_iter().find(|(n, _)| *n == name) else {
        return TestResult::error(format!("no strategy {name}"));
    };
    match run(&config, &ops, seed) {
        Ok(()) => TestResult::passed(),
        Err(e) => TestResult::error(format!("{name}: {e}")),
    }
}

fn cases() -> u64 {
    std::env::var("QUICKCHECK_TESTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100)
}

macro_rules! membership_property {
    ($test:ident, $name:expr) => {
        #[test]
        fn $test() {
            fn prop(ops: Vec<Op>, seed: u64) -> TestResult {
                verdict($name, ops, seed)
            }
            QuickCheck::new()
                .tests(cases())
                .rng(Gen::new(30))
                .quickcheck(prop as fn(Vec<Op>, u64) -> TestResult);
        }
    };
}

membership_property!(flood_full_survives_membership_changes, "flood/full");
membership_property!(flood_ring_survives_membership_changes, "flood/ring");
membership_property!(tree_kary2_survives_membership_changes, "tree/kary2");
membership_property!(tree_star3_survives_membership_changes, "tree/star3");
membership_property!(gossip_survives_membership_changes, "gossip/fanout2");
membership_property!(push_pull_survives_membership_changes, "push-pull");
membership_property!(hybrid_star2_survives_membership_changes, "hybrid/star2");
membership_property!(hybrid_kary3_survives_membership_changes, "hybrid/kary3");

/// Compaction waits only for members: once one leaves, the deltas every remaining member
/// holds are dropped, though the departed one never acknowledged them.
#[test]
fn a_departed_member_does_not_hold_back_compaction() {
    let config = Config {
        strategy: Strategy::Tree,
        overlay: Overlay::Star { hubs: 2 },
        ..base()
    };
    let mut cluster = Cluster::new(4, config, Faults::default(), 9);
    cluster.partition(&[3], &[0, 1, 2]);
    for v in 0..30 {
        cluster.update((v % 3) as u32, v);
        assert!(cluster.run_for(ms(10)));
    }
    assert!(cluster.run_for(Duration::from_secs(3)));
    assert!(
        cluster.nodes[0].log_len() > 0,
        "the hub keeps what member 3 lacks"
    );
    cluster.leave(3);
    assert!(cluster.run_for(Duration::from_secs(3)));
    for n in 0..3 {
        assert_eq!(
            cluster.nodes[n].log_len(),
            0,
            "member {n} still waits for 3"
        );
    }
}

/// When the star's hub leaves, the next candidate takes over and nothing a live member held
/// is lost.
#[test]
fn the_hub_leaving_hands_over_to_the_next() {
    let config = Config {
        strategy: Strategy::Tree,
        overlay: Overlay::Star { hubs: 3 },
        ..base()
    };
    let mut cluster = Cluster::new(5, config, Faults::default(), 4);
    for v in 0..10 {
        cluster.update((v % 5) as u32, v);
    }
    assert!(cluster.run_for(Duration::from_secs(2)));
    cluster.leave(0);
    for v in 10..30 {
        cluster.update(1 + (v % 4) as u32, v);
        assert!(cluster.run_for(ms(20)));
    }
    assert!(cluster.run_for(Duration::from_secs(10)));
    assert!(cluster.live_converged());
    for v in 10..30 {
        assert!(cluster.nodes[2].state().contains(&v), "{v} lost");
    }
    assert_eq!(
        cluster.nodes[2].eager_targets(),
        vec![1],
        "member 1 is the new hub"
    );
}

/// Runs one schedule under the strategy named `name`, panicking with what went wrong.
fn replay(name: &str, ops: &[Op], seed: u64) {
    let Some((_, config)) = strategies().into_iter().find(|(n, _)| *n == name) else {
        panic!("no strategy {name}");
    };
    if let Err(e) = run(&config, ops, seed) {
        panic!("{name}: {e}");
    }
}

#[test]
fn regression_kary_members_leaving_in_turn() {
    use Op::*;
    let ops = [
        Leave(4),
        Update(5),
        Update(5),
        Join(4),
        Update(3),
        Leave(1),
        Leave(2),
    ];
    replay("tree/kary2", &ops, 2219270557810081518);
}

/// The hub leaves while a leaf's write is on its way to it and the leaf is cut off from the
/// next hub: the leaf's greeting of the new hub (its digest and a request for the hub's) is
/// lost, and its retransmission must still ask, or neither learns what the other lacks.
#[test]
fn regression_hub_leaves_while_the_next_is_cut_off() {
    use Op::*;
    let ops = [Partition(3739814506), Wait(350), Update(4), Leave(0)];
    replay("tree/star3", &ops, 685078437141763380);
}

#[test]
fn regression_hub_leaves_after_its_leaves_failed_over() {
    use Op::*;
    let ops = [
        Wait(93),
        Update(4),
        Partition(3161473281),
        Update(3),
        Wait(333),
        Leave(0),
    ];
    replay("tree/star3", &ops, 29731578992640);
}

/// A member dropped from the others' lists while it keeps running (its own life, its state)
/// and later taken back: the links to it resume, it is repaired with what it lacks and
/// repairs the others with what it wrote meanwhile, and then everything falls quiet (no
/// packet is left unacknowledged for ever).
#[test]
fn a_member_taken_back_in_the_same_life_resumes_its_links() {
    let config = Config {
        strategy: Strategy::Tree,
        overlay: Overlay::Star { hubs: 2 },
        ..base()
    };
    let mut cluster = Cluster::new(4, config, Faults::default(), 17);
    for v in 0..20 {
        cluster.update((v % 4) as u32, v);
        assert!(cluster.run_for(ms(10)));
    }
    assert!(cluster.run_for(Duration::from_secs(2)));
    assert!(cluster.converged());
    // Member 3 is cut off and dropped by the others; both sides keep writing.
    cluster.partition(&[3], &[0, 1, 2]);
    cluster.set_members_of(&[0, 1, 2], &[0, 1, 2]);
    for v in 20..40 {
        cluster.update((v % 4) as u32, v);
        assert!(cluster.run_for(ms(10)));
    }
    assert!(cluster.run_for(Duration::from_secs(2)));
    cluster.heal();
    cluster.set_members_of(&[0, 1, 2], &[0, 1, 2, 3]);
    assert!(cluster.run_for(Duration::from_secs(10)));
    assert!(cluster.converged(), "member 3 and the others differ");
    assert_eq!(cluster.nodes[3].state().len(), 40);
    assert!(cluster.quiet(), "packets left unacknowledged for ever");
}

/// Flooding over a given graph whose path is cut where a member left: the members on either
/// side are still linked (through the first member).
#[test]
fn regression_flood_over_a_graph_cut_by_a_departure() {
    replay("flood/ring", &[Op::Leave(3), Op::Update(0)], 0);
}

/// Half the members crash at once and nobody removes them from the member lists. On the k-ary
/// tree of `Config::scalable` the survivors route around the tree hops that stopped
/// acknowledging, head of the tree included, so updates made right after the crash reach
/// every survivor within a bound of virtual time, long before a membership layer would
/// declare the crashed members down.
#[test]
fn updates_reach_every_survivor_while_half_the_members_are_down_but_listed() {
    let n = 200;
    let faults = Faults {
        latency: ms(20),
        jitter: ms(10),
        ..Faults::default()
    };
    let mut cluster = Cluster::new(n, Config::scalable(), faults, 21);
    cluster.update(7, 0);
    assert!(cluster.run_for(Duration::from_secs(5)));
    assert!(cluster.converged());

    // The head of the tree and every other member the seed draws, half of them in all.
    let mut down = vec![0];
    while down.len() < n as usize / 2 {
        let m = cluster.rng.below(u64::from(n)) as u32;
        if !down.contains(&m) {
            down.push(m);
        }
    }
    for &m in &down {
        cluster.crash(m);
    }
    let survivors: Vec<u32> = (0..n).filter(|m| !down.contains(m)).collect();
    let everywhere = |cluster: &Cluster, v: u64| {
        survivors
            .iter()
            .all(|&m| cluster.nodes[m as usize].state().contains(&v))
    };
    // Five updates a second apart, the first right at the crash; each must be at every
    // survivor within `BOUND` of being made.
    const BOUND: Duration = Duration::from_secs(10);
    let step = ms(100);
    let mut made = Vec::new();
    let mut slowest = Duration::ZERO;
    for tick in 0..200u32 {
        if tick % 10 == 0 && made.len() < 5 {
            let origin = survivors[cluster.rng.below(survivors.len() as u64) as usize];
            let v = made.len() as u64 + 1;
            cluster.update(origin, v);
            made.push((v, cluster.now(), false));
        }
        assert!(cluster.run_for(step));
        for (v, at, arrived) in &mut made {
            if !*arrived && everywhere(&cluster, *v) {
                *arrived = true;
                slowest = slowest.max(cluster.now() - *at);
            }
        }
        if made.len() == 5 && made.iter().all(|(_, _, arrived)| *arrived) {
            break;
        }
    }
    assert_eq!(
        cluster.nodes[survivors[0] as usize].members().len(),
        n as usize,
        "the crashed members are still listed"
    );
    for (v, _, arrived) in &made {
        assert!(arrived, "update {v} never reached every survivor");
    }
    assert!(
        slowest <= BOUND,
        "an update took {slowest:?} to reach every survivor"
    );
}
