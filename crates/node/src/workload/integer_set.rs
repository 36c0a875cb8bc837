//! The replicated set of integers behind `broadcast` and `g-set`: the two workloads differ only
//! in their field names (and broadcast's `topology`), so the writing and reading live here once.

use std::collections::BTreeSet;

use gossip_crdt::GSet;
use gossip_transport::{Config, Time};
use serde::Serialize;

use super::encoded_set::EncodedSet;
use super::unconfirmed::Unconfirmed;
use super::{Reply, Setup};
use crate::protocol::NodeId;
use crate::replicated::Replicated;

/// A grow-only set of integers, replicated, answering writes per the node's
/// [`AckPolicy`](crate::options::AckPolicy).
#[derive(Debug)]
pub(crate) struct IntegerSet {
    pub(crate) replicated: Replicated<GSet<i64>>,
    unconfirmed: Unconfirmed<i64>,
    /// The last reads' text, reused by the next.
    encoded: EncodedSet,
}

impl IntegerSet {
    pub(crate) fn new(setup: Setup<'_>, config: Config<NodeId>) -> Self {
        IntegerSet {
            unconfirmed: Unconfirmed::new(setup.options.ack),
            encoded: EncodedSet::default(),
            replicated: Replicated::new(setup.me, setup.members, config, setup.start, setup.tag),
        }
    }

    /// Inserts `value`; the reply (`ok_kind`) is held back as the ack policy asks.
    pub(crate) fn add(&mut self, now: Time, value: i64, ok_kind: &'static str) -> Reply {
        let delta = self.replicated.state().insert_delta(value);
        let dot = self.replicated.update(now, delta);
        self.unconfirmed.write_ok(ok_kind, dot, value)
    }

    /// The elements a reader may see, ascending, as a JSON array.
    pub(crate) fn read(&mut self) -> String {
        let replicator = self.replicated.replicator();
        let hidden: BTreeSet<i64> = self
            .unconfirmed
            .hidden(|d| replicator.is_held_elsewhere(d))
            .copied()
            .collect();
        if hidden.is_empty() {
            return self.encoded.encode(replicator.state());
        }
        let visible = Visible {
            set: replicator.state(),
            hidden: &hidden,
        };
        // Integers always serialise.
        serde_json::to_string(&visible).unwrap_or_default()
    }
}

/// The elements of `set` not in `hidden`, serialised as a JSON array straight from the set.
struct Visible<'a> {
    set: &'a GSet<i64>,
    hidden: &'a BTreeSet<i64>,
}

impl Serialize for Visible<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.set.iter().filter(|v| !self.hidden.contains(v)))
    }
}
