//! # gossip-store: durable replicas
//!
//! A node's named replicas kept on disk, so that a restarted node resumes with its state and
//! never gives a delta id that may have reached a peer to a different delta.
//!
//! What is kept, per replica name:
//!
//! - its **lease**: the replica id and the highest delta counter that id may have given out.
//!   Leases are taken ahead in blocks, and a lease is durable before a delta numbered under it
//!   leaves the node, so a resumed replica continues after its lease (see [`Journal`]);
//! - a **checkpoint**: the state and the ids of the deltas it holds (`seen`), encoded by the
//!   caller;
//! - the **delta log**: deltas committed since the checkpoint (the updates acknowledged as
//!   durable), folded into the state at load.
//!
//! And for the node: its identity, a UUID made when the store is created.
//!
//! What peers hold is not kept: a resumed replica greets its peers with its digest, and their
//! answers tell it again. Deltas received from peers are kept only through checkpoints: their
//! senders hold them, and anti-entropy brings back what a crash lost.
//!
//! Values are bytes the caller encodes; [`Journal`] is the typed layer on top, which encodes
//! with postcard and builds what [`Replicator::resume`](gossip_transport::Replicator::resume)
//! needs. `docs/durability.md` in the repository has the guarantees level by level.
//!
//! ## Layout
//!
//! | module | what lives there |
//! |---|---|
//! | [`Store`], [`Batch`], [`Op`], [`ReplicaImage`], [`Durability`] | the trait and its data |
//! | [`RedbStore`] | the store on disk: one redb file in a locked data directory |
//! | [`MemStore`] | in memory, for tests and the simulator; models crashes |
//! | [`Committer`], [`Ticket`] | group commit: concurrent writers share one commit |
//! | [`Journal`], [`Lease`], [`Saved`] | the typed layer: leases, deltas, checkpoints, resuming |
//! | [`StoreError`] | what went wrong, and what the operator can do |
//!
//! ## Example
//!
//! ```
//! use gossip_crdt::GSet;
//! use gossip_store::{Batch, Durability, Journal, MemStore, Store};
//! use gossip_transport::{Config, Replicator, Time};
//!
//! let store = MemStore::new();
//! let opened = Journal::open::<GSet<u64>>(&store, "set").unwrap();
//! let mut journal = opened.journal;
//! let start = journal.start(Time::ZERO, 1, 0x5eed);
//! let mut r: Replicator<GSet<u64>, u32> = Replicator::new(1, vec![1], Config::default(), start);
//!
//! let delta = r.state().insert_delta(7);
//! let dot = r.update(Time::ZERO, delta.clone()).unwrap();
//! // The lease (it must be durable before any packet leaves) and the delta, in one commit.
//! let lease = journal.reserve(r.issued()).unwrap();
//! let mut batch = Batch::from(lease.op());
//! batch.push(journal.delta(&dot, &delta).unwrap());
//! store.commit(&batch, Durability::Immediate).unwrap();
//! journal.confirm(&lease);
//!
//! // A clean shutdown: the next life keeps the replica id and counts on without a gap.
//! let close = journal.close(r.state(), r.seen(), r.issued()).unwrap();
//! store.commit(&close, Durability::Immediate).unwrap();
//! let store = store.crash();
//! let opened = Journal::open::<GSet<u64>>(&store, "set").unwrap();
//! let mut journal = opened.journal;
//! let saved = opened.saved.unwrap();
//! let start = journal.start(Time::ZERO, 1, 0x5eed_0002);
//! let mut r: Replicator<GSet<u64>, u32> = Replicator::resume(
//!     1, vec![1], Config::default(), start, saved.state, saved.seen, saved.next_counter,
//! );
//! assert!(r.state().contains(&7));
//! let next = r.update(Time::ZERO, r.state().insert_delta(8)).unwrap();
//! assert_eq!(next.replica, dot.replica);
//! assert_eq!(next.counter, dot.counter + 1);
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod committer;
mod error;
mod journal;
mod mem;
mod redb_store;

pub use committer::{CommitStats, Committer, Ticket};
pub use error::StoreError;
pub use journal::{Journal, Lease, Opened, Saved};
pub use mem::MemStore;
pub use redb_store::{FORMAT_VERSION, RedbStore};
pub use uuid::Uuid;

/// How soon a commit must survive a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Durability {
    /// Visible to reads at once, on disk by the next `Immediate` commit: lost in a crash
    /// before that (whole: a later commit never survives without an earlier one).
    Buffered,
    /// On disk (fsynced) when the commit returns.
    Immediate,
}

/// One change to a replica's records. Ops of one [`Batch`] apply together or not at all, in
/// order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Records that replica id `id` may have given out counters up to `lease`, replacing the
    /// replica's lease. ([`Journal`] only lowers one together with a checkpoint holding every
    /// counter up to it.)
    Lease {
        /// The replica's name.
        replica: String,
        /// The replica id (its bits).
        id: u64,
        /// The highest counter it may have used.
        lease: u64,
    },
    /// Replaces the checkpoint and drops the deltas numbered up to `covers`, whose effect it
    /// holds.
    Checkpoint {
        /// The replica's name.
        replica: String,
        /// The encoded state and ids.
        bytes: Vec<u8>,
        /// The highest delta sequence number it covers.
        covers: u64,
    },
    /// Appends a delta under sequence number `seq` (the caller numbers them, increasing).
    Delta {
        /// The replica's name.
        replica: String,
        /// Its number in this replica's delta log.
        seq: u64,
        /// The encoded delta.
        bytes: Vec<u8>,
    },
    /// Drops everything kept for the replica.
    Remove {
        /// The replica's name.
        replica: String,
    },
}

impl Op {
    /// How many bytes the op writes, roughly: for quotas and batching limits.
    pub fn size(&self) -> usize {
        let name = |r: &String| r.len();
        match self {
            Op::Lease { replica, .. } => name(replica) + 16,
            Op::Checkpoint { replica, bytes, .. } => name(replica) + 8 + bytes.len(),
            Op::Delta { replica, bytes, .. } => name(replica) + 8 + bytes.len(),
            Op::Remove { replica } => name(replica),
        }
    }
}

/// Ops committed together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    /// The ops, applied in order.
    pub ops: Vec<Op>,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Batch {
        Batch::default()
    }

    /// Adds an op.
    pub fn push(&mut self, op: Op) {
        self.ops.push(op);
    }

    /// `true` iff there is nothing to commit.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

impl Extend<Op> for Batch {
    fn extend<I: IntoIterator<Item = Op>>(&mut self, iter: I) {
        self.ops.extend(iter);
    }
}

impl From<Op> for Batch {
    fn from(op: Op) -> Batch {
        Batch { ops: vec![op] }
    }
}

/// Everything kept for one replica, as committed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplicaImage {
    /// The replica id and its lease, once one was committed.
    pub lease: Option<(u64, u64)>,
    /// The last checkpoint and the highest delta number it covers.
    pub checkpoint: Option<(Vec<u8>, u64)>,
    /// The deltas committed after it, by number, in order.
    pub deltas: Vec<(u64, Vec<u8>)>,
}

/// A node's durable records: its identity and its replicas.
///
/// Implementations apply a [`Batch`] atomically: after a crash, a commit is there whole or
/// not at all, and commits survive in order (a later one never without an earlier one).
/// `Send + Sync`: a [`Committer`] commits from its own thread while others read.
pub trait Store: Send + Sync {
    /// The node's identity: made when the store was created, the same on every open.
    fn node_id(&self) -> Uuid;

    /// The names of the replicas with anything kept, sorted.
    fn replicas(&self) -> Result<Vec<String>, StoreError>;

    /// What is kept for replica `name`; `None` if nothing is.
    fn load(&self, name: &str) -> Result<Option<ReplicaImage>, StoreError>;

    /// Applies `batch` atomically, durable as `durability` says when it returns. On `Err`
    /// nothing was applied.
    fn commit(&self, batch: &Batch, durability: Durability) -> Result<(), StoreError>;
}

impl<S: Store + ?Sized> Store for std::sync::Arc<S> {
    fn node_id(&self) -> Uuid {
        (**self).node_id()
    }
    fn replicas(&self) -> Result<Vec<String>, StoreError> {
        (**self).replicas()
    }
    fn load(&self, name: &str) -> Result<Option<ReplicaImage>, StoreError> {
        (**self).load(name)
    }
    fn commit(&self, batch: &Batch, durability: Durability) -> Result<(), StoreError> {
        (**self).commit(batch, durability)
    }
}

/// `docs/durability.md`, whose code blocks run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/durability.md")]
pub struct DurabilityGuide;
