//! The echo workload (§3.1): `echo` requests with `"Please echo <k>"`, no final phase.

use rand::RngExt;
use serde_json::{Map, Value, json};

use super::{OpSpec, Workload, body};
use crate::checker::echo as echo_checker;
use crate::client::ErrorStyle;
use crate::history::History;
use crate::options::WorkloadKind;
use crate::rng::Rng;
use crate::schema::{FieldType, ResponseSchema};

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

    fn ok_value(&self, _op: &OpSpec, reply: &Map<String, Value>) -> Value {
        // The history stores the whole response body.
        Value::Object(reply.clone())
    }

    fn check(&self, history: &History) -> Value {
        echo_checker::check(history)
    }
}
