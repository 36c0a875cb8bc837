//! # gossip
//!
//! CRDT replication over gossip, in one dependency: this facade re-exports the workspace's
//! crates under short names.
//!
//! | path | crate | what it is |
//! |---|---|---|
//! | [`crdt`] | `gossip-crdt` | lattices (sets, counters, registers, version vectors) and their laws |
//! | [`transport`] | `gossip-transport` | the sans-IO engine that spreads deltas between replicas |
//! | `node` (feature `node`) | `gossip-node` | the Maelstrom node: protocol, workloads, stdio shell |
//! | `harness` (feature `harness`) | `gossip-harness` | the Maelstrom-compatible test runner |
//! | `net` (feature `net`) | `gossip-net` | the tokio shell replicating between processes |
//!
//! ```
//! use gossip::crdt::{GSet, Lattice};
//!
//! let mut a = GSet::new();
//! let delta = a.insert(7);
//! let mut b = GSet::new();
//! b.join(&delta);
//! assert_eq!(a, b);
//! ```

#![forbid(unsafe_code)]

pub use gossip_crdt as crdt;
pub use gossip_transport as transport;

#[cfg(feature = "node")]
pub use gossip_node as node;

#[cfg(feature = "harness")]
pub use gossip_harness as harness;

#[cfg(feature = "net")]
pub use gossip_net as net;

/// `docs/conflict-detection.md`, included only so that `cargo test` compiles and runs its
/// examples.
#[cfg(doctest)]
#[doc = include_str!("../docs/conflict-detection.md")]
pub struct ConflictDetectionGuide;
