//! The reliable link to each peer: packets that carry sequence numbers, piggybacked
//! acknowledgements, retransmission of whole ranges, digests, greetings and snapshots.

use std::collections::BTreeMap;
use std::sync::Arc;

use gossip_crdt::{Decompose, Dot, Lattice};
use serde::Serialize;

use super::Replicator;
use crate::overlay::Plan;
use crate::packet::{Ack, Packet};
use crate::peer::Flight;
use crate::{PacketKind, ReplicaId, Strategy, Time};

impl<L, P> Replicator<L, P>
where
    L: Lattice + Decompose + Serialize,
    P: Ord + Clone + std::fmt::Debug,
{
    /// Sends `name` the whole state, reliably: it lacks deltas no longer stored here.
    pub(super) fn send_snapshot(&mut self, name: &P) {
        let now = self.now;
        let first_rto = self.config.first_rto();
        let seen = self.log.seen().clone();
        let mut packet = self.packet_to(name);
        let seq =
            self.peer_mut(name)
                .open_flight(now, first_rto, Vec::new(), None, Some(seen.clone()));
        packet.seq = Some((seq, seq));
        packet.snap = Some(self.log.state().clone());
        packet.have = Some(seen);
        self.emit(name.clone(), packet, PacketKind::Snapshot);
    }

    /// Resends the packets to `name` whose timeout has passed as one packet covering their
    /// whole range, minus what the peer now holds. Packets sent since, whose numbers fall inside
    /// that range, ride along: the range is acknowledged as a whole, so everything it covers
    /// must be in it.
    pub(super) fn retransmit(&mut self, name: &P, now: Time) {
        let max_rto = self.config.rto_cap();
        let peer = self.peer_mut(name);
        let due = peer
            .flights
            .iter()
            .filter(|(_, f)| f.sent_at + f.timeout <= now);
        let Some((lo, hi)) = due.fold(None, |acc: Option<(u64, u64)>, (h, f)| {
            Some(acc.map_or((f.lo, *h), |(l, hh)| (l.min(f.lo), hh.max(*h))))
        }) else {
            return;
        };
        // Queued deltas ride along (a suspected peer gets nothing else), but under a fresh
        // sequence number: the peer may already hold an older packet with a number in the
        // range, and acknowledging that must not cover deltas it never saw. A fresh number
        // above everything in flight means the range covers every flight, so all of them go.
        let fold_pending = !peer.pending.is_empty();
        let covered: Vec<u64> = peer
            .flights
            .iter()
            .filter(|(h, f)| fold_pending || (**h >= lo && f.lo <= hi))
            .map(|(h, _)| *h)
            .collect();
        let flights: BTreeMap<u64, Flight> = covered
            .into_iter()
            .filter_map(|h| peer.take_flight(h).map(|f| (h, f)))
            .collect();
        let lo = flights.values().map(|f| f.lo).min().unwrap_or(lo);
        let hi = if fold_pending {
            let fresh = peer.next_seq;
            peer.next_seq += 1;
            fresh
        } else {
            flights.keys().next_back().copied().unwrap_or(hi)
        };
        let first_sent = flights.values().map(|f| f.first_sent).min().unwrap_or(now);
        // The latest relay change in flight must arrive, even if no delta is left to resend.
        let relay = flights.values().rev().find_map(|f| f.relay);
        // So must a digest (as it is now).
        let digest = flights
            .values()
            .filter_map(|f| f.digest)
            .reduce(|a, b| a || b);
        // A snapshot in the range is resent as the state now. The flight keeps crediting only
        // what the original covered: the peer may acknowledge these numbers for the original
        // packet, so the acknowledgement must not vouch for anything newer.
        let original_snapshot =
            flights
                .values()
                .filter_map(|f| f.snapshot.clone())
                .reduce(|mut a, b| {
                    a.join(&b);
                    a
                });
        let flights_timeout = flights
            .values()
            .map(|f| f.timeout)
            .max()
            .unwrap_or_default();
        let mut dots: Vec<Dot<ReplicaId>> = flights.into_values().flat_map(|f| f.dots).collect();
        dots.extend(std::mem::take(&mut peer.pending));
        peer.pending_bytes = 0;
        dots.sort();
        dots.dedup();
        dots.retain(|d| !peer.known.contains(d));
        self.queued.remove(name);
        // Back off from the longest wait among the merged flights.
        let timeout = flights_timeout.saturating_mul(2).min(max_rto);
        // Even with no deltas left the range is resent, so that the receiver's cumulative
        // acknowledgement can move past it.
        let mut chunks = self.chunks(dots);
        if chunks.is_empty() {
            chunks.push(Vec::new());
        }
        for (i, chunk) in chunks.into_iter().enumerate() {
            let peer = self.peer_mut(name);
            let (range_lo, range_hi) = if i == 0 {
                (lo, hi)
            } else {
                let s = peer.next_seq;
                peer.next_seq += 1;
                (s, s)
            };
            let flight_relay = if i == 0 { relay } else { None };
            let flight_snapshot = if i == 0 {
                original_snapshot.clone()
            } else {
                None
            };
            let carries_snapshot = flight_snapshot.is_some();
            let peer = self.peer_mut(name);
            peer.add_flight(
                range_hi,
                Flight {
                    lo: range_lo,
                    dots: chunk.clone(),
                    sent_at: now,
                    first_sent,
                    relay: flight_relay,
                    timeout,
                    snapshot: flight_snapshot,
                    digest: if i == 0 { digest } else { None },
                },
            );
            let mut packet = self.packet_to(name);
            packet.seq = Some((range_lo, range_hi));
            packet.runs = Arc::new(self.log.runs(&chunk));
            if flight_relay.is_some() {
                packet.relay = flight_relay;
            }
            if carries_snapshot {
                packet.snap = Some(self.log.state().clone());
                packet.have = Some(self.log.seen().clone());
            }
            if i == 0
                && let Some((number, _)) = self.peers.get(name).and_then(|p| p.challenge)
            {
                // A challenge not answered yet rides along: a new life that never sends us
                // anything could otherwise not tell us that the link must start over.
                packet.probe = Some(number);
            }
            if i == 0
                && let Some(pull) = digest
            {
                // The digest as it is now, and the request for the peer's if the original
                // made one: the first copy may have been lost, and without the answer this
                // side never learns what the peer lacks. Retransmissions come once per
                // timeout, and answers pull back at most once per timeout, so this cannot
                // ping-pong.
                packet.have = Some(self.log.seen().clone());
                packet.pull = pull;
            }
            self.emit(name.clone(), packet, PacketKind::Retransmit);
        }
    }

    /// A packet to `name` carrying what every packet carries: our incarnation, a piggybacked
    /// acknowledgement, the relay request while we rely on it, and our digest when the
    /// strategy gossips knowledge.
    pub(super) fn packet_to(&mut self, name: &P) -> Packet<L> {
        let gossip_digest = matches!(self.config.strategy, Strategy::Gossip { .. });
        let have = gossip_digest.then(|| self.log.seen().clone());
        let mut packet = Packet::new(self.inc);
        let peer = self.peer_mut(name);
        packet.to = peer.send_epoch;
        if let Some(inc) = peer.inc
            && peer.recv_cum > 0
        {
            packet.ack = Some(Ack {
                inc,
                seq: peer.recv_cum,
                to: peer.recv_epoch,
            });
        }
        peer.ack_owed_since = None;
        if peer.relaying_us {
            packet.relay = Some(true);
        }
        packet.have = have;
        packet
    }

    /// Announces this incarnation, reliably, to every peer that pushes to it or that it
    /// pushes to (everyone, for the epidemic strategies): peers that knew an earlier life then
    /// forget what it held and send it everything again. With `pull`, each is also asked for
    /// its digest: a replica that starts with state of its own learns who lacks what it holds.
    pub(super) fn greet(&mut self, pull: bool) {
        let peers: Vec<P> = match self.plan {
            Plan::None => self.others().cloned().collect(),
            Plan::Fixed(_) | Plan::Star { .. } => self.targets.clone(),
        };
        for peer in peers {
            self.send_control(&peer, pull, None);
        }
    }

    /// Sends our digest reliably (sequenced, retransmitted until acknowledged), with an
    /// optional relay change.
    pub(super) fn send_control(&mut self, name: &P, pull: bool, relay: Option<bool>) {
        self.send_digest_packet(name, pull, relay, true);
    }

    /// Sends our digest to `name`: a lazy announcement, or (with `pull`) a request.
    pub(super) fn send_digest(&mut self, name: &P, pull: bool, relay: Option<bool>) {
        self.send_digest_packet(name, pull, relay, relay.is_some());
    }

    pub(super) fn send_digest_packet(
        &mut self,
        name: &P,
        pull: bool,
        relay: Option<bool>,
        reliable: bool,
    ) {
        let mut packet = self.packet_to(name);
        packet.have = Some(self.log.seen().clone());
        packet.pull = pull;
        let kind = if reliable {
            if relay.is_some() {
                packet.relay = relay;
            }
            let now = self.now;
            let first_rto = self.config.first_rto();
            let peer = self.peer_mut(name);
            let seq = peer.open_flight(now, first_rto, Vec::new(), relay, None);
            if let Some(flight) = peer.flights.get_mut(&seq) {
                flight.digest = Some(pull);
            }
            packet.seq = Some((seq, seq));
            if relay.is_some() {
                PacketKind::Relay
            } else {
                PacketKind::Digest
            }
        } else {
            PacketKind::Digest
        };
        self.emit(name.clone(), packet, kind);
    }

    pub(super) fn emit(&mut self, to: P, packet: Packet<L>, kind: PacketKind) {
        self.stats
            .record_sent(kind, self.log.packet_size(&packet), packet.delta_count());
        self.outbox.push_back((to, packet));
    }
}
