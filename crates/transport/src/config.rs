//! Configuration: which strategy spreads deltas, over which overlay, with which timings.
//!
//! Strategies are configuration, not forks of the engine: they differ only in *who* gets an
//! eager push, and in which periodic exchanges run. Batching, acknowledgements, digests and
//! repair are shared. `docs/anti-entropy.md` explains each choice and its cost.

use std::time::Duration;

/// How deltas spread.
#[derive(Debug, Clone, PartialEq)]
pub enum Strategy {
    /// Push every delta to every neighbour of the overlay, acknowledged; duplicates are
    /// dropped by delta id. On a cyclic overlay a delta crosses every edge.
    Flood,
    /// Push along a spanning tree of the overlay, acknowledged; each delta crosses each tree
    /// edge once. A [`Overlay::Star`] tree fails over to the next hub when its hub is
    /// unreachable.
    Tree,
    /// Every `interval`, push to `fanout` random peers not known to hold everything
    /// (acknowledged, every packet carrying the sender's digest); rounds stop once every peer
    /// is known to hold everything.
    Gossip {
        /// Peers per round.
        fanout: usize,
        /// Time between rounds.
        interval: Duration,
    },
    /// Every `interval`, exchange digests with one random peer not known to hold everything;
    /// each side then sends exactly what the other lacks.
    PushPull {
        /// Time between rounds.
        interval: Duration,
    },
    /// Plumtree-like: eager push along the tree (as [`Strategy::Tree`]), lazy digests to
    /// random other peers every `lazy_interval` when something is new, and a pull ("graft")
    /// when a digest shows a delta still missing `graft_delay` later.
    Hybrid {
        /// Time between lazy digests (only sent when something changed).
        lazy_interval: Duration,
        /// Peers per lazy round.
        lazy_fanout: usize,
        /// How long a delta announced by a digest may be missing before it is pulled.
        graft_delay: Duration,
    },
}

/// The graph deltas travel on, for the eager strategies.
#[derive(Debug, Clone, PartialEq)]
pub enum Overlay<P> {
    /// Every member is a neighbour of every other.
    Full,
    /// A star: the first member is the hub, every other member a leaf. `hubs` members (from
    /// the front of the member list) can take over in turn when the ones before them are
    /// unreachable, so a hub is not a single point of failure.
    Star {
        /// How many members may act as hub (at least 1).
        hubs: usize,
    },
    /// A `k`-ary tree over the member list: member `i`'s parent is member `(i - 1) / k`.
    /// A member pushing along it routes around the tree neighbours it suspects (see [`Config::suspect_after`]) without waiting for the member
    /// list to change: to the nearest ancestor it does not suspect, and to a suspected
    /// child's children. `docs/anti-entropy.md` has the rules.
    Kary {
        /// Children per node (at least 1).
        k: usize,
    },
    /// An explicit neighbour list per member (e.g. Maelstrom's `topology`). With
    /// [`Strategy::Tree`] or [`Strategy::Hybrid`], deltas follow a breadth-first spanning tree
    /// of it rooted at the first member.
    Given(Vec<(P, Vec<P>)>),
}

/// Every knob of the engine. Start from a preset: [`Config::lan`] (the default) for a small
/// cluster, [`Config::scalable`] for hundreds or thousands of members, [`Config::maelstrom`]
/// for Maelstrom's workloads; `docs/anti-entropy.md` lists what each costs.
#[derive(Debug, Clone, PartialEq)]
pub struct Config<P> {
    /// How deltas spread.
    pub strategy: Strategy,
    /// The overlay the eager strategies use.
    pub overlay: Overlay<P>,
    /// Batching interval for a node with at most one eager target (a leaf). Zero sends at
    /// once.
    pub flush: Duration,
    /// Batching interval for a node with several eager targets (a hub or inner tree node).
    /// Zero sends at once.
    pub relay_flush: Duration,
    /// A packet is sent early, and split, once its deltas pass this many (estimated JSON)
    /// bytes.
    pub max_packet_bytes: usize,
    /// How long a receiver may hold back an acknowledgement, hoping to piggyback it on a
    /// packet of its own.
    pub ack_delay: Duration,
    /// First retransmission timeout; doubles on each retry up to `max_rto`.
    pub rto: Duration,
    /// Cap on the retransmission timeout: after a partition heals, repair starts within
    /// about this long. The default equals `rto` (no backoff): Maelstrom allows 10 s after
    /// healing, and on a lossy multi-hop tree a delta may need several retransmissions per
    /// hop inside that window. Raise it to trade repair time for fewer retransmissions during
    /// long partitions.
    pub max_rto: Duration,
    /// An eager target whose oldest unacknowledged packet is this old is suspected
    /// unreachable: a star turns to the next hub, and a k-ary tree routes around it (see
    /// [`Overlay::Kary`]).
    pub suspect_after: Duration,
    /// How long a delta stays stored after it arrived, at least. After that it is dropped
    /// once every peer that could need it holds it (the state keeps its effect; the log is
    /// checked every eighth of `retain`, at most once a second), and a peer found lacking it
    /// later is sent a snapshot of the whole state. Longer means more memory and fewer
    /// snapshots after long partitions or failovers.
    pub retain: Duration,
}

impl<P> Config<P> {
    /// The longest batching interval any member uses.
    fn longest_flush(&self) -> Duration {
        self.flush.max(self.relay_flush)
    }

    /// How long an acknowledgement may wait: at least `ack_delay`, and at least one batching
    /// interval, so that a node batching slowly still piggybacks its acknowledgements on its
    /// next batch instead of sending them bare.
    pub fn ack_wait(&self) -> Duration {
        self.ack_delay.max(self.longest_flush())
    }

    /// The first retransmission timeout in use: at least `rto`, and at least twice
    /// [`ack_wait`](Self::ack_wait), so that a slow but healthy peer is not retransmitted to.
    pub fn first_rto(&self) -> Duration {
        self.rto.max(self.ack_wait() * 2)
    }

    /// The retransmission cap in use: at least `max_rto` and [`first_rto`](Self::first_rto).
    pub fn rto_cap(&self) -> Duration {
        self.max_rto.max(self.first_rto())
    }

    /// How long an eager target may leave a packet unacknowledged before it is suspected: at
    /// least `suspect_after`, and longer than a retransmission plus an acknowledgement wait.
    pub fn suspicion(&self) -> Duration {
        self.suspect_after.max(self.first_rto() + self.ack_wait())
    }
}

/// Peers per node in the k-ary tree of [`Config::scalable`]: a node pushes to its parent and
/// at most this many children, so its eager fan-out stays at five whatever the cluster's size,
/// and a thousand members are four levels deep.
const SCALABLE_TREE_DEGREE: usize = 4;

impl<P> Config<P> {
    /// The configuration tuned for Maelstrom's `broadcast` workload (constant 100 ms latency,
    /// up to a few dozen nodes): a tree over a star with three hubs, leaves pushing at once,
    /// the hub batching every 300 ms. Few messages per update (each delta crosses two edges,
    /// and a batch carries about a third of a second of updates); the hub sends to every
    /// other member on each of its beats, so its load grows with the cluster.
    pub fn maelstrom() -> Self {
        Config {
            strategy: Strategy::Tree,
            overlay: Overlay::Star { hubs: 3 },
            flush: Duration::ZERO,
            relay_flush: Duration::from_millis(300),
            max_packet_bytes: 64 * 1024,
            ack_delay: Duration::from_millis(1000),
            rto: Duration::from_millis(2000),
            max_rto: Duration::from_millis(2000),
            suspect_after: Duration::from_millis(2500),
            retain: Duration::from_secs(30),
        }
    }

    /// Small clusters on a local network (up to about a hundred members): the star of
    /// [`maelstrom`](Self::maelstrom) with a shorter beat (the hub batches every 50 ms) and
    /// quicker failure handling (retransmit after 500 ms, suspect a silent hub after 700 ms).
    /// A star costs about two messages per update plus the hub's beat, and every update is
    /// two hops away; the hub sends to every member on each beat, which is what bounds the
    /// size: past a few hundred members prefer [`scalable`](Self::scalable).
    pub fn lan() -> Self {
        Config {
            relay_flush: Duration::from_millis(50),
            ack_delay: Duration::from_millis(200),
            rto: Duration::from_millis(500),
            max_rto: Duration::from_millis(2000),
            suspect_after: Duration::from_millis(700),
            ..Self::maelstrom()
        }
    }

    /// Hundreds to thousands of members: Plumtree-style [`Strategy::Hybrid`] over a k-ary
    /// tree of degree four, so a node pushes eagerly to at most five neighbours (its parent
    /// and four children) whatever the cluster's size, and sends one lazy digest a second to
    /// one random member while something is new, which repairs the tree when a link fails. A
    /// tree neighbour that leaves a packet unacknowledged for 1.5 s is routed around until it
    /// answers again, so a crashed inner node does not cut off its subtree while the member
    /// list still names it. Leaves (three members in four) push each update at once to their
    /// parent; inner nodes batch every 100 ms. An update takes up to twice the tree's depth in
    /// hops (about `2 log4 n`), so latency grows slowly with the cluster while no node's load
    /// grows at all.
    pub fn scalable() -> Self {
        Config {
            strategy: Strategy::Hybrid {
                lazy_interval: Duration::from_millis(1000),
                lazy_fanout: 1,
                graft_delay: Duration::from_millis(2000),
            },
            overlay: Overlay::Kary {
                k: SCALABLE_TREE_DEGREE,
            },
            flush: Duration::ZERO,
            relay_flush: Duration::from_millis(100),
            ack_delay: Duration::from_millis(500),
            rto: Duration::from_millis(1000),
            ..Self::lan()
        }
    }
}

/// [`Config::lan`]: what an application on one site should start from.
impl<P> Default for Config<P> {
    fn default() -> Self {
        Config::lan()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Maelstrom node's messages depend on every one of these values.
    #[test]
    fn maelstrom_preset_keeps_its_tuning() {
        let c: Config<u32> = Config::maelstrom();
        assert_eq!(c.strategy, Strategy::Tree);
        assert_eq!(c.overlay, Overlay::Star { hubs: 3 });
        assert_eq!(c.flush, Duration::ZERO);
        assert_eq!(c.relay_flush, Duration::from_millis(300));
        assert_eq!(c.max_packet_bytes, 64 * 1024);
        assert_eq!(c.ack_delay, Duration::from_millis(1000));
        assert_eq!(c.rto, Duration::from_millis(2000));
        assert_eq!(c.max_rto, Duration::from_millis(2000));
        assert_eq!(c.suspect_after, Duration::from_millis(2500));
        assert_eq!(c.retain, Duration::from_secs(30));
    }

    #[test]
    fn scalable_preset_has_bounded_degree() {
        let c: Config<u32> = Config::scalable();
        assert!(matches!(
            c.strategy,
            Strategy::Hybrid { lazy_fanout: 1, .. }
        ));
        assert_eq!(c.overlay, Overlay::Kary { k: 4 });
        assert_eq!(Config::<u32>::default(), Config::lan());
    }
}
