//! 50 nodes under churn in a simulated network: joins, graceful leaves, crashes, restarts
//! (keeping or losing their node id), partitions and a flapping node. After healing, every live
//! member sees the same alive set, no identity was ever used twice, and (with one replicator
//! per node following the membership) every live member holds every delta any live member
//! holds, with no delta id issued twice.

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

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Boots `NODES` nodes, each joining through node 0 (and one random earlier node).
fn boot(net: &mut Net) -> BTreeMap<SocketAddr, u64> {
    let mut starts = BTreeMap::new();
    for i in 0..NODES {
        let id = fresh_id(&mut net.rng);
        let identity = Identity::new(id, addr(i), 1);
        let mut seeds = vec![addr(0)];
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
    net.run_for(secs(20));
    assert_eq!(
        net.disagreeing(),
        Vec::<SocketAddr>::new(),
        "seed {seed}: after boot"
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
        match net.rng.random_range(0..10u32) {
            0 => {
                let a = addr(next_addr);
                next_addr += 1;
                let id = fresh_id(&mut net.rng);
                net.start(Identity::new(id, a, 1), &[pick]);
                starts.insert(a, 1);
                tally.joins += 1;
            }
            1 if live.len() > 30 => {
                net.leave(pick);
                tally.leaves += 1;
            }
            2 | 3 if live.len() > 30 => {
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
                net.start(Identity::new(id, a, *start), &[pick]);
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
    // through the periodic announcements to down members (65 s in the LAN preset).
    net.side.clear();
    net.loss = 0.0;
    net.run_for(secs(240));
    (net, tally)
}

fn assert_settled(net: &Net, seed: u64, tally: &Tally) {
    let disagreeing = net.disagreeing();
    if !disagreeing.is_empty() {
        let live = net.live_ids();
        let views = net.views();
        let a = disagreeing[0];
        let view = &views[&a];
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
    for seed in 1..=2 {
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
    for seed in [11] {
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
