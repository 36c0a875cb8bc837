//! Named replicas: a [`Replicator`] per name, behind a lock, with its subscribers and the
//! update-and-wait bookkeeping. The node's driver reaches them through [`AnyReplica`], which
//! hides their CRDT type; applications through the handle in `handle.rs`. On a node with a
//! store, a replica commits the deltas it receives before it sends anything that could tell a
//! peer it holds them.

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use gossip_crdt::Dot;
use gossip_store::{Batch, Opened, StoreError};
use gossip_transport::{Lag, Packet, ReplicaId, Replicator, Source, Time};
use tokio::sync::{broadcast, watch};

use crate::NodeId;
use crate::context::{Crdt, Ctx};
use crate::durable::{Inbox, Keep, Withheld};
use crate::metrics::Counters;
use crate::wire::{PostcardWeigh, decode_packet, encode_packet};

/// A change to a replica's state, as a subscriber sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Event<L> {
    /// The state grew by `gained` (joining it into the state before gives the state after).
    Changed {
        /// What the state gained.
        gained: L,
        /// The member whose packet brought it; `None` for a local update.
        from: Option<NodeId>,
    },
    /// The subscriber fell behind and `missed` events were dropped: read the state again.
    Lagged {
        /// How many events were dropped.
        missed: u64,
    },
}

/// A stream of a replica's changes, from the moment it was made.
#[derive(Debug)]
pub struct Subscription<L> {
    pub(crate) rx: broadcast::Receiver<Event<L>>,
    pub(crate) counters: Arc<Ctx>,
}

impl<L: Clone> Subscription<L> {
    /// The next change; `None` once the replica is gone (the node stopped and every handle
    /// was dropped).
    pub async fn next(&mut self) -> Option<Event<L>> {
        match self.rx.recv().await {
            Ok(e) => Some(e),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                Counters::add(&self.counters.counters.subscriber_lagged, 1);
                Some(Event::Lagged { missed })
            }
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }

    /// The next change if one is waiting, without waiting.
    pub fn try_next(&mut self) -> Option<Event<L>> {
        match self.rx.try_recv() {
            Ok(e) => Some(e),
            Err(broadcast::error::TryRecvError::Lagged(missed)) => {
                Counters::add(&self.counters.counters.subscriber_lagged, 1);
                Some(Event::Lagged { missed })
            }
            Err(_) => None,
        }
    }
}

pub(crate) struct Core<L> {
    pub(crate) rep: Replicator<L, NodeId>,
    /// Other members that host this replica.
    pub(crate) members: Vec<NodeId>,
    /// Updates someone waits on, and the members known to hold each.
    pub(crate) waits: BTreeMap<(u64, u64), BTreeSet<NodeId>>,
    /// The replica's journal, on a node with a store.
    pub(crate) keep: Option<Keep>,
    /// Packets held while received deltas are being committed (a node with a store).
    pub(crate) inbox: Inbox<L>,
    /// What this replica may not send until those deltas are committed.
    pub(crate) withheld: Withheld<L>,
}

pub(crate) struct Shared<L> {
    pub(crate) name: String,
    pub(crate) ctx: Arc<Ctx>,
    pub(crate) core: Mutex<Core<L>>,
    pub(crate) events: broadcast::Sender<Event<L>>,
    /// Bumped whenever what others hold may have grown.
    pub(crate) progress: watch::Sender<u64>,
}

impl<L> Shared<L> {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Core<L>> {
        // A panic while holding the lock leaves a replicator whose state is still a valid
        // lattice value: carry on with it.
        self.core.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl<L: Crdt> Shared<L> {
    /// A replica; `opened`: what the node's store keeps of it (resumed from, and journaled to).
    pub(crate) fn new(
        name: String,
        ctx: Arc<Ctx>,
        life: u64,
        seed: u64,
        opened: Option<Opened<L>>,
    ) -> Shared<L> {
        let now = ctx.now();
        let life = life ^ hash_name(&name);
        let config = ctx.config.clone();
        let (rep, keep) = match opened {
            None => {
                let start = gossip_transport::Start::new(now, seed, life);
                (Replicator::new(ctx.me, Vec::new(), config, start), None)
            }
            Some(Opened { mut journal, saved }) => {
                let start = journal.start(now, seed, life);
                let rep = match saved {
                    Some(saved) => Replicator::resume(
                        ctx.me,
                        Vec::new(),
                        config,
                        start,
                        saved.state,
                        saved.seen,
                        saved.next_counter,
                    ),
                    None => Replicator::new(ctx.me, Vec::new(), config, start),
                };
                (rep, Some(Keep::new(journal, now)))
            }
        };
        let mut rep = rep.with_weigh(PostcardWeigh);
        rep.watch();
        let (events, _) = broadcast::channel(ctx.subscriber_buffer.max(1));
        let (progress, _) = watch::channel(0);
        Shared {
            name,
            ctx,
            core: Mutex::new(Core {
                rep,
                members: Vec::new(),
                waits: BTreeMap::new(),
                keep,
                inbox: Inbox::default(),
                withheld: Withheld::default(),
            }),
            events,
            progress,
        }
    }

    /// Hands the replicator's changes to subscribers.
    pub(crate) fn publish(&self, core: &mut Core<L>) {
        while let Some(change) = core.rep.poll_change() {
            if let Some(keep) = core.keep.as_mut() {
                keep.touch();
            }
            if let Source::Peer(_) = change.source {
                Counters::add(&self.ctx.counters.deltas_received_new, 1);
            }
            if self.events.receiver_count() > 0 {
                let from = match change.source {
                    Source::Local => None,
                    Source::Peer(p) => Some(p),
                };
                let _ = self.events.send(Event::Changed {
                    gained: change.gained,
                    from,
                });
            }
        }
    }

    /// Hands a peer's packet to the replicator; on a node with a store, first notes each
    /// delta new here for the next commit. `false` if the replicator refused it.
    fn merge(&self, core: &mut Core<L>, now: Time, from: NodeId, packet: Packet<L>) -> bool {
        let snapshot = packet.snap.is_some();
        if let Some(keep) = core.keep.as_mut() {
            for run in packet.runs.iter() {
                for (i, delta) in run.deltas.iter().enumerate() {
                    // A counter past the end of the range is the replicator's to refuse.
                    let Some(counter) = run.first.checked_add(i as u64) else {
                        break;
                    };
                    let dot = Dot {
                        replica: run.origin,
                        counter,
                    };
                    if !core.rep.seen().contains(&dot) {
                        keep.receive_delta(&dot, delta);
                    }
                }
            }
        }
        let ok = core.rep.handle_packet(now, from, packet).is_ok();
        if snapshot && let Some(keep) = core.keep.as_mut() {
            keep.receive_snapshot();
        }
        self.publish(core);
        ok
    }

    /// Encodes every packet the replicator has to send.
    fn transmit(&self, core: &mut Core<L>, out: &mut Vec<(NodeId, Vec<u8>)>) {
        while let Some((to, packet)) = core.rep.poll_transmit() {
            self.send(to, &packet, out);
        }
    }

    /// As [`transmit`](Self::transmit), while received deltas are being committed: keeps
    /// back what would say this replica holds them ([`Withheld`]).
    fn transmit_withholding(&self, core: &mut Core<L>, out: &mut Vec<(NodeId, Vec<u8>)>) {
        while let Some((to, packet)) = core.rep.poll_transmit() {
            if let Some(packet) = core.withheld.filter(to, packet) {
                self.send(to, &packet, out);
            }
        }
    }

    fn send(&self, to: NodeId, packet: &Packet<L>, out: &mut Vec<(NodeId, Vec<u8>)>) {
        let bytes = encode_packet(packet);
        Counters::add(&self.ctx.counters.packets_sent, 1);
        Counters::add(&self.ctx.counters.packet_bytes_sent, bytes.len() as u64);
        out.push((to, bytes));
    }

    pub(crate) fn held_count(&self, core: &Core<L>, dot: &Dot<ReplicaId>) -> (usize, bool) {
        let key = (dot.replica.0, dot.counter);
        let confirmed: BTreeSet<NodeId> = core
            .waits
            .get(&key)
            .map(|s| {
                s.iter()
                    .filter(|m| core.members.contains(m))
                    .copied()
                    .collect()
            })
            .unwrap_or_default();
        let mut count = confirmed.len();
        if count == 0 && !core.members.is_empty() && core.rep.is_held_elsewhere(dot) {
            count = 1;
        }
        let all = core.members.iter().all(|m| confirmed.contains(m));
        (count, all)
    }
}

fn hash_name(name: &str) -> u64 {
    // FNV-1a: spreads names over the life number so that replicas of one node get distinct ids.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The driver's view of a replica, whatever its type.
pub(crate) trait AnyReplica: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
    /// Decodes and handles a packet; `false` if it was refused.
    fn handle(&self, now: Time, from: NodeId, bytes: &[u8]) -> bool;
    fn timeout(&self, now: Time);
    fn poll_timeout(&self) -> Option<Time>;
    /// Encoded packets to send.
    fn drain(&self, out: &mut Vec<(NodeId, Vec<u8>)>);
    fn set_members(&self, now: Time, members: Vec<NodeId>);
    /// Which of `dots` this replica holds.
    fn held(&self, dots: &[(u64, u64)]) -> Vec<(u64, u64)>;
    /// `from` holds `dots`.
    fn record_held(&self, from: NodeId, dots: &[(u64, u64)]);
    /// Updates waited on, with the members still to ask.
    fn queries(&self) -> BTreeMap<NodeId, Vec<(u64, u64)>>;
    /// The batch that closes the replica's journal (a checkpoint and a trimmed lease), on a
    /// node with a store.
    fn close(&self) -> Option<Result<Batch, StoreError>>;
    /// How far the members are behind on this node's own deltas, and how many deltas wait in
    /// the replica's queues (for the node's gauges).
    fn gauges(&self) -> (Lag, usize);
}

impl<L: Crdt> AnyReplica for Shared<L> {
    fn type_name(&self) -> &'static str {
        std::any::type_name::<L>()
    }

    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }

    fn gauges(&self) -> (Lag, usize) {
        let core = self.lock();
        (core.rep.lag(), core.rep.queued_deltas())
    }

    fn handle(&self, now: Time, from: NodeId, bytes: &[u8]) -> bool {
        let Some(packet) = decode_packet::<L>(bytes, self.ctx.max_runs) else {
            return false;
        };
        let mut guard = self.lock();
        let core = &mut *guard;
        if core.keep.as_ref().is_some_and(Keep::receiving) {
            if !core.inbox.hold(from, packet, bytes.len()) {
                Counters::add(&self.ctx.counters.store_inbox_dropped, 1);
            }
            return true;
        }
        let ok = self.merge(core, now, from, packet);
        if let Some(keep) = core.keep.as_mut() {
            keep.submit_received(&self.ctx, core.rep.state(), core.rep.seen());
        }
        drop(guard);
        self.progress.send_modify(|v| *v += 1);
        ok
    }

    fn timeout(&self, now: Time) {
        let mut guard = self.lock();
        if guard.rep.poll_timeout().is_some_and(|t| t <= now) {
            guard.rep.handle_timeout(now);
            self.publish(&mut guard);
        }
        let core = &mut *guard;
        if let Some(keep) = core.keep.as_mut()
            && keep.checkpoint_due(now)
        {
            keep.checkpoint(&self.ctx, core.rep.state(), core.rep.seen(), now);
        }
    }

    fn poll_timeout(&self) -> Option<Time> {
        self.lock().rep.poll_timeout()
    }

    fn drain(&self, out: &mut Vec<(NodeId, Vec<u8>)>) {
        let mut guard = self.lock();
        let core = &mut *guard;
        let Some(keep) = core.keep.as_mut() else {
            self.transmit(core, out);
            return;
        };
        // The lease rule: no packet leaves before a durable lease covers every counter given
        // out, so a restart never numbers a different delta with an id a peer may hold.
        if !keep.secure_lease(&self.ctx, core.rep.issued()) {
            return;
        }
        // Nor anything that tells a peer this replica holds a delta before it is committed.
        if !keep.settle_received(&self.ctx, core.rep.state(), core.rep.seen()) {
            self.transmit_withholding(core, out);
            return;
        }
        for (to, packet) in core.withheld.release() {
            self.send(to, &packet, out);
        }
        self.transmit(core, out);
        if core.inbox.is_empty() {
            return;
        }
        // What arrived during the commit, now that the acknowledgements of what came before
        // it have been handed out.
        let now = self.ctx.now();
        for (from, packet) in core.inbox.take() {
            self.merge(core, now, from, packet);
        }
        let settled = core.keep.as_mut().is_none_or(|keep| {
            keep.submit_received(&self.ctx, core.rep.state(), core.rep.seen());
            keep.settle_received(&self.ctx, core.rep.state(), core.rep.seen())
        });
        if settled {
            self.transmit(core, out);
        } else {
            self.transmit_withholding(core, out);
        }
        drop(guard);
        self.progress.send_modify(|v| *v += 1);
    }

    fn set_members(&self, now: Time, members: Vec<NodeId>) {
        let mut core = self.lock();
        if core.members == members {
            return;
        }
        core.members = members.clone();
        core.rep.set_members(now, members);
        drop(core);
        self.progress.send_modify(|v| *v += 1);
    }

    fn held(&self, dots: &[(u64, u64)]) -> Vec<(u64, u64)> {
        let core = self.lock();
        dots.iter()
            .filter(|(r, c)| {
                let dot = Dot {
                    replica: ReplicaId(*r),
                    counter: *c,
                };
                // On a node with a store, only what is committed here counts as held.
                core.rep.seen().contains(&dot)
                    && core.keep.as_ref().is_none_or(|k| k.holds_durably(&dot))
            })
            .copied()
            .collect()
    }

    fn record_held(&self, from: NodeId, dots: &[(u64, u64)]) {
        let mut core = self.lock();
        let mut grew = false;
        for d in dots {
            if let Some(holders) = core.waits.get_mut(d) {
                grew |= holders.insert(from);
            }
        }
        drop(core);
        if grew {
            self.progress.send_modify(|v| *v += 1);
        }
    }

    fn close(&self) -> Option<Result<Batch, StoreError>> {
        let mut guard = self.lock();
        let core = &mut *guard;
        let keep = core.keep.as_mut()?;
        Some(
            keep.journal
                .close(core.rep.state(), core.rep.seen(), core.rep.issued()),
        )
    }

    fn queries(&self) -> BTreeMap<NodeId, Vec<(u64, u64)>> {
        let core = self.lock();
        let mut out: BTreeMap<NodeId, Vec<(u64, u64)>> = BTreeMap::new();
        for (dot, holders) in &core.waits {
            for m in &core.members {
                if !holders.contains(m) {
                    out.entry(*m).or_default().push(*dot);
                }
            }
        }
        out
    }
}
