//! The g-set workload (§3.3): adds of unique integers and reads of `value`, one final read per
//! worker (not flagged `final?`), every failure an `info`; judged by set-full.

use rand::RngExt;
use serde_json::{Value, json};

use super::{OpSpec, Workload, body};
use crate::checker::set_full;
use crate::client::ErrorStyle;
use crate::history::History;
use crate::options::WorkloadKind;
use crate::rng::Rng;
use crate::schema::{Body, FieldType, ResponseSchema};
use crate::value::OpValue;

/// The g-set workload.
#[derive(Debug, Default)]
pub struct GSet {
    next_value: u64,
}

impl Workload for GSet {
    fn kind(&self) -> WorkloadKind {
        WorkloadKind::GSet
    }

    fn next_op(&mut self, rng: &mut Rng) -> OpSpec {
        if rng.random_bool(0.5) {
            let v = self.next_value;
            self.next_value += 1;
            OpSpec {
                f: "add",
                value: json!(v),
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
            is_final: false,
        }
    }

    fn request(&self, op: &OpSpec) -> Value {
        match op.f {
            "add" => body("add", &[("element", op.value.clone())]),
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
                fields: &[("value", FieldType::Array)],
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
        set_full::check(history, "add")
    }
}
