//! Presets (timings for a kind of network) and limits (what a peer can make us allocate).

use std::time::Duration;

use gossip_transport::{Config, Overlay, Strategy};

use crate::NodeId;

/// Timings for a kind of network: the transport's strategy and timers, and SWIM's
/// ([`membership`](Self::membership)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Preset {
    /// A local network or one machine: sub-millisecond round trips, few losses. Deltas go
    /// through a star with three fallback hubs: a leaf gathers its own for 15 ms, a hub what
    /// it relays and makes for 10 ms, so an update reaches every member within about 25 ms
    /// and a datagram's fixed cost (about 90 bytes sealed) is shared by the updates it
    /// carries; digests every second; SWIM probes every second.
    #[default]
    Lan,
    /// Links across regions: longer timeouts and batching, so fewer retransmissions; SWIM
    /// probes every 5 s and waits longer before declaring a member down.
    Wan,
    /// Hundreds of nodes: a Plumtree-like hybrid (eager tree, lazy digests), so a hub is not
    /// a bottleneck.
    Scalable,
}

/// The shell's own periods of a preset (membership timings are SWIM's: [`Preset::membership`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    /// How often lists of hosted replicas not yet acknowledged are sent again.
    pub hosts: Duration,
    /// How often outstanding update-and-wait queries are asked again.
    pub query: Duration,
}

/// The cluster size [`Preset::Scalable`] assumes when none is given.
pub const SCALABLE_CLUSTER_SIZE: u32 = 256;

impl Preset {
    pub(crate) fn transport(self, max_frame_payload: usize) -> Config<NodeId> {
        let base = Config::<NodeId>::default();
        let budget = max_frame_payload.min(base.max_packet_bytes);
        match self {
            Preset::Lan => Config {
                strategy: Strategy::Tree,
                overlay: Overlay::Star { hubs: 3 },
                // Long enough that a datagram carries several updates once nodes write a
                // hundred or more a second (sharing its fixed cost), short enough that an
                // update crosses leaf and hub within about their sum.
                flush: Duration::from_millis(15),
                relay_flush: Duration::from_millis(10),
                max_packet_bytes: budget,
                ack_delay: Duration::from_millis(20),
                rto: Duration::from_millis(200),
                max_rto: Duration::from_millis(1000),
                suspect_after: Duration::from_millis(1000),
                retain: Duration::from_secs(30),
            },
            Preset::Wan => Config {
                max_packet_bytes: budget,
                ..base
            },
            Preset::Scalable => Config {
                strategy: Strategy::Hybrid {
                    lazy_interval: Duration::from_millis(200),
                    lazy_fanout: 3,
                    graft_delay: Duration::from_millis(400),
                },
                overlay: Overlay::Kary { k: 4 },
                flush: Duration::from_millis(5),
                relay_flush: Duration::from_millis(20),
                max_packet_bytes: budget,
                ack_delay: Duration::from_millis(50),
                rto: Duration::from_millis(500),
                max_rto: Duration::from_millis(2000),
                suspect_after: Duration::from_millis(2500),
                retain: Duration::from_secs(30),
            },
        }
    }

    pub(crate) fn timing(self) -> Timing {
        match self {
            Preset::Lan | Preset::Scalable => Timing {
                hosts: Duration::from_secs(1),
                query: Duration::from_millis(100),
            },
            Preset::Wan => Timing {
                hosts: Duration::from_secs(3),
                query: Duration::from_millis(300),
            },
        }
    }

    /// The SWIM configuration of this preset for a cluster of about `cluster_size` members
    /// (`None`: [`DEFAULT_CLUSTER_SIZE`](gossip_membership::DEFAULT_CLUSTER_SIZE), or
    /// [`SCALABLE_CLUSTER_SIZE`] for `Scalable`). `Lan` and `Scalable` are
    /// [`Config::lan_sized`](gossip_membership::Config::lan_sized), `Wan` is
    /// [`Config::wan_sized`](gossip_membership::Config::wan_sized). The node lowers
    /// `swim.max_packet_size` so that a sealed membership packet fits one datagram.
    pub fn membership(self, cluster_size: Option<u32>) -> gossip_membership::Config {
        use gossip_membership::{Config, DEFAULT_CLUSTER_SIZE};
        match self {
            Preset::Lan => Config::lan_sized(cluster_size.unwrap_or(DEFAULT_CLUSTER_SIZE)),
            Preset::Wan => Config::wan_sized(cluster_size.unwrap_or(DEFAULT_CLUSTER_SIZE)),
            Preset::Scalable => Config::lan_sized(cluster_size.unwrap_or(SCALABLE_CLUSTER_SIZE)),
        }
    }
}

/// Every bound on what the node sends, accepts and queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest UDP datagram sent, headers and tag included; larger messages go over TCP.
    /// Default 1,400 (fits an Ethernet MTU with IP and UDP headers).
    pub max_datagram_bytes: usize,
    /// The largest TCP frame sent or accepted on an authenticated connection, headers and tag
    /// included; a frame announced larger closes the connection. An update whose delta cannot
    /// fit is refused at once. Default 4 MiB.
    pub max_frame_bytes: usize,
    /// The largest first frame of an inbound TCP connection, which must be a sealed hello
    /// (58 bytes; under 300 in plaintext mode with the longest label): until it opens under
    /// our keys the connection is a stranger's, and this is all it can make us buffer. At
    /// least 512 and at most `max_frame_bytes`. Default 1,024.
    pub max_unauthenticated_frame_bytes: usize,
    /// Inbound TCP connections waiting for their hello, from all addresses together; when
    /// all are taken, a new one closes the oldest waiting (counted in
    /// `evicted_unauthenticated`). Default 64.
    pub max_unauthenticated_connections: usize,
    /// How long an inbound TCP connection has to deliver its hello before it is closed and
    /// counted. An honest peer sends it as soon as it connects. Not zero. Default 5 s.
    pub unauthenticated_timeout: Duration,
    /// Bytes queued per peer for TCP; past it frames are dropped and counted (anti-entropy
    /// repairs what they carried). Default 16 MiB.
    pub max_queued_bytes_per_peer: usize,
    /// Runs (per-origin delta groups) in one packet; more and the packet is refused.
    /// Default 65,536.
    pub max_runs_per_packet: usize,
    /// Inbound TCP connections per remote IP address. Default 16.
    pub max_connections_per_ip: usize,
    /// Members whose hosted replicas are remembered at once, and replicas remembered per
    /// member; lists naming more are truncated. Default 4,096.
    pub max_members: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_datagram_bytes: 1400,
            max_frame_bytes: 4 << 20,
            max_unauthenticated_frame_bytes: 1024,
            max_unauthenticated_connections: 64,
            unauthenticated_timeout: Duration::from_secs(5),
            max_queued_bytes_per_peer: 16 << 20,
            max_runs_per_packet: 65_536,
            max_connections_per_ip: 16,
            max_members: 4096,
        }
    }
}

/// Room kept in a frame for the envelope around a packet (sender id, replica name
/// and the packet's own fields): an update's delta must fit in the rest.
pub(crate) const ENVELOPE_ROOM: usize = 1024;

/// The least `max_unauthenticated_frame_bytes` allowed: a hello is 58 bytes sealed, and under
/// 300 in plaintext mode, which carries the label (at most 255 bytes).
pub(crate) const MIN_UNAUTHENTICATED_FRAME: usize = 512;
