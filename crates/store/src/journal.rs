//! `Journal`: the typed layer. It encodes a replica's deltas and checkpoints (postcard), keeps
//! its lease ahead of the counters it gives out, and rebuilds what
//! [`Replicator::resume`](gossip_transport::Replicator::resume) needs.
//!
//! # The lease rule
//!
//! A delta id `(replica, counter)` must never name two different deltas: a peer that holds
//! the first drops the second as a repeat. So before any packet leaves the node, the highest
//! counter given out ([`Replicator::issued`](gossip_transport::Replicator::issued)) must be
//! covered by a durable lease. Leases are taken [`BLOCK`](Journal::BLOCK) counters ahead, so
//! one commit covers many updates, even updates acknowledged without waiting for the disk.
//!
//! At restart the journal keeps the replica id only when nothing can have been given out
//! beyond what was saved: the saved ids of the replica reach its lease without a gap (a clean
//! shutdown through [`close`](Journal::close) trims the lease to what was given out).
//! Otherwise (a crash with counters leased but unsaved) the replica takes a fresh id: going
//! on after the lease would be just as safe, but the counters skipped up to the lease would
//! leave a gap in every peer's record of that id that never fills, and every later id would
//! be kept one by one past it, forever. A fresh id costs one entry per crash instead.

use gossip_crdt::{CausalContext, Dot, Lattice};
use gossip_transport::{ReplicaId, Start, Time};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Batch, Op, Store, StoreError};

/// What a stored replica resumes from; hand it to
/// [`Replicator::resume`](gossip_transport::Replicator::resume) with the start from
/// [`Journal::start`].
#[derive(Debug, Clone, PartialEq)]
pub struct Saved<L> {
    /// The last checkpoint joined with every delta committed since.
    pub state: L,
    /// The ids of the deltas `state` holds.
    pub seen: CausalContext<ReplicaId>,
    /// The first counter the resumed replica may use (1 under a fresh id).
    pub next_counter: u64,
}

/// A replica opened from a store: its journal, and what it resumes from (`None`: nothing was
/// kept, start it with [`Replicator::new`](gossip_transport::Replicator::new)).
#[derive(Debug)]
pub struct Opened<L> {
    /// Keeps the replica's records from now on.
    pub journal: Journal,
    /// What was kept.
    pub saved: Option<Saved<L>>,
}

/// A lease to commit: replica id `id` may give out counters up to `upto`. Commit
/// [`op`](Self::op) durably, then [`confirm`](Journal::confirm) it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    replica: String,
    /// The replica id.
    pub id: ReplicaId,
    /// The highest counter covered.
    pub upto: u64,
}

impl Lease {
    /// The op that records this lease.
    pub fn op(&self) -> Op {
        Op::Lease {
            replica: self.replica.clone(),
            id: self.id.0,
            lease: self.upto,
        }
    }
}

/// One replica's records: numbers its deltas, tracks its durable lease, encodes what it
/// stores. Owned next to the replica (one per replica, used under the same lock), it makes
/// ops; the caller commits them, in the order made (directly, or through a
/// [`Committer`](crate::Committer)).
#[derive(Debug, Clone)]
pub struct Journal {
    name: String,
    /// The id the replica runs under, once started.
    replica: Option<ReplicaId>,
    /// The id it may keep at start, if saved without a gap up to its lease.
    keep: Option<ReplicaId>,
    /// The highest counter of `replica` covered by a durable lease.
    lease: u64,
    next_seq: u64,
    block: u64,
}

impl Journal {
    /// How many counters one lease takes ahead: one lease commit per this many updates.
    /// Counters are 64 bits, so skipping a block at a crash costs nothing.
    pub const BLOCK: u64 = 1024;

    /// Reads replica `name` from `store`: what it resumes from, and its journal.
    ///
    /// Fails if the store fails, or if a record does not decode as `L`
    /// ([`StoreError::Decode`]): nothing is dropped to make it fit.
    pub fn open<L>(store: &(impl Store + ?Sized), name: &str) -> Result<Opened<L>, StoreError>
    where
        L: Lattice + DeserializeOwned,
    {
        let mut journal = Journal {
            name: name.to_string(),
            replica: None,
            keep: None,
            lease: 0,
            next_seq: 1,
            block: Journal::BLOCK,
        };
        let Some(image) = store.load(name)? else {
            return Ok(Opened {
                journal,
                saved: None,
            });
        };
        let (mut state, mut seen): (L, CausalContext<ReplicaId>) = match &image.checkpoint {
            Some((bytes, covers)) => {
                journal.next_seq = covers.saturating_add(1);
                decode(name, "checkpoint", bytes)?
            }
            None => (L::default(), CausalContext::new()),
        };
        for (seq, bytes) in &image.deltas {
            let (dot, delta): (Dot<ReplicaId>, L) = decode(name, "delta", bytes)?;
            state.join(&delta);
            seen.insert(dot);
            journal.next_seq = journal.next_seq.max(seq.saturating_add(1));
        }
        let mut next_counter = 1;
        if let Some((id, lease)) = image.lease {
            let id = ReplicaId(id);
            // Every counter up to the lease is in `seen`: nothing was given out unsaved.
            if seen.vector().get(&id) == lease && seen.max_counter(&id) == lease {
                journal.keep = Some(id);
                journal.lease = lease;
                next_counter = lease.saturating_add(1);
            }
        }
        Ok(Opened {
            journal,
            saved: Some(Saved {
                state,
                seen,
                next_counter,
            }),
        })
    }

    /// Sets how many counters a lease takes ahead (at least 1).
    pub fn with_block(mut self, block: u64) -> Journal {
        self.block = block.max(1);
        self
    }

    /// The replica's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The start of this life: under the kept replica id if it may be kept (see the module
    /// doc), otherwise under a fresh id drawn from `life`, as
    /// [`Start::new`](gossip_transport::Start::new) does.
    pub fn start(&mut self, now: Time, seed: u64, life: u64) -> Start {
        let start = match self.keep.take() {
            Some(id) => Start::resume(now, seed, life, id),
            None => {
                self.lease = 0;
                Start::new(now, seed, life)
            }
        };
        self.replica = Some(start.replica);
        start
    }

    /// The lease to commit before any packet leaves, given the last id the replica gave
    /// out: `None` if the durable lease already covers it. Until it is confirmed, every call
    /// asks again.
    pub fn reserve(&self, issued: Dot<ReplicaId>) -> Option<Lease> {
        if self.replica == Some(issued.replica) && issued.counter <= self.lease {
            return None;
        }
        Some(Lease {
            replica: self.name.clone(),
            id: issued.replica,
            upto: issued.counter.saturating_add(self.block),
        })
    }

    /// Records that `lease` is durable.
    pub fn confirm(&mut self, lease: &Lease) {
        if self.replica == Some(lease.id) {
            self.lease = self.lease.max(lease.upto);
        } else {
            // The replica moved to a fresh id.
            self.replica = Some(lease.id);
            self.lease = lease.upto;
        }
    }

    /// The op that appends a delta (for an update acknowledged as durable).
    pub fn delta<L: Serialize>(
        &mut self,
        dot: &Dot<ReplicaId>,
        delta: &L,
    ) -> Result<Op, StoreError> {
        let bytes = encode(&self.name, &(dot, delta))?;
        let seq = self.next_seq;
        self.next_seq += 1;
        Ok(Op::Delta {
            replica: self.name.clone(),
            seq,
            bytes,
        })
    }

    /// The op that replaces the checkpoint with `state` and `seen` (the replica's, read
    /// together) and drops the deltas made so far, which they hold.
    pub fn checkpoint<L: Serialize>(
        &mut self,
        state: &L,
        seen: &CausalContext<ReplicaId>,
    ) -> Result<Op, StoreError> {
        let bytes = encode(&self.name, &(state, seen))?;
        Ok(Op::Checkpoint {
            replica: self.name.clone(),
            bytes,
            covers: self.next_seq - 1,
        })
    }

    /// A clean shutdown: a checkpoint, and the lease trimmed to `issued`, the last id the
    /// replica gave out, so the next start keeps the id and numbers on without a gap. Commit
    /// it `Immediate` after the last update.
    pub fn close<L: Serialize>(
        &mut self,
        state: &L,
        seen: &CausalContext<ReplicaId>,
        issued: Dot<ReplicaId>,
    ) -> Result<Batch, StoreError> {
        let mut batch = Batch::new();
        batch.push(self.checkpoint(state, seen)?);
        // An update after all (a misuse, or a shutdown that was called off) must lease again.
        self.replica = Some(issued.replica);
        self.lease = issued.counter;
        batch.push(Op::Lease {
            replica: self.name.clone(),
            id: issued.replica.0,
            lease: issued.counter,
        });
        Ok(batch)
    }
}

fn encode<T: Serialize + ?Sized>(name: &str, value: &T) -> Result<Vec<u8>, StoreError> {
    postcard::to_allocvec(value).map_err(|e| StoreError::Encode {
        replica: name.to_string(),
        detail: e.to_string(),
    })
}

fn decode<T: DeserializeOwned>(
    name: &str,
    what: &'static str,
    bytes: &[u8],
) -> Result<T, StoreError> {
    postcard::from_bytes(bytes).map_err(|e| StoreError::Decode {
        replica: name.to_string(),
        what,
        detail: e.to_string(),
    })
}
