//! # gossip-transport: spreading CRDT deltas between replicas
//!
//! A [`Replicator`] owns one replica of any lattice from `gossip-crdt` (or your own type that
//! implements [`Lattice`](gossip_crdt::Lattice) and [`Decompose`](gossip_crdt::Decompose)) and
//! decides who to tell what, and when. It is **sans-IO**: inputs are local updates, packets
//! from peers and the passing of time (a `now` parameter); outputs are `(peer, packet)` pairs
//! and the next deadline. It never reads a clock, sleeps, spawns or opens a socket, so the
//! same engine runs under a tokio shell, inside a deterministic simulator, or in a test that
//! shuttles packets by hand.
//!
//! What it is not: a membership protocol (the member list is given), a failure detector
//! beyond "this peer stopped acknowledging", or a network stack.
//!
//! ## How it works, in one paragraph
//!
//! Every local update is a delta with an id `(replica, n)`. Deltas go to *eager targets*
//! (chosen by the [`Strategy`] and [`Overlay`]), batched per peer and flushed on a steady beat
//! or when a packet reaches its byte budget, in acknowledged packets that are retransmitted
//! (coalesced into one packet per timeout) until the peer confirms them. A replica never sends
//! a peer a delta the peer is known to hold, and forwards whole every received delta
//! that was new to it. Digests (causal contexts of delta ids) let two replicas find and ship
//! exactly their difference. `docs/anti-entropy.md` in the repository has the full story and
//! the cost model.
//!
//! The engine guarantees that what one live replica holds reaches the others once they can
//! talk; a replica that dies with its state takes along what no one else held yet. An
//! application that must not lose an acknowledged write answers its client only once
//! [`Replicator::is_held_elsewhere`] says so, for the id [`Replicator::update`] returned.
//!
//! ## Layout
//!
//! | module | what lives there |
//! |---|---|
//! | [`Replicator`] | the engine and its driving contract |
//! | [`Config`], [`Strategy`], [`Overlay`] | flooding, trees, stars, push gossip, push-pull, hybrid; timings |
//! | [`Packet`], [`Run`], [`Ack`] | the wire format (serde; compact JSON) |
//! | [`Time`], [`Start`] | time as a parameter; seed and incarnation of a new replica |
//! | [`ReplicaId`] | per-incarnation delta origin |
//! | [`Weigh`], [`JsonWeigh`] | sizes in the shell's encoding, for budgets and statistics |
//! | [`Change`], [`Source`] | change events: what grew the state, and from where |
//! | [`Stats`], [`PacketKind`] | counters of packets and bytes, by kind |
//! | [`TransportError`] | packets refused |
//! | `testing` (feature `testing`) | `SimNet`: a simulated network with virtual time, faults and churn |
//!
//! ## Presets
//!
//! [`Config::default`] is [`Config::lan`], a star for clusters up to about a hundred members;
//! [`Config::scalable`] spreads over a bounded-degree tree with Plumtree-style repair for
//! hundreds to thousands; [`Config::maelstrom`] is tuned for Maelstrom's workloads.
//! `docs/anti-entropy.md` has each one's measured messages per update and latency.
//!
//! ## Example
//!
//! Three replicas of a counter on the simulated network of the `testing` module (feature
//! `testing`), which loses a tenth of the packets. A real shell drives each replica itself, as
//! [`Replicator`] describes.
//!
//! ```
//! # #[cfg(feature = "testing")] {
//! use gossip_crdt::GCounter;
//! use gossip_transport::testing::{Faults, SimNet};
//! use gossip_transport::{Config, ReplicaId};
//! use std::time::Duration;
//!
//! let faults = Faults { p_loss: 0.1, ..Faults::default() };
//! let mut net: SimNet<GCounter<ReplicaId>, u32> =
//!     SimNet::new(vec![1, 2, 3], Config::default(), faults, 7);
//!
//! // Every replica adds 1 under its own replica id.
//! for m in [1, 2, 3] {
//!     let node = net.node(m);
//!     let delta = node.state().increment_delta(node.id(), 1).unwrap();
//!     net.update(m, delta);
//! }
//!
//! // Ten seconds of virtual time: lost packets are retransmitted until acknowledged.
//! assert!(net.run_for(Duration::from_secs(10)));
//! assert!(net.nodes.iter().all(|n| n.state().value() == 3));
//! # }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
mod dot_set;
mod error;
mod event;
mod log;
mod overlay;
mod packet;
mod peer;
mod replica_id;
mod replicator;
mod start;
mod stats;
#[cfg(feature = "testing")]
pub mod testing;
mod time;
mod weigh;
mod window;

pub use config::{Config, Overlay, Strategy};
pub use error::TransportError;
pub use event::{Change, Source};
pub use packet::{Ack, Packet, Run};
pub use replica_id::ReplicaId;
pub use replicator::{Lag, Replicator};
pub use start::Start;
pub use stats::{Counter, PacketKind, Refused, Stats};
pub use time::Time;
pub use weigh::{JsonWeigh, Weigh};

/// `docs/anti-entropy.md`, whose code blocks run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/anti-entropy.md")]
pub struct AntiEntropyGuide;
