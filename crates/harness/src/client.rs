//! Maelstrom's synchronous client: one connection per worker, one outstanding request,
//! a 5 s timeout, stale replies discarded, and the mapping from errors to outcomes.
//!
//! The engine owns the workers and drives them; this module holds their state and the pure
//! mapping from "what came back" to a history completion. `docs/maelstrom.md`, "Clients",
//! describes the behaviour.

use std::time::Duration;

use serde_json::{Value, json};

use crate::history::{Exception, OpType};
use crate::ids::{ClientId, MsgId, NodeIndex};
use crate::schema::RpcError;
use crate::time::Time;
use crate::value::OpValue;

/// Maelstrom's default RPC timeout.
pub const RPC_TIMEOUT: Duration = Duration::from_millis(5000);
/// Maelstrom's init handshake timeout.
pub const INIT_TIMEOUT: Duration = Duration::from_millis(10_000);

/// An op to invoke: its function and argument.
#[derive(Debug, Clone, PartialEq)]
pub struct OpSpec {
    /// The function, e.g. `read`.
    pub f: &'static str,
    /// The argument (`null` for reads).
    pub value: Value,
    /// Whether this is a final read (recorded as `final?`).
    pub is_final: bool,
}

/// How an op completed.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// ok / fail / info.
    pub kind: OpType,
    /// The result (or the invocation's value for failures).
    pub value: OpValue,
    /// Error detail.
    pub error: Option<Value>,
    /// The exception behind an info.
    pub exception: Option<Exception>,
}

/// One client connection: its id and its `msg_id` counter (1, 2, 3, ...).
#[derive(Debug, Clone)]
pub struct Conn {
    /// The connection's network id.
    pub id: ClientId,
    last_msg_id: u64,
}

impl Conn {
    /// A fresh connection.
    pub fn new(id: ClientId) -> Conn {
        Conn { id, last_msg_id: 0 }
    }

    /// The next request's `msg_id`.
    pub fn next_msg_id(&mut self) -> MsgId {
        self.last_msg_id += 1;
        MsgId(self.last_msg_id)
    }
}

/// A request waiting for its reply.
#[derive(Debug, Clone)]
pub struct InFlight {
    /// What was invoked.
    pub op: OpSpec,
    /// The request's `msg_id`.
    pub msg_id: MsgId,
    /// When it times out.
    pub deadline: Time,
}

/// A client worker thread, bound for life to one node.
#[derive(Debug, Clone)]
pub struct Worker {
    /// The node every request goes to (`nodes[thread mod n]`).
    pub node: NodeIndex,
    /// Current process id: starts at the thread number, grows by the concurrency after each
    /// `info` completion.
    pub process: u64,
    /// The open connection, if any (closed after an `info`, reopened on the next invoke).
    pub conn: Option<Conn>,
    /// The outstanding request, if any.
    pub in_flight: Option<InFlight>,
}

impl Worker {
    /// Whether the worker can take an op.
    pub fn is_idle(&self) -> bool {
        self.in_flight.is_none()
    }
}

/// Why a request did not succeed.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// No reply within the timeout.
    Timeout,
    /// An error reply.
    Error(RpcError),
    /// A reply that failed the response schema.
    Malformed(String),
}

/// How a workload's client turns failures into outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorStyle {
    /// `with-errors` (broadcast, echo): definite errors fail, timeouts and indefinite errors
    /// are info, except that idempotent ops (reads) always fail.
    WithErrors {
        /// Whether the op is a read.
        idempotent: bool,
    },
    /// No `with-errors` (g-set, counters): every failure is an exception, hence info.
    Plain,
}

/// Map a failure of `op` to its completion.
pub fn complete_failure(op: &OpSpec, style: ErrorStyle, failure: &Failure) -> Completion {
    let value = op.value.clone().into();
    match (style, failure) {
        (ErrorStyle::WithErrors { idempotent }, Failure::Timeout) => Completion {
            kind: if idempotent {
                OpType::Fail
            } else {
                OpType::Info
            },
            value,
            error: Some(json!("net-timeout")),
            exception: None,
        },
        (ErrorStyle::WithErrors { idempotent }, Failure::Error(e)) => Completion {
            kind: if e.code.definite || idempotent {
                OpType::Fail
            } else {
                OpType::Info
            },
            value,
            error: Some(json!([e.code.name, e.text])),
            exception: None,
        },
        (_, f) => {
            let exception = exception_of(f);
            Completion {
                kind: OpType::Info,
                value,
                error: Some(Value::String(format!(
                    "indeterminate: {}",
                    exception.message
                ))),
                exception: Some(exception),
            }
        }
    }
}

fn exception_of(f: &Failure) -> Exception {
    match f {
        Failure::Timeout => Exception {
            kind: "timeout".to_owned(),
            message: format!("Client read timeout after {} ms", RPC_TIMEOUT.as_millis()),
        },
        Failure::Error(e) => Exception {
            kind: "rpc-error".to_owned(),
            message: format!(
                "RPC error {} ({}){}",
                e.code.code,
                e.code.name,
                e.text
                    .as_deref()
                    .map(|t| format!(": {t}"))
                    .unwrap_or_default()
            ),
        },
        Failure::Malformed(why) => Exception {
            kind: "malformed-rpc-response".to_owned(),
            message: why.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error_code::lookup;

    fn op() -> OpSpec {
        OpSpec {
            f: "broadcast",
            value: json!(3),
            is_final: false,
        }
    }

    #[test]
    fn with_errors_mapping() {
        let w = ErrorStyle::WithErrors { idempotent: false };
        let r = ErrorStyle::WithErrors { idempotent: true };
        assert_eq!(
            complete_failure(&op(), w, &Failure::Timeout).kind,
            OpType::Info
        );
        assert_eq!(
            complete_failure(&op(), r, &Failure::Timeout).kind,
            OpType::Fail
        );
        let definite = Failure::Error(RpcError {
            code: lookup(11),
            text: None,
        });
        let indefinite = Failure::Error(RpcError {
            code: lookup(13),
            text: Some("x".into()),
        });
        assert_eq!(complete_failure(&op(), w, &definite).kind, OpType::Fail);
        assert_eq!(complete_failure(&op(), w, &indefinite).kind, OpType::Info);
        assert_eq!(complete_failure(&op(), r, &indefinite).kind, OpType::Fail);
        let c = complete_failure(&op(), w, &definite);
        assert_eq!(c.error, Some(json!(["temporarily-unavailable", null])));
        let m = complete_failure(&op(), r, &Failure::Malformed("bad".into()));
        assert_eq!(m.kind, OpType::Info);
        assert_eq!(
            m.exception.map(|e| e.kind),
            Some("malformed-rpc-response".to_owned())
        );
    }

    #[test]
    fn plain_mapping_is_always_info() {
        for f in [
            Failure::Timeout,
            Failure::Error(RpcError {
                code: lookup(11),
                text: None,
            }),
            Failure::Malformed("x".into()),
        ] {
            let c = complete_failure(&op(), ErrorStyle::Plain, &f);
            assert_eq!(c.kind, OpType::Info);
            assert!(c.exception.is_some());
            assert!(
                c.error
                    .as_ref()
                    .and_then(Value::as_str)
                    .is_some_and(|s| s.starts_with("indeterminate: "))
            );
        }
    }

    #[test]
    fn msg_ids_count_from_one() {
        let mut c = Conn::new(ClientId(4));
        assert_eq!(c.next_msg_id(), MsgId(1));
        assert_eq!(c.next_msg_id(), MsgId(2));
    }
}
