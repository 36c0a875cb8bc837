//! The wire form: what travels inside a sealed datagram or frame, in postcard.
//!
//! The transport's [`Packet`] leaves empty fields out of its serde form, which only a
//! self-describing format (JSON) can read back: postcard, which writes fields by position,
//! cannot tell which were left out. So packets travel here as [`WirePacket`]: a bit set
//! saying which fields are present, then those fields only.
//!
//! Every message pays its fixed costs once per datagram, so they are kept small: the label is
//! not in the envelope (sealing binds it, plaintext mode prefixes it), the sender's address
//! travels only in the bodies that are answered at it, and random numbers (node ids, a
//! packet's incarnations and challenges) are written as their bytes, where a varint would
//! spend 9 or 10 on each 64-bit one.

use std::fmt;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::Arc;

use gossip_crdt::CausalContext;
use gossip_transport::{Ack, Packet, ReplicaId, Run, Weigh};
use serde::de::{self, DeserializeOwned, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::NodeId;

/// One message between nodes, before sealing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Envelope {
    #[serde(with = "id_bytes")]
    pub from: NodeId,
    pub body: Body,
}

/// What a message says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum Body {
    /// A transport packet for the named replica, itself a postcard [`WirePacket`].
    Packet { replica: String, bytes: Vec<u8> },
    /// A membership (SWIM) packet, for the node's `gossip_membership::Membership`.
    Swim(Vec<u8>),
    /// "In life `life` I host these replicas (version `version` of my list), and I hold
    /// version `knows` of yours; I listen at `addr`." Answered, at `addr`, when it told the
    /// receiver something new or the sender is behind.
    Hosts {
        addr: SocketAddr,
        life: u64,
        version: u64,
        knows: u64,
        replicas: Vec<String>,
    },
    /// "Which of these updates of the named replica do you hold? Answer at `addr`." (for
    /// update-and-wait).
    Query {
        addr: SocketAddr,
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

/// A node id as its 16 bytes (uuid's own form adds a length).
mod id_bytes {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::NodeId;

    pub(crate) fn serialize<S: Serializer>(id: &NodeId, s: S) -> Result<S::Ok, S::Error> {
        id.as_bytes().serialize(s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NodeId, D::Error> {
        <[u8; 16]>::deserialize(d).map(NodeId::from_bytes)
    }
}

/// Which of a packet's fields are present, and its flags: one bit each, the fields a data
/// packet or an acknowledgement carries in the low seven, so that the set is one byte then.
mod bit {
    pub(super) const TO: u16 = 1;
    pub(super) const SEQ: u16 = 1 << 1;
    pub(super) const ACK: u16 = 1 << 2;
    pub(super) const ACK_TO: u16 = 1 << 3;
    pub(super) const RUNS: u16 = 1 << 4;
    pub(super) const HAVE: u16 = 1 << 5;
    pub(super) const PULL: u16 = 1 << 6;
    pub(super) const RELAY: u16 = 1 << 7;
    pub(super) const RELAY_ON: u16 = 1 << 8;
    pub(super) const SNAP: u16 = 1 << 9;
    pub(super) const PROBE: u16 = 1 << 10;
    pub(super) const ANSWER: u16 = 1 << 11;
    /// Every bit defined; a packet with another is refused.
    pub(super) const ALL: u16 = (1 << 12) - 1;
}

/// The most elements a packet has: the bit set, `inc`, `to`, `seq`, the three of `ack`,
/// `runs`, `have`, `snap`, `probe` and `answer`.
const MAX_ELEMENTS: usize = 12;

/// [`Packet`] as read from the wire. Its form is a postcard tuple: the bit set (a varint),
/// `inc` (8 bytes), then each present field in this order: `to` (8 bytes), `seq` as `lo` and
/// `hi - lo` (varints), `ack` as `inc` (8 bytes), `seq` (varint) and `to` (8 bytes, if its
/// bit is set), `runs`, `have`, `snap`, `probe` and `answer` (8 bytes each).
#[derive(Debug, Clone, PartialEq)]
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

impl<L> WirePacketRef<'_, L> {
    fn bits(&self) -> u16 {
        let mut bits = 0;
        let mut set = |b: u16, on: bool| {
            if on {
                bits |= b;
            }
        };
        set(bit::TO, self.to.is_some());
        set(bit::SEQ, self.seq.is_some());
        set(bit::ACK, self.ack.is_some());
        set(bit::ACK_TO, self.ack.is_some_and(|(_, _, to)| to.is_some()));
        set(bit::RUNS, !self.runs.is_empty());
        set(bit::HAVE, self.have.is_some());
        set(bit::PULL, self.pull);
        set(bit::RELAY, self.relay.is_some());
        set(bit::RELAY_ON, self.relay == Some(true));
        set(bit::SNAP, self.snap.is_some());
        set(bit::PROBE, self.probe.is_some());
        set(bit::ANSWER, self.answer.is_some());
        bits
    }
}

impl<L: Serialize> Serialize for WirePacketRef<'_, L> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let bits = self.bits();
        let elements = 2
            + (bits & (bit::TO | bit::SEQ | bit::RUNS | bit::HAVE | bit::SNAP)).count_ones()
            + (bits & (bit::PROBE | bit::ANSWER | bit::ACK_TO)).count_ones()
            + if self.ack.is_some() { 2 } else { 0 };
        let mut t = s.serialize_tuple(elements as usize)?;
        t.serialize_element(&bits)?;
        t.serialize_element(&self.inc.to_le_bytes())?;
        if let Some(to) = self.to {
            t.serialize_element(&to.to_le_bytes())?;
        }
        if let Some((lo, hi)) = self.seq {
            t.serialize_element(&(lo, hi.wrapping_sub(lo)))?;
        }
        if let Some((inc, seq, to)) = self.ack {
            t.serialize_element(&inc.to_le_bytes())?;
            t.serialize_element(&seq)?;
            if let Some(to) = to {
                t.serialize_element(&to.to_le_bytes())?;
            }
        }
        if !self.runs.is_empty() {
            t.serialize_element(&self.runs)?;
        }
        if let Some(have) = self.have {
            t.serialize_element(have)?;
        }
        if let Some(snap) = self.snap {
            t.serialize_element(snap)?;
        }
        if let Some(probe) = self.probe {
            t.serialize_element(&probe.to_le_bytes())?;
        }
        if let Some(answer) = self.answer {
            t.serialize_element(&answer.to_le_bytes())?;
        }
        t.end()
    }
}

impl<'de, L: Deserialize<'de>> Deserialize<'de> for WirePacket<L> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Postcard reads a tuple's elements one by one without a count on the wire, so the
        // visitor reads the bit set first and then only the elements it names.
        d.deserialize_tuple(MAX_ELEMENTS, PacketVisitor(PhantomData))
    }
}

struct PacketVisitor<L>(PhantomData<L>);

/// The next element, which must be there.
fn next<'de, A: SeqAccess<'de>, T: Deserialize<'de>>(seq: &mut A) -> Result<T, A::Error> {
    seq.next_element()?
        .ok_or_else(|| de::Error::custom("packet cut short"))
}

/// The next element if `bit` is in `bits`.
fn next_if<'de, A: SeqAccess<'de>, T: Deserialize<'de>>(
    seq: &mut A,
    bits: u16,
    bit: u16,
) -> Result<Option<T>, A::Error> {
    if bits & bit == 0 {
        return Ok(None);
    }
    next(seq).map(Some)
}

fn fixed_if<'de, A: SeqAccess<'de>>(
    seq: &mut A,
    bits: u16,
    bit: u16,
) -> Result<Option<u64>, A::Error> {
    Ok(next_if::<A, [u8; 8]>(seq, bits, bit)?.map(u64::from_le_bytes))
}

impl<'de, L: Deserialize<'de>> Visitor<'de> for PacketVisitor<L> {
    type Value = WirePacket<L>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a transport packet")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let bits: u16 = next(&mut seq)?;
        if bits & !bit::ALL != 0 {
            return Err(de::Error::custom("unknown packet fields"));
        }
        let inc = u64::from_le_bytes(next(&mut seq)?);
        let to = fixed_if(&mut seq, bits, bit::TO)?;
        let seq_range = next_if::<A, (u64, u64)>(&mut seq, bits, bit::SEQ)?
            .map(|(lo, span)| (lo, lo.wrapping_add(span)));
        let ack = match fixed_if(&mut seq, bits, bit::ACK)? {
            Some(inc) => {
                let acked: u64 = next(&mut seq)?;
                Some((inc, acked, fixed_if(&mut seq, bits, bit::ACK_TO)?))
            }
            None if bits & bit::ACK_TO != 0 => {
                return Err(de::Error::custom("an acknowledgement's `to` without it"));
            }
            None => None,
        };
        let runs = next_if(&mut seq, bits, bit::RUNS)?.unwrap_or_default();
        let have = next_if(&mut seq, bits, bit::HAVE)?;
        let relay = match (bits & bit::RELAY != 0, bits & bit::RELAY_ON != 0) {
            (true, on) => Some(on),
            (false, false) => None,
            (false, true) => return Err(de::Error::custom("a relay flag without relay")),
        };
        let snap = next_if(&mut seq, bits, bit::SNAP)?;
        let probe = fixed_if(&mut seq, bits, bit::PROBE)?;
        let answer = fixed_if(&mut seq, bits, bit::ANSWER)?;
        Ok(WirePacket {
            inc,
            to,
            seq: seq_range,
            ack,
            runs,
            have,
            pull: bits & bit::PULL != 0,
            relay,
            snap,
            probe,
            answer,
        })
    }
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
    fn every_combination_of_fields_round_trips() {
        let mut delta = GSet::new();
        let _ = delta.insert(3u64);
        let mut have = CausalContext::new();
        have.insert(gossip_crdt::Dot {
            replica: ReplicaId(1 << 52),
            counter: 9,
        });
        for mask in 0u32..1 << 11 {
            let on = |i: u32| mask & (1 << i) != 0;
            let packet = Packet {
                to: on(0).then_some(u64::MAX),
                // A range that wraps, as a peer may send: read back as sent.
                seq: on(1).then_some((u64::MAX - 1, 2)),
                ack: on(2).then_some(Ack {
                    inc: 1,
                    seq: 1 << 40,
                    to: on(3).then_some(0),
                }),
                runs: Arc::new(if on(4) {
                    vec![Run {
                        origin: ReplicaId(5),
                        first: 1,
                        deltas: vec![delta.clone(), delta.clone()],
                    }]
                } else {
                    Vec::new()
                }),
                have: on(5).then(|| have.clone()),
                pull: on(6),
                relay: on(7).then_some(on(8)),
                snap: on(9).then(|| delta.clone()),
                probe: on(10).then_some(u64::MAX - 7),
                answer: on(10).then_some(7),
                ..Packet::new(mask.into())
            };
            let bytes = encode_packet(&packet);
            assert_eq!(bytes.len(), PostcardWeigh.packet(&packet), "{mask:b}");
            let back: Option<Packet<GSet<u64>>> = decode_packet(&bytes, 10);
            assert_eq!(back, Some(packet), "{mask:b}");
        }
    }

    #[test]
    fn unknown_bits_contradictions_and_short_packets_are_refused() {
        let packet: Packet<GSet<u64>> = Packet {
            to: Some(u64::MAX),
            seq: Some((1, 1)),
            ..Packet::new(u64::MAX)
        };
        let bytes = encode_packet(&packet);
        assert!(decode_packet::<GSet<u64>>(&bytes, 10).is_some());
        for cut in 0..bytes.len() {
            let short = bytes.get(..cut).unwrap_or_default();
            assert!(decode_packet::<GSet<u64>>(short, 10).is_none(), "{cut}");
        }
        let with_bits = |bits: u16| {
            let mut b = postcard::to_allocvec(&bits).unwrap_or_default();
            b.extend_from_slice(&[0; 40]);
            decode_packet::<GSet<u64>>(&b, 10)
        };
        assert!(with_bits(0).is_some());
        assert!(with_bits(1 << 12).is_none());
        assert!(with_bits(bit::ACK_TO).is_none());
        assert!(with_bits(bit::RELAY_ON).is_none());
        assert_eq!(with_bits(bit::RELAY).map(|p| p.relay), Some(Some(false)));
    }

    #[test]
    fn an_empty_packet_round_trips_through_postcard() {
        let packet: Packet<GSet<u64>> = Packet::new(1);
        let back = decode_packet(&encode_packet(&packet), 10);
        assert_eq!(back, Some(packet));
    }
}
