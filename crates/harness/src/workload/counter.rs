//! The pn-counter and g-counter workloads (§3.4, §3.5): adds of small deltas (-5..4, or 0..4
//! for g-counter) and integer reads, one `final?` read per worker; judged by the counter
//! checker.

use rand::RngExt;
use serde_json::{Value, json};

use super::{OpSpec, Workload, body};
use crate::checker::counter;
use crate::client::ErrorStyle;
use crate::history::History;
use crate::options::WorkloadKind;
use crate::rng::Rng;
use crate::schema::{Body, FieldType, ResponseSchema};
use crate::value::OpValue;

/// A counter workload.
#[derive(Debug)]
pub struct Counter {
    negative: bool,
}

impl Counter {
    /// pn-counter when `negative`, else g-counter.
    pub fn new(negative: bool) -> Counter {
        Counter { negative }
    }
}

impl Workload for Counter {
    fn kind(&self) -> WorkloadKind {
        if self.negative {
            WorkloadKind::PnCounter
        } else {
            WorkloadKind::GCounter
        }
    }

    fn next_op(&mut self, rng: &mut Rng) -> OpSpec {
        if rng.random_bool(0.5) {
            // pn: randint(0..9) - 5; g: the same with negatives filtered out, i.e. uniform 0..4.
            let delta: i64 = if self.negative {
                rng.random_range(0..10) - 5
            } else {
                rng.random_range(0..5)
            };
            OpSpec {
                f: "add",
                value: json!(delta),
                is_final: false,
            }
        } else {
            OpSpec {
                f: "read",
                value: Value::Null,
                is_final: false,
            }
        }
    }

    fn final_op(&self) -> OpSpec {
        OpSpec {
            f: "read",
            value: Value::Null,
            is_final: true,
        }
    }

    fn request(&self, op: &OpSpec) -> Value {
        match op.f {
            "add" => body("add", &[("delta", op.value.clone())]),
            _ => body("read", &[]),
        }
    }

    fn schema(&self, op: &OpSpec) -> ResponseSchema {
        match op.f {
            "add" => ResponseSchema {
                kind: "add_ok",
                fields: &[],
            },
            _ => ResponseSchema {
                kind: "read_ok",
                fields: &[("value", FieldType::Int)],
            },
        }
    }

    fn style(&self, _op: &OpSpec) -> ErrorStyle {
        ErrorStyle::Plain
    }

    fn ok_value(&self, op: &OpSpec, mut reply: Body) -> OpValue {
        match op.f {
            "add" => op.value.clone().into(),
            _ => reply.remove("value").unwrap_or_default(),
        }
    }

    fn check(&self, history: &History) -> Value {
        counter::check(history)
    }
}
