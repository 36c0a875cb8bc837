//! Counters (what the node sent, received, refused and dropped) and gauges (members by state,
//! queue depths, replication lag), each declared with its Prometheus type.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// The Prometheus type of a field: only these two are declared.
macro_rules! kind {
    (counter) => {
        "counter"
    };
    (gauge) => {
        "gauge"
    };
}

/// The suffix Prometheus' naming rules give a field's exposed name: counters end in `_total`.
macro_rules! suffix {
    (counter) => {
        "_total"
    };
    (gauge) => {
        ""
    };
}

macro_rules! counters {
    ($( $(#[doc = $doc:literal])* $name:ident : $kind:ident ),* $(,)?) => {
        /// A snapshot of the node's counters and gauges (see `docs/network.md` for each).
        #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
        #[non_exhaustive]
        pub struct Metrics {
            $( $(#[doc = $doc])* pub $name: u64, )*
        }

        #[derive(Debug, Default)]
        pub(crate) struct Counters {
            $( pub $name: AtomicU64, )*
        }

        impl Counters {
            pub(crate) fn snapshot(&self) -> Metrics {
                Metrics { $( $name: self.$name.load(Ordering::Relaxed), )* }
            }
        }

        impl Metrics {
            /// The counters and gauges in Prometheus' text format, each named
            /// `gossip_net_<field>` (counters with Prometheus' `_total` suffix) and typed as
            /// declared.
            pub fn to_prometheus(&self) -> String {
                let mut out = String::new();
                $(
                    let help = concat!($($doc),*);
                    out.push_str(&format!(
                        "# HELP gossip_net_{0} {1}\n# TYPE gossip_net_{0} {2}\ngossip_net_{0} {3}\n",
                        concat!(stringify!($name), suffix!($kind)),
                        help.trim(),
                        kind!($kind),
                        self.$name
                    ));
                )*
                out
            }
        }
    };
}

counters! {
    /// Datagrams sent over UDP.
    udp_sent: counter,
    /// Bytes sent over UDP (sealed, as on the wire).
    udp_sent_bytes: counter,
    /// Frames sent over TCP.
    tcp_sent: counter,
    /// Bytes sent over TCP (sealed frames plus their 4-byte length prefix).
    tcp_sent_bytes: counter,
    /// Datagrams received over UDP.
    udp_received: counter,
    /// Bytes received over UDP.
    udp_received_bytes: counter,
    /// Frames received over TCP.
    tcp_received: counter,
    /// Bytes received over TCP.
    tcp_received_bytes: counter,
    /// Messages that no key opened (another cluster or label, a wrong key, tampering).
    refused_unsealed: counter,
    /// Messages too short, of an unknown version, or of the wrong mode (plaintext to a sealed node or the reverse).
    refused_malformed: counter,
    /// Opened messages whose contents did not decode, or whose packet the transport refused.
    refused_invalid: counter,
    /// Plaintext messages of another cluster label.
    refused_label: counter,
    /// Sealed messages seen before (same nonce): replays, dropped.
    replayed: counter,
    /// TCP frames announced larger than the limit in force: the hello's limit until a connection authenticates, then the frame limit (the connection is closed).
    refused_frame_too_large: counter,
    /// Inbound TCP connections refused by the per-address limit.
    refused_connections: counter,
    /// Inbound TCP connections closed before their hello because the most allowed were waiting and a newer connection took the oldest one's place.
    evicted_unauthenticated: counter,
    /// Inbound TCP connections closed because their first frame was not a hello that opens under our keys.
    refused_hello: counter,
    /// Inbound TCP connections closed because no hello arrived in time.
    refused_hello_late: counter,
    /// Inbound TCP connections accepted (each then has to deliver its hello).
    tcp_accepted: counter,
    /// Inbound TCP connections whose hello opened: frames up to the frame limit are read from them.
    tcp_authenticated: counter,
    /// Inbound TCP connections accepted and still waiting for their hello.
    tcp_unauthenticated: gauge,
    /// Packets for a replica this node does not host.
    unknown_replica: counter,
    /// Packets of a replica from a node that is not one of its members here (not yet: SWIM
    /// has not reported it, or no longer): dropped, and retransmitted by the sender.
    refused_not_member: counter,
    /// Messages dropped because a peer's queue was full (repaired by anti-entropy).
    dropped_queue_full: counter,
    /// Messages dropped because they were larger than a frame.
    dropped_too_large: counter,
    /// UDP sends that failed (buffer full, unreachable).
    udp_send_errors: counter,
    /// TCP connections made to peers (first ones and reconnections).
    tcp_connects: counter,
    /// TCP connection attempts that failed.
    tcp_connect_errors: counter,
    /// Local updates applied.
    local_updates: counter,
    /// Deltas received that were new here.
    deltas_received_new: counter,
    /// Transport packets sent (before sealing).
    packets_sent: counter,
    /// Bytes of transport packets sent (postcard, before the envelope and sealing).
    packet_bytes_sent: counter,
    /// Subscribers that fell behind.
    subscriber_lagged: counter,
    /// Members currently alive.
    members_alive: gauge,
    /// Members currently suspect.
    members_suspect: gauge,
    /// Members currently down.
    members_down: gauge,
    /// Members that left (graceful shutdown) and are still remembered.
    members_left: gauge,
    /// Membership (SWIM) packets sent.
    membership_sent: counter,
    /// Their bytes, sealed, as on the wire.
    membership_sent_bytes: counter,
    /// Membership packets (opened with our key) that the SWIM engine refused.
    refused_membership: counter,
    /// Commits made to the store (each `Immediate` one is one fsync; concurrent durable updates share one).
    store_commits: counter,
    /// Updates acknowledged as durable (committed and fsynced).
    store_durable_updates: counter,
    /// Lease commits made before packets could leave (one per 1,024 counters a replica gives out).
    store_leases: counter,
    /// Checkpoints submitted.
    store_checkpoints: counter,
    /// Store operations that failed (durable updates, leases, checkpoints): a full disk, or a closed store.
    store_errors: counter,
    /// Durable updates waiting for their commit now.
    store_pending: gauge,
    /// Commits of deltas received from peers: a member with a store acknowledges a delta only once it is committed.
    store_received_commits: counter,
    /// Packets from peers dropped, unacknowledged, because they arrived while the replica's received deltas were being committed and its inbox was full (their senders send them again).
    store_inbox_dropped: counter,
    /// Bytes waiting in the TCP queues to peers, all links together (sealed, with prefixes).
    tcp_queued_bytes: gauge,
    /// Bytes waiting in the fullest TCP queue to one peer.
    tcp_queued_bytes_max: gauge,
    /// Deltas waiting in the replicas' queues for their next push (one per delta and peer).
    replica_queued_deltas: gauge,
    /// This node's own deltas (all replicas) that some current member is not known to hold.
    replication_lag_deltas: gauge,
    /// Age in milliseconds of the oldest of those deltas (0 when there are none).
    replication_lag_ms: gauge,
}

impl Counters {
    pub(crate) fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn sub(c: &AtomicU64, n: u64) {
        c.fetch_sub(n, Ordering::Relaxed);
    }

    pub(crate) fn set(c: &AtomicU64, n: u64) {
        c.store(n, Ordering::Relaxed);
    }
}
