//! The wire form: what travels inside a sealed datagram or frame, in postcard.
//!
//! The transport's [`Packet`] leaves empty fields out of its serde form, which only a
//! self-describing format (JSON) can read back: postcard, which writes fields by position,
//! cannot tell which were left out. So packets travel here as [`WirePacket`], every field
//! present, converted on both sides.

use std::net::SocketAddr;
use std::sync::Arc;

use gossip_crdt::CausalContext;
use gossip_transport::{Ack, Packet, ReplicaId, Run, Weigh};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::NodeId;

/// One message between nodes, before sealing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Envelope {
    /// The cluster label (checked in plaintext mode; sealed messages bind it as associated
    /// data).
    pub label: String,
    pub from: NodeId,
    /// Where the sender listens.
    pub addr: SocketAddr,
    pub body: Body,
}

/// What a message says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum Body {
    /// A membership (SWIM) packet, for the node's `gossip_membership::Membership`.
    Swim(Vec<u8>),
    /// "In life `life` I host these replicas (version `version` of my list), and I hold
    /// version `knows` of yours." Answered when it told the receiver something new or the
    /// sender is behind.
    Hosts {
        life: u64,
        version: u64,
        knows: u64,
        replicas: Vec<String>,
    },
    /// A transport packet for the named replica, itself a postcard [`WirePacket`].
    Packet { replica: String, bytes: Vec<u8> },
    /// "Which of these updates of the named replica do you hold?" (for update-and-wait).
    Query {
        replica: String,
        dots: Vec<(u64, u64)>,
    },
    /// The answer: the updates held.
    Held {
        replica: String,
        dots: Vec<(u64, u64)>,
    },
    /// The first frame of every TCP connection: proves that the connecting node holds the
    /// cluster key before the listener accepts frames larger than a hello from it.
    Hello,
}

/// [`Packet`] with every field present, for postcard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(serialize = "L: Serialize", deserialize = "L: DeserializeOwned"))]
pub(crate) struct WirePacket<L> {
    inc: u64,
    to: Option<u64>,
    seq: Option<(u64, u64)>,
    ack: Option<(u64, u64, Option<u64>)>,
    runs: Vec<(u64, u64, Vec<L>)>,
    have: Option<CausalContext<ReplicaId>>,
    pull: bool,
    relay: Option<bool>,
    snap: Option<L>,
    probe: Option<u64>,
    answer: Option<u64>,
}

/// The same, borrowing a packet, so that encoding copies no delta.
#[derive(Serialize)]
struct WirePacketRef<'a, L> {
    inc: u64,
    to: Option<u64>,
    seq: Option<(u64, u64)>,
    ack: Option<(u64, u64, Option<u64>)>,
    runs: Vec<(u64, u64, &'a [L])>,
    have: Option<&'a CausalContext<ReplicaId>>,
    pull: bool,
    relay: Option<bool>,
    snap: Option<&'a L>,
    probe: Option<u64>,
    answer: Option<u64>,
}

fn by_ref<L>(p: &Packet<L>) -> WirePacketRef<'_, L> {
    WirePacketRef {
        inc: p.inc,
        to: p.to,
        seq: p.seq,
        ack: p.ack.map(|a| (a.inc, a.seq, a.to)),
        runs: p
            .runs
            .iter()
            .map(|r| (r.origin.0, r.first, r.deltas.as_slice()))
            .collect(),
        have: p.have.as_ref(),
        pull: p.pull,
        relay: p.relay,
        snap: p.snap.as_ref(),
        probe: p.probe,
        answer: p.answer,
    }
}

/// `packet` in postcard.
pub(crate) fn encode_packet<L: Serialize>(packet: &Packet<L>) -> Vec<u8> {
    // Serialising into a growable buffer fails only if a user type's impl errors: then an
    // empty message, which the peer refuses and the transport retransmits.
    postcard::to_allocvec(&by_ref(packet)).unwrap_or_default()
}

/// A packet read back; `None` for bytes that are not one. Runs beyond `max_runs` are
/// refused whole: a peer cannot make us walk an unbounded list.
pub(crate) fn decode_packet<L: DeserializeOwned>(
    bytes: &[u8],
    max_runs: usize,
) -> Option<Packet<L>> {
    let w: WirePacket<L> = postcard::from_bytes(bytes).ok()?;
    if w.runs.len() > max_runs {
        return None;
    }
    Some(Packet {
        inc: w.inc,
        to: w.to,
        seq: w.seq,
        ack: w.ack.map(|(inc, seq, to)| Ack { inc, seq, to }),
        runs: Arc::new(
            w.runs
                .into_iter()
                .map(|(origin, first, deltas)| Run {
                    origin: ReplicaId(origin),
                    first,
                    deltas,
                })
                .collect(),
        ),
        have: w.have,
        pull: w.pull,
        relay: w.relay,
        snap: w.snap,
        probe: w.probe,
        answer: w.answer,
    })
}

pub(crate) fn encode_envelope(env: &Envelope) -> Vec<u8> {
    postcard::to_allocvec(env).unwrap_or_default()
}

pub(crate) fn decode_envelope(bytes: &[u8]) -> Option<Envelope> {
    postcard::from_bytes(bytes).ok()
}

/// Sizes in postcard, for the transport's byte budgets and statistics.
#[derive(Debug, Clone, Copy, Default)]
pub struct PostcardWeigh;

impl<L: Serialize> Weigh<L> for PostcardWeigh {
    fn delta(&self, delta: &L) -> usize {
        postcard::experimental::serialized_size(delta).unwrap_or(0)
    }

    fn packet(&self, packet: &Packet<L>) -> usize {
        postcard::experimental::serialized_size(&by_ref(packet)).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use gossip_crdt::{GSet, Lattice};

    use super::*;

    #[test]
    fn a_full_packet_round_trips_through_postcard() {
        let mut have = CausalContext::new();
        have.insert(gossip_crdt::Dot {
            replica: ReplicaId(5),
            counter: 1,
        });
        let mut delta = GSet::new();
        let _ = delta.insert(42u64);
        let packet = Packet {
            to: Some(3),
            seq: Some((4, 5)),
            ack: Some(Ack {
                inc: 9,
                seq: 12,
                to: None,
            }),
            runs: Arc::new(vec![Run {
                origin: ReplicaId(5),
                first: 1,
                deltas: vec![delta.clone()],
            }]),
            have: Some(have),
            pull: true,
            snap: Some(delta),
            ..Packet::new(7)
        };
        let bytes = encode_packet(&packet);
        assert_eq!(bytes.len(), PostcardWeigh.packet(&packet));
        let back: Option<Packet<GSet<u64>>> = decode_packet(&bytes, 100);
        assert_eq!(back, Some(packet.clone()));
        assert!(decode_packet::<GSet<u64>>(&bytes, 0).is_none());
        let _ = GSet::<u64>::new().is_bottom();
    }

    #[test]
    fn an_empty_packet_round_trips_through_postcard() {
        let packet: Packet<GSet<u64>> = Packet::new(1);
        let back = decode_packet(&encode_packet(&packet), 10);
        assert_eq!(back, Some(packet));
    }
}
