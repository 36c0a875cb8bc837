//! Change events: what a replica tells its application when its state grows, so that a shell
//! can notify subscribers without diffing whole states.
//!
//! Recording is off until [`Replicator::watch`](crate::Replicator::watch) turns it on (a
//! replica nobody watches keeps no copies). Then every delta that grows the state, local or
//! from a peer, leaves one [`Change`] to take with
//! [`Replicator::poll_change`](crate::Replicator::poll_change), in the order the state grew.

use gossip_crdt::Dot;

use crate::ReplicaId;

/// Where a change came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source<P> {
    /// A local update ([`Replicator::update`](crate::Replicator::update)).
    Local,
    /// A packet from this peer (its deltas, or what its snapshot brought).
    Peer(P),
}

/// The state grew by `gained`.
#[derive(Debug, Clone, PartialEq)]
pub struct Change<L, P> {
    /// The id the change travels under.
    pub id: Dot<ReplicaId>,
    /// What the state gained: the part of the delta that was new here. Joining every
    /// change's `gained` into the state as it was before watching began gives the state now.
    pub gained: L,
    /// Where it came from.
    pub source: Source<P>,
}
