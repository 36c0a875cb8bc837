//! Budgets and statistics are in the shell's bytes: a replica given another weigher batches
//! and counts by it, not by JSON.

use std::time::Duration;

use gossip_crdt::GSet;
use gossip_transport::{Config, Packet, Replicator, Start, Time, Weigh};

/// A codec in which every delta takes 100 bytes and a packet 10 more.
#[derive(Debug)]
struct Fixed;

impl Weigh<GSet<u64>> for Fixed {
    fn delta(&self, _: &GSet<u64>) -> usize {
        100
    }
    fn packet(&self, packet: &Packet<GSet<u64>>) -> usize {
        10 + 100 * packet.delta_count()
    }
}

fn pushes(weigh: Option<Fixed>) -> (Vec<usize>, u64) {
    let config = Config {
        max_packet_bytes: 250,
        flush: Duration::from_millis(100),
        relay_flush: Duration::from_millis(100),
        ..Config::maelstrom()
    };
    let r = Replicator::new("a", vec!["a", "b"], config, Start::new(Time::ZERO, 1, 1));
    let mut r: Replicator<GSet<u64>, &str> = match weigh {
        Some(w) => r.with_weigh(w),
        None => r,
    };
    while r.poll_transmit().is_some() {}
    let before: u64 = r.stats().sent.values().map(|c| c.bytes).sum();
    for v in 0..6 {
        let delta = r.state().insert_delta(v);
        r.update(Time::ZERO, delta);
    }
    r.handle_timeout(Time::from_millis(1_000));
    let mut sizes = Vec::new();
    while let Some((_, packet)) = r.poll_transmit() {
        if packet.delta_count() > 0 {
            sizes.push(packet.delta_count());
        }
    }
    let after: u64 = r.stats().sent.values().map(|c| c.bytes).sum();
    (sizes, after - before)
}

#[test]
fn batches_and_byte_counts_follow_the_weigher() {
    // As JSON, six small deltas fit one 250-byte packet; at 100 bytes each, two do.
    let (json, _) = pushes(None);
    assert_eq!(json.iter().sum::<usize>(), 6);
    assert!(json.len() < 3, "{json:?}");
    let (fixed, bytes) = pushes(Some(Fixed));
    assert_eq!(fixed.iter().sum::<usize>(), 6);
    assert!(fixed.iter().all(|&n| n <= 2), "{fixed:?}");
    assert_eq!(
        bytes,
        fixed.iter().map(|&n| 10 + 100 * n as u64).sum::<u64>()
    );
}
