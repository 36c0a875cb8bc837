//! The shape broadcast, g-set and the two counters share: a 50/50 mix of one kind
//! of write and reads, one final read per worker, and a checker over the history. They differ
//! only in names, the values written and the checker, so each is a [`Shape`] and this file is
//! their one [`Workload`].

use rand::RngExt;
use serde_json::{Value, json};

use super::{Workload, body};
use crate::client::{ErrorStyle, OpSpec};
use crate::history::History;
use crate::ids::NodeId;
use crate::options::WorkloadKind;
use crate::rng::Rng;
use crate::schema::{Body, FieldType, ResponseSchema};
use crate::value::OpValue;

/// What sets one write/read workload apart.
#[derive(Debug)]
pub struct Shape {
    /// Which workload this is.
    pub kind: WorkloadKind,
    /// The write's op name and request type (`broadcast`, `add`).
    pub write: &'static str,
    /// The request field carrying the written value (`message`, `element`, `delta`).
    pub write_field: &'static str,
    /// The write's reply type (`broadcast_ok`, `add_ok`).
    pub write_ok: &'static str,
    /// The read reply's field and its type (`messages`, `value`).
    pub read_field: &'static [(&'static str, FieldType)],
    /// Whether final reads are flagged `final?` in the history.
    pub final_flagged: bool,
    /// Maelstrom's client uses `with-errors` (definite errors fail) rather than plain
    /// exceptions (every failure is info).
    pub with_errors: bool,
    /// The checker.
    pub check: fn(&History) -> Value,
}

/// The values written.
#[derive(Debug)]
pub enum Values {
    /// 0, 1, 2, ... (the set workloads: every element unique).
    Unique {
        /// The next one.
        next: u64,
    },
    /// Random counter deltas: `-5..=4`, or `0..=4` without negatives.
    Deltas {
        /// pn-counter rather than g-counter.
        negative: bool,
    },
}

/// A write/read workload.
#[derive(Debug)]
pub struct WriteRead {
    shape: &'static Shape,
    values: Values,
    /// The setup request sent to every node after init (broadcast's topology).
    setup: Option<Value>,
}

impl WriteRead {
    /// The workload of `shape`, writing `values`, with an optional setup request.
    pub fn new(shape: &'static Shape, values: Values, setup: Option<Value>) -> WriteRead {
        WriteRead {
            shape,
            values,
            setup,
        }
    }

    fn read_op(is_final: bool) -> OpSpec {
        OpSpec {
            f: "read",
            value: Value::Null,
            is_final,
        }
    }
}

impl Workload for WriteRead {
    fn kind(&self) -> WorkloadKind {
        self.shape.kind
    }

    fn next_op(&mut self, rng: &mut Rng) -> OpSpec {
        if !rng.random_bool(0.5) {
            return WriteRead::read_op(false);
        }
        let value = match &mut self.values {
            Values::Unique { next } => {
                *next += 1;
                json!(*next - 1)
            }
            // pn: randint(0..9) - 5; g: the same with negatives filtered out, i.e. 0..4.
            Values::Deltas { negative: true } => json!(rng.random_range(0..10i64) - 5),
            Values::Deltas { negative: false } => json!(rng.random_range(0..5i64)),
        };
        OpSpec {
            f: self.shape.write,
            value,
            is_final: false,
        }
    }

    fn final_op(&self) -> OpSpec {
        WriteRead::read_op(self.shape.final_flagged)
    }

    fn request(&self, op: &OpSpec) -> Value {
        if op.f == self.shape.write {
            body(
                self.shape.write,
                &[(self.shape.write_field, op.value.clone())],
            )
        } else {
            body("read", &[])
        }
    }

    fn schema(&self, op: &OpSpec) -> ResponseSchema {
        if op.f == self.shape.write {
            ResponseSchema {
                kind: self.shape.write_ok,
                fields: &[],
            }
        } else {
            ResponseSchema {
                kind: "read_ok",
                fields: self.shape.read_field,
            }
        }
    }

    fn style(&self, op: &OpSpec) -> ErrorStyle {
        if self.shape.with_errors {
            ErrorStyle::WithErrors {
                idempotent: op.f == "read",
            }
        } else {
            ErrorStyle::Plain
        }
    }

    fn ok_value(&self, op: &OpSpec, mut reply: Body) -> OpValue {
        if op.f == self.shape.write {
            op.value.clone().into()
        } else {
            let (field, _) = self.shape.read_field[0];
            reply.remove(field).unwrap_or_default()
        }
    }

    fn setup_request(&self, _node: &NodeId) -> Option<Value> {
        self.setup.clone()
    }

    fn check(&self, history: &History) -> Value {
        (self.shape.check)(history)
    }
}
