//! The `g-counter` and `pn-counter` workloads: `add` a `delta`, `read` the integer `value`.
//!
//! Counter entries are keyed by the replica's *incarnation* id, not its node name: a node
//! restarted with its state lost starts a fresh entry instead of counting again from zero
//! under a name whose old, larger entry would hide the new increments.

use gossip_crdt::{GCounter, PnCounter};
use gossip_transport::{Config, ReplicaId, Time};
use serde_json::Value;

use super::{Reply, Setup, Workload, integer_field, not_supported};
use crate::Rejection;
use crate::protocol::{ErrorCode, Inbound, NodeId};
use crate::replicated::Replicated;

/// The counter's value as a JSON integer (Maelstrom rejects `5.0`).
fn integer(value: i128) -> Result<Value, Rejection> {
    i64::try_from(value).map(Value::from).map_err(|_| {
        Rejection::new(
            ErrorCode::Abort,
            format!("the counter ({value}) no longer fits in 64 bits"),
        )
    })
}

fn overflow(e: gossip_crdt::CrdtError) -> Rejection {
    Rejection::new(ErrorCode::Abort, e.to_string())
}

/// G-Counter: deltas must not be negative.
#[derive(Debug)]
pub(crate) struct GCounterWorkload {
    counter: Replicated<GCounter<ReplicaId>>,
}

impl GCounterWorkload {
    pub(crate) fn new(setup: Setup<'_>, config: Config<NodeId>) -> Self {
        GCounterWorkload {
            counter: Replicated::new(setup.me, setup.members, config, setup.start, setup.tag),
        }
    }
}

/// PN-Counter: deltas of any sign.
#[derive(Debug)]
pub(crate) struct PnCounterWorkload {
    counter: Replicated<PnCounter<ReplicaId>>,
}

impl PnCounterWorkload {
    pub(crate) fn new(setup: Setup<'_>, config: Config<NodeId>) -> Self {
        PnCounterWorkload {
            counter: Replicated::new(setup.me, setup.members, config, setup.start, setup.tag),
        }
    }
}

impl Workload for GCounterWorkload {
    fn request(&mut self, now: Time, msg: &Inbound) -> Result<Reply, Rejection> {
        match msg.kind.as_str() {
            "add" => {
                let delta = integer_field(msg, "delta")?;
                let by = u64::try_from(delta).map_err(|_| {
                    Rejection::malformed(format!(
                        "a g-counter only grows: delta {delta} is negative"
                    ))
                })?;
                let me = self.counter.replicator().id();
                let d = self
                    .counter
                    .state()
                    .increment_delta(me, by)
                    .map_err(overflow)?;
                self.counter.update(now, d);
                Ok(Reply::ok("add_ok"))
            }
            "read" => {
                Ok(Reply::ok("read_ok")
                    .with("value", integer(self.counter.state().value() as i128)?))
            }
            _ => Err(not_supported("g-counter", msg)),
        }
    }

    crate::workload::delegate_replication!(counter);
}

impl Workload for PnCounterWorkload {
    fn request(&mut self, now: Time, msg: &Inbound) -> Result<Reply, Rejection> {
        match msg.kind.as_str() {
            "add" => {
                let delta = integer_field(msg, "delta")?;
                let me = self.counter.replicator().id();
                let d = self
                    .counter
                    .state()
                    .add_delta(me, delta)
                    .map_err(overflow)?;
                self.counter.update(now, d);
                Ok(Reply::ok("add_ok"))
            }
            "read" => {
                Ok(Reply::ok("read_ok").with("value", integer(self.counter.state().value())?))
            }
            _ => Err(not_supported("pn-counter", msg)),
        }
    }

    crate::workload::delegate_replication!(counter);
}
