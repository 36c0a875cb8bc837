//! The tests' cluster: `gossip_transport::testing::SimNet` with grow-only sets of numbers, on
//! members `0..n`, so that member `i` is `nodes[i]`.

#![allow(dead_code)]

use std::ops::{Deref, DerefMut};
use std::time::Duration;

use gossip_crdt::GSet;
pub use gossip_transport::testing::{Faults, SimNet};
use gossip_transport::{Config, Overlay, Replicator, Strategy};

pub type Node = Replicator<GSet<u64>, u32>;

pub struct Cluster(SimNet<GSet<u64>, u32>);

impl Deref for Cluster {
    type Target = SimNet<GSet<u64>, u32>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Cluster {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Cluster {
    pub fn new(n: u32, config: Config<u32>, faults: Faults, seed: u64) -> Cluster {
        Cluster::with_outsiders(n, 0, config, faults, seed)
    }

    /// `n` replicas among `n + outsiders` members: the outsiders (numbered `n` and up) are
    /// members no replica runs for, e.g. for a test to speak as (see `SimNet::inject`).
    pub fn with_outsiders(
        n: u32,
        outsiders: u32,
        config: Config<u32>,
        faults: Faults,
        seed: u64,
    ) -> Cluster {
        let members = (0..n).collect();
        let outsiders = (n..n + outsiders).collect();
        Cluster(SimNet::with_outsiders(
            members, outsiders, config, faults, seed,
        ))
    }

    /// `node` adds `value` to its set.
    pub fn update(&mut self, node: u32, value: u64) {
        let delta = self.0.node(node).state().insert_delta(value);
        self.0.update(node, delta);
    }

    /// Packets the replicas sent.
    pub fn sent(&self) -> u64 {
        self.0.net_stats().sent
    }

    pub fn members(&self) -> Vec<u32> {
        self.0.names().to_vec()
    }
}

// ---- configurations shared by the property tests ---------------------------------------

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Fast timings so that a schedule of a few virtual seconds exercises many rounds.
pub fn base() -> Config<u32> {
    Config {
        flush: ms(0),
        relay_flush: ms(20),
        ack_delay: ms(50),
        rto: ms(100),
        max_rto: ms(400),
        suspect_after: ms(300),
        max_packet_bytes: 256,
        // Short, so that logs are compacted (and snapshots happen) within a schedule.
        retain: ms(500),
        ..Config::maelstrom()
    }
}

pub fn strategies() -> Vec<(&'static str, Config<u32>)> {
    let with = |strategy: Strategy, overlay: Overlay<u32>| Config {
        strategy,
        overlay,
        ..base()
    };
    vec![
        ("flood/full", with(Strategy::Flood, Overlay::Full)),
        (
            "flood/ring",
            with(
                Strategy::Flood,
                Overlay::Given((0..8u32).map(|i| (i, vec![(i + 1) % 8])).collect()),
            ),
        ),
        ("tree/kary2", with(Strategy::Tree, Overlay::Kary { k: 2 })),
        (
            "tree/star3",
            with(Strategy::Tree, Overlay::Star { hubs: 3 }),
        ),
        (
            "gossip/fanout2",
            with(
                Strategy::Gossip {
                    fanout: 2,
                    interval: ms(30),
                },
                Overlay::Full,
            ),
        ),
        (
            "push-pull",
            with(Strategy::PushPull { interval: ms(30) }, Overlay::Full),
        ),
        (
            "hybrid/star2",
            with(
                Strategy::Hybrid {
                    lazy_interval: ms(50),
                    lazy_fanout: 1,
                    graft_delay: ms(60),
                },
                Overlay::Star { hubs: 2 },
            ),
        ),
        (
            "hybrid/kary3",
            with(
                Strategy::Hybrid {
                    lazy_interval: ms(50),
                    lazy_fanout: 1,
                    graft_delay: ms(60),
                },
                Overlay::Kary { k: 3 },
            ),
        ),
    ]
}

impl Cluster {
    /// Hands `members` to the replicas `nodes` only (the others keep their lists): for a
    /// member that some replicas drop and later take back while it keeps running.
    pub fn set_members_of(&mut self, nodes: &[u32], members: &[u32]) {
        let now = self.0.now();
        for &n in nodes {
            self.0.node_mut(n).set_members(now, members.to_vec());
        }
    }
}
