//! `Identity`: who a member is in this life, as SWIM sees it.

use std::fmt;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A node's id: a UUID, kept in the node's data directory when it has one
/// ([`NodeIdentity`](crate::NodeIdentity)), fresh otherwise. The network shell, the replicator
/// and the member lists all name nodes by it.
pub type NodeId = Uuid;

/// How far the start number is shifted in a [generation](Identity::generation): the low bits
/// count renewals within one life, so a renewed identity stays below the next life's.
pub const RENEWAL_BITS: u32 = 16;

/// One life of a member: its node id, where it listens, and which life this is.
///
/// SWIM keys members by **address**: at most one identity per socket address is current, and
/// when two meet, the higher `generation` wins (the node id breaks a tie). So a node that
/// restarts at the same address takes over from its previous life at once, and a node that was
/// declared down comes back under a [renewed](foca::Identity::renew) identity (same id and
/// address, generation + 1) instead of waiting for the cluster to forget the old one.
///
/// `generation = start << RENEWAL_BITS | renewals`, where `start` grows with every start of the
/// node: see [`NodeIdentity`](crate::NodeIdentity) for where it comes from and
/// `docs/membership.md` for the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Identity {
    /// The node id: stable across restarts that keep the data directory, fresh otherwise.
    pub id: NodeId,
    /// The address the node receives membership packets on.
    pub addr: SocketAddr,
    /// Which life (high bits) and which renewal within it (low [`RENEWAL_BITS`] bits).
    pub generation: u64,
}

impl Identity {
    /// The identity of life number `start` of node `id` listening on `addr`.
    pub fn new(id: Uuid, addr: SocketAddr, start: u64) -> Identity {
        Identity {
            id,
            addr,
            generation: start << RENEWAL_BITS,
        }
    }

    /// The life number: the generation without its renewal count.
    pub fn start(&self) -> u64 {
        self.generation >> RENEWAL_BITS
    }

    /// A placeholder for a seed known only by its address: SWIM accepts a join request sent
    /// to any identity at the receiver's address.
    pub(crate) fn seed(addr: SocketAddr) -> Identity {
        Identity {
            id: Uuid::nil(),
            addr,
            generation: 0,
        }
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}@{}#{}.{}",
            self.id,
            self.addr,
            self.start(),
            self.generation & ((1 << RENEWAL_BITS) - 1)
        )
    }
}

impl foca::Identity for Identity {
    type Addr = SocketAddr;

    fn renew(&self) -> Option<Self> {
        // Saturating: past the last renewal of a life the node stays down until it restarts
        // (a new start number), rather than wrapping into an identity that loses every
        // conflict.
        let renewals = self.generation & ((1 << RENEWAL_BITS) - 1);
        if renewals == (1 << RENEWAL_BITS) - 1 {
            return None;
        }
        Some(Identity {
            generation: self.generation + 1,
            ..*self
        })
    }

    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn win_addr_conflict(&self, adversary: &Self) -> bool {
        (self.generation, self.id) > (adversary.generation, adversary.id)
    }
}

#[cfg(test)]
mod tests {
    use foca::Identity as _;

    use super::*;

    fn addr() -> SocketAddr {
        SocketAddr::from(([10, 0, 0, 1], 7000))
    }

    #[test]
    fn a_renewed_identity_wins_over_the_old_and_loses_to_the_next_life() {
        let id = Uuid::from_u128(7);
        let first = Identity::new(id, addr(), 3);
        let renewed = first.renew().expect("renewable");
        assert_eq!(renewed.start(), 3);
        assert!(renewed.win_addr_conflict(&first));
        assert!(!first.win_addr_conflict(&renewed));
        let next_life = Identity::new(id, addr(), 4);
        assert!(next_life.win_addr_conflict(&renewed));
    }

    #[test]
    fn renewals_stop_at_the_end_of_a_life() {
        let mut last = Identity::new(Uuid::from_u128(1), addr(), 1);
        last.generation |= (1 << RENEWAL_BITS) - 1;
        assert_eq!(last.renew(), None);
    }

    #[test]
    fn a_tie_is_broken_by_the_node_id() {
        let a = Identity::new(Uuid::from_u128(1), addr(), 5);
        let b = Identity::new(Uuid::from_u128(2), addr(), 5);
        assert!(b.win_addr_conflict(&a));
        assert!(!a.win_addr_conflict(&b));
    }
}
