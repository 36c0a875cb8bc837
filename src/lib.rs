//! # gossip
//!
//! CRDT replication over gossip, in one dependency: this facade re-exports the workspace's
//! crates under short names.
//!
//! | path | crate | what it is |
//! |---|---|---|
//! | [`crdt`] | `gossip-crdt` | lattices (sets, counters, registers, version vectors) and their laws |
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
