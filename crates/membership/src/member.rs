//! What the membership tells its node: how each member stands ([`MemberState`],
//! [`MemberInfo`]), the changes as events ([`MemberEvent`]), and its traffic ([`Stats`]).

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::{Identity, NodeId};

/// How a member stands, as this node sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberState {
    /// Answers probes.
    Alive,
    /// Someone's probe went unanswered; it has until the suspicion timeout to refute. Still
    /// a member for every other purpose (replication keeps sending to it).
    Suspect,
    /// Declared failed: it did not refute in time. It comes back only as a new identity.
    Down,
    /// Announced its own departure ([`Membership::leave`](crate::Membership::leave)).
    Left,
}

impl MemberState {
    /// Whether the member counts as present (alive or suspect).
    pub fn is_active(self) -> bool {
        matches!(self, MemberState::Alive | MemberState::Suspect)
    }
}

/// One member as this node sees it: the row of a member list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberInfo {
    /// The node id.
    pub id: NodeId,
    /// Where it receives membership packets.
    pub addr: SocketAddr,
    /// Alive, suspect, down or left.
    pub state: MemberState,
    /// Which life of the node this is: its identity's [generation](Identity::generation).
    pub incarnation: u64,
    /// How many suspicions this life has refuted (SWIM's own incarnation number).
    pub refutations: u16,
}

/// What changed in the membership. After each event that [changes the member
/// set](MemberEvent::changes_members), a shell hands [`Membership::active_ids`](crate::Membership::active_ids) to the
/// replicator (`Replicator::set_members`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberEvent {
    /// A member became active (joined, or came back under a new identity).
    Up(Identity),
    /// A member was declared down.
    Down(Identity),
    /// A member left on purpose. May follow a `Down` for the same identity when the
    /// departure notice arrived after SWIM had spread the news.
    Left(Identity),
    /// A newer identity took over an address: a restart, or a renewal after being declared
    /// down. The node id may be the same (kept its data directory) or not.
    Renamed {
        /// The identity replaced.
        from: Identity,
        /// The identity now current at that address.
        to: Identity,
    },
    /// This node's identity is known to at least one other member: it is in a cluster.
    Connected,
    /// Every member this node knew is down or gone: it is alone.
    Isolated,
    /// This node was declared down and renewed its identity to rejoin.
    Rejoined(Identity),
    /// This node was declared down and cannot renew (its renewals are used up): it must
    /// restart.
    Defunct,
}

impl MemberEvent {
    /// Whether the set of active node ids may have changed.
    pub fn changes_members(&self) -> bool {
        matches!(
            self,
            MemberEvent::Up(_)
                | MemberEvent::Down(_)
                | MemberEvent::Left(_)
                | MemberEvent::Renamed { .. }
                | MemberEvent::Isolated
        )
    }
}

/// Counters of membership traffic and refused input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Packets handed to [`Membership::poll_transmit`](crate::Membership::poll_transmit).
    pub packets_sent: u64,
    /// Their bytes.
    pub bytes_sent: u64,
    /// Packets given to [`Membership::handle_data`](crate::Membership::handle_data).
    pub packets_received: u64,
    /// Their bytes.
    pub bytes_received: u64,
    /// Received packets refused (malformed, from ourselves, too large).
    pub refused: u64,
    /// Errors SWIM reported while handling a timer or asking seeds again: a shell delivering
    /// timers late, or a bug. The node carries on.
    pub internal_errors: u64,
}
