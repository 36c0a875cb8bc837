//! The `broadcast` workload: integers broadcast on any node are read on every node.
//!
//! The messages seen form a [`GSet`]; a broadcast is an insert, a read returns the set. The
//! `topology` message is acknowledged; it shapes the overlay only with `overlay=maelstrom`,
//! because a star of our own needs far fewer messages than Maelstrom's default grid.

use gossip_crdt::GSet;
use gossip_transport::{Config, Overlay, Time};
use serde_json::Value;

use super::{Reply, Setup, Unconfirmed, Workload, integer_field, not_supported};
use crate::Rejection;
use crate::options::{AckPolicy, OverlayChoice};
use crate::protocol::{Inbound, NodeId};
use crate::replicated::Replicated;

/// Broadcast: a replicated set of integers.
#[derive(Debug)]
pub(crate) struct Broadcast {
    set: Replicated<GSet<i64>>,
    ack: AckPolicy,
    unconfirmed: Unconfirmed,
    me: NodeId,
    follow_topology: bool,
}

impl Broadcast {
    pub(crate) fn new(setup: Setup<'_>, config: Config<NodeId>) -> Self {
        Broadcast {
            ack: setup.options.ack,
            unconfirmed: Unconfirmed::default(),
            follow_topology: setup.options.overlay == OverlayChoice::Maelstrom,
            me: setup.me.clone(),
            set: Replicated::new(setup.me, setup.members, config, setup.start, setup.tag),
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
            self.set.set_overlay(now, Overlay::Given(edges));
        }
        Ok(Reply::ok("topology_ok"))
    }
}

impl Workload for Broadcast {
    fn request(&mut self, now: Time, msg: &Inbound) -> Result<Reply, Rejection> {
        match msg.kind.as_str() {
            "broadcast" => {
                let value = integer_field(msg, "message")?;
                let delta = self.set.state().insert_delta(value);
                let dot = self.set.update(now, delta);
                self.unconfirmed.push(self.ack, dot.clone(), value);
                Ok(Reply::write_ok("broadcast_ok", dot, self.ack))
            }
            "read" => {
                let replicator = self.set.replicator();
                let hidden = self.unconfirmed.hidden(|d| replicator.is_held_elsewhere(d));
                let messages: Vec<Value> = self
                    .set
                    .state()
                    .iter()
                    .filter(|v| !hidden.contains(v))
                    .map(|v| Value::from(*v))
                    .collect();
                Ok(Reply::ok("read_ok").with("messages", Value::Array(messages)))
            }
            "topology" => self.topology(now, msg),
            _ => Err(not_supported("broadcast", msg)),
        }
    }

    crate::workload::delegate_replication!(set);
}
