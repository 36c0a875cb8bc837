//! What a node's replicas have in common: the bounds on their CRDT types ([`Crdt`]) and the
//! context they share with the node ([`Ctx`]: clock, wake-up, counters, limits, store).

use std::time::Instant;

use gossip_crdt::{Decompose, Lattice};
use gossip_transport::Time;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Notify;

use crate::NodeId;
use crate::disk::DiskSlot;
use crate::metrics::Counters;

/// What a replica's CRDT type must offer.
pub trait Crdt:
    Lattice + Decompose + Serialize + DeserializeOwned + Default + Clone + Send + Sync + 'static
{
}

impl<L> Crdt for L where
    L: Lattice + Decompose + Serialize + DeserializeOwned + Default + Clone + Send + Sync + 'static
{
}

/// What replicas share with the node: the clock, the driver's wake-up, counters, limits.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub me: NodeId,
    pub start: Instant,
    pub wake: Notify,
    pub counters: Counters,
    /// The largest delta an update may make, encoded.
    pub max_delta: usize,
    pub max_runs: usize,
    /// The node was started with a store (durable updates are possible).
    pub durable: bool,
    /// The store, until the node shuts down.
    pub disk: DiskSlot,
    /// How many events a subscriber may fall behind before it is told it lagged.
    pub subscriber_buffer: usize,
    /// The transport configuration every replica starts with.
    pub config: gossip_transport::Config<NodeId>,
}

impl Ctx {
    pub(crate) fn now(&self) -> Time {
        Time::from_duration(self.start.elapsed())
    }
}
