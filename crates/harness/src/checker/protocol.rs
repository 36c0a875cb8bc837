//! Protocol hygiene of the nodes: lines on stdout that were not valid messages.
//!
//! Not a Maelstrom checker. Maelstrom silently stops reading a node's stdout after its first
//! bad line; by default this harness logs and drops the line instead, keeps going, and
//! reports it here, naming the node. Garbage on stdout, a broken envelope or a message to an
//! endpoint that never existed makes the run invalid, because under Maelstrom it would have
//! cut the node off. A late reply to a client that already timed out is only a warning. With
//! `--strict` the harness behaves like Maelstrom and this result never invalidates.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::Validity;

/// Bad lines of one node.
#[derive(Debug, Clone, Default)]
pub struct NodeProtocol {
    /// Lines that were not JSON.
    pub not_json: u64,
    /// JSON lines that failed the envelope schema.
    pub bad_envelope: u64,
    /// Messages to or from endpoints that never existed.
    pub unknown_endpoint: u64,
    /// Messages to client connections that were already closed.
    pub closed_client: u64,
    /// The first few problems, verbatim.
    pub examples: Vec<String>,
    /// With `--strict`: whether the node's stdout was cut off, as Maelstrom would.
    pub stdout_dead: bool,
}

impl NodeProtocol {
    /// How many examples to keep per node.
    pub const EXAMPLES: usize = 5;

    fn serious(&self) -> u64 {
        self.not_json + self.bad_envelope + self.unknown_endpoint
    }
}

/// The `protocol` result over all nodes (by node id).
pub fn check(nodes: &BTreeMap<String, NodeProtocol>, strict: bool) -> Value {
    let mut per_node = serde_json::Map::new();
    let mut valid = Validity::Valid;
    for (node, p) in nodes {
        if p.serious() + p.closed_client == 0 {
            continue;
        }
        if p.serious() > 0 && !strict {
            valid = Validity::Invalid;
        }
        per_node.insert(
            node.clone(),
            json!({
                "not-json-count": p.not_json,
                "bad-envelope-count": p.bad_envelope,
                "unknown-endpoint-count": p.unknown_endpoint,
                "closed-client-count": p.closed_client,
                "stdout-dead": p.stdout_dead,
                "examples": p.examples,
            }),
        );
    }
    json!({"valid?": valid.to_json(), "nodes": per_node})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_invalidates_unless_strict() {
        let mut m = BTreeMap::new();
        m.insert(
            "n1".to_owned(),
            NodeProtocol {
                closed_client: 2,
                ..Default::default()
            },
        );
        assert_eq!(check(&m, false)["valid?"], json!(true));
        m.insert(
            "n2".to_owned(),
            NodeProtocol {
                not_json: 1,
                ..Default::default()
            },
        );
        let r = check(&m, false);
        assert_eq!(r["valid?"], json!(false));
        assert_eq!(r["nodes"]["n2"]["not-json-count"], json!(1));
        assert_eq!(check(&m, true)["valid?"], json!(true));
        assert_eq!(
            check(&BTreeMap::new(), false),
            json!({"valid?": true, "nodes": {}})
        );
    }
}
