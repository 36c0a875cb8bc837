//! Counters: what the node sent, received, refused and dropped.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

macro_rules! counters {
    ($( $(#[doc = $doc:literal])* $name:ident ),* $(,)?) => {
        /// A snapshot of the node's counters (see `docs/network.md` for each).
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
            /// The counters in Prometheus' text format, each named `gossip_net_<field>`.
            pub fn to_prometheus(&self) -> String {
                let mut out = String::new();
                $(
                    let help = concat!($($doc),*);
                    out.push_str(&format!(
                        "# HELP gossip_net_{0} {1}\n# TYPE gossip_net_{0} {2}\ngossip_net_{0} {3}\n",
                        stringify!($name),
                        help.trim(),
                        if stringify!($name).starts_with("members_") || stringify!($name).ends_with("_pending") { "gauge" } else { "counter" },
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
    udp_sent,
    /// Bytes sent over UDP (sealed, as on the wire).
    udp_sent_bytes,
    /// Frames sent over TCP.
    tcp_sent,
    /// Bytes sent over TCP (sealed frames plus their 4-byte length prefix).
    tcp_sent_bytes,
    /// Datagrams received over UDP.
    udp_received,
    /// Bytes received over UDP.
    udp_received_bytes,
    /// Frames received over TCP.
    tcp_received,
    /// Bytes received over TCP.
    tcp_received_bytes,
    /// Messages that no key opened (another cluster or label, a wrong key, tampering).
    refused_unsealed,
    /// Messages too short, of an unknown version, or of the wrong mode (plaintext to a sealed node or the reverse).
    refused_malformed,
    /// Opened messages whose contents did not decode, or whose packet the transport refused.
    refused_invalid,
    /// Plaintext messages of another cluster label.
    refused_label,
    /// Sealed messages seen before (same nonce): replays, dropped.
    replayed,
    /// TCP frames announced larger than the frame limit (the connection is closed).
    refused_frame_too_large,
    /// Inbound TCP connections refused by the per-address limit.
    refused_connections,
    /// Packets for a replica this node does not host.
    unknown_replica,
    /// Packets of a replica from a node that is not one of its members here (not yet: SWIM
    /// has not reported it, or no longer): dropped, and retransmitted by the sender.
    refused_not_member,
    /// Messages dropped because a peer's queue was full (repaired by anti-entropy).
    dropped_queue_full,
    /// Messages dropped because they were larger than a frame.
    dropped_too_large,
    /// UDP sends that failed (buffer full, unreachable).
    udp_send_errors,
    /// TCP connections made to peers (first ones and reconnections).
    tcp_connects,
    /// TCP connection attempts that failed.
    tcp_connect_errors,
    /// Local updates applied.
    local_updates,
    /// Deltas received that were new here.
    deltas_received_new,
    /// Transport packets sent (before sealing).
    packets_sent,
    /// Bytes of transport packets sent (postcard, before the envelope and sealing).
    packet_bytes_sent,
    /// Subscribers that fell behind.
    subscriber_lagged,
    /// Members currently alive.
    members_alive,
    /// Members currently suspect.
    members_suspect,
    /// Members currently down.
    members_down,
    /// Members that left (graceful shutdown) and are still remembered.
    members_left,
    /// Membership (SWIM) packets sent.
    membership_sent,
    /// Their bytes, sealed, as on the wire.
    membership_sent_bytes,
    /// Membership packets (opened with our key) that the SWIM engine refused.
    refused_membership,
    /// Commits made to the store (each `Immediate` one is one fsync; concurrent durable updates share one).
    store_commits,
    /// Updates acknowledged as durable (committed and fsynced).
    store_durable_updates,
    /// Lease commits made before packets could leave (one per 1,024 counters a replica gives out).
    store_leases,
    /// Checkpoints submitted.
    store_checkpoints,
    /// Store operations that failed (durable updates, leases, checkpoints): a full disk, or a closed store.
    store_errors,
    /// Durable updates waiting for their commit now.
    store_pending,
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
