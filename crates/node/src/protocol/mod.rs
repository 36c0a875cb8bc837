//! The Maelstrom protocol: ids, error codes, and the JSON envelope.
//!
//! `docs/maelstrom.md` in the repository describes the protocol; this module is its
//! executable form.

mod envelope;
mod error_code;
mod ids;

pub use envelope::{Inbound, Outbound, ParseError, body, line_head, line_with_body, parse_line};
pub use error_code::ErrorCode;
pub use ids::{MsgId, NodeId};

/// The `type` of the messages nodes replicate with among themselves (Maelstrom leaves
/// node-to-node bodies to the nodes; `docs/anti-entropy.md` describes ours).
pub const GOSSIP: &str = "gossip";
