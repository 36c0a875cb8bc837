//! The `g-set` workload: a grow-only set of integers; `add` inserts, `read` returns `value`.

use gossip_crdt::GSet;
use gossip_transport::{Config, Time};
use serde_json::Value;

use super::{Reply, Setup, Unconfirmed, Workload, integer_field, not_supported};
use crate::Rejection;
use crate::options::AckPolicy;
use crate::protocol::{Inbound, NodeId};
use crate::replicated::Replicated;

/// G-Set: a replicated set of integers.
#[derive(Debug)]
pub(crate) struct GSetWorkload {
    set: Replicated<GSet<i64>>,
    ack: AckPolicy,
    unconfirmed: Unconfirmed,
}

impl GSetWorkload {
    pub(crate) fn new(setup: Setup<'_>, config: Config<NodeId>) -> Self {
        GSetWorkload {
            ack: setup.options.ack,
            unconfirmed: Unconfirmed::default(),
            set: Replicated::new(setup.me, setup.members, config, setup.start, setup.tag),
        }
    }
}

impl Workload for GSetWorkload {
    fn request(&mut self, now: Time, msg: &Inbound) -> Result<Reply, Rejection> {
        match msg.kind.as_str() {
            "add" => {
                let element = integer_field(msg, "element")?;
                let delta = self.set.state().insert_delta(element);
                let dot = self.set.update(now, delta);
                self.unconfirmed.push(self.ack, dot.clone(), element);
                Ok(Reply::write_ok("add_ok", dot, self.ack))
            }
            // The response key is `value`, not `elements`.
            "read" => {
                let replicator = self.set.replicator();
                let hidden = self.unconfirmed.hidden(|d| replicator.is_held_elsewhere(d));
                let value: Vec<Value> = self
                    .set
                    .state()
                    .iter()
                    .filter(|v| !hidden.contains(v))
                    .map(|v| Value::from(*v))
                    .collect();
                Ok(Reply::ok("read_ok").with("value", Value::Array(value)))
            }
            _ => Err(not_supported("g-set", msg)),
        }
    }

    crate::workload::delegate_replication!(set);
}
