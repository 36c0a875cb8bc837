//! The members a node knows: seeds, whoever talks to it, and whoever those name. A member not
//! heard from for a while is `Suspect`, later `Down`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::Timing;

/// A node's identity: a random UUID drawn when it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NodeId(pub Uuid);

impl NodeId {
    /// A fresh random id.
    pub fn random() -> NodeId {
        NodeId(Uuid::new_v4())
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// What a node believes of a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberState {
    /// Heard from recently.
    Alive,
    /// Silent for a while; still replicated with.
    Suspect,
    /// Silent for longer; no longer replicated with until it speaks again.
    Down,
    /// Said goodbye (graceful shutdown).
    Left,
}

/// A member as [`Node::members`](crate::Node::members) lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberInfo {
    /// Its id.
    pub id: NodeId,
    /// Where it listens.
    pub addr: SocketAddr,
    /// What this node believes of it.
    pub state: MemberState,
    /// A number that differs for each life of the member (a node that restarts draws a new
    /// one); carries no order.
    pub incarnation: u64,
}

#[derive(Debug)]
pub(crate) struct Member {
    pub addr: SocketAddr,
    pub life: u64,
    pub last_heard: Instant,
    pub state: MemberState,
    pub replicas: BTreeSet<String>,
}

/// The member table.
#[derive(Debug, Default)]
pub(crate) struct Members {
    pub known: BTreeMap<NodeId, Member>,
    /// Members others named that we have not heard from ourselves: pinged, not trusted.
    pub candidates: BTreeMap<NodeId, SocketAddr>,
}

impl Members {
    /// `id` spoke (a message opened with our key). Returns `true` if the set of live members
    /// changed.
    pub(crate) fn heard(&mut self, id: NodeId, life: u64, addr: SocketAddr, now: Instant) -> bool {
        self.candidates.remove(&id);
        match self.known.get_mut(&id) {
            Some(m) => {
                let was_live = live(m.state);
                m.addr = addr;
                m.life = life;
                m.last_heard = now;
                m.state = MemberState::Alive;
                !was_live
            }
            None => {
                self.known.insert(
                    id,
                    Member {
                        addr,
                        life,
                        last_heard: now,
                        state: MemberState::Alive,
                        replicas: BTreeSet::new(),
                    },
                );
                true
            }
        }
    }

    /// Ages members by silence. Returns `true` if the set of live members changed.
    pub(crate) fn age(&mut self, now: Instant, timing: &Timing) -> bool {
        let mut changed = false;
        for (id, m) in &mut self.known {
            if m.state == MemberState::Left {
                continue;
            }
            let silent = now.saturating_duration_since(m.last_heard);
            let state = if silent >= timing.down {
                MemberState::Down
            } else if silent >= timing.suspect {
                MemberState::Suspect
            } else {
                MemberState::Alive
            };
            if state != m.state {
                tracing::info!(member = %id, addr = %m.addr, ?state, "member state changed");
                changed |= live(state) != live(m.state);
                m.state = state;
            }
        }
        changed
    }

    /// The live members hosting `replica`.
    pub(crate) fn hosting(&self, replica: &str) -> Vec<NodeId> {
        self.known
            .iter()
            .filter(|(_, m)| live(m.state) && m.replicas.contains(replica))
            .map(|(id, _)| *id)
            .collect()
    }

    pub(crate) fn info(&self) -> Vec<MemberInfo> {
        self.known
            .iter()
            .map(|(id, m)| MemberInfo {
                id: *id,
                addr: m.addr,
                state: m.state,
                incarnation: m.life,
            })
            .collect()
    }
}

/// Replicated with: alive or suspect.
pub(crate) fn live(state: MemberState) -> bool {
    matches!(state, MemberState::Alive | MemberState::Suspect)
}
