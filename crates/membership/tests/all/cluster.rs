//! 50 nodes under churn in a simulated network: joins, graceful leaves, crashes, restarts
//! (keeping or losing their node id), partitions and a flapping node. After healing, every live
//! member sees the same alive set, no identity was ever used twice, and (with one replicator
//! per node following the membership) every live member holds every delta any live member
//! holds, with no delta id issued twice.
//!
//! `GOSSIP_SIM_SEEDS=1..=200 cargo test --release -p gossip-membership --test cluster` runs the
//! churn tests on other seeds; `GOSSIP_SIM_TRACE=1` prints the churn and, when views disagree,
//! each missing member's events.

use crate::sim;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use gossip_crdt::Dot;
use gossip_membership::{Config, Identity, MemberEvent, MemberState};
use gossip_transport::{ReplicaId, Time};
use rand::RngExt;
use sim::{Net, addr, fresh_id};
use uuid::Uuid;

const NODES: u32 = 50;

/// The node every node is given as a seed, besides a random live one, as a deployment lists
/// stable seeds: it is partitioned like the others but never crashes or leaves. A newcomer
/// whose only seed was cut off when it started and then went away for good could never get
/// in: nobody would know its address.
const SEED: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::new(10, 0, 0, 0),
    7000,
));

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// The seeds to run: `default`, or those named by `GOSSIP_SIM_SEEDS` (`7`, `1..=200`, `3,11`),
/// so a long sweep needs no code change.
fn seeds(default: &[u64]) -> Vec<u64> {
    let Ok(spec) = std::env::var("GOSSIP_SIM_SEEDS") else {
        return default.to_vec();
    };
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let parsed = match part.split_once("..=") {
            Some((a, b)) => a
                .parse::<u64>()
                .and_then(|a| b.parse::<u64>().map(|b| a..=b)),
            None => part.parse::<u64>().map(|a| a..=a),
        };
        match parsed {
            Ok(range) => out.extend(range),
            Err(e) => panic!("GOSSIP_SIM_SEEDS: {part:?} is not a seed or a range: {e}"),
        }
    }
    out
}

/// Boots `NODES` nodes, each joining through node 0 (and one random earlier node).
fn boot(net: &mut Net) -> BTreeMap<SocketAddr, u64> {
    let mut starts = BTreeMap::new();
    for i in 0..NODES {
        let id = fresh_id(&mut net.rng);
        let identity = Identity::new(id, addr(i), 1);
        let mut seeds = vec![SEED];
        if i > 1 {
            seeds.push(addr(net.rng.random_range(1..i)));
        }
        net.start(identity, &seeds);
        starts.insert(addr(i), 1);
        net.run_for(Duration::from_millis(100));
    }
    starts
}

/// What the churn phase did, for the failure message.
#[derive(Default, Debug)]
struct Tally {
    joins: u32,
    leaves: u32,
    crashes: u32,
    restarts_kept: u32,
    restarts_lost: u32,
    partitions: u32,
}

fn churn(seed: u64, with_replicas: bool) -> (Net, Tally) {
    let mut net = Net::new(seed, Config::lan_sized(NODES), with_replicas);
    net.loss = 0.01;
    let mut starts = boot(&mut net);
    // Gossip misses a member now and then (infect-and-die); SWIM's probes walk the members in
    // a shuffled round-robin, so within one round every member hears from each newcomer
    // directly whatever gossip missed.
    let cycle = net.config.swim.probe_period * (NODES + 10);
    let mut waited = Duration::ZERO;
    while !net.disagreeing().is_empty() && waited < cycle {
        net.run_for(secs(1));
        waited += secs(1);
    }
    trace_missing(&net);
    assert_eq!(
        net.disagreeing(),
        Vec::<SocketAddr>::new(),
        "seed {seed}: {waited:?} after boot"
    );

    let mut tally = Tally::default();
    let mut next_addr = NODES;
    let mut down: Vec<(SocketAddr, Uuid)> = Vec::new();
    let mut value = 0u64;
    let flapper = addr(7);
    for round in 0..60u32 {
        // The flapping node drops off the network and comes back every few seconds.
        if round < 40 && net.nodes.contains_key(&flapper) {
            if round % 2 == 0 {
                net.side.insert(flapper, 9);
            } else {
                net.side.remove(&flapper);
            }
        }
        let live: Vec<SocketAddr> = net
            .nodes
            .keys()
            .copied()
            .filter(|a| *a != flapper)
            .collect();
        let pick = live[net.rng.random_range(0..live.len())];
        let action = net.rng.random_range(0..10u32);
        if tracing() {
            eprintln!(
                "round {round} at {:?}: action {action} pick {pick} next {} side {:?}",
                net.now,
                addr(next_addr),
                net.side
            );
        }
        match action {
            0 => {
                let a = addr(next_addr);
                next_addr += 1;
                let id = fresh_id(&mut net.rng);
                net.start(Identity::new(id, a, 1), &[pick, SEED]);
                starts.insert(a, 1);
                tally.joins += 1;
            }
            1 if live.len() > 30 && pick != SEED => {
                net.leave(pick);
                tally.leaves += 1;
            }
            2 | 3 if live.len() > 30 && pick != SEED => {
                let node = net.crash(pick).expect("live");
                down.push((pick, node.membership.me().id));
                tally.crashes += 1;
            }
            4 | 5 if !down.is_empty() => {
                let (a, old_id) = down.swap_remove(net.rng.random_range(0..down.len()));
                let start = starts.entry(a).or_insert(0);
                *start += 1;
                let keep = net.rng.random_bool(0.5);
                let id = if keep { old_id } else { fresh_id(&mut net.rng) };
                if keep {
                    tally.restarts_kept += 1;
                } else {
                    tally.restarts_lost += 1;
                }
                net.start(Identity::new(id, a, *start), &[pick, SEED]);
            }
            6 => {
                // Cut a random third of the nodes off for a while.
                net.side.retain(|a, _| *a == flapper);
                for a in net.nodes.keys().copied().collect::<Vec<_>>() {
                    if a != flapper && net.rng.random_bool(0.33) {
                        net.side.insert(a, 1);
                    }
                }
                tally.partitions += 1;
            }
            7 => net.side.retain(|a, _| *a == flapper),
            _ => {}
        }
        for _ in 0..3 {
            let live: Vec<SocketAddr> = net.nodes.keys().copied().collect();
            let a = live[net.rng.random_range(0..live.len())];
            value += 1;
            net.update(a, value);
        }
        let pause = secs(net.rng.random_range(1..5));
        net.run_for(pause);
    }
    // Heal everything and let the cluster settle: partitioned sides rediscover each other
    // through the asks of members that are not connected (every rejoin interval) and the
    // periodic announcements to down members (65 s in the LAN preset).
    net.side.clear();
    net.loss = 0.0;
    net.run_for(secs(240));
    (net, tally)
}

/// Whether `GOSSIP_SIM_TRACE` asks for the churn actions and, on disagreement, each missing
/// member's story.
fn tracing() -> bool {
    std::env::var_os("GOSSIP_SIM_TRACE").is_some()
}

/// For each member missing from a live node's view: its own view and events, and what the
/// node that misses it heard about its address.
fn trace_missing(net: &Net) {
    if !tracing() {
        return;
    }
    let live = net.live_ids();
    for (a, view) in net.views() {
        for m in live.difference(&view) {
            let Some((at, node)) = net.nodes.iter().find(|(_, n)| n.membership.me().id == *m)
            else {
                continue;
            };
            let rows = |n: &sim::Node| -> Vec<_> {
                n.membership
                    .members()
                    .iter()
                    .map(|r| (r.addr, r.state, r.incarnation))
                    .collect()
            };
            eprintln!(
                "{a} misses {} (its row: {:?}); it sees {:?}",
                node.membership.me(),
                rows(&net.nodes[&a]).iter().find(|r| r.0 == *at),
                rows(node)
            );
            for s in &net.events {
                let about = match &s.event {
                    MemberEvent::Up(i)
                    | MemberEvent::Down(i)
                    | MemberEvent::Left(i)
                    | MemberEvent::Rejoined(i) => i.addr == *at,
                    MemberEvent::Renamed { from, to } => from.addr == *at || to.addr == *at,
                    _ => false,
                };
                if (about && s.node == a) || s.node == *at {
                    eprintln!("  {:?} {} {:?}", s.at, s.node, s.event);
                }
            }
        }
    }
}

fn assert_settled(net: &Net, seed: u64, tally: &Tally) {
    let disagreeing = net.disagreeing();
    if !disagreeing.is_empty() {
        let live = net.live_ids();
        let views = net.views();
        let a = disagreeing[0];
        let view = &views[&a];
        trace_missing(net);
        panic!(
            "seed {seed}: {} of {} live nodes disagree ({tally:?}); {a} misses {:?} and has extra {:?}; its members: {:?}",
            disagreeing.len(),
            live.len(),
            live.difference(view).collect::<Vec<_>>(),
            view.difference(&live).collect::<Vec<_>>(),
            net.nodes[&a].membership.members()
        );
    }
    assert_eq!(
        net.reused_identity, None,
        "seed {seed}: an identity was used twice"
    );
}

#[test]
fn fifty_nodes_under_churn_agree_after_healing() {
    for seed in seeds(&[1, 2]) {
        let (net, tally) = churn(seed, false);
        assert_settled(&net, seed, &tally);
        assert!(
            tally.crashes > 0 && tally.leaves > 0 && tally.restarts_kept + tally.restarts_lost > 0,
            "seed {seed}: {tally:?}"
        );
        // Every node that left is reported as left (or, if every notice missed it, down) by
        // those who saw it go, never as alive.
        for node in net.nodes.values() {
            for m in node.membership.members() {
                if m.id != node.membership.me().id {
                    assert!(
                        net.live_ids().contains(&m.id) || !m.state.is_active(),
                        "seed {seed}: {m:?} is gone but listed as active"
                    );
                }
            }
        }
        let lefts = net
            .events
            .iter()
            .filter(|s| matches!(s.event, MemberEvent::Left(_)))
            .count();
        assert!(lefts > 0, "seed {seed}: no departure was reported as such");
    }
}

#[test]
fn replicas_following_the_membership_hold_every_live_delta_after_healing() {
    for seed in seeds(&[11]) {
        let (mut net, tally) = churn(seed, true);
        assert_settled(&net, seed, &tally);
        assert_eq!(
            net.reused_dot, None,
            "seed {seed}: a delta id was issued twice"
        );
        // One more write per node after healing, then settle: every live replica must hold
        // what any live replica holds.
        let live: Vec<SocketAddr> = net.nodes.keys().copied().collect();
        for (i, a) in live.iter().enumerate() {
            net.update(*a, 1_000_000 + i as u64);
        }
        net.run_for(secs(60));
        let mut union: BTreeSet<Dot<ReplicaId>> = BTreeSet::new();
        for node in net.nodes.values() {
            let seen = node.replica.as_ref().expect("replica").seen();
            union.extend(net.dots.iter().filter(|d| seen.contains(d)).cloned());
        }
        for (a, node) in &net.nodes {
            let seen = node.replica.as_ref().expect("replica").seen();
            let missing: Vec<_> = union.iter().filter(|d| !seen.contains(d)).collect();
            assert!(
                missing.is_empty(),
                "seed {seed}: {a} lacks {} of {} deltas held elsewhere, e.g. {:?}",
                missing.len(),
                union.len(),
                missing.first()
            );
        }
        assert!(
            union.len() > 150,
            "seed {seed}: only {} deltas",
            union.len()
        );
    }
}

#[test]
fn a_crashed_member_is_declared_down_by_everyone_and_a_restart_takes_its_address_back() {
    let mut net = Net::new(5, Config::lan_sized(10), false);
    for i in 0..10 {
        let id = fresh_id(&mut net.rng);
        net.start(Identity::new(id, addr(i), 1), &[addr(0)]);
    }
    net.run_for(secs(10));
    assert!(net.disagreeing().is_empty());
    let victim = net.crash(addr(3)).expect("live");
    let old = *victim.membership.me();
    net.run_for(secs(30));
    for node in net.nodes.values() {
        let row = node
            .membership
            .members()
            .into_iter()
            .find(|m| m.addr == addr(3));
        assert_eq!(
            row.map(|m| m.state),
            Some(MemberState::Down),
            "{:?}",
            node.membership.me()
        );
    }
    // Same node id, next start: it replaces the old identity at once everywhere.
    net.start(Identity::new(old.id, addr(3), 2), &[addr(0)]);
    net.run_for(secs(10));
    assert!(net.disagreeing().is_empty());
    for node in net.nodes.values() {
        let row = node
            .membership
            .members()
            .into_iter()
            .find(|m| m.addr == addr(3))
            .expect("listed");
        assert_eq!((row.state, row.incarnation), (MemberState::Alive, 2 << 16));
    }
    let _ = Time::ZERO;
}
