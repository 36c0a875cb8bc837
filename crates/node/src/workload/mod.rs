//! The workloads: what each client request means, and which lattice holds the answer.
//!
//! Each workload is a [`Workload`]: it answers client requests. Those that replicate own a
//! [`Replicated`] lattice and hand it to the node as their [`Replication`]; echo has none.

mod broadcast;
mod counter;
mod echo;
mod encoded_set;
mod g_set;
mod integer_set;

use gossip_crdt::{Decompose, Dot, GCounter, Lattice, PnCounter};
use gossip_store::{Store, StoreError};
use gossip_transport::{ReplicaId, Start, Time};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::Rejection;
use crate::options::Options;
use crate::protocol::{GOSSIP, Inbound, NodeId};
use crate::replicated::{Replicated, Replication};
use crate::workload_kind::WorkloadKind;

pub(crate) use broadcast::Broadcast;
pub(crate) use counter::CounterWorkload;
pub(crate) use echo::Echo;
pub(crate) use g_set::GSetWorkload;

/// A reply field's value: JSON, or JSON text encoded straight from the workload's state (so
/// that the read of a large set never becomes a tree of `Value`s).
#[derive(Debug, Clone)]
pub(crate) enum Field {
    Json(Value),
    /// Valid JSON text, written into the reply as it is.
    Encoded(String),
}

/// A successful reply: its `type` and its fields (besides `type`, `msg_id`, `in_reply_to`).
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) kind: &'static str,
    pub(crate) fields: Vec<(&'static str, Field)>,
    /// Hold the reply until another node holds this write (`ack=replicated`: see
    /// [`crate::ack`]).
    pub(crate) after: Option<Dot<ReplicaId>>,
}

impl Reply {
    pub(crate) fn ok(kind: &'static str) -> Reply {
        Reply {
            kind,
            fields: Vec::new(),
            after: None,
        }
    }

    pub(crate) fn with(mut self, key: &'static str, value: Value) -> Reply {
        self.fields.push((key, Field::Json(value)));
        self
    }

    /// Adds a field whose value is already JSON text (valid: it is not checked).
    pub(crate) fn with_encoded(mut self, key: &'static str, text: String) -> Reply {
        self.fields.push((key, Field::Encoded(text)));
        self
    }
}

/// One workload: its request handling, and its replication if it has one.
pub(crate) trait Workload: Send {
    /// Answers a client request (`msg.kind` is anything but `init` and `gossip`).
    fn request(&mut self, now: Time, msg: &Inbound) -> Result<Reply, Rejection>;

    /// The workload's replication; `None` for a workload that does not replicate.
    fn replication(&self) -> Option<&dyn Replication> {
        None
    }

    /// The same, to drive it.
    fn replication_mut(&mut self) -> Option<&mut dyn Replication> {
        None
    }
}

/// What every workload needs to start.
pub(crate) struct Setup<'a> {
    pub(crate) me: NodeId,
    pub(crate) members: Vec<NodeId>,
    pub(crate) options: &'a Options,
    /// When this life starts, and its seed and life (see [`Birth`](crate::Birth)).
    pub(crate) now: Time,
    pub(crate) seed: u64,
    pub(crate) life: u64,
    /// Set when the workload was inferred rather than named, so peers can learn it.
    pub(crate) tag: Option<&'static str>,
    /// The node's disk, and the name the workload's replica is kept under there.
    pub(crate) disk: Option<(&'a dyn Store, &'static str)>,
}

impl Setup<'_> {
    /// A lattice replicated as the options ask: resumed from the disk if there is one.
    fn replicated<L>(self) -> Result<Replicated<L>, StoreError>
    where
        L: Lattice + Decompose + Serialize + DeserializeOwned,
    {
        let config = self.options.transport_config();
        match self.disk {
            None => {
                let start = Start::new(self.now, self.seed, self.life);
                Ok(Replicated::new(
                    self.me,
                    self.members,
                    config,
                    start,
                    self.tag,
                ))
            }
            Some((store, name)) => Replicated::open(
                self.me,
                self.members,
                config,
                (self.now, self.seed, self.life),
                self.tag,
                store,
                name,
            ),
        }
    }
}

/// Builds the workload `kind`; fails only if its replica cannot be read from the disk.
pub(crate) fn build(kind: WorkloadKind, setup: Setup<'_>) -> Result<Box<dyn Workload>, StoreError> {
    Ok(match kind {
        WorkloadKind::Echo => Box::new(Echo),
        WorkloadKind::Broadcast => Box::new(Broadcast::new(setup)?),
        WorkloadKind::GSet => Box::new(GSetWorkload::new(setup)?),
        WorkloadKind::GCounter => Box::new(CounterWorkload::<GCounter<ReplicaId>>::new(setup)?),
        WorkloadKind::PnCounter => Box::new(CounterWorkload::<PnCounter<ReplicaId>>::new(setup)?),
    })
}

/// Guesses the workload from a request, for nodes started without one: the first request
/// that can only belong to one workload decides.
pub(crate) fn infer(msg: &Inbound) -> Option<WorkloadKind> {
    match msg.kind.as_str() {
        "echo" => Some(WorkloadKind::Echo),
        "topology" | "broadcast" => Some(WorkloadKind::Broadcast),
        "add" if msg.body.contains_key("element") => Some(WorkloadKind::GSet),
        // pn-counter accepts every g-counter request, so it is the safe guess.
        "add" if msg.body.contains_key("delta") => Some(WorkloadKind::PnCounter),
        GOSSIP => msg
            .body
            .get("w")
            .and_then(Value::as_str)
            .and_then(WorkloadKind::from_name),
        _ => None,
    }
}

/// The integer in field `key` of a request body: error 12 unless it is a JSON integer that
/// fits in an `i64`.
pub(crate) fn integer_field(msg: &Inbound, key: &str) -> Result<i64, Rejection> {
    let Some(v) = msg.body.get(key) else {
        return Err(Rejection::malformed(format!(
            "`{}` is missing its `{key}` field",
            msg.kind
        )));
    };
    if let Some(n) = v.as_i64() {
        return Ok(n);
    }
    // Larger integers arrive as u64 or, beyond that, as whole floats.
    let out_of_range = if v.is_u64() {
        Some(v.to_string())
    } else {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() >= 2f64.powi(63))
            .map(|f| format!("{f:.0}"))
    };
    Err(Rejection::malformed(if let Some(n) = out_of_range {
        format!("`{key}` must be an integer from -2^63 to 2^63-1, got {n} (out of range)")
    } else {
        format!("`{key}` must be an integer, got {v}")
    }))
}

/// Error 10 for a request type the workload does not know.
pub(crate) fn not_supported(workload: &str, msg: &Inbound) -> Rejection {
    Rejection::new(
        crate::protocol::ErrorCode::NotSupported,
        format!("the {workload} workload has no `{}` request", msg.kind),
    )
}
