//! What departed replica ids leave behind: a 10-member cluster of `Replicator`s driven in
//! memory over a perfect network, where a random member restarts with its state lost 1,000
//! times (each life a new `ReplicaId`) and writes once per life. Prints, at checkpoints, the
//! size of a live member's digest (its causal context of delta ids) and of its state, as JSON
//! and postcard, for a `GSet` and an `OrSet` (each life adds one element and removes the
//! previous life's, so the `OrSet` stays small while its context grows).
//!
//! `cargo run --release -p gossip-membership --example departed`

use std::time::Duration;

use gossip_crdt::{Decompose, GSet, Lattice, OrSet};
use gossip_transport::{Config, ReplicaId, Replicator, Start, Time};
use serde::Serialize;

const MEMBERS: u32 = 10;
const RESTARTS: u32 = 1_000;
const CHECKPOINTS: [u32; 5] = [0, 10, 100, 500, 1_000];

/// A cluster of replicators named 0..MEMBERS on a perfect network.
struct Cluster<L> {
    nodes: Vec<Replicator<L, u32>>,
    now: Time,
    lives: u64,
}

impl<L: Lattice + Decompose + Serialize + Clone + Default + 'static> Cluster<L>
where
    L: serde::de::DeserializeOwned,
{
    fn new() -> Self {
        let mut cluster = Cluster {
            nodes: Vec::new(),
            now: Time::ZERO,
            lives: 0,
        };
        for m in 0..MEMBERS {
            let node = cluster.life(m);
            cluster.nodes.push(node);
        }
        cluster
    }

    fn life(&mut self, me: u32) -> Replicator<L, u32> {
        self.lives += 1;
        let members: Vec<u32> = (0..MEMBERS).collect();
        // A life number unique per start, as 64 random bits would be in a shell.
        let start = Start::new(self.now, 7, self.lives);
        Replicator::new(me, members, Config::default(), start)
    }

    /// Member `m` restarts with its state lost.
    fn restart(&mut self, m: u32) {
        let node = self.life(m);
        self.nodes[m as usize] = node;
    }

    /// Delivers everything and fires timers until the cluster falls quiet (or a bound).
    fn settle(&mut self) {
        for _ in 0..10_000 {
            let mut in_flight = Vec::new();
            for node in &mut self.nodes {
                while let Some((to, packet)) = node.poll_transmit() {
                    in_flight.push((*node.me(), to, packet));
                }
            }
            let delivered = !in_flight.is_empty();
            for (from, to, packet) in in_flight {
                // A refusal here would be a bug in the engine; the figures would show it.
                let _ = self.nodes[to as usize].handle_packet(self.now, from, packet);
            }
            if !delivered {
                match self.nodes.iter().filter_map(|n| n.poll_timeout()).min() {
                    // Timers far ahead are periodic housekeeping: the cluster is quiet.
                    Some(t) if t <= self.now + Duration::from_secs(5) => self.now = self.now.max(t),
                    _ => return,
                }
            }
            for node in &mut self.nodes {
                node.handle_timeout(self.now);
            }
        }
    }
}

fn sizes<T: Serialize>(value: &T) -> (usize, usize) {
    let json = serde_json::to_vec(value).map_or(0, |v| v.len());
    let postcard = postcard::to_allocvec(value).map_or(0, |v| v.len());
    (json, postcard)
}

fn main() {
    let mut gset: Cluster<GSet<u64>> = Cluster::new();
    let mut orset: Cluster<OrSet<u64, ReplicaId>> = Cluster::new();
    let mut pick = 0x2545_f491_4f6c_dd1du64;
    println!(
        "{:>8} {:>7} | {:>12} {:>12} | {:>11} {:>11} | {:>11} {:>11}",
        "restarts",
        "ids",
        "digest json",
        "digest pcard",
        "gset json",
        "gset pcard",
        "orset json",
        "orset pcard"
    );
    let mut first = None;
    for restart in 0..=RESTARTS {
        if restart > 0 {
            // xorshift: a fixed sequence of members to restart.
            pick ^= pick << 13;
            pick ^= pick >> 7;
            pick ^= pick << 17;
            let m = (pick % u64::from(MEMBERS)) as u32;
            gset.restart(m);
            orset.restart(m);
            gset.settle();
            orset.settle();
            let value = u64::from(restart);
            let node = &mut gset.nodes[m as usize];
            let delta = node.state().insert_delta(value);
            let now = gset.now;
            node.update(now, delta);
            let node = &mut orset.nodes[m as usize];
            let id = node.id();
            let mut delta = node.state().remove_delta(&(value - 1));
            if let Ok(add) = node.state().insert_delta(id, value) {
                delta.join(&add);
            }
            let now = orset.now;
            node.update(now, delta);
            gset.settle();
            orset.settle();
        }
        if CHECKPOINTS.contains(&restart) {
            // Member 0's view; every member converges to the same.
            let digest = gset.nodes[0].seen();
            let ids = digest.vector().iter().count();
            let (dj, dp) = sizes(digest);
            let (gj, gp) = sizes(gset.nodes[0].state());
            let (oj, op) = sizes(orset.nodes[0].state());
            println!(
                "{restart:>8} {ids:>7} | {dj:>12} {dp:>12} | {gj:>11} {gp:>11} | {oj:>11} {op:>11}"
            );
            if restart == 0 {
                first = Some((ids, dj, dp, oj, op));
            } else if restart == RESTARTS
                && let Some((ids0, dj0, dp0, oj0, op0)) = first
            {
                let n = (ids - ids0) as f64;
                println!(
                    "per departed id: digest {:.1} B json, {:.1} B postcard; orset state {:.1} B json, {:.1} B postcard",
                    (dj - dj0) as f64 / n,
                    (dp - dp0) as f64 / n,
                    (oj - oj0) as f64 / n,
                    (op - op0) as f64 / n
                );
            }
        }
    }
    let lacking = gset
        .nodes
        .iter()
        .filter(|n| n.state() != gset.nodes[0].state())
        .count()
        + orset
            .nodes
            .iter()
            .filter(|n| n.state() != orset.nodes[0].state())
            .count();
    println!("members whose state differs from member 0's: {lacking}");
}
