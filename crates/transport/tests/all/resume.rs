//! A replica resumed from what it saved holds ids only in compacted form (no per-delta copy):
//! a peer that lacks some of them, because it was cut off or simply never got them, must
//! still end with them, whichever strategy, overlay and order of events. Under flood and
//! tree pushes nothing but the resumed replica's greeting makes the peers' digests come back
//! to it, so the greeting must ask for them.

use std::time::Duration;

use gossip_crdt::GSet;
use gossip_transport::testing::{Faults, SimNet};
use gossip_transport::{Config, Overlay, Replicator, Start, Strategy};

type Net = SimNet<GSet<u64>, u32>;

/// When the cut between the resumed replica and the others heals.
#[derive(Debug, Clone, Copy)]
enum Heal {
    /// Before the resumed replica runs: its greeting goes out on a healed network.
    BeforeResume,
    /// Well after: its greeting and retransmissions were lost, the peers' digests come late.
    AfterResume,
}

fn add(net: &mut Net, node: u32, value: u64) {
    let delta = net.node(node).state().insert_delta(value);
    net.update(node, delta);
}

/// `writer` writes while cut off from every other member, is saved, dropped and resumed
/// under its replica id; then the cut heals. Every member must end with the writes.
fn cut_off_writes_survive_a_resume(config: Config<u32>, n: u32, writer: u32, heal: Heal) {
    let faults = Faults {
        latency: Duration::from_millis(5),
        ..Faults::default()
    };
    let members: Vec<u32> = (0..n).collect();
    let mut net = Net::new(members.clone(), config.clone(), faults, 11);
    // Some shared history first, so every link is established.
    add(&mut net, 0, 1);
    assert!(net.run_for(Duration::from_secs(3)));
    assert!(net.converged());

    let others: Vec<u32> = members.iter().copied().filter(|m| *m != writer).collect();
    net.partition(&[writer], &others);
    for v in 100..105 {
        add(&mut net, writer, v);
        assert!(net.run_for(Duration::from_millis(50)));
    }
    let state = net.node(writer).state().clone();
    let seen = net.node(writer).seen().clone();
    let issued = net.node(writer).issued();
    net.crash(writer);
    assert!(net.run_for(Duration::from_secs(1)));

    let now = net.now();
    let resumed = Replicator::resume(
        writer,
        members.clone(),
        config,
        Start::resume(now, 7, 99, issued.replica),
        state,
        seen,
        issued.counter + 1,
    );
    if let Heal::BeforeResume = heal {
        net.heal();
    }
    net.recover(writer);
    *net.node_mut(writer) = resumed;
    if let Heal::AfterResume = heal {
        assert!(net.run_for(Duration::from_secs(10)));
        net.heal();
    }
    assert!(net.run_for(Duration::from_secs(30)));
    for m in &others {
        for v in 100..105 {
            assert!(
                net.node(*m).state().contains(&v),
                "{m} lacks {v}, written by {writer} before it was resumed ({heal:?})"
            );
        }
    }
    assert!(net.converged(), "{heal:?}");
}

fn each_heal(config: Config<u32>, n: u32, writer: u32) {
    for heal in [Heal::BeforeResume, Heal::AfterResume] {
        cut_off_writes_survive_a_resume(config.clone(), n, writer, heal);
    }
}

#[test]
fn flood_pair() {
    let config = Config {
        strategy: Strategy::Flood,
        overlay: Overlay::Full,
        ..Config::lan()
    };
    each_heal(config.clone(), 2, 0);
    each_heal(config, 2, 1);
}

#[test]
fn star_hub_and_leaf() {
    each_heal(Config::lan(), 3, 0);
    each_heal(Config::lan(), 3, 2);
}

#[test]
fn maelstrom_star() {
    each_heal(Config::maelstrom(), 3, 0);
    each_heal(Config::maelstrom(), 3, 2);
}

#[test]
fn scalable_tree() {
    each_heal(Config::scalable(), 4, 0);
    each_heal(Config::scalable(), 4, 3);
}

#[test]
fn push_pull_and_gossip() {
    for strategy in [
        Strategy::PushPull {
            interval: Duration::from_millis(200),
        },
        Strategy::Gossip {
            fanout: 2,
            interval: Duration::from_millis(200),
        },
    ] {
        let config = Config {
            strategy,
            overlay: Overlay::Full,
            ..Config::lan()
        };
        each_heal(config.clone(), 3, 0);
        each_heal(config, 3, 2);
    }
}
