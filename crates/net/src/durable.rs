//! Durability: the node's store, the thread that commits to it, and each replica's journal.
//!
//! The shell follows the store's call sequence (`docs/durability.md`): the store is opened
//! when the node starts; each replica is read from it when it is opened ([`open_replica`])
//! and resumed; before a replica's packets are drained, a durable lease covers every counter
//! it has given out ([`Keep::secure_lease`]); a durable update commits its delta (and a lease
//! when one is due) through the group committer; deltas received from peers are committed
//! before anything the replica sends can tell a peer it holds them ([`Keep::receive_delta`],
//! [`Keep::settle_received`]); checkpoints go `Buffered` now and then; and a graceful shutdown
//! closes every journal ([`close`]).

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gossip_crdt::{CausalContext, Dot};
use gossip_store::{Batch, Durability, Journal, Lease, Opened, StoreError, Ticket};
use gossip_transport::{Packet, ReplicaId, Time};
use serde::Serialize;

use crate::context::{Crdt, Ctx};
use crate::disk::Disk;
use crate::metrics::Counters;
use crate::sync::lock;
use crate::{NetError, NodeId};

/// A checkpoint is written once this many deltas were logged since the last one: bounds the
/// log a restart folds in, and the space it takes.
pub(crate) const CHECKPOINT_DELTAS: usize = 4096;

/// A replica whose state changed is checkpointed at most this often: bounds how much of the
/// log a restart folds in when few deltas come.
pub(crate) const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(10);

/// After a lease commit failed (a full disk), packets wait this long before it is tried
/// again, so a full disk does not turn the driver into a busy loop.
const LEASE_RETRY: Duration = Duration::from_millis(200);

/// Packets held while a replica's received deltas are being committed, at most this many bytes
/// (as they arrived) per replica: beyond it they are dropped, unacknowledged, and their senders
/// send them again.
pub(crate) const INBOX_BYTES: usize = 4 << 20;

/// Replica `name` as kept in the node's store: `None` if the node has no store.
pub(crate) fn open_replica<L: Crdt>(ctx: &Ctx, name: &str) -> Result<Option<Opened<L>>, NetError> {
    let Some(disk) = ctx.disk.get() else {
        return Ok(None);
    };
    Journal::open::<L>(&*disk.store, name)
        .map(Some)
        .map_err(|source| NetError::Store { source })
}

/// What a replica keeps for its store: its journal and when to checkpoint.
#[derive(Debug)]
pub(crate) struct Keep {
    pub journal: Journal,
    /// Deltas logged since the last checkpoint.
    logged: usize,
    /// The state changed since the last checkpoint.
    changed: bool,
    last_checkpoint: Time,
    /// No lease commit before this time (one just failed).
    retry_lease_at: Option<Time>,
    /// A lease submitted, and its outcome once committed.
    pending: Option<PendingLease>,
    /// Deltas received from peers, until they are committed.
    received: Receiving,
}

#[derive(Debug)]
struct PendingLease {
    lease: Lease,
    result: Watched,
}

/// A commit's outcome, filled in when it is over; the driver is woken then.
type Watched = Arc<Mutex<Option<Result<(), StoreError>>>>;

/// Submits `batch` `Immediate` and watches its ticket. Outside a runtime (a node's last handle
/// dropped) it waits for the commit here.
fn submit_watched(ctx: &Arc<Ctx>, disk: &Disk, batch: Batch) -> Watched {
    let ticket = disk.submit(batch, Durability::Immediate);
    let result: Watched = Arc::default();
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            let slot = result.clone();
            let ctx = ctx.clone();
            runtime.spawn(async move {
                let r = ticket.await;
                *lock(&slot) = Some(r);
                ctx.wake.notify_one();
            });
        }
        Err(_) => *lock(&result) = Some(ticket.wait()),
    }
    result
}

/// Deltas received from peers on their way to the store. A replica with a store acknowledges a
/// delta, lists it in a digest or passes it on only once it is committed: a writer waiting for
/// `Replicated` or `All` counts members that would still hold its update after a crash.
#[derive(Debug, Default)]
struct Receiving {
    /// The ops of the deltas received since the last submission.
    batch: Batch,
    /// The ids those ops and the commit under way carry: not durable here yet.
    unsettled: CausalContext<ReplicaId>,
    /// A snapshot was merged: the commit is a checkpoint, and no id is durable until it is.
    snapshot: bool,
    /// The commit under way.
    pending: Option<Watched>,
    /// The last commit failed: a checkpoint is tried at this time.
    retry_at: Option<Time>,
}

/// Packets that arrived while the replica's received deltas were being committed: merged once
/// the commit is over and the packets acknowledging what came before have left.
#[derive(Debug)]
pub(crate) struct Inbox<L> {
    packets: VecDeque<(NodeId, Packet<L>)>,
    bytes: usize,
}

impl<L> Default for Inbox<L> {
    fn default() -> Self {
        Inbox {
            packets: VecDeque::new(),
            bytes: 0,
        }
    }
}

impl<L> Inbox<L> {
    /// Holds `packet` (`size` bytes as it arrived); `false` when the inbox is full and it was
    /// dropped.
    pub(crate) fn hold(&mut self, from: NodeId, packet: Packet<L>, size: usize) -> bool {
        if self.bytes.saturating_add(size) > INBOX_BYTES {
            return false;
        }
        self.bytes += size;
        self.packets.push_back((from, packet));
        true
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    /// Every packet held, oldest first.
    pub(crate) fn take(&mut self) -> VecDeque<(NodeId, Packet<L>)> {
        self.bytes = 0;
        std::mem::take(&mut self.packets)
    }
}

/// What a replica with a store keeps back while deltas it received are being committed: the
/// acknowledgements its packets would carry (the latest per peer: they are cumulative), and
/// whole packets that carry a digest or a snapshot (both list what the replica holds). Its
/// other packets (deltas it passes on, its own updates) leave at once without their
/// acknowledgement: a commit delays what tells a peer the replica holds something, not the
/// spreading of updates.
#[derive(Debug)]
pub(crate) struct Withheld<L> {
    acks: BTreeMap<NodeId, Packet<L>>,
    packets: VecDeque<(NodeId, Packet<L>)>,
}

/// Packets with a digest or snapshot kept back at most: past it the oldest is dropped (the
/// replicator sends digests again, and retransmits what was not acknowledged).
const WITHHELD_PACKETS: usize = 256;

impl<L> Default for Withheld<L> {
    fn default() -> Self {
        Withheld {
            acks: BTreeMap::new(),
            packets: VecDeque::new(),
        }
    }
}

impl<L> Withheld<L> {
    /// What of `packet`, bound for `to`, may leave now; keeps the rest back.
    pub(crate) fn filter(&mut self, to: NodeId, mut packet: Packet<L>) -> Option<Packet<L>> {
        if packet.have.is_some() || packet.snap.is_some() {
            if self.packets.len() >= WITHHELD_PACKETS {
                self.packets.pop_front();
            }
            self.packets.push_back((to, packet));
            return None;
        }
        if let Some(ack) = packet.ack.take() {
            let mut only = Packet::new(packet.inc);
            only.to = packet.to;
            only.ack = Some(ack);
            self.acks.insert(to, only);
        }
        let empty = packet.seq.is_none()
            && packet.runs.is_empty()
            && !packet.pull
            && packet.relay.is_none()
            && packet.probe.is_none()
            && packet.answer.is_none();
        (!empty).then_some(packet)
    }

    /// Everything kept back, acknowledgements first: what was received is committed now.
    pub(crate) fn release(&mut self) -> Vec<(NodeId, Packet<L>)> {
        let mut out: Vec<(NodeId, Packet<L>)> =
            std::mem::take(&mut self.acks).into_iter().collect();
        out.extend(self.packets.drain(..));
        out
    }
}

impl Keep {
    pub(crate) fn new(journal: Journal, now: Time) -> Keep {
        Keep {
            journal,
            logged: 0,
            changed: false,
            last_checkpoint: now,
            retry_lease_at: None,
            pending: None,
            received: Receiving::default(),
        }
    }

    /// The state changed (a local update or a peer's delta).
    pub(crate) fn touch(&mut self) {
        self.changed = true;
    }

    /// Whether a durable lease covers `issued`, so that packets may leave. When one is due
    /// it is submitted (`Immediate`) and `false` returned: the driver is woken when the
    /// commit is over, and drains then. Nothing waits for the disk under the replica's lock.
    /// `false` also while a failed lease commit (a full disk) waits to be tried again, and
    /// once the node's store is closed.
    pub(crate) fn secure_lease(&mut self, ctx: &Arc<Ctx>, issued: Dot<ReplicaId>) -> bool {
        let now = ctx.now();
        if let Some(pending) = &self.pending {
            let result = lock(&pending.result).take();
            match result {
                None => return false,
                Some(Ok(())) => {
                    self.journal.confirm(&pending.lease);
                    self.retry_lease_at = None;
                    Counters::add(&ctx.counters.store_leases, 1);
                }
                Some(Err(e)) => {
                    self.retry_lease_at = Some(now + LEASE_RETRY);
                    let n = ctx.counters.store_errors.fetch_add(1, Ordering::Relaxed);
                    if n.is_multiple_of(100) {
                        tracing::warn!(replica = self.journal.name(), error = %e,
                            "lease not committed: this replica's packets wait until one is");
                    }
                }
            }
            self.pending = None;
        }
        let Some(lease) = self.journal.reserve(issued) else {
            return true;
        };
        if self.retry_lease_at.is_some_and(|t| now < t) {
            return false;
        }
        let Some(disk) = ctx.disk.get() else {
            return false;
        };
        let result = submit_watched(ctx, &disk, lease.op().into());
        self.pending = Some(PendingLease { lease, result });
        // Answered at once when there was no runtime; else on the next pump.
        self.secure_lease(ctx, issued)
    }

    /// Logs a durable update: its delta, and the lease it needs if one is due, submitted as
    /// one `Immediate` batch. Returns the lease to confirm once the ticket resolves.
    pub(crate) fn log<L: Serialize>(
        &mut self,
        disk: &Disk,
        issued: Dot<ReplicaId>,
        dot: &Dot<ReplicaId>,
        delta: &L,
    ) -> Result<(Option<Lease>, Ticket), StoreError> {
        let lease = self.journal.reserve(issued);
        let mut batch = Batch::new();
        if let Some(lease) = &lease {
            batch.push(lease.op());
        }
        batch.push(self.journal.delta(dot, delta)?);
        self.logged += 1;
        self.changed = true;
        Ok((lease, disk.submit(batch, Durability::Immediate)))
    }

    /// Whether received deltas are on their way to the store (or their commit failed and waits
    /// to be tried again): packets from peers wait in the replica's [`Inbox`] meanwhile.
    pub(crate) fn receiving(&self) -> bool {
        self.received.pending.is_some() || self.received.retry_at.is_some()
    }

    /// Notes a delta received from a peer and new here, for the next commit.
    pub(crate) fn receive_delta<L: Serialize>(&mut self, dot: &Dot<ReplicaId>, delta: &L) {
        match self.journal.delta(dot, delta) {
            Ok(op) => {
                self.received.batch.push(op);
                self.logged += 1;
            }
            // The checkpoint that the commit then makes keeps it.
            Err(_) => self.received.snapshot = true,
        }
        self.received.unsettled.insert(*dot);
        self.changed = true;
    }

    /// A peer's snapshot was merged: the next commit is a checkpoint of the whole state.
    pub(crate) fn receive_snapshot(&mut self) {
        self.received.snapshot = true;
        self.changed = true;
    }

    /// Submits what was received since the last submission, if anything; `state` and `seen`
    /// (the replica's, now) make the checkpoint when a snapshot was merged or a commit failed.
    pub(crate) fn submit_received<L: Serialize>(
        &mut self,
        ctx: &Arc<Ctx>,
        state: &L,
        seen: &CausalContext<ReplicaId>,
    ) {
        if self.receiving() || (self.received.batch.is_empty() && !self.received.snapshot) {
            return;
        }
        let Some(disk) = ctx.disk.get() else {
            // The store closed (a shutdown): what was received is not kept, so nothing that
            // would say otherwise leaves.
            self.received.retry_at = Some(ctx.now() + LEASE_RETRY);
            return;
        };
        let mut batch = std::mem::take(&mut self.received.batch);
        if self.received.snapshot {
            match self.journal.checkpoint(state, seen) {
                Ok(op) => {
                    batch.push(op);
                    self.logged = 0;
                    self.changed = false;
                    self.last_checkpoint = ctx.now();
                    Counters::add(&ctx.counters.store_checkpoints, 1);
                }
                Err(e) => {
                    Counters::add(&ctx.counters.store_errors, 1);
                    tracing::warn!(replica = self.journal.name(), error = %e,
                        "received deltas not stored: this replica's packets wait");
                    self.received.retry_at = Some(ctx.now() + LEASE_RETRY);
                    return;
                }
            }
        }
        Counters::add(&ctx.counters.store_received_commits, 1);
        self.received.pending = Some(submit_watched(ctx, &disk, batch));
    }

    /// Whether every delta received so far is committed, so that packets, which may
    /// acknowledge them, can leave. A failed commit is retried as a checkpoint after a pause;
    /// until one commits, the replica's packets wait, as for a lease.
    pub(crate) fn settle_received<L: Serialize>(
        &mut self,
        ctx: &Arc<Ctx>,
        state: &L,
        seen: &CausalContext<ReplicaId>,
    ) -> bool {
        let now = ctx.now();
        if let Some(pending) = &self.received.pending {
            let result = lock(pending).take();
            match result {
                None => return false,
                Some(Ok(())) => {
                    self.received = Receiving::default();
                    return true;
                }
                Some(Err(e)) => {
                    self.received.pending = None;
                    self.received.snapshot = true;
                    self.received.retry_at = Some(now + LEASE_RETRY);
                    let n = ctx.counters.store_errors.fetch_add(1, Ordering::Relaxed);
                    if n.is_multiple_of(100) {
                        tracing::warn!(replica = self.journal.name(), error = %e,
                            "received deltas not committed: this replica's packets wait until they are");
                    }
                }
            }
        }
        match self.received.retry_at {
            None => true,
            Some(t) if now < t => false,
            Some(_) => {
                self.received.retry_at = None;
                self.received.snapshot = true;
                self.submit_received(ctx, state, seen);
                // Answered at once when there was no runtime; else on the next pump.
                self.settle_received(ctx, state, seen)
            }
        }
    }

    /// Whether `dot`, which the replica holds, is committed here (or was never received from
    /// a peer): what a member may tell a writer that asks.
    pub(crate) fn holds_durably(&self, dot: &Dot<ReplicaId>) -> bool {
        let all_unsettled = self.receiving() && self.received.snapshot;
        !all_unsettled && !self.received.unsettled.contains(dot)
    }

    /// A checkpoint is due: the log is long, or the state changed a while ago.
    pub(crate) fn checkpoint_due(&self, now: Time) -> bool {
        self.logged >= CHECKPOINT_DELTAS
            || (self.changed && now - self.last_checkpoint >= CHECKPOINT_INTERVAL)
    }

    /// Submits a checkpoint of `state` and `seen`, `Buffered`: the next `Immediate` commit
    /// carries it, and until then the log it cuts is still there.
    pub(crate) fn checkpoint<L: Serialize>(
        &mut self,
        ctx: &Ctx,
        state: &L,
        seen: &CausalContext<ReplicaId>,
        now: Time,
    ) {
        let Some(disk) = ctx.disk.get() else {
            return;
        };
        self.logged = 0;
        self.changed = false;
        self.last_checkpoint = now;
        match self.journal.checkpoint(state, seen) {
            Ok(op) => {
                // Not waited on: a checkpoint that fails leaves the log, which still holds
                // every durable update, and the next one covers more.
                drop(disk.submit(op.into(), Durability::Buffered));
                Counters::add(&ctx.counters.store_checkpoints, 1);
            }
            Err(e) => {
                Counters::add(&ctx.counters.store_errors, 1);
                tracing::warn!(replica = self.journal.name(), error = %e, "checkpoint not written");
            }
        }
    }
}

/// Graceful shutdown: commits the batches [`Journal::close`] made, one per replica, and takes the
/// store out of the node, which releases the data directory once the commits are done.
pub(crate) fn close(ctx: &Ctx, batches: Vec<Result<Batch, StoreError>>) -> Result<(), NetError> {
    let Some(disk) = ctx.disk.take() else {
        return Ok(());
    };
    let mut batch = Batch::new();
    let mut failed = None;
    for b in batches {
        match b {
            Ok(b) => batch.extend(b.ops),
            Err(e) => failed = Some(e),
        }
    }
    let committed = disk.submit(batch, Durability::Immediate).wait();
    // The committer's thread finishes and the store closes when the last handle goes.
    drop(disk);
    match (committed, failed) {
        (Err(source), _) | (Ok(()), Some(source)) => Err(NetError::Store { source }),
        (Ok(()), None) => Ok(()),
    }
}
