//! Resuming a replica from what a store kept: its state, the ids of the deltas that state
//! holds (`seen`), and the first counter it may still use.
//!
//! The rule that keeps delta ids unique across restarts: a counter is written to durable
//! storage (as part of a *lease*, a high-water mark taken ahead in blocks) before any delta
//! numbered with it leaves the node. A resumed replica that keeps its id numbers its next
//! delta after the lease, and after every id of its own that its saved `seen` holds, so an id
//! that may have reached a peer is never given to a different delta.
//!
//! Keeping the id is worth it only when the saved `seen` reaches the lease without a gap (a
//! clean shutdown): counters skipped up to the lease would never be filled, and every peer
//! would keep each later id of this replica one by one past the gap. After a crash a store
//! gives the replica a fresh id instead ([`Start::new`]); `docs/durability.md` has the whole
//! story.

use gossip_crdt::{CausalContext, Decompose, Dot, Lattice};
use serde::Serialize;

use super::Replicator;
use crate::{Config, ReplicaId, Start, Stats};

impl<L, P> Replicator<L, P>
where
    L: Lattice + Decompose + Serialize,
    P: Ord + Clone + std::fmt::Debug,
{
    /// A replica that goes on from what a store kept, under the replica id in `start` (see
    /// [`Start::resume`]), in a new incarnation. It greets its eager targets with its digest
    /// and asks for theirs, so peers send it what it lacks, and each that lacks some of the
    /// saved ids gets a snapshot.
    ///
    /// - `state` and `seen` must match (every id in `seen` names a delta whose effect `state`
    ///   holds). They may be older than the previous life's last state: what peers hold and
    ///   this copy lacks comes back through anti-entropy.
    /// - `next_counter` is one past the lease: the highest counter the previous life could
    ///   have given out under this id. The replica numbers its next delta from there, or
    ///   after the highest id of its own in `seen` if that is higher, so no id is reused.
    ///
    /// The saved ids count as compacted: the deltas themselves are not kept, so a peer that
    /// lacks any of them is sent a snapshot of the state.
    pub fn resume(
        me: P,
        members: Vec<P>,
        config: Config<P>,
        start: Start,
        state: L,
        seen: CausalContext<ReplicaId>,
        next_counter: u64,
    ) -> Self {
        let mut replicator = Replicator::new(me, members, config, start);
        // `new` greeted with an empty digest; that greeting never left, so it is taken back
        // (with the flights and counters it opened) and made again with what was saved.
        replicator.outbox.clear();
        replicator.peers.clear();
        replicator.stats = Stats::default();
        replicator.log.absorb_snapshot(state, &seen);
        let own = replicator.log.seen().max_counter(&replicator.id);
        replicator.next_local = next_counter.max(own.saturating_add(1)).max(1);
        replicator.hub = replicator.choose_hub(replicator.now);
        replicator.refresh_targets();
        // Nothing is known of what the peers hold, and the saved ids have no per-delta form
        // here: only their digests show who needs a snapshot, so the greeting asks for them.
        replicator.greet(true);
        replicator
    }

    /// The id of the last delta this replica numbered (counter 0: none yet under its current
    /// id). A shell that persists must have a lease covering it durably before it sends any
    /// packet ([`poll_transmit`](Self::poll_transmit)): updates and some inputs (a snapshot
    /// that brings news, a claim on the replica's id that moves it to a fresh one) number
    /// deltas.
    pub fn issued(&self) -> Dot<ReplicaId> {
        Dot {
            replica: self.id,
            counter: self.next_local.saturating_sub(1),
        }
    }
}
