//! The replicated set of integers behind `broadcast` and `g-set`: the two workloads differ only
//! in their field names (and broadcast's `topology`), so the writing and reading live here once.

use std::collections::BTreeSet;

use gossip_crdt::GSet;
use gossip_store::StoreError;
use gossip_transport::Time;

use super::encoded_set::{EncodedSet, json_array};
use super::{Reply, Setup};
use crate::Rejection;
use crate::ack::Unconfirmed;
use crate::replicated::Replicated;

/// A grow-only set of integers, replicated, answering writes per the node's
/// [`AckPolicy`](crate::AckPolicy).
#[derive(Debug)]
pub(crate) struct IntegerSet {
    pub(crate) replicated: Replicated<GSet<i64>>,
    unconfirmed: Unconfirmed<i64>,
    /// The last reads' text, reused by the next.
    encoded: EncodedSet,
}

impl IntegerSet {
    pub(crate) fn new(setup: Setup<'_>) -> Result<Self, StoreError> {
        Ok(IntegerSet {
            unconfirmed: Unconfirmed::new(setup.options.ack),
            encoded: EncodedSet::default(),
            replicated: setup.replicated()?,
        })
    }

    /// Inserts `value`; the reply (`ok_kind`) is held back as the ack policy asks.
    pub(crate) fn add(
        &mut self,
        now: Time,
        value: i64,
        ok_kind: &'static str,
    ) -> Result<Reply, Rejection> {
        let delta = self.replicated.state().insert_delta(value);
        let dot = self.replicated.update(now, delta)?;
        Ok(self.unconfirmed.write_ok(ok_kind, dot, value))
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
        json_array(replicator.state().iter().filter(|v| !hidden.contains(v)))
    }
}
