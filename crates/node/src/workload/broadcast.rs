//! The `broadcast` workload: integers broadcast on any node are read on every node.
//!
//! The messages seen form a [`GSet`](gossip_crdt::GSet) (see [`IntegerSet`]); a broadcast is an insert, a read returns the set. The
//! `topology` message is acknowledged; it shapes the overlay only with `overlay=maelstrom`,
//! because a star of our own needs far fewer messages than Maelstrom's default grid. Names in
//! it that are not members are left out (and logged): the node gossips only with members.

use gossip_transport::{Overlay, Time};
use serde_json::Value;

use super::integer_set::IntegerSet;
use super::{Reply, Setup, Workload, integer_field, not_supported};
use crate::Rejection;
use crate::options::OverlayChoice;
use crate::protocol::{Inbound, NodeId};
use crate::replicated::Replication;

/// Broadcast: a replicated set of integers.
#[derive(Debug)]
pub(crate) struct Broadcast {
    set: IntegerSet,
    me: NodeId,
    /// The members, sorted: the only nodes a topology may name.
    members: Vec<NodeId>,
    follow_topology: bool,
}

impl Broadcast {
    pub(crate) fn new(setup: Setup<'_>) -> Result<Self, gossip_store::StoreError> {
        let mut members = setup.members.clone();
        members.sort_unstable();
        members.dedup();
        Ok(Broadcast {
            follow_topology: setup.options.overlay == OverlayChoice::Maelstrom,
            me: setup.me.clone(),
            members,
            set: IntegerSet::new(setup)?,
        })
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
            let (edges, dropped) = only_members(edges, &self.members);
            if !dropped.is_empty() {
                tracing::warn!(
                    node = %self.me,
                    "the topology names {} nodes that are not members, left out: {}",
                    dropped.len(),
                    clip_names(&dropped)
                );
            }
            tracing::info!(node = %self.me, "following the topology message");
            self.set.replicated.set_overlay(now, Overlay::Given(edges));
        }
        Ok(Reply::ok("topology_ok"))
    }
}

/// The edges between members only, and the other names, sorted and without repeats.
fn only_members(
    edges: Vec<(NodeId, Vec<NodeId>)>,
    members: &[NodeId],
) -> (Vec<(NodeId, Vec<NodeId>)>, Vec<NodeId>) {
    let is_member = |n: &NodeId| members.binary_search(n).is_ok();
    let mut dropped = Vec::new();
    let mut kept = Vec::new();
    for (node, neighbours) in edges {
        let (ns, others): (Vec<NodeId>, Vec<NodeId>) = neighbours.into_iter().partition(is_member);
        dropped.extend(others);
        if is_member(&node) {
            kept.push((node, ns));
        } else {
            dropped.push(node);
        }
    }
    dropped.sort_unstable();
    dropped.dedup();
    (kept, dropped)
}

/// The first few of `names`, for a log line.
fn clip_names(names: &[NodeId]) -> String {
    const SHOWN: usize = 10;
    let mut text = names
        .iter()
        .take(SHOWN)
        .map(NodeId::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        text.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    text
}

impl Workload for Broadcast {
    fn request(&mut self, now: Time, msg: &Inbound) -> Result<Reply, Rejection> {
        match msg.kind.as_str() {
            "broadcast" => self
                .set
                .add(now, integer_field(msg, "message")?, "broadcast_ok"),
            "read" => Ok(Reply::ok("read_ok").with_encoded("messages", self.set.read())),
            "topology" => self.topology(now, msg),
            _ => Err(not_supported("broadcast", msg)),
        }
    }

    fn replication(&self) -> Option<&dyn Replication> {
        Some(&self.set.replicated)
    }

    fn replication_mut(&mut self) -> Option<&mut dyn Replication> {
        Some(&mut self.set.replicated)
    }
}
