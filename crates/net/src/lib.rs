//! # gossip-net: replicate CRDTs between processes
//!
//! A tokio shell around the sans-IO [`gossip_transport::Replicator`]: a [`Node`] binds one
//! UDP socket and one TCP listener on the same port and hosts any number of named replicas
//! ([`Replica`]), each of its own CRDT type. Messages are postcard, sealed with
//! XChaCha20-Poly1305 under the cluster keyring ([`Keyring`]); datagrams up to
//! [`Limits::max_datagram_bytes`], larger messages as length-delimited frames over one TCP
//! connection per peer. Membership is SWIM ([`gossip_membership`]) on the same socket and
//! keys: a node joins through its seeds, learns every member by gossip, is declared down when
//! it stops answering probes, and leaves gracefully on [`Node::shutdown`]. The active members
//! hosting a replica are that replica's peers; [`Node::member_events`] streams the changes.
//! With a data directory ([`NodeBuilder::data_dir`]) the node keeps its id and every replica
//! in a store (`gossip-store`), resumes them at restart, and can acknowledge an update once it
//! is on disk ([`AckLevel::Durable`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use gossip_crdt::GSet;
//! use gossip_net::{Keyring, NodeBuilder};
//!
//! let key = Keyring::generate();
//! let node = NodeBuilder::new("127.0.0.1:7000".parse()?)
//!     .seeds(vec!["127.0.0.1:7001".parse()?])
//!     .keyring(key)
//!     .start()
//!     .await?;
//! let chat = node.open::<GSet<String>>("chat")?;
//! chat.update(|state, _me| Some(state.insert_delta("hello".to_string()))).await?;
//! let mut changes = chat.subscribe();
//! while let Some(event) = changes.next().await {
//!     println!("{event:?}");
//! }
//! # Ok(()) }
//! ```
//!
//! ## Layout
//!
//! | module | what lives there |
//! |---|---|
//! | `node` | [`NodeBuilder`], [`Node`], the driver task (the clock, dispatching input) |
//! | `io` | sealing and opening envelopes, the replay window, UDP sends, TCP links and readers |
//! | `members` | the SWIM glue: [`MemberEvents`], hosted replicas, seeds by host name |
//! | `handle` | [`Replica`], [`AckLevel`]: the application's handle to a named replica |
//! | `replica` | [`Subscription`], [`Event`]: one replicator per name, fed by the driver |
//! | `context` | [`Crdt`] and what replicas share with their node (clock, counters, limits, store) |
//! | `durable` | each replica's journal: resuming, leases, durable updates, received deltas committed before they are acknowledged, checkpoints |
//! | `disk` | the store in the data directory and the thread that commits to it |
//! | `sync` | poison-tolerant locking |
//! | `wire` | the envelope and the postcard form of transport packets; [`PostcardWeigh`] |
//! | `keys` | [`Keyring`]: key derivation, sealing and opening |
//! | `config` | [`Preset`] (timings) and [`Limits`] (bounds on everything a peer can make us hold) |
//! | `metrics` | [`Metrics`]: counters, in Prometheus text too |
//! | `error` | [`NetError`], [`UpdateError`] |
//!
//! `docs/network.md` in the repository explains the tasks, queues, limits, keys and what
//! each error means.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
mod context;
mod disk;
mod durable;
mod error;
#[cfg(feature = "testing")]
mod faults;
mod handle;
mod io;
mod keys;
mod members;
mod metrics;
mod node;
mod replica;
mod sync;
mod wire;

pub use config::{Limits, Preset, SCALABLE_CLUSTER_SIZE};
pub use context::Crdt;
pub use error::{NetError, UpdateError};
#[cfg(feature = "testing")]
pub use faults::Faults;
pub use gossip_membership::{Identity, MemberEvent, MemberInfo, MemberState, NodeId};
pub use gossip_store::{MemStore, Store, StoreError};
pub use handle::{AckLevel, Replica};
pub use keys::Keyring;
pub use members::MemberEvents;
pub use metrics::Metrics;
pub use node::{Node, NodeBuilder};
pub use replica::{Event, Subscription};
pub use wire::PostcardWeigh;

#[doc(hidden)]
pub mod fuzz {
    //! Entry points for the fuzz tests: decoding and unsealing any bytes.
    pub use crate::fuzz_impl::*;
}

mod fuzz_impl {
    use crate::Keyring;
    use crate::keys::Sealer;

    /// Opens `bytes` as a node with `key` and `label` would, and decodes what opens.
    /// Returns whether it opened and whether the envelope decoded.
    pub fn open_and_decode(key: Option<&Keyring>, label: &str, bytes: &[u8]) -> (bool, bool) {
        let sealer = Sealer::new(key, label);
        match sealer.open(bytes) {
            Ok((plain, _)) => (true, crate::wire::decode_envelope(&plain).is_some()),
            Err(_) => (false, false),
        }
    }

    /// Seals a valid envelope carrying a packet of a G-Set of `items`, as a node would.
    pub fn valid_message(key: Option<&Keyring>, label: &str, items: &[u64]) -> Vec<u8> {
        use gossip_crdt::GSet;
        use gossip_transport::{Ack, Packet, ReplicaId, Run};
        let delta: GSet<u64> = items.iter().copied().collect();
        // The fields of a push that also acknowledges, as a leaf sends them.
        let packet = Packet {
            to: Some(u64::MAX - 1),
            ack: Some(Ack {
                inc: u64::MAX - 2,
                seq: 1000,
                to: None,
            }),
            seq: Some((1, 1)),
            runs: std::sync::Arc::new(vec![Run {
                origin: ReplicaId(3),
                first: 1,
                deltas: vec![delta],
            }]),
            ..Packet::new(9)
        };
        seal(
            key,
            label,
            crate::wire::Body::Packet {
                replica: "fuzz".to_string(),
                bytes: crate::wire::encode_packet(&packet),
            },
        )
    }

    fn seal(key: Option<&Keyring>, label: &str, body: crate::wire::Body) -> Vec<u8> {
        let env = crate::wire::Envelope {
            from: uuid::Uuid::from_u128(0x5eed),
            body,
        };
        Sealer::new(key, label).seal(&crate::wire::encode_envelope(&env))
    }

    fn fuzz_member(port: u16) -> gossip_membership::Membership {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let me = gossip_membership::Identity::new(uuid::Uuid::from_u128(u128::from(port)), addr, 1);
        gossip_membership::Membership::new(me, gossip_membership::Config::lan(), 7)
    }

    /// Seals a valid envelope carrying a membership packet (a join request, then the state
    /// exchange of `members` members), as a node would.
    pub fn valid_membership_message(key: Option<&Keyring>, label: &str, members: u8) -> Vec<u8> {
        use gossip_transport::Time;
        let mut joiner = fuzz_member(10);
        let mut seed = fuzz_member(9);
        for i in 0..members {
            let mut other = fuzz_member(100 + u16::from(i));
            let _ = other.join(Time::ZERO, std::net::SocketAddr::from(([127, 0, 0, 1], 9)));
            while let Some((_, bytes)) = other.poll_transmit() {
                let _ = seed.handle_data(Time::ZERO, &bytes);
            }
        }
        let _ = joiner.join(Time::ZERO, std::net::SocketAddr::from(([127, 0, 0, 1], 9)));
        let bytes = joiner.poll_transmit().map(|(_, b)| b).unwrap_or_default();
        let _ = seed.handle_data(Time::ZERO, &bytes);
        // The seed's answer, with what it knows of the others, when there is one.
        let bytes = seed.poll_transmit().map_or(bytes, |(_, b)| b);
        seal(key, label, crate::wire::Body::Swim(bytes))
    }

    /// Opens `bytes` as a node would and hands any membership packet inside to a SWIM engine,
    /// as the node does. Returns whether a membership packet was found.
    pub fn open_and_handle_membership(key: Option<&Keyring>, label: &str, bytes: &[u8]) -> bool {
        let Ok((plain, _)) = Sealer::new(key, label).open(bytes) else {
            return false;
        };
        match crate::wire::decode_envelope(&plain).map(|e| e.body) {
            Some(crate::wire::Body::Swim(packet)) => {
                let _ = fuzz_member(11).handle_data(gossip_transport::Time::ZERO, &packet);
                true
            }
            _ => false,
        }
    }

    /// Hands `bytes` to a SWIM engine as a membership packet.
    pub fn handle_membership_packet(bytes: &[u8]) {
        let _ = fuzz_member(11).handle_data(gossip_transport::Time::ZERO, bytes);
    }

    /// Decodes `bytes` as a transport packet of a G-Set (the inner layer a replica decodes).
    pub fn decode_gset_packet(bytes: &[u8]) -> bool {
        crate::wire::decode_packet::<gossip_crdt::GSet<u64>>(bytes, 1024).is_some()
    }
}
