//! The replicated set of integers behind `broadcast` and `g-set`: the two workloads differ only
//! in their field names (and broadcast's `topology`), so the writing and reading live here once.

use std::collections::BTreeSet;

use gossip_crdt::{Dot, GSet};
use gossip_transport::{Config, ReplicaId, Time};
use serde_json::Value;

use super::{Reply, Setup};
use crate::options::AckPolicy;
use crate::protocol::NodeId;
use crate::replicated::Replicated;

/// A grow-only set of integers, replicated, answering writes per the node's [`AckPolicy`].
#[derive(Debug)]
pub(crate) struct IntegerSet {
    pub(crate) replicated: Replicated<GSet<i64>>,
    ack: AckPolicy,
    unconfirmed: Unconfirmed,
}

impl IntegerSet {
    pub(crate) fn new(setup: Setup<'_>, config: Config<NodeId>) -> Self {
        IntegerSet {
            ack: setup.options.ack,
            unconfirmed: Unconfirmed::default(),
            replicated: Replicated::new(setup.me, setup.members, config, setup.start, setup.tag),
        }
    }

    /// Inserts `value`; the reply (`ok_kind`) is held back as the ack policy asks.
    pub(crate) fn add(&mut self, now: Time, value: i64, ok_kind: &'static str) -> Reply {
        let delta = self.replicated.state().insert_delta(value);
        let dot = self.replicated.update(now, delta);
        if let (AckPolicy::Replicated, Some(dot)) = (self.ack, &dot) {
            self.unconfirmed.writes.push((dot.clone(), value));
        }
        Reply::write_ok(ok_kind, dot, self.ack)
    }

    /// The elements a reader may see, ascending.
    pub(crate) fn read(&mut self) -> Value {
        let replicator = self.replicated.replicator();
        let hidden = self.unconfirmed.hidden(|d| replicator.is_held_elsewhere(d));
        let values = replicator.state().iter().filter(|v| !hidden.contains(v));
        Value::Array(values.map(|v| Value::from(*v)).collect())
    }
}

/// Local writes not yet held by another node, hidden from reads under `ack=replicated`: a
/// write that could still die with this node must not be observable either, or a reader
/// could see a value that a crash then takes back.
#[derive(Debug, Default)]
struct Unconfirmed {
    writes: Vec<(Dot<ReplicaId>, i64)>,
}

impl Unconfirmed {
    /// The values to hide now; forgets the writes another node holds by now.
    fn hidden(&mut self, held: impl Fn(&Dot<ReplicaId>) -> bool) -> BTreeSet<i64> {
        self.writes.retain(|(dot, _)| !held(dot));
        self.writes.iter().map(|(_, v)| *v).collect()
    }
}
