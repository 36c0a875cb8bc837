//! The `broadcast` workload: integers broadcast on any node are read on every node.
//!
//! The messages seen form a [`GSet`](gossip_crdt::GSet) (see [`IntegerSet`]); a broadcast is an insert, a read returns the set. The
//! `topology` message is acknowledged; it shapes the overlay only with `overlay=maelstrom`,
//! because a star of our own needs far fewer messages than Maelstrom's default grid.

use gossip_transport::{Config, Overlay, Time};
use serde_json::Value;

use super::integer_set::IntegerSet;
use super::{Reply, Setup, Workload, integer_field, not_supported};
use crate::Rejection;
use crate::options::OverlayChoice;
use crate::protocol::{Inbound, NodeId};

/// Broadcast: a replicated set of integers.
#[derive(Debug)]
pub(crate) struct Broadcast {
    set: IntegerSet,
    me: NodeId,
    follow_topology: bool,
}

impl Broadcast {
    pub(crate) fn new(setup: Setup<'_>, config: Config<NodeId>) -> Self {
        Broadcast {
            follow_topology: setup.options.overlay == OverlayChoice::Maelstrom,
            me: setup.me.clone(),
            set: IntegerSet::new(setup, config),
        }
    }

    fn topology(&mut self, now: Time, msg: &Inbound) -> Result<Reply, Rejection> {
        let Some(Value::Object(map)) = msg.body.get("topology") else {
            return Err(Rejection::malformed("`topology` needs a `topology` object"));
        };
        let mut edges = Vec::new();
        for (node, neighbours) in map {
            let Value::Array(list) = neighbours else {
                return Err(Rejection::malformed(format!(
                    "neighbours of {node} must be an array"
                )));
            };
            let mut ns = Vec::new();
            for n in list {
                let n = n.as_str().ok_or_else(|| {
                    Rejection::malformed(format!("a neighbour of {node} is not a node id"))
                })?;
                ns.push(NodeId::from(n));
            }
            edges.push((NodeId::from(node.as_str()), ns));
        }
        if self.follow_topology {
            tracing::info!(node = %self.me, "following the topology message");
            self.set.replicated.set_overlay(now, Overlay::Given(edges));
        }
        Ok(Reply::ok("topology_ok"))
    }
}

impl Workload for Broadcast {
    fn request(&mut self, now: Time, msg: &Inbound) -> Result<Reply, Rejection> {
        match msg.kind.as_str() {
            "broadcast" => Ok(self
                .set
                .add(now, integer_field(msg, "message")?, "broadcast_ok")),
            "read" => Ok(Reply::ok("read_ok").with_encoded("messages", self.set.read())),
            "topology" => self.topology(now, msg),
            _ => Err(not_supported("broadcast", msg)),
        }
    }

    crate::workload::delegate_replication!(set.replicated);
}
