//! # gossip-agent: a replicated store of CRDTs anyone can run, script and watch
//!
//! A `gossip-net` node hosting three named replicas, each a map from name to a CRDT:
//! `sets` (observed-remove sets of JSON values), `counters` (up and down) and `registers`
//! (multi-value registers that keep concurrent writes as siblings). An HTTP/JSON API writes
//! and reads them, a server-sent events stream follows changes, `/metrics` speaks
//! Prometheus and `/` is a live status page. `docs/agent.md` walks through it.
//!
//! ## Layout
//!
//! | module | job |
//! |---|---|
//! | [`keyspace`] | the semantics: requests to deltas, states to answers; pure functions |
//! | [`value`] | client JSON values as canonical text, and the order reads list them in |
//! | [`agent`] | one agent: the node, its three replicas, the watch hub, the HTTP server |
//! | `http` | routes, request checks, acknowledgement levels, the watch stream |
//! | `status` | the status page and the Prometheus text |
//! | [`error`] | [`AgentError`] (start and stop), [`ApiError`](error::ApiError) (HTTP answers) |

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod agent;
pub mod error;
mod http;
pub mod keyspace;
mod status;
pub mod value;

use std::net::SocketAddr;
use std::path::Path;

pub use agent::{Agent, AgentConfig, Security, TestFaultsError, parse_test_faults};
pub use error::AgentError;
use gossip_net::Keyring;

/// Reads a cluster key file: one line of hex as `gossip-agent keygen` prints it (several
/// keys separated by `,` while rotating).
pub fn read_key_file(path: &Path) -> Result<Keyring, AgentError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| AgentError::Key {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    Keyring::from_hex(text.trim()).map_err(|e| AgentError::Key {
        path: shown,
        reason: e.to_string(),
    })
}

/// Resolves `HOST:PORT` join addresses (names or literal addresses), first address of each.
pub async fn resolve_all(addrs: &[String]) -> Result<Vec<SocketAddr>, AgentError> {
    let mut out = Vec::new();
    for addr in addrs.iter().filter(|a| !a.trim().is_empty()) {
        let addr = addr.trim();
        let mut found = tokio::net::lookup_host(addr)
            .await
            .map_err(|e| AgentError::Resolve {
                addr: addr.to_owned(),
                reason: e.to_string(),
            })?;
        let first = found.next().ok_or_else(|| AgentError::Resolve {
            addr: addr.to_owned(),
            reason: "no address found".into(),
        })?;
        out.push(first);
    }
    Ok(out)
}
