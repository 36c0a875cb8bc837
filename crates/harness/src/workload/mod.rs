//! Workloads: for each, what ops to generate, how a client phrases them as RPCs, how it
//! reads the replies, and which checker judges the history.
//!
//! One module per workload; this one holds the shared types and the trait the engine drives.

mod broadcast;
mod counter;
mod echo;
mod g_set;
mod write_read;

use serde_json::{Map, Value, json};

use crate::schema::Body;
use crate::value::OpValue;

use crate::client::{Completion, ErrorStyle, Failure, OpSpec, complete_failure};
use crate::history::{History, OpType};
use crate::ids::NodeId;
use crate::options::{TestOptions, WorkloadKind};
use crate::rng::Rng;
use crate::schema::{Reply, ResponseSchema, interpret, interpret_body};

pub use broadcast::broadcast;
pub use counter::counter;
pub use echo::Echo;
pub use g_set::g_set;

/// A workload as the engine sees it.
pub trait Workload {
    /// Which workload this is.
    fn kind(&self) -> WorkloadKind;

    /// Whether the run ends with heal, recovery and final reads (all but echo).
    fn has_final_phase(&self) -> bool {
        true
    }

    /// The next main-phase op.
    fn next_op(&mut self, rng: &mut Rng) -> OpSpec;

    /// The op each worker runs once in the final phase.
    fn final_op(&self) -> OpSpec;

    /// The request body for `op` (with `type`, without `msg_id`).
    fn request(&self, op: &OpSpec) -> Value;

    /// The response schema of `op`'s RPC.
    fn schema(&self, op: &OpSpec) -> ResponseSchema;

    /// How failures of `op` map to outcomes.
    fn style(&self, op: &OpSpec) -> ErrorStyle;

    /// The history value of a successful reply to `op` (its fields, already checked).
    fn ok_value(&self, op: &OpSpec, reply: Body) -> OpValue;

    /// A setup request for one node, sent after init (broadcast's topology).
    fn setup_request(&self, _node: &NodeId) -> Option<Value> {
        None
    }

    /// Judge the history; the result has a `valid?` key.
    fn check(&self, history: &History) -> Value;

    /// Turn a reply body (raw JSON text) into a completion.
    fn complete_reply(&self, op: &OpSpec, body: &str) -> Completion {
        match crate::schema::parse_body(body) {
            Some(fields) => self.complete_fields(op, fields, body),
            None => default_complete_reply(self, op, body),
        }
    }

    /// Turn a reply body, already parsed into `fields` from `raw`, into a completion.
    fn complete_fields(&self, op: &OpSpec, fields: Body, raw: &str) -> Completion {
        let _ = raw;
        complete_interpreted(self, op, interpret_body(&self.schema(op), fields))
    }

    /// The completion of a timed-out request.
    fn complete_timeout(&self, op: &OpSpec) -> Completion {
        complete_failure(op, self.style(op), &Failure::Timeout)
    }
}

/// [`Workload::complete_reply`]'s default: check the schema, map failures per the style.
pub fn default_complete_reply<W: Workload + ?Sized>(w: &W, op: &OpSpec, body: &str) -> Completion {
    complete_interpreted(w, op, interpret(&w.schema(op), body))
}

fn complete_interpreted<W: Workload + ?Sized>(w: &W, op: &OpSpec, reply: Reply) -> Completion {
    match reply {
        Reply::Ok(map) => Completion {
            kind: OpType::Ok,
            value: w.ok_value(op, map),
            error: None,
            exception: None,
        },
        Reply::Error(e) => complete_failure(op, w.style(op), &Failure::Error(e)),
        Reply::Malformed(why) => complete_failure(op, w.style(op), &Failure::Malformed(why)),
    }
}

/// Build the workload for a run.
pub fn make(opts: &TestOptions) -> Box<dyn Workload> {
    match opts.workload {
        WorkloadKind::Echo => Box::new(Echo),
        WorkloadKind::Broadcast => Box::new(broadcast(opts)),
        WorkloadKind::GSet => Box::new(g_set()),
        WorkloadKind::GCounter => Box::new(counter(false)),
        WorkloadKind::PnCounter => Box::new(counter(true)),
    }
}

/// A request body of the given type with extra fields.
pub(crate) fn body(kind: &str, fields: &[(&str, Value)]) -> Value {
    let mut m = Map::new();
    m.insert("type".to_owned(), json!(kind));
    for (k, v) in fields {
        m.insert((*k).to_owned(), v.clone());
    }
    Value::Object(m)
}
