//! A lattice replicated by the transport, wrapped for Maelstrom: gossip packets travel as
//! message bodies of type [`GOSSIP`].
//!
//! A workload that replicates owns one [`Replicated`] lattice: it writes and reads it while
//! answering requests, and hands it to the node as its [`Replication`], the part the node
//! drives (gossip in, gossip out, timers, counters).
//!
//! With a disk, the lattice also keeps a [`Journal`]: each local write makes a delta op, a
//! checkpoint op comes every [`CHECKPOINT_EVERY`] of them, and the lease the journal asks for
//! must be committed before any packet leaves (the node orders the commits; see
//! `docs/durability.md`).

use std::sync::Arc;

use gossip_crdt::{Decompose, Dot, Lattice};
use gossip_store::{Batch, Journal, Lease, Op, Store, StoreError};
use gossip_transport::{Overlay, Packet, ReplicaId, Replicator, Run, Start, Stats, Time};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::protocol::{ErrorCode, GOSSIP, NodeId};
use crate::refusals::Throttle;
use crate::{Refusals, Rejection};

/// The replication half of a workload, as the node drives it.
pub(crate) trait Replication: Send {
    /// Applies a `gossip` body (its JSON text) from the member `from`.
    fn gossip(&mut self, now: Time, from: &NodeId, body: &str) -> Result<(), Rejection>;

    /// Does what the replication engine has due at `now`.
    fn handle_timeout(&mut self, now: Time);

    /// The next gossip message to send: its addressee and its body as JSON text.
    fn poll_transmit(&mut self) -> Option<(NodeId, String)>;

    /// When [`handle_timeout`](Replication::handle_timeout) is due next.
    fn poll_timeout(&self) -> Option<Time>;

    /// The engine's counters.
    fn stats(&self) -> &Stats;

    /// `true` iff another node holds our write `dot`.
    fn is_held_elsewhere(&self, dot: &Dot<ReplicaId>) -> bool;

    /// What was taken out of peers' gossip before the engine saw it.
    fn refusals(&self) -> Refusals;

    /// The lease to commit before the next packet leaves: `None` when the durable lease
    /// covers every delta id given out so far, or without a disk.
    fn lease(&self) -> Option<Lease>;

    /// Records that `lease` is durable.
    fn confirm(&mut self, lease: &Lease);

    /// Moves the ops made since the last call (the deltas of local writes, a checkpoint when
    /// one is due) to `batch`.
    fn take_ops(&mut self, batch: &mut Batch);

    /// The ops of a clean shutdown (a checkpoint, the lease trimmed to the last id given out):
    /// the next life keeps the replica id. `None` without a disk.
    fn close(&mut self) -> Option<Result<Batch, StoreError>>;
}

/// Local writes between two checkpoints: a restart reads at most this many deltas from the
/// log, and a checkpoint (which rewrites the whole state) is paid once per this many writes.
pub(crate) const CHECKPOINT_EVERY: u64 = 4096;

/// A replica's records on the node's disk.
#[derive(Debug)]
struct Kept {
    journal: Journal,
    /// Ops made since the node last took them.
    ops: Vec<Op>,
    /// Deltas logged since the last checkpoint.
    since_checkpoint: u64,
}

/// What a lattice refuses of peers' gossip before its engine sees it.
#[derive(Debug)]
pub(crate) struct Screen<L> {
    /// Takes out of a packet whatever must not reach the engine of a replica at the given
    /// state; returns what it took out.
    pub(crate) check: fn(&L, &mut Packet<L>) -> Refusals,
    /// Why, for the log.
    pub(crate) why: &'static str,
}

/// A gossip message body: the packet's fields beside `type` (and `w`, the workload, when
/// peers may have to learn it).
#[derive(Serialize)]
struct GossipBody<'a, L> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    packet: &'a Packet<L>,
    #[serde(rename = "w", skip_serializing_if = "Option::is_none")]
    workload: Option<&'static str>,
}

/// One replicated lattice and its engine.
#[derive(Debug)]
pub(crate) struct Replicated<L> {
    replicator: Replicator<L, NodeId>,
    /// Set when the workload was inferred: peers started without a workload name learn it
    /// from our gossip.
    tag: Option<&'static str>,
    /// The last batch of runs sent, as JSON text: a hub hands one batch to hundreds of
    /// leaves, and encodes it once.
    runs_text: Option<(Arc<Vec<Run<L>>>, String)>,
    screen: Option<Screen<L>>,
    refused: Refusals,
    refusal_log: Throttle,
    /// The replica's journal, with a disk.
    kept: Option<Kept>,
}

impl<L> Replicated<L>
where
    L: Lattice + Decompose + Serialize + DeserializeOwned,
{
    pub(crate) fn new(
        me: NodeId,
        members: Vec<NodeId>,
        config: gossip_transport::Config<NodeId>,
        start: Start,
        tag: Option<&'static str>,
    ) -> Self {
        Replicated::around(Replicator::new(me, members, config, start), tag)
    }

    fn around(replicator: Replicator<L, NodeId>, tag: Option<&'static str>) -> Self {
        Replicated {
            replicator,
            tag,
            runs_text: None,
            screen: None,
            refused: Refusals::default(),
            refusal_log: Throttle::default(),
            kept: None,
        }
    }

    /// The lattice kept on `store` under `name`: resumed from what it holds (under its
    /// replica id if the last life closed cleanly, otherwise a fresh one), or new.
    pub(crate) fn open(
        me: NodeId,
        members: Vec<NodeId>,
        config: gossip_transport::Config<NodeId>,
        (now, seed, life): (Time, u64, u64),
        tag: Option<&'static str>,
        store: &dyn Store,
        name: &str,
    ) -> Result<Self, StoreError> {
        let opened = Journal::open::<L>(store, name)?;
        let mut journal = opened.journal;
        let start = journal.start(now, seed, life);
        let resumed = opened.saved.is_some();
        let replicator = match opened.saved {
            // The same id as the last life (a clean shutdown): go on numbering after it.
            Some(saved) if saved.seen.max_counter(&start.replica) > 0 => Replicator::resume(
                me,
                members,
                config,
                start,
                saved.state,
                saved.seen,
                saved.next_counter,
            ),
            // A fresh id (after a crash): what was saved becomes this life's first write, so
            // it reaches every peer the way any write does.
            Some(saved) => {
                let mut replicator = Replicator::new(me, members, config, start);
                if !saved.state.is_bottom() {
                    replicator.update(now, saved.state);
                }
                replicator
            }
            None => Replicator::new(me, members, config, start),
        };
        let mut replicated = Replicated::around(replicator, tag);
        tracing::info!(
            replica = name,
            id = start.replica.0,
            "{}",
            if resumed {
                "resumed from the disk"
            } else {
                "nothing on the disk: a new replica"
            }
        );
        replicated.kept = Some(Kept {
            journal,
            ops: Vec::new(),
            since_checkpoint: 0,
        });
        Ok(replicated)
    }

    /// The same, with peers' gossip passed through `screen` first.
    pub(crate) fn screened(self, screen: Screen<L>) -> Self {
        Replicated {
            screen: Some(screen),
            ..self
        }
    }

    pub(crate) fn state(&self) -> &L {
        self.replicator.state()
    }

    pub(crate) fn replicator(&self) -> &Replicator<L, NodeId> {
        &self.replicator
    }

    /// Applies a local write; returns its id (`None` if it changed nothing). With a disk, the
    /// write's delta op is made too; if it cannot be (the delta does not encode), the write
    /// stays applied here and the error says its fate is unknown.
    pub(crate) fn update(
        &mut self,
        now: Time,
        delta: L,
    ) -> Result<Option<Dot<ReplicaId>>, Rejection> {
        let Some(kept) = &mut self.kept else {
            return Ok(self.replicator.update(now, delta));
        };
        let Some(dot) = self.replicator.update(now, delta.clone()) else {
            return Ok(None);
        };
        let op = kept.journal.delta(&dot, &delta).map_err(|e| {
            Rejection::new(
                ErrorCode::Crash,
                format!("the write is applied here but cannot be written to disk: {e}"),
            )
        })?;
        kept.ops.push(op);
        kept.since_checkpoint += 1;
        Ok(Some(dot))
    }

    pub(crate) fn set_overlay(&mut self, now: Time, overlay: Overlay<NodeId>) {
        self.replicator.set_overlay(now, overlay);
    }
}

impl<L> Replication for Replicated<L>
where
    L: Lattice + Decompose + Serialize + DeserializeOwned + Send + Sync,
{
    fn gossip(&mut self, now: Time, from: &NodeId, body: &str) -> Result<(), Rejection> {
        // Straight from the text, with no JSON tree in between: `type` and `w` are ignored.
        let mut packet = serde_json::from_str::<Packet<L>>(body).map_err(|e| {
            Rejection::new(
                ErrorCode::MalformedRequest,
                format!("bad gossip packet: {e}"),
            )
        })?;
        if let Some(screen) = &self.screen {
            let refused = (screen.check)(self.replicator.state(), &mut packet);
            if !refused.is_empty() {
                self.refused.add(refused);
                if let Some(held) = self.refusal_log.allow(now) {
                    tracing::warn!(
                        from = %from,
                        "{}: {} deltas emptied, {} snapshot entries left out ({held} more such packets unlogged since the last such line)",
                        screen.why,
                        refused.counter_deltas,
                        refused.counter_snapshot_entries
                    );
                }
            }
        }
        self.replicator
            .handle_packet(now, from.clone(), packet)
            .map_err(|e| {
                Rejection::new(ErrorCode::MalformedRequest, format!("gossip refused: {e}"))
            })
    }

    fn handle_timeout(&mut self, now: Time) {
        self.replicator.handle_timeout(now);
    }

    fn poll_transmit(&mut self) -> Option<(NodeId, String)> {
        let (to, packet) = self.replicator.poll_transmit()?;
        Some((to, gossip_text(packet, self.tag, &mut self.runs_text)))
    }

    fn poll_timeout(&self) -> Option<Time> {
        self.replicator.poll_timeout()
    }

    fn stats(&self) -> &Stats {
        self.replicator.stats()
    }

    fn is_held_elsewhere(&self, dot: &Dot<ReplicaId>) -> bool {
        self.replicator.is_held_elsewhere(dot)
    }

    fn refusals(&self) -> Refusals {
        self.refused
    }

    fn lease(&self) -> Option<Lease> {
        self.kept
            .as_ref()
            .and_then(|k| k.journal.reserve(self.replicator.issued()))
    }

    fn confirm(&mut self, lease: &Lease) {
        if let Some(kept) = &mut self.kept {
            kept.journal.confirm(lease);
        }
    }

    fn take_ops(&mut self, batch: &mut Batch) {
        let Some(kept) = &mut self.kept else {
            return;
        };
        batch.extend(kept.ops.drain(..));
        if kept.since_checkpoint >= CHECKPOINT_EVERY {
            let state = self.replicator.state();
            match kept.journal.checkpoint(state, self.replicator.seen()) {
                Ok(op) => {
                    batch.push(op);
                    kept.since_checkpoint = 0;
                }
                // The log it would have cut stays, and holds the same writes.
                Err(e) => tracing::error!("cannot write a checkpoint: {e}"),
            }
        }
    }

    fn close(&mut self) -> Option<Result<Batch, StoreError>> {
        let kept = self.kept.as_mut()?;
        let r = &self.replicator;
        Some(
            kept.journal
                .close(r.state(), r.seen(), r.issued())
                .map(|close| {
                    let mut batch = Batch::new();
                    batch.extend(kept.ops.drain(..));
                    batch.extend(close.ops);
                    batch
                }),
        )
    }
}

/// A gossip body's JSON text for `packet`. The runs are written last, from `cache` when they
/// are the batch it holds (the same `Arc`); otherwise they are encoded and kept there.
fn gossip_text<L: Serialize>(
    mut packet: Packet<L>,
    tag: Option<&'static str>,
    cache: &mut Option<(Arc<Vec<Run<L>>>, String)>,
) -> String {
    let runs = std::mem::take(&mut packet.runs);
    let body = GossipBody {
        kind: GOSSIP,
        packet: &packet,
        workload: tag,
    };
    // A packet is numbers, arrays and our lattices: it always serialises.
    let mut text = serde_json::to_string(&body).unwrap_or_default();
    if runs.is_empty() {
        return text;
    }
    let json = match cache {
        Some((batch, json)) if Arc::ptr_eq(batch, &runs) => json,
        _ => {
            let json = serde_json::to_string(&*runs).unwrap_or_default();
            &cache.insert((runs, json)).1
        }
    };
    // `text` is an object holding `type` and `inc` at least: the runs go before its brace.
    text.pop();
    text.reserve(json.len() + 10);
    text.push_str(r#","runs":"#);
    text.push_str(json);
    text.push('}');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use gossip_crdt::GSet;

    fn run(origin: u64, first: u64, elements: &[i64]) -> Run<GSet<i64>> {
        Run {
            origin: ReplicaId(origin),
            first,
            deltas: elements.iter().map(|&e| GSet::from_iter([e])).collect(),
        }
    }

    #[test]
    fn a_shared_batch_is_encoded_once_and_reads_back_whole() {
        let batch = Arc::new(vec![run(7, 3, &[42, 43]), run(9, 1, &[5])]);
        let mut cache = None;
        let mut packets = Vec::new();
        for (inc, seq) in [(1, 4), (1, 5)] {
            let mut p = Packet::new(inc);
            p.seq = Some((seq, seq));
            p.runs = Arc::clone(&batch);
            packets.push(p);
        }
        let mut other = Packet::new(2);
        other.runs = Arc::new(vec![run(7, 5, &[44])]);
        packets.push(other);
        packets.push(Packet::new(3)); // no runs: no `runs` key
        for (i, p) in packets.into_iter().enumerate() {
            let text = gossip_text(p.clone(), Some("broadcast"), &mut cache);
            let back: Packet<GSet<i64>> =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(back, p, "{text}");
            let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            assert_eq!(value["type"], "gossip");
            assert_eq!(value["w"], "broadcast");
            assert_eq!(value.get("runs").is_some(), !p.runs.is_empty(), "{text}");
            if i == 1 {
                // The second packet of the batch found its text in the cache.
                assert!(cache.as_ref().is_some_and(|(b, _)| Arc::ptr_eq(b, &batch)));
            }
        }
    }
}
