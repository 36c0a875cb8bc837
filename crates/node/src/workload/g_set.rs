//! The `g-set` workload: a grow-only set of integers; `add` inserts, `read` returns `value`.

use gossip_transport::Time;

use super::integer_set::IntegerSet;
use super::{Reply, Setup, Workload, integer_field, not_supported};
use crate::Rejection;
use crate::protocol::Inbound;
use crate::replicated::Replication;

/// G-Set: a replicated set of integers.
#[derive(Debug)]
pub(crate) struct GSetWorkload {
    set: IntegerSet,
}

impl GSetWorkload {
    pub(crate) fn new(setup: Setup<'_>) -> Result<Self, gossip_store::StoreError> {
        Ok(GSetWorkload {
            set: IntegerSet::new(setup)?,
        })
    }
}

impl Workload for GSetWorkload {
    fn request(&mut self, now: Time, msg: &Inbound) -> Result<Reply, Rejection> {
        match msg.kind.as_str() {
            "add" => self.set.add(now, integer_field(msg, "element")?, "add_ok"),
            // The response key is `value`, not `elements`.
            "read" => Ok(Reply::ok("read_ok").with_encoded("value", self.set.read())),
            _ => Err(not_supported("g-set", msg)),
        }
    }

    fn replication(&self) -> Option<&dyn Replication> {
        Some(&self.set.replicated)
    }

    fn replication_mut(&mut self) -> Option<&mut dyn Replication> {
        Some(&mut self.set.replicated)
    }
}
