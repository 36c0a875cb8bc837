//! Counters of what the engine sent, by kind, for benchmarks and for the node's logs.

use std::collections::BTreeMap;
use std::fmt;

/// Why a packet was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PacketKind {
    /// An eager push of new deltas (first transmission).
    Push,
    /// Deltas resent because an earlier push went unacknowledged.
    Retransmit,
    /// Only an acknowledgement (nothing to piggyback it on).
    Ack,
    /// A digest with no deltas: a hello, a lazy announcement, or a pull request.
    Digest,
    /// Deltas sent in answer to a pull.
    Repair,
    /// A relay request or its end, for star failover.
    Relay,
    /// A whole state, for a peer that lacks deltas no longer stored here.
    Snapshot,
    /// A challenge to a peer that sent an unexpected incarnation, or the answer to one.
    Probe,
}

impl PacketKind {
    /// Every kind, for tables.
    pub const ALL: [PacketKind; 8] = [
        PacketKind::Push,
        PacketKind::Retransmit,
        PacketKind::Ack,
        PacketKind::Digest,
        PacketKind::Repair,
        PacketKind::Relay,
        PacketKind::Snapshot,
        PacketKind::Probe,
    ];

    /// A short lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            PacketKind::Push => "push",
            PacketKind::Retransmit => "retransmit",
            PacketKind::Ack => "ack",
            PacketKind::Digest => "digest",
            PacketKind::Repair => "repair",
            PacketKind::Relay => "relay",
            PacketKind::Snapshot => "snapshot",
            PacketKind::Probe => "probe",
        }
    }
}

/// Packets and bytes of one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counter {
    /// Packets sent.
    pub packets: u64,
    /// Their JSON-encoded size, in bytes.
    pub bytes: u64,
    /// Deltas they carried.
    pub deltas: u64,
}

/// What a replicator has sent and received since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Sent packets, by kind.
    pub sent: BTreeMap<PacketKind, Counter>,
    /// Packets received.
    pub received_packets: u64,
    /// Deltas received that were new here.
    pub received_new: u64,
    /// Deltas received that were already here (redundant transmissions).
    pub received_duplicate: u64,
    /// Local updates.
    pub local_updates: u64,
    /// Flushes to a peer held back because its link had a full window of unacknowledged
    /// sequence numbers: the deltas stayed queued for a later, larger packet.
    pub held_back: u64,
    /// What was refused from peers, by reason.
    pub refused: Refused,
}

/// Input refused from peers, by reason: each count is a packet (or the part of one) that a
/// forged, buggy or stale sender could have used to mislead this replica.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Refused {
    /// Packets from senders that are not members.
    pub not_member: u64,
    /// Packets claiming deltas of this replica's own id that it never made (runs, digests or
    /// snapshots ahead of its counter).
    pub own_id: u64,
    /// Times this replica moved to a fresh replica id because its id was claimed elsewhere.
    pub id_renewals: u64,
    /// Packets whose link sequence numbers or delta counters lay too far ahead to keep track
    /// of (see the bounds in `docs/anti-entropy.md`).
    pub too_far_ahead: u64,
    /// Packets the engine rejected as malformed ([`TransportError`](crate::TransportError)).
    pub malformed: u64,
}

impl Refused {
    /// All refusals together.
    pub fn total(&self) -> u64 {
        self.not_member + self.own_id + self.too_far_ahead + self.malformed
    }

    fn absorb(&mut self, other: &Refused) {
        self.not_member += other.not_member;
        self.own_id += other.own_id;
        self.id_renewals += other.id_renewals;
        self.too_far_ahead += other.too_far_ahead;
        self.malformed += other.malformed;
    }
}

impl Stats {
    pub(crate) fn record_sent(&mut self, kind: PacketKind, bytes: usize, deltas: usize) {
        let c = self.sent.entry(kind).or_default();
        c.packets += 1;
        c.bytes += bytes as u64;
        c.deltas += deltas as u64;
    }

    /// Total bytes sent, all kinds.
    pub fn bytes_sent(&self) -> u64 {
        self.sent.values().map(|c| c.bytes).sum()
    }

    /// Adds another replicator's counters to these (for cluster totals).
    pub fn absorb(&mut self, other: &Stats) {
        for (kind, c) in &other.sent {
            let mine = self.sent.entry(*kind).or_default();
            mine.packets += c.packets;
            mine.bytes += c.bytes;
            mine.deltas += c.deltas;
        }
        self.received_packets += other.received_packets;
        self.received_new += other.received_new;
        self.received_duplicate += other.received_duplicate;
        self.local_updates += other.local_updates;
        self.held_back += other.held_back;
        self.refused.absorb(&other.refused);
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for kind in PacketKind::ALL {
            if let Some(c) = self.sent.get(&kind) {
                if !first {
                    write!(f, ", ")?;
                }
                first = false;
                write!(f, "{} {} pkts/{} B", kind.name(), c.packets, c.bytes)?;
            }
        }
        if first {
            write!(f, "nothing sent")?;
        }
        write!(
            f,
            "; received {} pkts, {} new / {} duplicate deltas",
            self.received_packets, self.received_new, self.received_duplicate
        )?;
        let r = &self.refused;
        if r.total() > 0 || r.id_renewals > 0 {
            write!(
                f,
                "; refused {} not-member / {} own-id / {} too-far-ahead / {} malformed pkts, {} id renewals",
                r.not_member, r.own_id, r.too_far_ahead, r.malformed, r.id_renewals
            )?;
        }
        Ok(())
    }
}
