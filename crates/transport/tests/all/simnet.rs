//! The simulated network itself: each fault does what it says, and one seed replays one run.

use std::time::Duration;

use gossip_crdt::GSet;
use gossip_transport::testing::{Faults, SimNet};
use gossip_transport::{Config, Overlay, Strategy, Time};

type Net = SimNet<GSet<u64>, u32>;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Every replica pushes straight to every other: what one sends, the others hear directly.
fn flood() -> Config<u32> {
    Config {
        strategy: Strategy::Flood,
        overlay: Overlay::Full,
        ..Config::lan()
    }
}

fn net(n: u32, faults: Faults, seed: u64) -> Net {
    SimNet::new((0..n).collect(), flood(), faults, seed)
}

fn add(net: &mut Net, node: u32, value: u64) {
    let delta = net.node(node).state().insert_delta(value);
    net.update(node, delta);
}

fn holds(net: &Net, node: u32, value: u64) -> bool {
    net.node(node).state().contains(&value)
}

#[test]
fn loss_drops_every_packet_it_is_told_to() {
    let mut net = net(
        3,
        Faults {
            p_loss: 1.0,
            ..Faults::default()
        },
        1,
    );
    add(&mut net, 0, 7);
    assert!(net.run_for(Duration::from_secs(2)));
    let stats = net.net_stats();
    assert!(stats.sent > 0);
    assert_eq!(stats.lost, stats.sent);
    assert_eq!(stats.delivered, 0);
    assert!(!holds(&net, 1, 7) && !holds(&net, 2, 7));

    net.faults.p_loss = 0.0;
    assert!(net.run_for(Duration::from_secs(10)));
    assert!(net.converged() && holds(&net, 2, 7));
}

#[test]
fn some_loss_drops_some_packets() {
    let mut net = net(
        4,
        Faults {
            p_loss: 0.3,
            ..Faults::default()
        },
        2,
    );
    for v in 0..50 {
        add(&mut net, (v % 4) as u32, v);
        assert!(net.run_for(ms(5)));
    }
    assert!(net.run_for(Duration::from_secs(20)));
    let stats = net.net_stats();
    // 30 % of a few hundred packets: far from none and from all.
    assert!(
        stats.lost * 10 > stats.sent && stats.lost * 2 < stats.sent,
        "{stats:?}"
    );
    assert!(net.converged());
}

#[test]
fn duplication_delivers_twice() {
    let mut net = net(
        2,
        Faults {
            p_dup: 1.0,
            ..Faults::default()
        },
        3,
    );
    add(&mut net, 0, 1);
    assert!(net.run_for(Duration::from_secs(2)));
    let stats = net.net_stats();
    assert_eq!(stats.duplicated, stats.sent);
    assert_eq!(stats.delivered, 2 * stats.sent);
    assert!(net.stats().received_duplicate > 0);
    assert!(net.converged());
}

#[test]
fn latency_and_jitter_set_the_delivery_time() {
    let faults = Faults {
        latency: ms(40),
        jitter: ms(30),
        ..Faults::default()
    };
    for seed in 0..20 {
        let mut net = net(2, faults.clone(), seed);
        net.watch();
        add(&mut net, 0, 5);
        assert!(matches!(net.poll_change(), Some((Time::ZERO, 0, _))));
        assert!(net.run_for(Duration::from_secs(1)));
        let Some((at, 1, change)) = net.poll_change() else {
            panic!("seed {seed}: no change at the peer");
        };
        assert!(change.gained.contains(&5));
        assert!(
            at >= Time::from_millis(40) && at < Time::from_millis(70),
            "seed {seed}: delivered at {at}"
        );
    }
}

#[test]
fn jitter_reorders_packets() {
    // Ten updates 1 ms apart, each in its own packet, with up to 50 ms of jitter: the peer
    // gains them in another order than they were made.
    let faults = Faults {
        latency: ms(1),
        jitter: ms(50),
        ..Faults::default()
    };
    let mut net = net(2, faults, 4);
    net.watch();
    for v in 0..10 {
        add(&mut net, 0, v);
        assert!(net.run_for(ms(1)));
    }
    assert!(net.run_for(Duration::from_secs(1)));
    let mut order = Vec::new();
    while let Some((_, node, change)) = net.poll_change() {
        if node == 1 {
            order.extend(change.gained.iter().copied());
        }
    }
    let mut sorted = order.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..10).collect::<Vec<u64>>());
    assert_ne!(order, sorted);
}

#[test]
fn a_partition_cuts_both_ways_until_healed() {
    let mut net = net(3, Faults::default(), 5);
    net.partition(&[0], &[1, 2]);
    add(&mut net, 0, 10);
    add(&mut net, 1, 11);
    assert!(net.run_for(Duration::from_secs(3)));
    assert!(!holds(&net, 1, 10) && !holds(&net, 2, 10));
    assert!(!holds(&net, 0, 11));
    assert!(holds(&net, 2, 11), "the side of 1 and 2 still talks");
    assert!(net.net_stats().dropped > 0);

    net.heal();
    assert!(net.run_for(Duration::from_secs(10)));
    assert!(net.converged() && holds(&net, 0, 11) && holds(&net, 2, 10));
}

#[test]
fn a_one_way_cut_lets_the_other_direction_through() {
    let mut net = net(2, Faults::default(), 6);
    net.cut_one_way(0, 1);
    add(&mut net, 0, 1);
    add(&mut net, 1, 2);
    assert!(net.run_for(Duration::from_secs(1)));
    assert!(!holds(&net, 1, 1));
    assert!(holds(&net, 0, 2));
}

#[test]
fn a_crash_keeps_the_state_and_a_restart_loses_it() {
    let mut net = net(3, Faults::default(), 7);
    add(&mut net, 2, 1);
    assert!(net.run_for(Duration::from_secs(1)));
    assert!(net.converged());

    net.crash(2);
    assert!(net.is_down(&2));
    add(&mut net, 0, 2);
    assert!(net.run_for(Duration::from_secs(1)));
    assert!(!holds(&net, 2, 2), "a crashed replica hears nothing");
    net.recover(2);
    assert!(holds(&net, 2, 1), "recovered with its state");
    assert!(net.run_for(Duration::from_secs(10)));
    assert!(net.converged());

    let before = net.node(2).incarnation();
    net.restart(2);
    assert_ne!(net.node(2).incarnation(), before);
    assert!(!holds(&net, 2, 1), "a fresh life starts empty");
    assert!(net.run_for(Duration::from_secs(10)));
    assert!(holds(&net, 2, 1) && holds(&net, 2, 2));
}

#[test]
fn members_leave_and_join() {
    let mut net = net(4, Faults::default(), 8);
    add(&mut net, 0, 1);
    assert!(net.run_for(Duration::from_secs(1)));
    net.leave_all(&[1, 3]);
    assert_eq!(net.live(), vec![0, 2]);
    assert_eq!(net.node(0).members(), &[0, 2]);
    add(&mut net, 2, 2);
    assert!(net.run_for(Duration::from_secs(2)));
    assert!(
        !holds(&net, 1, 2) && !holds(&net, 3, 2),
        "gone members hear nothing"
    );

    net.join(9);
    assert_eq!(net.names(), &[0, 1, 2, 3, 9]);
    assert_eq!(net.node(0).members(), &[0, 2, 9]);
    assert!(net.run_for(Duration::from_secs(10)));
    assert!(net.live_converged() && holds(&net, 9, 1) && holds(&net, 9, 2));
}

/// A run with every fault, recorded.
fn scenario(seed: u64) -> (Vec<String>, u64) {
    let faults = Faults {
        latency: ms(5),
        jitter: ms(20),
        p_loss: 0.2,
        p_dup: 0.2,
    };
    let mut net = SimNet::new((0..5).collect(), Config::scalable(), faults, seed);
    net.record = true;
    for v in 0..40u64 {
        let node = net.rng.below(5) as u32;
        add(&mut net, node, v);
        if v == 10 {
            net.partition(&[0, 1], &[2, 3, 4]);
        }
        if v == 20 {
            net.heal();
            net.crash(3);
        }
        if v == 30 {
            net.recover(3);
            net.restart(4);
        }
        assert!(net.run_for(ms(7)));
    }
    assert!(net.run_for(Duration::from_secs(20)));
    let log = net
        .sent_log
        .iter()
        .map(|(at, from, to, p)| format!("{at} {from}->{to} {p:?}"))
        .collect();
    (log, net.net_stats().delivered)
}

#[test]
fn the_same_seed_replays_the_same_run() {
    let (a, delivered_a) = scenario(11);
    let (b, delivered_b) = scenario(11);
    assert!(!a.is_empty());
    assert_eq!(a, b);
    assert_eq!(delivered_a, delivered_b);
    let (c, _) = scenario(12);
    assert_ne!(a, c, "another seed, another run");
}
