//! The workloads: what each client request means, and which lattice holds the answer.
//!
//! Each workload is a [`Workload`]: it answers client requests and, for the replicated ones,
//! relays gossip to and from its [`Replicated`](crate::replicated::Replicated) lattice.

/// Implements the replication half of [`Workload`] by handing everything to the
/// [`Replicated`](crate::replicated::Replicated) field named `$field`; with `@engine`,
/// everything but `gossip` (for a workload that screens gossip itself).
macro_rules! delegate_replication {
    ($($field:ident).+) => {
        fn gossip(
            &mut self,
            now: gossip_transport::Time,
            from: &crate::protocol::NodeId,
            body: &str,
        ) -> Result<(), crate::Rejection> {
            self.$($field).+.gossip(now, from, body)
        }

        crate::workload::delegate_replication!(@engine $($field).+);
    };
    (@engine $($field:ident).+) => {
        fn handle_timeout(&mut self, now: gossip_transport::Time) {
            self.$($field).+.handle_timeout(now);
        }

        fn poll_transmit(&mut self) -> Option<(crate::protocol::NodeId, String)> {
            self.$($field).+.poll_transmit()
        }

        fn poll_timeout(&self) -> Option<gossip_transport::Time> {
            self.$($field).+.poll_timeout()
        }

        fn stats(&self) -> Option<&gossip_transport::Stats> {
            Some(self.$($field).+.stats())
        }

        fn is_held_elsewhere(&self, dot: &gossip_crdt::Dot<gossip_transport::ReplicaId>) -> bool {
            self.$($field).+.replicator().is_held_elsewhere(dot)
        }
    };
}
pub(crate) use delegate_replication;

mod broadcast;
mod counter;
mod echo;
mod encoded_set;
mod g_set;
mod integer_set;
mod unconfirmed;

use gossip_crdt::{Dot, GCounter, PnCounter};
use gossip_transport::{Overlay, ReplicaId, Start, Stats, Time};
use serde_json::Value;

use crate::options::{AckPolicy, Options, OverlayChoice, WorkloadKind};
use crate::protocol::{Inbound, NodeId};
use crate::{Refusals, Rejection};

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
    /// Hold the reply until another node holds this write (`ack=replicated`).
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

    /// The reply to a write that became `dot`, held back per the ack policy.
    pub(crate) fn write_ok(
        kind: &'static str,
        dot: Option<Dot<ReplicaId>>,
        ack: AckPolicy,
    ) -> Reply {
        Reply {
            after: if ack == AckPolicy::Replicated {
                dot
            } else {
                None
            },
            ..Reply::ok(kind)
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

/// One workload's request handling and replication.
pub(crate) trait Workload: Send {
    /// Answers a client request (`msg.kind` is anything but `init` and `gossip`).
    fn request(&mut self, now: Time, msg: &Inbound) -> Result<Reply, Rejection>;

    /// Applies a `gossip` body (its JSON text) from a peer. Workloads without replication
    /// refuse it.
    fn gossip(&mut self, now: Time, from: &NodeId, body: &str) -> Result<(), Rejection>;

    /// Does what the replication engine has due at `now`.
    fn handle_timeout(&mut self, now: Time);

    /// The next gossip message to send: its addressee and its body as JSON text.
    fn poll_transmit(&mut self) -> Option<(NodeId, String)>;

    /// When [`handle_timeout`](Workload::handle_timeout) is due next.
    fn poll_timeout(&self) -> Option<Time>;

    /// Replication counters, if this workload replicates.
    fn stats(&self) -> Option<&Stats>;

    /// `true` iff another node holds the write `dot` (always, for workloads that do not
    /// replicate).
    fn is_held_elsewhere(&self, dot: &Dot<ReplicaId>) -> bool;

    /// What this workload refused of the gossip it was handed.
    fn refusals(&self) -> Refusals {
        Refusals::default()
    }
}

/// What every workload needs to start.
pub(crate) struct Setup<'a> {
    pub(crate) me: NodeId,
    pub(crate) members: Vec<NodeId>,
    pub(crate) options: &'a Options,
    pub(crate) start: Start,
    /// Set when the workload was inferred rather than named, so peers can learn it.
    pub(crate) tag: Option<&'static str>,
}

impl Setup<'_> {
    fn config(&self) -> gossip_transport::Config<NodeId> {
        let mut config = self.options.transport.clone();
        if let OverlayChoice::Own(overlay) = &self.options.overlay {
            config.overlay = overlay.clone();
        } else {
            // Until the topology arrives, a star keeps things moving.
            config.overlay = Overlay::Star { hubs: 3 };
        }
        config
    }
}

/// Builds the workload `kind`.
pub(crate) fn build(kind: WorkloadKind, setup: Setup<'_>) -> Box<dyn Workload> {
    let config = setup.config();
    match kind {
        WorkloadKind::Echo => Box::new(Echo),
        WorkloadKind::Broadcast => Box::new(Broadcast::new(setup, config)),
        WorkloadKind::GSet => Box::new(GSetWorkload::new(setup, config)),
        WorkloadKind::GCounter => {
            Box::new(CounterWorkload::<GCounter<ReplicaId>>::new(setup, config))
        }
        WorkloadKind::PnCounter => {
            Box::new(CounterWorkload::<PnCounter<ReplicaId>>::new(setup, config))
        }
    }
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
        "gossip" => msg
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
