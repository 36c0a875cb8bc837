//! What a replica refuses before anything is applied: non-members and malformed packets,
//! numbers too far ahead to keep track of, claims on its own replica id; and how it settles
//! an unexpected incarnation (a challenge only the live one can answer).

use std::sync::Arc;

use gossip_crdt::{Decompose, Dot, Lattice};
use rand::RngExt;
use serde::Serialize;

use super::Replicator;
use crate::packet::Packet;
use crate::peer::MAX_SEQ_AHEAD;
use crate::{PacketKind, ReplicaId, Time, TransportError};

impl<L, P> Replicator<L, P>
where
    L: Lattice + Decompose + Serialize,
    P: Ord + Clone + std::fmt::Debug,
{
    /// Refuses a packet whose link numbers or delta counters lie so far ahead of what is held
    /// that tracking them would let the sender grow this replica's bookkeeping at will.
    pub(super) fn within_bounds(&self, from: &P, packet: &Packet<L>) -> Result<(), TransportError> {
        // Only numbers of a link to this life are tracked (others are ignored anyway).
        if let Some((_, hi)) = packet.seq
            && packet.to.is_none_or(|to| to == self.inc)
        {
            let base = self
                .peers
                .get(from)
                .map_or(Some(0), |p| p.recv_base(packet.to));
            if base.is_some_and(|base| hi.saturating_sub(base) > MAX_SEQ_AHEAD) {
                return Err(TransportError::TooFarAhead);
            }
        }
        // Runs of one origin come in id order: each may start up to the bound past what is
        // held of its origin, or past the runs before it in this packet.
        let seen = self.log.seen();
        let mut reach: Option<(ReplicaId, u64)> = None;
        for run in packet.runs.iter() {
            let held = seen.vector().get(&run.origin);
            let mut top = held;
            if let Some((origin, end)) = reach
                && origin == run.origin
            {
                top = top.max(end);
            }
            if run.first.saturating_sub(top) > MAX_COUNTER_AHEAD {
                return Err(TransportError::TooFarAhead);
            }
            let last = run.first + (run.deltas.len() as u64).saturating_sub(1);
            let end = if run.first <= top.saturating_add(1) {
                top.max(last)
            } else {
                top
            };
            reach = Some((run.origin, end));
        }
        Ok(())
    }

    /// Drops whatever in `packet` claims deltas of this replica's current id that it never
    /// made: runs, a digest (and the snapshot and pull that come with it). Whoever believes
    /// such a claim would drop our next deltas as repeats, so the replica also moves to a
    /// fresh id (the claim may be a genuine leftover of an earlier life that used this id).
    pub(super) fn refuse_claims_on_own_id(&mut self, packet: &mut Packet<L>) {
        let (id, next) = (self.id, self.next_local);
        let runs_ahead = packet.runs.iter().any(|run| {
            run.origin == id && run.first + (run.deltas.len() as u64).saturating_sub(1) >= next
        });
        let have_ahead = packet
            .have
            .as_ref()
            .is_some_and(|have| have.max_counter(&id) >= next);
        if !runs_ahead && !have_ahead {
            return;
        }
        self.stats.refused.own_id += 1;
        if runs_ahead {
            Arc::make_mut(&mut packet.runs).retain(|run| run.origin != id);
        }
        if have_ahead {
            packet.have = None;
            packet.snap = None;
            packet.pull = false;
        }
        self.renew_id();
    }

    /// The id for a new delta of ours. Claims on our id are refused at the door, so the next
    /// id is always fresh; if it somehow is not, a fresh replica id is, so that a delta is
    /// never dropped as a repeat of one this replica did not make.
    pub(super) fn fresh_dot(&mut self) -> Dot<ReplicaId> {
        while self.next_local == u64::MAX
            || self.log.seen().max_counter(&self.id) >= self.next_local
        {
            self.renew_id();
        }
        let dot = Dot {
            replica: self.id,
            counter: self.next_local,
        };
        self.next_local += 1;
        dot
    }

    /// Moves to a fresh replica id: one no delta held here carries.
    pub(super) fn renew_id(&mut self) {
        let mut id = self.id.successor();
        while self.log.seen().max_counter(&id) > 0 {
            id = id.successor();
        }
        self.id = id;
        self.next_local = 1;
        self.stats.refused.id_renewals += 1;
    }

    /// Answers a challenge the packet carries, and tells which life of the sender it comes
    /// from: the one we know, a new one (settled by the answer to our challenge: what we knew
    /// of the old life is forgotten), or one not settled yet (challenged now).
    pub(super) fn recognise(&mut self, now: Time, from: &P, packet: &Packet<L>) -> Life {
        if let Some(challenge) = packet.probe {
            let mut reply = self.packet_to(from);
            reply.answer = Some(challenge);
            self.emit(from.clone(), reply, PacketKind::Probe);
        }
        let peer = self.peer_mut(from);
        let answered = packet.answer.is_some() && packet.answer == peer.challenge.map(|c| c.0);
        if answered {
            peer.challenge = None;
        }
        match peer.inc {
            None => {
                peer.inc = Some(packet.inc);
                Life::Known
            }
            Some(inc) if inc == packet.inc => Life::Known,
            Some(_) if answered => {
                // The member's live incarnation is another than we knew: that life lost
                // whatever its predecessor had, so start over with it.
                peer.reset(packet.inc);
                self.queued.remove(from);
                Life::Restarted
            }
            Some(_) => {
                // Another incarnation than we know: a new life, or a late packet of an old
                // one (incarnations carry no order). Only the live incarnation can answer a
                // challenge, which settles which.
                self.challenge(from, now);
                Life::Unsettled
            }
        }
    }

    /// Asks `name`, which sent an incarnation we did not expect, which life is live: sends a
    /// random number only that life can echo. At most one challenge per first timeout.
    pub(super) fn challenge(&mut self, name: &P, now: Time) {
        let first_rto = self.config.first_rto();
        if self
            .peers
            .get(name)
            .and_then(|p| p.challenge)
            .is_some_and(|(_, at)| at + first_rto > now)
        {
            return;
        }
        let number = self.rng.random::<u64>();
        self.peer_mut(name).challenge = Some((number, now));
        let mut packet = self.packet_to(name);
        packet.probe = Some(number);
        self.emit(name.clone(), packet, PacketKind::Probe);
    }
}

/// Which life of a member a packet comes from, as far as this replica can tell.
pub(super) enum Life {
    /// The incarnation we know (or the first we hear of).
    Known,
    /// A new incarnation, confirmed by its answer to our challenge.
    Restarted,
    /// Another incarnation than we know, not confirmed yet.
    Unsettled,
}

/// How far past what is held of an origin a received delta's counter may lie. Deltas of an
/// origin arrive nearly in order (a gap is what is still on its way), so a genuine sender
/// never comes near this; each number accepted ahead of a gap costs a loose id until the gap
/// fills.
const MAX_COUNTER_AHEAD: u64 = 1 << 12;

/// Checks a packet before anything is applied, so a bad one changes nothing.
pub(super) fn validate<L, P: PartialEq + std::fmt::Debug>(
    me: &P,
    from: &P,
    packet: &Packet<L>,
) -> Result<(), TransportError> {
    if from == me {
        return Err(TransportError::FromSelf);
    }
    if packet.snap.is_some() && packet.have.is_none() {
        return Err(TransportError::SnapshotWithoutDigest);
    }
    if let Some((lo, hi)) = packet.seq
        && (lo == 0 || lo > hi)
    {
        return Err(TransportError::BadSequence { lo, hi });
    }
    for run in packet.runs.iter() {
        let last = run
            .first
            .checked_add(run.deltas.len() as u64)
            .map(|end| end.saturating_sub(1));
        if run.first == 0 || last.is_none() {
            return Err(TransportError::BadRun {
                origin: run.origin,
                first: run.first,
                len: run.deltas.len(),
            });
        }
    }
    Ok(())
}
