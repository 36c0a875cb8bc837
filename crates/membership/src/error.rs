//! `MembershipError`: packets and commands refused.

use std::fmt;
use std::net::SocketAddr;

/// Why a packet or a command was refused. Nothing changed in the membership unless the
/// variant says otherwise; none of these is a reason to stop the node.
#[derive(Debug)]
pub enum MembershipError {
    /// An empty packet: a misbehaving peer or a broken shell.
    Empty,
    /// The packet's first byte names no protocol this version knows: a peer running a newer
    /// or a different protocol on this port.
    UnknownKind {
        /// The byte.
        tag: u8,
    },
    /// The packet does not decode: a misbehaving peer, or corruption the shell did not catch.
    Malformed {
        /// Which message.
        what: &'static str,
        /// The decoder's complaint.
        detail: String,
    },
    /// SWIM refused the packet or the command. `DataTooBig`, `Decode`, `MalformedPacket`,
    /// `DataFromOurselves` and `IndirectForOurselves` mean a misbehaving peer (or two nodes
    /// sharing one address); `Encode` and `NotConnected` mean a bug. See foca's `Error`.
    Swim(foca::Error),
    /// [`join`](crate::Membership::join) was given this node's own address.
    JoinSelf {
        /// The address.
        addr: SocketAddr,
    },
    /// The node has left; start a new membership to come back.
    HasLeft,
}

impl fmt::Display for MembershipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MembershipError::Empty => write!(f, "empty membership packet refused"),
            MembershipError::UnknownKind { tag } => write!(
                f,
                "membership packet of unknown kind {tag} refused; is every node running the same version?"
            ),
            MembershipError::Malformed { what, detail } => {
                write!(f, "malformed {what} refused: {detail}")
            }
            MembershipError::Swim(e) => write!(f, "SWIM refused the input: {e}"),
            MembershipError::JoinSelf { addr } => write!(
                f,
                "cannot join through {addr}: it is this node's own address; give another member's"
            ),
            MembershipError::HasLeft => write!(
                f,
                "this node has left the cluster; start a new membership to rejoin"
            ),
        }
    }
}

impl std::error::Error for MembershipError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MembershipError::Swim(e) => Some(e),
            _ => None,
        }
    }
}
