//! The workloads against agents: which HTTP request each op is, how an answer becomes a
//! history completion, and the checks beyond the harness's own checkers.
//!
//! | workload | writes | reads | judged by |
//! |---|---|---|---|
//! | `g-set`, `broadcast` | `POST /v1/sets/s {"add":[v]}`, unique integers | `GET /v1/sets/s` | set-full, and every final read (one per agent) holds every acknowledged add |
//! | `g-counter`, `pn-counter` | `POST /v1/counters/c {"increment":d}` | `GET /v1/counters/c` | the counter checker on the final reads (one per agent) |
//! | `register` | `PUT /v1/registers/r {"value":v,"context":c}` (c: the worker's last context, or empty) | `GET /v1/registers/r` | the final reads agree, and every acknowledged value is in them unless a write that saw it replaced it |

use std::collections::{BTreeMap, BTreeSet};

use rand::RngExt;
use serde_json::{Value, json};

use crate::checker::{Validity, counter, set_full};
use crate::history::{History, OpType};

/// The workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Unique integer adds to one set.
    GSet,
    /// The same as g-set, under Maelstrom's name.
    Broadcast,
    /// Increments of 0..4.
    GCounter,
    /// Increments of -5..4.
    PnCounter,
    /// Multi-value register writes, concurrent with everything or with the context of the
    /// worker's last answer.
    Register,
}

impl Kind {
    /// Every workload.
    pub const ALL: [Kind; 5] = [
        Kind::GSet,
        Kind::Broadcast,
        Kind::GCounter,
        Kind::PnCounter,
        Kind::Register,
    ];

    /// The name on the command line and in the store.
    pub fn name(self) -> &'static str {
        match self {
            Kind::GSet => "g-set",
            Kind::Broadcast => "broadcast",
            Kind::GCounter => "g-counter",
            Kind::PnCounter => "pn-counter",
            Kind::Register => "register",
        }
    }

    /// The workload of this name.
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// The harness workload whose options and plots a run records (the register has none of
    /// its own there; its name is in `test.json`).
    pub fn harness_kind(self) -> crate::options::WorkloadKind {
        use crate::options::WorkloadKind as W;
        match self {
            Kind::GSet | Kind::Register => W::GSet,
            Kind::Broadcast => W::Broadcast,
            Kind::GCounter => W::GCounter,
            Kind::PnCounter => W::PnCounter,
        }
    }

    fn path(self) -> &'static str {
        match self {
            Kind::GSet | Kind::Broadcast => "/v1/sets/s",
            Kind::GCounter | Kind::PnCounter => "/v1/counters/c",
            Kind::Register => "/v1/registers/r",
        }
    }
}

/// One op a worker is about to run.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// A set add or counter increment of this value.
    Add(i64),
    /// A register write of `value`, with the context of an earlier answer that showed `saw`.
    Write {
        /// The value (unique).
        value: i64,
        /// The context the write replaces (`Some("")` replaces nothing; `None` would replace
        /// whatever the agent holds).
        context: Option<String>,
        /// The values that context covers.
        saw: Vec<Value>,
    },
    /// A read.
    Read,
}

/// What a worker remembers between ops: the register context of its last answer.
#[derive(Debug, Clone, Default)]
pub struct WorkerState {
    context: Option<(String, Vec<Value>)>,
}

/// Draws the next main-phase op: half writes, half reads; register writes use the worker's
/// last context half of the time and the empty context otherwise.
pub fn next_op(
    kind: Kind,
    rng: &mut crate::rng::Rng,
    fresh: &mut dyn FnMut() -> i64,
    w: &WorkerState,
) -> Op {
    if rng.random_bool(0.5) {
        return Op::Read;
    }
    match kind {
        Kind::GSet | Kind::Broadcast => Op::Add(fresh()),
        Kind::GCounter => Op::Add(rng.random_range(0..5)),
        Kind::PnCounter => Op::Add(rng.random_range(-5..5)),
        Kind::Register => {
            // The empty context replaces nothing: the write is concurrent with every value.
            // (A write without any context would replace whatever the agent holds, which the
            // client never saw, so the check could not tell a replaced value from a lost one.)
            let (context, saw) = match &w.context {
                Some((c, saw)) if rng.random_bool(0.5) => (Some(c.clone()), saw.clone()),
                _ => (Some(String::new()), Vec::new()),
            };
            Op::Write {
                value: fresh(),
                context,
                saw,
            }
        }
    }
}

/// The history function name and value of an invocation.
pub fn invocation(op: &Op) -> (&'static str, Value) {
    match op {
        Op::Add(v) => ("add", json!(v)),
        Op::Write { value, saw, .. } => ("write", json!({"value": value, "saw": saw})),
        Op::Read => ("read", Value::Null),
    }
}

/// The request for an op: method, path (with the ack level for writes) and body.
pub fn request(kind: Kind, op: &Op, ack_query: &str) -> (&'static str, String, Option<String>) {
    let path = kind.path();
    match op {
        Op::Read => ("GET", path.to_owned(), None),
        Op::Add(v) => {
            let body = match kind {
                Kind::GCounter | Kind::PnCounter => json!({"increment": v}),
                _ => json!({"add": [v]}),
            };
            (
                "POST",
                format!("{path}?{ack_query}"),
                Some(body.to_string()),
            )
        }
        Op::Write { value, context, .. } => {
            let body = match context {
                Some(c) => json!({"value": value, "context": c}),
                None => json!({"value": value}),
            };
            ("PUT", format!("{path}?{ack_query}"), Some(body.to_string()))
        }
    }
}

/// A completion: its type, value and error detail.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// ok, fail or info.
    pub kind: OpType,
    /// The history value.
    pub value: Value,
    /// Error detail (status and body) for fail and info.
    pub error: Option<Value>,
}

/// Turns an HTTP answer into a completion, updating the worker's register context.
///
/// Writes: 200 is ok; 503 (the ack level was not reached in time, the write is applied
/// locally) and an answer lost after connecting are info; any other refusal is a fail (the
/// agent applies nothing it refuses). Reads: 200 is ok; 404 (never written) is an ok read of
/// the empty value; anything else fails.
pub fn complete(
    kind: Kind,
    op: &Op,
    answer: Result<super::http::Answer, super::http::HttpError>,
    w: &mut WorkerState,
) -> Outcome {
    let (_, inv_value) = invocation(op);
    let answer = match answer {
        Ok(a) => a,
        Err(e) => {
            let kind = if e.definitely_not_applied() || matches!(op, Op::Read) {
                OpType::Fail
            } else {
                OpType::Info
            };
            return Outcome {
                kind,
                value: inv_value,
                error: Some(json!(e.to_string())),
            };
        }
    };
    let body: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
    let failure = |t: OpType| Outcome {
        kind: t,
        value: invocation(op).1,
        error: Some(json!({"status": answer.status, "body": body.clone()})),
    };
    match (op, answer.status) {
        (Op::Read, 200) => {
            let value = match kind {
                Kind::Register => {
                    let values = body["values"].clone();
                    if let (Some(c), Some(vs)) = (body["context"].as_str(), values.as_array()) {
                        w.context = Some((c.to_owned(), vs.clone()));
                    }
                    values
                }
                _ => body["value"].clone(),
            };
            Outcome {
                kind: OpType::Ok,
                value,
                error: None,
            }
        }
        (Op::Read, 404) => Outcome {
            kind: OpType::Ok,
            value: match kind {
                Kind::GCounter | Kind::PnCounter => json!(0),
                _ => json!([]),
            },
            error: None,
        },
        (Op::Read, _) => failure(OpType::Fail),
        (_, 200) => {
            if let (Some(c), Some(vs)) = (body["context"].as_str(), body["values"].as_array()) {
                w.context = Some((c.to_owned(), vs.clone()));
            }
            Outcome {
                kind: OpType::Ok,
                value: inv_value,
                error: None,
            }
        }
        (_, 503) => failure(OpType::Info),
        _ => failure(OpType::Fail),
    }
}

/// The read request of `kind` (method and path), as a final read sends it.
pub fn read_request(kind: Kind) -> (&'static str, &'static str) {
    ("GET", kind.path())
}

/// What an agent's read shows, in a form two agents' reads can be compared in: the read's
/// history value with any list sorted (a set or the register's siblings in any order are
/// the same state). None if the answer is not a successful read.
pub fn comparable_read(
    kind: Kind,
    answer: Result<super::http::Answer, super::http::HttpError>,
) -> Option<Value> {
    let out = complete(kind, &Op::Read, answer, &mut WorkerState::default());
    if out.kind != OpType::Ok {
        return None;
    }
    Some(match out.value {
        Value::Array(mut items) => {
            items.sort_by_cached_key(Value::to_string);
            Value::Array(items)
        }
        v => v,
    })
}

/// Judges a history of `kind`: the harness's checker, plus the agents-specific checks.
pub fn check(kind: Kind, h: &History) -> Value {
    match kind {
        Kind::GSet | Kind::Broadcast => {
            let mut r = set_full::check(h, "add");
            let every = every_agent_has_every_add(h);
            let valid = Validity::of(&r).merge(Validity::of(&every));
            if let Some(m) = r.as_object_mut() {
                m.insert("every-agent".into(), every);
                m.insert("valid?".into(), valid.to_json());
            }
            r
        }
        Kind::GCounter | Kind::PnCounter => counter::check(h),
        Kind::Register => check_register(h),
    }
}

fn final_reads(h: &History) -> Vec<&crate::history::Op> {
    h.ops()
        .iter()
        .filter(|o| o.is_client() && o.f == "read" && o.kind == OpType::Ok && o.is_final)
        .collect()
}

/// Every acknowledged add is in every agent's final read.
fn every_agent_has_every_add(h: &History) -> Value {
    let acked: BTreeSet<i64> = h
        .ops()
        .iter()
        .filter(|o| o.is_client() && o.f == "add" && o.kind == OpType::Ok)
        .filter_map(|o| o.value.as_i64())
        .collect();
    let finals = final_reads(h);
    let mut missing: BTreeMap<u64, Vec<i64>> = BTreeMap::new();
    for r in &finals {
        let seen: BTreeSet<i64> = r
            .value
            .to_json()
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default();
        let gone: Vec<i64> = acked.difference(&seen).copied().collect();
        if let (false, crate::history::Process::Worker(p)) = (gone.is_empty(), r.process) {
            missing.insert(p, gone);
        }
    }
    let valid = if finals.is_empty() {
        Validity::Unknown
    } else if missing.is_empty() {
        Validity::Valid
    } else {
        Validity::Invalid
    };
    json!({
        "valid?": valid.to_json(),
        "acknowledged-count": acked.len(),
        "final-read-count": finals.len(),
        "lost-count": missing.values().flatten().collect::<BTreeSet<_>>().len(),
        "missing-by-reader": missing,
    })
}

/// The register check: the final reads agree; every acknowledged value is in them unless a
/// write (ok or info) that saw it replaced it; no final value was never written.
fn check_register(h: &History) -> Value {
    let finals = final_reads(h);
    let sets: Vec<BTreeSet<String>> = finals
        .iter()
        .map(|o| {
            o.value
                .to_json()
                .as_array()
                .map(|a| a.iter().map(Value::to_string).collect())
                .unwrap_or_default()
        })
        .collect();
    let converged = sets.windows(2).all(|w| w[0] == w[1]);
    let last: BTreeSet<String> = sets.first().cloned().unwrap_or_default();
    let mut written = BTreeSet::new();
    let mut acked = BTreeSet::new();
    let mut replaced = BTreeSet::new();
    for o in h.ops().iter().filter(|o| o.is_client() && o.f == "write") {
        let v = o.value.to_json();
        let value = v["value"].to_string();
        match o.kind {
            OpType::Invoke => {
                written.insert(value);
            }
            OpType::Ok | OpType::Info => {
                if o.kind == OpType::Ok {
                    acked.insert(value);
                }
                for s in v["saw"].as_array().into_iter().flatten() {
                    replaced.insert(s.to_string());
                }
            }
            OpType::Fail => {}
        }
    }
    let lost: Vec<&String> = acked
        .iter()
        .filter(|v| !last.contains(*v) && !replaced.contains(*v))
        .collect();
    let unexpected: Vec<&String> = last.iter().filter(|v| !written.contains(*v)).collect();
    let valid = if finals.is_empty() {
        Validity::Unknown
    } else if converged && lost.is_empty() && unexpected.is_empty() {
        Validity::Valid
    } else {
        Validity::Invalid
    };
    json!({
        "valid?": valid.to_json(),
        "converged?": converged,
        "final-reads": finals.iter().map(|o| o.value.to_json()).collect::<Vec<_>>(),
        "acknowledged-count": acked.len(),
        "replaced-count": replaced.len(),
        "lost-count": lost.len(),
        "lost": lost,
        "unexpected": unexpected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::build::op;
    use crate::history::{Op as HOp, OpType::*};

    fn final_read(p: u64, v: Value, t: u64) -> [HOp; 2] {
        let mut inv = op(p, Invoke, "read", Value::Null, t);
        let mut ok = op(p, Ok, "read", v, t + 1);
        inv.is_final = true;
        ok.is_final = true;
        [inv, ok]
    }

    fn write(p: u64, kind: OpType, v: i64, saw: &[i64], t: u64) -> [HOp; 2] {
        let val = json!({"value": v, "saw": saw});
        [
            op(p, Invoke, "write", val.clone(), t),
            op(p, kind, "write", val, t + 1),
        ]
    }

    #[test]
    fn register_loses_nothing_a_later_write_did_not_replace() {
        // 1 acked, then 2 written having seen 1: the final [2] is fine.
        let mut ops: Vec<HOp> = Vec::new();
        ops.extend(write(0, Ok, 1, &[], 0));
        ops.extend(write(1, Ok, 2, &[1], 10));
        ops.extend(final_read(0, json!([2]), 20));
        ops.extend(final_read(1, json!([2]), 20));
        let r = check_register(&History::from_ops(ops.clone()));
        assert_eq!(r["valid?"], json!(true), "{r}");
        // 3 acked and seen by nobody, absent from the end: lost.
        ops.extend(write(2, Ok, 3, &[], 12));
        let r = check_register(&History::from_ops(ops.clone()));
        assert_eq!(r["valid?"], json!(false), "{r}");
        assert_eq!(r["lost-count"], json!(1));
        // Agents that disagree at the end: not converged.
        let mut split: Vec<HOp> = Vec::new();
        split.extend(write(0, Ok, 1, &[], 0));
        split.extend(final_read(0, json!([1]), 20));
        split.extend(final_read(1, json!([]), 20));
        let r = check_register(&History::from_ops(split));
        assert_eq!(r["converged?"], json!(false), "{r}");
        assert_eq!(r["valid?"], json!(false));
    }

    #[test]
    fn sets_need_every_acknowledged_add_at_every_agent() {
        let mut ops: Vec<HOp> = vec![
            op(0, Invoke, "add", json!(0), 0),
            op(0, Ok, "add", json!(0), 1),
        ];
        ops.extend(final_read(0, json!([0]), 5));
        ops.extend(final_read(1, json!([0]), 5));
        let r = check(Kind::GSet, &History::from_ops(ops.clone()));
        assert_eq!(r["every-agent"]["valid?"], json!(true), "{r}");
        ops.extend(final_read(2, json!([]), 6));
        let r = check(Kind::GSet, &History::from_ops(ops));
        assert_eq!(r["every-agent"]["valid?"], json!(false), "{r}");
        assert_eq!(r["valid?"], json!(false));
    }

    #[test]
    fn reads_compare_as_states_not_as_text() {
        use super::super::http::{Answer, HttpError};
        let ok = |status: u16, body: &str| {
            Result::<Answer, HttpError>::Ok(Answer {
                status,
                body: body.to_owned(),
            })
        };
        let a = comparable_read(Kind::GSet, ok(200, r#"{"value":[3,1,2]}"#));
        let b = comparable_read(Kind::GSet, ok(200, r#"{"value":[1,2,3]}"#));
        assert_eq!(a, Some(json!([1, 2, 3])));
        assert_eq!(a, b);
        let r1 = comparable_read(Kind::Register, ok(200, r#"{"values":[5,4],"context":"x"}"#));
        let r2 = comparable_read(Kind::Register, ok(200, r#"{"values":[4,5],"context":"y"}"#));
        assert_eq!(r1, r2);
        assert_eq!(
            comparable_read(Kind::GCounter, ok(200, r#"{"value":7}"#)),
            Some(json!(7))
        );
        // Never written: the empty value, equal to an agent that has nothing yet.
        assert_eq!(
            comparable_read(Kind::GCounter, ok(404, "{}")),
            Some(json!(0))
        );
        // Not a read: nothing to compare.
        assert_eq!(comparable_read(Kind::GSet, ok(500, "{}")), None);
        let refused = Err(HttpError::Connect(std::io::Error::other("refused")));
        assert_eq!(comparable_read(Kind::GSet, refused), None);
    }

    #[test]
    fn answers_map_to_outcomes() {
        use super::super::http::{Answer, HttpError};
        let mut w = WorkerState::default();
        let ok = |status: u16, body: &str| {
            Result::<Answer, HttpError>::Ok(Answer {
                status,
                body: body.to_owned(),
            })
        };
        let add = Op::Add(3);
        assert_eq!(complete(Kind::GSet, &add, ok(200, "{}"), &mut w).kind, Ok);
        assert_eq!(complete(Kind::GSet, &add, ok(503, "{}"), &mut w).kind, Info);
        assert_eq!(complete(Kind::GSet, &add, ok(501, "{}"), &mut w).kind, Fail);
        let lost = Err(HttpError::Io(std::io::Error::other("reset")));
        assert_eq!(complete(Kind::GSet, &add, lost, &mut w).kind, Info);
        let refused = Err(HttpError::Connect(std::io::Error::other("refused")));
        assert_eq!(complete(Kind::GSet, &add, refused, &mut w).kind, Fail);
        let read = complete(Kind::PnCounter, &Op::Read, ok(404, "{}"), &mut w);
        assert_eq!((read.kind, read.value), (Ok, json!(0)));
        let r = complete(
            Kind::Register,
            &Op::Read,
            ok(200, r#"{"values":[4,5],"context":"c1"}"#),
            &mut w,
        );
        assert_eq!(r.value, json!([4, 5]));
        assert_eq!(w.context, Some(("c1".to_owned(), vec![json!(4), json!(5)])));
    }
}
