//! A lattice replicated by the transport, wrapped for Maelstrom: gossip packets travel as
//! message bodies of type `gossip`.

use gossip_crdt::{Decompose, Dot, Lattice};
use gossip_transport::{Overlay, Packet, ReplicaId, Replicator, Start, Stats, Time};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Rejection;
use crate::protocol::{ErrorCode, NodeId};

/// The `type` of inter-node replication messages.
pub const GOSSIP: &str = "gossip";

/// A gossip message body: the packet's fields beside `type` (and `w`, the workload, when
/// peers may have to learn it).
#[derive(Serialize)]
struct GossipBody<'a, L> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    packet: &'a Packet<L>,
    #[serde(rename = "w", skip_serializing_if = "Option::is_none")]
    workload: Option<&'static str>,
}

/// One replicated lattice and its engine.
#[derive(Debug)]
pub(crate) struct Replicated<L> {
    replicator: Replicator<L, NodeId>,
    /// Set when the workload was inferred: peers started without a workload name learn it
    /// from our gossip.
    tag: Option<&'static str>,
}

impl<L> Replicated<L>
where
    L: Lattice + Decompose + Serialize + DeserializeOwned,
{
    pub(crate) fn new(
        me: NodeId,
        members: Vec<NodeId>,
        config: gossip_transport::Config<NodeId>,
        start: Start,
        tag: Option<&'static str>,
    ) -> Self {
        Replicated {
            replicator: Replicator::new(me, members, config, start),
            tag,
        }
    }

    pub(crate) fn state(&self) -> &L {
        self.replicator.state()
    }

    pub(crate) fn replicator(&self) -> &Replicator<L, NodeId> {
        &self.replicator
    }

    /// Applies a local write; returns its id (`None` if it changed nothing).
    pub(crate) fn update(&mut self, now: Time, delta: L) -> Option<Dot<ReplicaId>> {
        self.replicator.update(now, delta)
    }

    pub(crate) fn set_overlay(&mut self, now: Time, overlay: Overlay<NodeId>) {
        self.replicator.set_overlay(now, overlay);
    }

    /// Applies a `gossip` body (its JSON text) from `from`.
    pub(crate) fn gossip(&mut self, now: Time, from: &NodeId, body: &str) -> Result<(), Rejection> {
        // Straight from the text, with no JSON tree in between: `type` and `w` are ignored.
        let packet = serde_json::from_str::<Packet<L>>(body).map_err(|e| {
            Rejection::new(
                ErrorCode::MalformedRequest,
                format!("bad gossip packet: {e}"),
            )
        })?;
        self.replicator
            .handle_packet(now, from.clone(), packet)
            .map_err(|e| {
                Rejection::new(ErrorCode::MalformedRequest, format!("gossip refused: {e}"))
            })
    }

    pub(crate) fn handle_timeout(&mut self, now: Time) {
        self.replicator.handle_timeout(now);
    }

    /// The next gossip message: its addressee and its body, as JSON text.
    pub(crate) fn poll_transmit(&mut self) -> Option<(NodeId, String)> {
        let (to, packet) = self.replicator.poll_transmit()?;
        let body = GossipBody {
            kind: GOSSIP,
            packet: &packet,
            workload: self.tag,
        };
        // A packet is numbers, arrays and our lattices: it always serialises.
        Some((to, serde_json::to_string(&body).unwrap_or_default()))
    }

    pub(crate) fn poll_timeout(&self) -> Option<Time> {
        self.replicator.poll_timeout()
    }

    pub(crate) fn stats(&self) -> &Stats {
        self.replicator.stats()
    }
}
