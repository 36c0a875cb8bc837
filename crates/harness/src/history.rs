//! The history: Jepsen-style operations (invoke / ok / fail / info) with times in nanoseconds
//! since the main phase began, process ids, and the `final?` flag.
//!
//! Checkers read only this (plus the network journal), so a history written to
//! `history.jsonl` is enough to re-check a run.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::value::OpValue;

/// The type of an op.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpType {
    /// An invocation.
    Invoke,
    /// Definitely happened.
    Ok,
    /// Definitely did not happen.
    Fail,
    /// Unknown: may or may not have happened.
    Info,
}

impl OpType {
    /// Jepsen's keyword spelling, for console lines.
    pub fn keyword(self) -> &'static str {
        match self {
            OpType::Invoke => ":invoke",
            OpType::Ok => ":ok",
            OpType::Fail => ":fail",
            OpType::Info => ":info",
        }
    }
}

/// Who performed an op.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Process {
    /// A client worker's process id (thread id, plus the concurrency after each crash).
    Worker(u64),
    /// The nemesis.
    Nemesis(NemesisTag),
}

/// Serialises as the string `"nemesis"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NemesisTag {
    /// The nemesis.
    Nemesis,
}

impl Process {
    /// The nemesis process.
    pub const NEMESIS: Process = Process::Nemesis(NemesisTag::Nemesis);

    /// Whether this is a client process.
    pub fn is_client(self) -> bool {
        matches!(self, Process::Worker(_))
    }
}

/// Why an op ended as `info` with an exception (Jepsen records the thrown exception).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exception {
    /// A class-like name used for grouping: `malformed-rpc-response`, `rpc-error`, `timeout`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Human-readable detail.
    pub message: String,
}

/// One history entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Op {
    /// Position in the history.
    pub index: u64,
    /// invoke / ok / fail / info.
    #[serde(rename = "type")]
    pub kind: OpType,
    /// The function, e.g. `broadcast`, `read`, `add`, `start-partition`.
    pub f: String,
    /// The argument or result (reads of integer sets are kept compactly, see [`OpValue`]).
    pub value: OpValue,
    /// Who did it.
    pub process: Process,
    /// Nanoseconds since the main phase began.
    pub time: u64,
    /// A final read.
    #[serde(rename = "final?", default, skip_serializing_if = "std::ops::Not::not")]
    pub is_final: bool,
    /// Error detail of a fail/info completion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    /// The exception behind an info completion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception: Option<Exception>,
}

impl Op {
    /// Whether this op belongs to a client process.
    pub fn is_client(&self) -> bool {
        self.process.is_client()
    }
}

/// The whole history, in order.
#[derive(Debug, Clone, Default)]
pub struct History {
    ops: Vec<Op>,
}

impl History {
    /// An empty history.
    pub fn new() -> History {
        History::default()
    }

    /// Build from ops (re-indexing them in order); for tests and re-analysis.
    pub fn from_ops(ops: impl IntoIterator<Item = Op>) -> History {
        let mut h = History::new();
        for op in ops {
            h.push(op);
        }
        h
    }

    /// Append an op, assigning its index. Returns the index.
    pub fn push(&mut self, mut op: Op) -> u64 {
        op.index = self.ops.len() as u64;
        let i = op.index;
        self.ops.push(op);
        i
    }

    /// Every op.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// Number of ops.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Client invocations (the denominator of msgs-per-op).
    pub fn client_invocations(&self) -> usize {
        self.ops
            .iter()
            .filter(|o| o.is_client() && o.kind == OpType::Invoke)
            .count()
    }

    /// Pairs each client invocation with its completion (if any), in invocation order.
    pub fn pairs(&self) -> Vec<(&Op, Option<&Op>)> {
        let mut open: std::collections::HashMap<u64, usize> = Default::default();
        let mut out: Vec<(&Op, Option<&Op>)> = Vec::new();
        for op in &self.ops {
            let Process::Worker(p) = op.process else {
                continue;
            };
            if op.kind == OpType::Invoke {
                open.insert(p, out.len());
                out.push((op, None));
            } else if let Some(i) = open.remove(&p) {
                out[i].1 = Some(op);
            }
        }
        out
    }
}

/// Builders for hand-made histories in tests.
pub mod build {
    use super::*;

    /// An op with the given fields (index assigned by [`History::push`]).
    pub fn op(process: u64, kind: OpType, f: &str, value: Value, time_ms: u64) -> Op {
        Op {
            index: 0,
            kind,
            f: f.to_owned(),
            value: value.into(),
            process: Process::Worker(process),
            time: time_ms * 1_000_000,
            is_final: false,
            error: None,
            exception: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::build::op;
    use super::*;
    use serde_json::json;

    #[test]
    fn serialises_like_jepsen() {
        let mut o = op(3, OpType::Ok, "read", json!(["a", 2]), 5);
        o.is_final = true;
        let s = serde_json::to_string(&o).unwrap_or_default();
        assert_eq!(
            s,
            r#"{"index":0,"type":"ok","f":"read","value":["a",2],"process":3,"time":5000000,"final?":true}"#
        );
        // A read of distinct integers is stored as ranges, and read back from either form.
        let o = op(3, OpType::Ok, "read", json!([1, 2, 4]), 5);
        let s = serde_json::to_string(&o).unwrap_or_default();
        assert!(s.contains(r#""value":{"int-ranges":[[1,2],[4,4]]}"#), "{s}");
        let back: Option<Op> = serde_json::from_str(&s).ok();
        assert_eq!(back.as_ref(), Some(&o));
        let plain = s.replace(r#"{"int-ranges":[[1,2],[4,4]]}"#, "[4,1,2]");
        let back: Option<Op> = serde_json::from_str(&plain).ok();
        assert_eq!(back, Some(o));
        let mut n = op(0, OpType::Info, "start-partition", json!("majority"), 0);
        n.process = Process::NEMESIS;
        let s = serde_json::to_string(&n).unwrap_or_default();
        assert!(s.contains(r#""process":"nemesis""#), "{s}");
        let back: Result<Op, _> = serde_json::from_str(&s);
        assert_eq!(back.ok().map(|o| o.process), Some(Process::NEMESIS));
    }

    #[test]
    fn pairs_match_invocations_to_completions() {
        let h = History::from_ops([
            op(0, OpType::Invoke, "read", Value::Null, 0),
            op(1, OpType::Invoke, "add", json!(1), 1),
            op(1, OpType::Ok, "add", json!(1), 2),
            op(0, OpType::Info, "read", Value::Null, 3),
            op(0, OpType::Invoke, "read", Value::Null, 4),
        ]);
        let p = h.pairs();
        assert_eq!(p.len(), 3);
        assert_eq!(p[0].1.map(|o| o.index), Some(3));
        assert_eq!(p[1].1.map(|o| o.index), Some(2));
        assert!(p[2].1.is_none());
        assert_eq!(h.client_invocations(), 3);
    }
}
