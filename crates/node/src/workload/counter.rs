//! The `g-counter` and `pn-counter` workloads: `add` a `delta`, `read` the integer `value`.
//!
//! Counter entries are keyed by the replica's *incarnation* id, not its node name: a node
//! restarted with its state lost starts a fresh entry instead of counting again from zero
//! under a name whose old, larger entry would hide the new increments.

use gossip_crdt::{Decompose, GCounter, Lattice, PnCounter};
use gossip_transport::{Config, ReplicaId, Time};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::unconfirmed::Unconfirmed;
use super::{Reply, Setup, Workload, integer_field, not_supported};
use crate::Rejection;
use crate::protocol::{ErrorCode, Inbound, NodeId};
use crate::replicated::Replicated;

/// What the two counter workloads need from their lattice.
pub(crate) trait Counter:
    Lattice + Decompose + Serialize + DeserializeOwned + Send + Sync
{
    /// The workload's Maelstrom name, for error texts.
    const NAME: &'static str;

    /// The delta adding `delta` on behalf of `replica`, or why not.
    fn add(&self, replica: ReplicaId, delta: i64) -> Result<Self, Rejection>;

    /// The counter's value.
    fn total(&self) -> i128;
}

fn overflow(e: gossip_crdt::CrdtError) -> Rejection {
    Rejection::new(ErrorCode::Abort, e.to_string())
}

impl Counter for GCounter<ReplicaId> {
    const NAME: &'static str = "g-counter";

    fn add(&self, replica: ReplicaId, delta: i64) -> Result<Self, Rejection> {
        let by = u64::try_from(delta).map_err(|_| {
            Rejection::malformed(format!("a g-counter only grows: delta {delta} is negative"))
        })?;
        self.increment_delta(replica, by).map_err(overflow)
    }

    fn total(&self) -> i128 {
        // A sum of u64 entries, one per replica: far inside i128.
        self.value() as i128
    }
}

impl Counter for PnCounter<ReplicaId> {
    const NAME: &'static str = "pn-counter";

    fn add(&self, replica: ReplicaId, delta: i64) -> Result<Self, Rejection> {
        self.add_delta(replica, delta).map_err(overflow)
    }

    fn total(&self) -> i128 {
        self.value()
    }
}

/// A counter workload over the lattice `C`.
#[derive(Debug)]
pub(crate) struct CounterWorkload<C> {
    counter: Replicated<C>,
    unconfirmed: Unconfirmed<i64>,
}

impl<C: Counter> CounterWorkload<C> {
    pub(crate) fn new(setup: Setup<'_>, config: Config<NodeId>) -> Self {
        CounterWorkload {
            unconfirmed: Unconfirmed::new(setup.options.ack),
            counter: Replicated::new(setup.me, setup.members, config, setup.start, setup.tag),
        }
    }
}

impl<C: Counter> Workload for CounterWorkload<C> {
    fn request(&mut self, now: Time, msg: &Inbound) -> Result<Reply, Rejection> {
        match msg.kind.as_str() {
            "add" => {
                let delta = integer_field(msg, "delta")?;
                let me = self.counter.replicator().id();
                let d = self.counter.state().add(me, delta)?;
                let dot = self.counter.update(now, d);
                Ok(self.unconfirmed.write_ok("add_ok", dot, delta))
            }
            "read" => {
                // Adds no other node holds yet do not count (see `Unconfirmed`).
                let replicator = self.counter.replicator();
                let pending: i128 = self
                    .unconfirmed
                    .hidden(|d| replicator.is_held_elsewhere(d))
                    .map(|d| i128::from(*d))
                    .sum();
                let value = replicator.state().total() - pending;
                // Maelstrom wants an integer (it rejects `5.0`) that fits in 64 bits.
                let value = i64::try_from(value).map_err(|_| {
                    Rejection::new(
                        ErrorCode::Abort,
                        format!("the counter ({value}) no longer fits in 64 bits"),
                    )
                })?;
                Ok(Reply::ok("read_ok").with("value", Value::from(value)))
            }
            _ => Err(not_supported(C::NAME, msg)),
        }
    }

    crate::workload::delegate_replication!(counter);
}
