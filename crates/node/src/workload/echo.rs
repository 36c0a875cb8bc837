//! The `echo` workload: every `echo` is answered with the same value.

use gossip_transport::Time;

use super::{Reply, Workload, not_supported};
use crate::Rejection;
use crate::protocol::Inbound;

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
}
