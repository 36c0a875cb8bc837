//! The `echo` workload: every `echo` is answered with the same value.

use gossip_transport::{Stats, Time};

use super::{Reply, Workload, not_supported};
use crate::Rejection;
use crate::protocol::{ErrorCode, Inbound, NodeId};

/// Echo: no state, no replication.
#[derive(Debug)]
pub(crate) struct Echo;

impl Workload for Echo {
    fn request(&mut self, _now: Time, msg: &Inbound) -> Result<Reply, Rejection> {
        match msg.kind.as_str() {
            "echo" => {
                let echo = msg
                    .body
                    .get("echo")
                    .cloned()
                    .ok_or_else(|| Rejection::malformed("`echo` needs an `echo` field"))?;
                Ok(Reply::ok("echo_ok").with("echo", echo))
            }
            _ => Err(not_supported("echo", msg)),
        }
    }

    fn gossip(&mut self, _now: Time, _from: &NodeId, _body: &str) -> Result<(), Rejection> {
        Err(Rejection::new(
            ErrorCode::NotSupported,
            "the echo workload does not replicate",
        ))
    }

    fn handle_timeout(&mut self, _now: Time) {}

    fn poll_transmit(&mut self) -> Option<(NodeId, String)> {
        None
    }

    fn poll_timeout(&self) -> Option<Time> {
        None
    }

    fn stats(&self) -> Option<&Stats> {
        None
    }

    fn is_held_elsewhere(&self, _dot: &gossip_crdt::Dot<gossip_transport::ReplicaId>) -> bool {
        true
    }
}
