//! # gossip-membership: who is in the cluster (SWIM, sans-IO)
//!
//! A [`Membership`] runs the SWIM failure detector and membership protocol (through the
//! [`foca`] crate) for one node. It is **sans-IO**: it is fed received packets and the time,
//! and hands back packets to send, [`MemberEvent`]s and its next deadline. It never reads a
//! clock, opens a socket, spawns or touches a file, so the same code runs under the network
//! shell and inside an in-memory simulation that jumps from deadline to deadline. Time is the
//! transport's [`Time`](gossip_transport::Time), so one clock drives both engines.
//!
//! ## The seam with the replicator
//!
//! The shell owns one `Membership` and one `Replicator` per named replica. After every input it
//! drains [`Membership::poll_event`]; on an event that [changes the member
//! set](MemberEvent::changes_members) it calls
//! `replicator.set_members(now, membership.active_ids())`, and it routes a replicator packet
//! for node `id` to [`Membership::addr_of`]`(id)`. Replicas are keyed by node id ([`NodeId`], a
//! `uuid::Uuid`); deltas by the replicator's own per-life `ReplicaId`. The rules that keep both
//! from ever being reused are in `docs/membership.md`.
//!
//! ## Layout
//!
//! | module | what lives there |
//! |---|---|
//! | [`Membership`] | the engine and its driving contract (`membership`), foca's runtime for one input (`outbox`) |
//! | [`MemberInfo`], [`MemberEvent`], [`MemberState`], [`Stats`] | what the engine reports (`member`) |
//! | [`Identity`] | one life of a node: [`NodeId`], address, generation; renewal and address conflicts |
//! | [`NodeIdentity`] | the node id kept in a data directory and the start number (file IO) |
//! | [`Config`] | SWIM timings, LAN and WAN presets |
//! | [`MembershipError`], [`IdentityError`] | refused input, identity file problems |

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
mod error;
mod identity;
mod member;
mod membership;
mod node_identity;
mod outbox;

pub use config::{Config, DEFAULT_CLUSTER_SIZE};
pub use error::MembershipError;
pub use identity::{Identity, NodeId, RENEWAL_BITS};
pub use member::{MemberEvent, MemberInfo, MemberState, Stats};
pub use membership::Membership;
pub use node_identity::{IDENTITY_FILE, IdentityError, NodeIdentity};

pub use foca;
