//! # gossip-net: replicate CRDTs between processes
//!
//! A tokio shell around the sans-IO [`gossip_transport::Replicator`]: a [`Node`] binds one
//! UDP socket and one TCP listener on the same port and hosts any number of named replicas
//! ([`Replica`]), each of its own CRDT type. Messages are postcard, sealed with
//! XChaCha20-Poly1305 under the cluster keyring ([`Keyring`]); datagrams up to
//! [`Limits::max_datagram_bytes`], larger messages as length-delimited frames over one TCP
//! connection per peer. Members are the seeds, whoever talks to the node and whoever those
//! name; a member silent for a while is suspect, later down. With a data directory
//! ([`NodeBuilder::data_dir`]) the node keeps its id and every replica in a store
//! (`gossip-store`), resumes them at restart, and can acknowledge an update once it is on disk
//! ([`AckLevel::Durable`]).
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
//! | `node` | [`NodeBuilder`], [`Node`], the driver task (sockets, clock, membership) and TCP links |
//! | `replica` | [`Replica`], [`Subscription`], [`Event`], [`AckLevel`]: one replicator per name |
//! | `durable` | the store in the data directory: resuming replicas, leases, durable updates, checkpoints |
//! | `wire` | the envelope and the postcard form of transport packets; [`PostcardWeigh`] |
//! | `keys` | [`Keyring`]: key derivation, sealing and opening |
//! | `members` | [`NodeId`], [`MemberInfo`], [`MemberState`]: the member table |
//! | `config` | [`Preset`] (timings) and [`Limits`] (bounds on everything a peer can make us hold) |
//! | `metrics` | [`Metrics`]: counters, in Prometheus text too |
//! | `error` | [`NetError`], [`UpdateError`] |
//!
//! `docs/network.md` in the repository explains the tasks, queues, limits, keys and what
//! each error means.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
mod durable;
mod error;
#[cfg(feature = "testing")]
mod faults;
mod keys;
mod members;
mod metrics;
mod node;
mod replica;
mod wire;

pub use config::{Limits, Preset};
pub use error::{NetError, UpdateError};
#[cfg(feature = "testing")]
pub use faults::Faults;
pub use gossip_store::{MemStore, Store, StoreError};
pub use keys::Keyring;
pub use members::{MemberInfo, MemberState, NodeId};
pub use metrics::Metrics;
pub use node::{Node, NodeBuilder};
pub use replica::{AckLevel, Crdt, Event, Replica, Subscription};
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
        use gossip_transport::{Packet, ReplicaId, Run};
        let delta: GSet<u64> = items.iter().copied().collect();
        let packet = Packet {
            seq: Some((1, 1)),
            runs: std::sync::Arc::new(vec![Run {
                origin: ReplicaId(3),
                first: 1,
                deltas: vec![delta],
            }]),
            ..Packet::new(9)
        };
        let env = crate::wire::Envelope {
            label: label.to_string(),
            from: crate::NodeId::random(),
            life: 1,
            addr: std::net::SocketAddr::from(([127, 0, 0, 1], 9)),
            body: crate::wire::Body::Packet {
                replica: "fuzz".to_string(),
                bytes: crate::wire::encode_packet(&packet),
            },
        };
        Sealer::new(key, label).seal(&crate::wire::encode_envelope(&env))
    }

    /// Decodes `bytes` as a transport packet of a G-Set (the inner layer a replica decodes).
    pub fn decode_gset_packet(bytes: &[u8]) -> bool {
        crate::wire::decode_packet::<gossip_crdt::GSet<u64>>(bytes, 1024).is_some()
    }
}
