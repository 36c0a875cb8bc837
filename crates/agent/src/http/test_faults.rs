//! The routes of the test fault layer: which gossip addresses this agent sends nothing to.
//! Served only when the agent runs with that layer (the rig's partitions), never otherwise.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use serde_json::{Value, json};

use super::AppState;
use super::write::parse_body;
use crate::error::{ApiError, JsonLine};

/// `GET /v1/test/blocked`: the gossip addresses this agent sends nothing to.
pub(super) async fn blocked(State(shared): State<AppState>) -> JsonLine {
    let peers: Vec<String> = shared
        .node
        .blocked()
        .iter()
        .map(|a| a.to_string())
        .collect();
    JsonLine(json!({ "peers": peers }))
}

/// `PUT /v1/test/blocked` `{"peers": ["HOST:PORT", ...]}`: from now on send nothing to these
/// gossip addresses (in place of the previous list; `[]` heals).
pub(super) async fn set_blocked(
    State(shared): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<JsonLine, ApiError> {
    let body = parse_body(body)?;
    let Some(Value::Array(list)) = body.get("peers") else {
        return Err(ApiError::bad_request(
            "bad_field",
            "expected {\"peers\": [\"HOST:PORT\", ...]}",
        ));
    };
    let mut peers = std::collections::BTreeSet::new();
    for item in list {
        let addr = item
            .as_str()
            .and_then(|s| s.parse::<std::net::SocketAddr>().ok())
            .ok_or_else(|| {
                ApiError::bad_request("bad_addr", format!("{item} is not a HOST:PORT address"))
            })?;
        peers.insert(addr);
    }
    let count = peers.len();
    if !shared.node.set_blocked(peers) {
        return Err(ApiError::not_found("the test fault layer is off"));
    }
    Ok(JsonLine(json!({ "blocked": count })))
}
