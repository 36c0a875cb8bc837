//! The wire format: one packet type for pushes, acknowledgements and digests.
//!
//! A packet is a plain serde value meant to travel inside someone else's envelope (the node
//! puts it in a Maelstrom message body). Every field but the sender's incarnation is optional
//! and left out when empty, so an acknowledgement is a dozen bytes and a push of one G-Set
//! element about forty.
//!
//! ```json
//! {"inc":7,"seq":[4,4],"ack":[9,12],"runs":[[7,3,[[42]]]],"have":{"vv":{"7":3},"cloud":[]},"pull":true}
//! {"inc":7,"to":3,"seq":[1,1],"ack":[9,2,7]}
//! ```
//!
//! | field | meaning |
//! |---|---|
//! | `inc` | the sender's incarnation: a number unique to its current life; another one means it restarted (or is a leftover of an earlier life), which a challenge settles |
//! | `to` | the receiver's incarnation this link was restarted for, when the receiver restarted before: packets meant for an earlier life of the receiver are not acknowledged by the current one |
//! | `seq` | `[lo, hi]`: the link sequence numbers this packet carries; present iff the sender wants an acknowledgement |
//! | `ack` | `[inc, n]` or `[inc, n, to]`: "I hold every packet up to `n` that you sent as incarnation `inc` (on the link restarted for my incarnation `to`)" |
//! | `runs` | deltas, as runs `[origin, first, [delta, ...]]`: the deltas numbered `first`, `first + 1`, ... of replica `origin` |
//! | `have` | a digest: every delta the sender holds, as a causal context (a version vector of gap-free prefixes plus stragglers) |
//! | `pull` | "answer with the deltas I lack (by `have`), and with your own `have`" |
//! | `snap` | a snapshot: the sender's whole state, covering every delta in `have`; sent instead of deltas the sender no longer stores |
//! | `relay` | `true`: "my hub is unreachable, relay for me until I say `false`" |
//! | `probe` | a challenge: "you sent me an incarnation I did not expect; answer with this number" |
//! | `answer` | the number of the challenge this packet answers: its `inc` is the sender's current life |

use std::sync::Arc;

use gossip_crdt::{CausalContext, Dot};
use serde::{Deserialize, Serialize};

use crate::ReplicaId;

/// Consecutive deltas of one origin replica: numbers `first`, `first + 1`, ...
///
/// JSON: `[origin, first, [delta, ...]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Run<L> {
    /// The replica that generated the deltas.
    pub origin: ReplicaId,
    /// The sequence number of the first delta (sequence numbers start at 1).
    pub first: u64,
    /// The deltas, in sequence order.
    pub deltas: Vec<L>,
}

impl<L> Run<L> {
    /// The dots this run carries, in order.
    pub fn dots(&self) -> impl Iterator<Item = Dot<ReplicaId>> + '_ {
        (0..self.deltas.len() as u64).map(move |i| Dot {
            replica: self.origin,
            counter: self.first.saturating_add(i),
        })
    }
}

impl<L: Serialize> Serialize for Run<L> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (self.origin, self.first, &self.deltas).serialize(serializer)
    }
}

impl<'de, L: Deserialize<'de>> Deserialize<'de> for Run<L> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (origin, first, deltas) = <(ReplicaId, u64, Vec<L>)>::deserialize(deserializer)?;
        Ok(Run {
            origin,
            first,
            deltas,
        })
    }
}

/// An acknowledgement: every packet up to `seq` that the peer sent as incarnation `inc`, on
/// the link it restarted for our incarnation `to` (if it ever restarted one), arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    /// The incarnation of the peer whose packets are acknowledged.
    pub inc: u64,
    /// The highest link sequence number up to which everything arrived.
    pub seq: u64,
    /// The link's restart mark (`to` of the packets acknowledged).
    pub to: Option<u64>,
}

/// One message between replicas.
///
/// JSON: an object with `inc` and any of `to`, `seq`, `ack`, `runs`, `have`, `pull`, `relay`,
/// e.g. `{"inc":7,"seq":[4,4],"ack":[9,12],"runs":[[31,3,[[42]]]]}`; `docs/anti-entropy.md`
/// explains each field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(serialize = "L: Serialize", deserialize = "L: Deserialize<'de>"))]
pub struct Packet<L> {
    /// The sender's incarnation.
    pub inc: u64,
    /// The receiver incarnation the sender restarted the link for, if it ever did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<u64>,
    /// Link sequence numbers carried, `(lo, hi)`; `Some` iff an acknowledgement is wanted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<(u64, u64)>,
    /// Acknowledgement of the receiver's packets.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "ack_as_pair")]
    pub ack: Option<Ack>,
    /// Deltas. Shared, so that a hub hands one batch to all its leaves without copying it
    /// per leaf (`vec![...].into()` makes one).
    #[serde(default, skip_serializing_if = "no_runs")]
    pub runs: Arc<Vec<Run<L>>>,
    /// The sender's digest: every delta it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub have: Option<CausalContext<ReplicaId>>,
    /// Asks for the deltas the sender lacks, and for the receiver's digest.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pull: bool,
    /// Starts (`true`) or ends (`false`) relaying for the sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay: Option<bool>,
    /// A snapshot: the sender's whole state, covering exactly the deltas in `have`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snap: Option<L>,
    /// A challenge to answer (the receiver sent an incarnation the sender did not expect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<u64>,
    /// The challenge this packet answers: its `inc` is the sender's current life.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<u64>,
}

impl<L> Packet<L> {
    /// An empty packet from incarnation `inc`; fill in the fields you need.
    pub fn new(inc: u64) -> Self {
        Packet {
            inc,
            to: None,
            seq: None,
            ack: None,
            runs: Arc::default(),
            have: None,
            pull: false,
            relay: None,
            snap: None,
            probe: None,
            answer: None,
        }
    }

    /// How many deltas the packet carries.
    pub fn delta_count(&self) -> usize {
        self.runs.iter().map(|r| r.deltas.len()).sum()
    }
}

fn no_runs<L>(runs: &Arc<Vec<Run<L>>>) -> bool {
    runs.is_empty()
}

/// `Ack` travels as `[inc, seq]`, or `[inc, seq, to]` on a restarted link.
mod ack_as_pair {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Ack;

    pub fn serialize<S: Serializer>(ack: &Option<Ack>, s: S) -> Result<S::Ok, S::Error> {
        match ack {
            None => s.serialize_none(),
            Some(Ack { inc, seq, to: None }) => [*inc, *seq].serialize(s),
            Some(Ack {
                inc,
                seq,
                to: Some(to),
            }) => [*inc, *seq, *to].serialize(s),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Ack>, D::Error> {
        let Some(parts) = Option::<Vec<u64>>::deserialize(d)? else {
            return Ok(None);
        };
        match parts[..] {
            [inc, seq] => Ok(Some(Ack { inc, seq, to: None })),
            [inc, seq, to] => Ok(Some(Ack {
                inc,
                seq,
                to: Some(to),
            })),
            _ => Err(D::Error::custom("an ack is [inc, seq] or [inc, seq, to]")),
        }
    }
}
