//! The broadcast workload (§3.2): topology at setup, a 50/50 mix of unique-integer broadcasts
//! and reads, one final read per worker; judged by set-full with `broadcast` as the add.

use rand::RngExt;
use serde_json::{Value, json};

use super::{OpSpec, Workload, body};
use crate::checker::set_full;
use crate::client::ErrorStyle;
use crate::history::History;
use crate::ids::NodeId;
use crate::options::{TestOptions, WorkloadKind};
use crate::rng::Rng;
use crate::schema::{Body, FieldType, ResponseSchema};
use crate::topology;
use crate::value::OpValue;

/// The broadcast workload.
#[derive(Debug)]
pub struct Broadcast {
    next_value: u64,
    /// The `topology` request, built once: every node gets the whole map.
    topology: Value,
}

impl Broadcast {
    /// The workload with the run's topology.
    pub fn new(opts: &TestOptions) -> Broadcast {
        Broadcast {
            next_value: 0,
            topology: body(
                "topology",
                &[(
                    "topology",
                    json!(topology::build(opts.topology, &opts.nodes)),
                )],
            ),
        }
    }
}

impl Workload for Broadcast {
    fn kind(&self) -> WorkloadKind {
        WorkloadKind::Broadcast
    }

    fn next_op(&mut self, rng: &mut Rng) -> OpSpec {
        if rng.random_bool(0.5) {
            let v = self.next_value;
            self.next_value += 1;
            OpSpec {
                f: "broadcast",
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
            is_final: true,
        }
    }

    fn request(&self, op: &OpSpec) -> Value {
        match op.f {
            "broadcast" => body("broadcast", &[("message", op.value.clone())]),
            _ => body("read", &[]),
        }
    }

    fn schema(&self, op: &OpSpec) -> ResponseSchema {
        match op.f {
            "broadcast" => ResponseSchema {
                kind: "broadcast_ok",
                fields: &[],
            },
            _ => ResponseSchema {
                kind: "read_ok",
                fields: &[("messages", FieldType::Array)],
            },
        }
    }

    fn style(&self, op: &OpSpec) -> ErrorStyle {
        ErrorStyle::WithErrors {
            idempotent: op.f == "read",
        }
    }

    fn ok_value(&self, op: &OpSpec, mut reply: Body) -> OpValue {
        match op.f {
            "broadcast" => op.value.clone().into(),
            _ => reply.remove("messages").unwrap_or_default(),
        }
    }

    fn setup_request(&self, _node: &NodeId) -> Option<Value> {
        Some(self.topology.clone())
    }

    fn check(&self, history: &History) -> Value {
        set_full::check(history, "broadcast")
    }
}
