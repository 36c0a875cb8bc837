//! Identifiers with meaning: node ids, node indices, client ids, message ids, services and
//! the [`Endpoint`] sum of them.
//!
//! On the wire every endpoint is a string (`n1`, `c7`, `seq-kv`). Inside the engine they are
//! small copyable values so routing never compares strings twice, and so a client id can never
//! be confused with a body `msg_id` or the network's own message id.

use std::fmt;

/// A server node's wire id, e.g. `n1`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub String);

impl NodeId {
    /// The wire form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Position of a node in the test's node list (the order of `node_ids` in `init`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeIndex(pub usize);

/// A client connection: `c<k>` on the wire. Every connection gets a fresh one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientId(pub u64);

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

/// A body `msg_id` / `in_reply_to` value: unique per sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MsgId(pub u64);

/// The network's own message id: the top-level `"id"` field on every delivered line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NetId(pub u64);

/// The built-in services. They always exist, whatever the workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    /// `lin-kv`: a linearizable key-value store.
    LinKv,
    /// `seq-kv`: a sequentially consistent key-value store.
    SeqKv,
    /// `lww-kv`: an eventually consistent, last-write-wins key-value store.
    LwwKv,
    /// `lin-tso`: a linearizable timestamp oracle.
    LinTso,
}

impl Service {
    /// Every service, in a fixed order.
    pub const ALL: [Service; 4] = [
        Service::LinKv,
        Service::SeqKv,
        Service::LwwKv,
        Service::LinTso,
    ];

    /// The wire id.
    pub fn as_str(self) -> &'static str {
        match self {
            Service::LinKv => "lin-kv",
            Service::SeqKv => "seq-kv",
            Service::LwwKv => "lww-kv",
            Service::LinTso => "lin-tso",
        }
    }

    /// Parse a wire id.
    pub fn parse(s: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|svc| svc.as_str() == s)
    }
}

/// Anything that can send or receive a message on the simulated network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    /// A server node, by index.
    Node(NodeIndex),
    /// A client connection.
    Client(ClientId),
    /// A built-in service.
    Service(Service),
}

impl Endpoint {
    /// Maelstrom's rule: an id is a client iff it starts with `c` (services count as servers).
    pub fn is_client(self) -> bool {
        matches!(self, Endpoint::Client(_))
    }
}

/// Parse `c<digits>` into a client id (without checking that the client is open).
pub fn parse_client_id(s: &str) -> Option<ClientId> {
    let digits = s.strip_prefix('c')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(ClientId)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_round_trip() {
        assert_eq!(parse_client_id("c0"), Some(ClientId(0)));
        assert_eq!(parse_client_id("c123"), Some(ClientId(123)));
        assert_eq!(parse_client_id("c"), None);
        assert_eq!(parse_client_id("cx1"), None);
        assert_eq!(parse_client_id("n1"), None);
        assert_eq!(ClientId(7).to_string(), "c7");
    }

    #[test]
    fn services_parse() {
        for s in Service::ALL {
            assert_eq!(Service::parse(s.as_str()), Some(s));
        }
        assert_eq!(Service::parse("kv"), None);
        assert!(!Endpoint::Service(Service::SeqKv).is_client());
        assert!(Endpoint::Client(ClientId(1)).is_client());
    }
}
