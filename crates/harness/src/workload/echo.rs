//! The echo workload: `echo` requests with `"Please echo <k>"`, no final phase.

use rand::RngExt;
use serde_json::{Value, json};

use super::{Workload, body};
use crate::checker::echo as echo_checker;
use crate::client::{Completion, ErrorStyle, OpSpec};
use crate::history::History;
use crate::history::OpType;
use crate::options::WorkloadKind;
use crate::rng::Rng;
use crate::schema::{Body, FieldType, ResponseSchema};
use crate::value::OpValue;

/// The echo workload.
#[derive(Debug, Default)]
pub struct Echo;

impl Workload for Echo {
    fn kind(&self) -> WorkloadKind {
        WorkloadKind::Echo
    }

    fn has_final_phase(&self) -> bool {
        false
    }

    fn next_op(&mut self, rng: &mut Rng) -> OpSpec {
        let k: u32 = rng.random_range(0..128);
        OpSpec {
            f: "echo",
            value: json!(format!("Please echo {k}")),
            is_final: false,
        }
    }

    fn final_op(&self) -> OpSpec {
        OpSpec {
            f: "echo",
            value: json!("Please echo 0"),
            is_final: false,
        }
    }

    fn request(&self, op: &OpSpec) -> Value {
        body("echo", &[("echo", op.value.clone())])
    }

    fn schema(&self, _op: &OpSpec) -> ResponseSchema {
        ResponseSchema {
            kind: "echo_ok",
            fields: &[("echo", FieldType::Any)],
        }
    }

    fn style(&self, _op: &OpSpec) -> ErrorStyle {
        ErrorStyle::WithErrors { idempotent: false }
    }

    fn ok_value(&self, _op: &OpSpec, reply: Body) -> OpValue {
        // The history stores the whole response body.
        OpValue::Json(Value::Object(
            reply.into_iter().map(|(k, v)| (k, v.to_json())).collect(),
        ))
    }

    fn complete_fields(&self, op: &OpSpec, fields: Body, body: &str) -> Completion {
        let _ = fields;
        let mut c = super::default_complete_reply(self, op, body);
        if c.kind == OpType::Ok {
            // Exactly as received: an echoed array of integers keeps its order.
            if let Ok(v) = serde_json::from_str::<Value>(body) {
                c.value = OpValue::Json(v);
            }
        }
        c
    }

    fn check(&self, history: &History) -> Value {
        echo_checker::check(history)
    }
}
