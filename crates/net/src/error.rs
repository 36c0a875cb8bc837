//! The errors of the shell: [`NetError`] for the node and its keys, [`UpdateError`] for an
//! update. Each variant says whether anything changed and what to do about it.

use std::fmt;
use std::net::SocketAddr;

use gossip_crdt::Dot;
use gossip_transport::ReplicaId;

use crate::AckLevel;

/// What went wrong starting, configuring or stopping a node. Nothing is ever caused by a peer:
/// what peers send that is wrong is dropped and counted in [`Metrics`](crate::Metrics).
#[derive(Debug)]
#[non_exhaustive]
pub enum NetError {
    /// The UDP socket or TCP listener could not be bound (address in use, no permission,
    /// address not on this machine). Nothing started.
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// Neither [`NodeBuilder::keyring`](crate::NodeBuilder::keyring) nor
    /// [`NodeBuilder::insecure`](crate::NodeBuilder::insecure) was called: a caller bug.
    NoKey,
    /// A key in the text given to [`Keyring::from_hex`](crate::Keyring::from_hex) is not 64
    /// hex digits.
    BadKey {
        /// Which key (0 = the first), counting the comma-separated list.
        index: usize,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The cluster label is empty or longer than 255 bytes.
    BadLabel,
    /// A limit is out of range (e.g. a datagram size too small for the headers).
    BadLimits(&'static str),
    /// [`Node::open`](crate::Node::open) found the name open with another CRDT type. The
    /// replica is unchanged.
    TypeMismatch {
        /// The replica's name.
        name: String,
        /// The type it was opened with first.
        existing: &'static str,
        /// The type asked for now.
        requested: &'static str,
    },
    /// The replica name is empty or longer than 255 bytes.
    BadName(String),
    /// The node was shut down (or its last handle dropped): nothing more is sent.
    Stopped,
    /// The operating system refused randomness (keys, nonces or a node id could not be drawn).
    Random,
    /// A seed given to [`NodeBuilder::seed_hosts`](crate::NodeBuilder::seed_hosts) is not of
    /// the form `host:port`: a caller bug. Nothing started. (A well-formed name that does not
    /// resolve is not an error: it is logged and resolved again while the node is alone.)
    BadSeed {
        /// The text given.
        seed: String,
    },
    /// The node identity in the data directory could not be read or written. Nothing started.
    Identity(gossip_membership::IdentityError),
    /// The store in the data directory cannot be used: in use by another process, truncated,
    /// corrupt, not a gossip store, of a newer format, or a replica record that does not
    /// decode as the type it is opened with. Its message says what to do; the files are left
    /// as they were and nothing started (or, from [`Node::open`](crate::Node::open), the
    /// replica was not opened).
    Store {
        /// What the store reported.
        source: gossip_store::StoreError,
    },
    /// The store in the data directory belongs to another node than the directory's node id
    /// file: the two files come from different nodes. Nothing started, nothing was changed.
    ForeignStore {
        /// The data directory.
        dir: std::path::PathBuf,
        /// The node the store was made for.
        store: uuid::Uuid,
        /// The node the id file names.
        node: uuid::Uuid,
    },
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetError::Bind { addr, source } => write!(
                f,
                "cannot bind {addr} (UDP and TCP): {source}; pick a free port or an address of this machine"
            ),
            NetError::NoKey => write!(
                f,
                "no cluster key: call .keyring(..) (or .insecure() to send plaintext on purpose)"
            ),
            NetError::BadKey { index, reason } => {
                write!(f, "key {index} of the keyring is not usable: {reason}")
            }
            NetError::BadLabel => write!(f, "the cluster label must be 1 to 255 bytes"),
            NetError::BadLimits(why) => write!(f, "limits out of range: {why}"),
            NetError::TypeMismatch {
                name,
                existing,
                requested,
            } => write!(
                f,
                "replica {name:?} is open as {existing}, not {requested}; use another name"
            ),
            NetError::BadName(name) => {
                write!(f, "replica name {name:?} must be 1 to 255 bytes")
            }
            NetError::Stopped => write!(f, "the node has stopped"),
            NetError::Random => write!(f, "the operating system gave no randomness"),
            NetError::BadSeed { seed } => write!(
                f,
                "seed {seed:?} is not host:port (e.g. \"node1.example:7000\" or \"10.0.0.1:7000\")"
            ),
            NetError::Identity(e) => write!(f, "node identity: {e}"),
            NetError::Store { source } => write!(f, "{source}"),
            NetError::ForeignStore { dir, store, node } => write!(
                f,
                "the store in {} belongs to node {store}, but the node id file there names \
                 {node}: the files come from two different nodes; put back the matching \
                 pair, or move gossip.redb away to start this node afresh (its data then \
                 comes back from its peers)",
                dir.display()
            ),
        }
    }
}

impl std::error::Error for NetError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            NetError::Bind { source, .. } => Some(source),
            NetError::Identity(e) => Some(e),
            NetError::Store { source } => Some(source),
            _ => None,
        }
    }
}

/// Why an update did not happen, or did not reach the level asked for.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum UpdateError {
    /// The closure returned `None`, or a delta that changes nothing: nothing was applied.
    NoChange,
    /// The delta, encoded, is larger than one frame can carry: nothing was applied. Split the
    /// change into smaller updates or raise `max_frame_bytes` on every node.
    TooLarge {
        /// The delta's encoded size.
        bytes: usize,
        /// The largest delta a frame carries.
        limit: usize,
    },
    /// The update is applied here (and will spread), but the level asked for was not reached
    /// in time.
    Timeout {
        /// The level reached when time ran out.
        reached: AckLevel,
        /// The update's id.
        dot: Dot<ReplicaId>,
    },
    /// [`AckLevel::Durable`] was asked of a node without a store: nothing was applied.
    NotDurable,
    /// The update is applied here but its commit to this node's store failed (a full disk,
    /// or the node was shut down): it is not durable. Reads and local updates keep working;
    /// the update spreads once a commit of the replica's lease goes through.
    NotStored {
        /// The update's id.
        dot: Dot<ReplicaId>,
        /// What the store reported.
        error: gossip_store::StoreError,
    },
}

impl fmt::Display for UpdateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpdateError::NoChange => write!(f, "the update changes nothing"),
            UpdateError::TooLarge { bytes, limit } => write!(
                f,
                "the update encodes to {bytes} bytes, over the limit of {limit}; split it or raise max_frame_bytes"
            ),
            UpdateError::Timeout { reached, dot } => write!(
                f,
                "update {}:{} applied locally but reached only {reached:?} in time; it keeps spreading",
                dot.replica, dot.counter
            ),
            UpdateError::NotDurable => {
                write!(
                    f,
                    "durable updates need a node started with a data dir and a store"
                )
            }
            UpdateError::NotStored { dot, error } => write!(
                f,
                "update {}:{} applied locally but not stored: {error}",
                dot.replica, dot.counter
            ),
        }
    }
}

impl std::error::Error for UpdateError {}
