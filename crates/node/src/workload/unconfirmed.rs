//! Local writes no other node holds yet, kept out of reads under `ack=replicated`.
//!
//! A write answered only once another node holds it survives the crash of its own node; but a
//! read on that node could still show it before then, and a crash would take back what a
//! reader saw. So until another node holds a write, reads leave it out.

use gossip_crdt::Dot;
use gossip_transport::ReplicaId;

use super::Reply;
use crate::options::AckPolicy;

/// The writes (their ids and values) that reads must not show yet.
#[derive(Debug)]
pub(crate) struct Unconfirmed<V> {
    ack: AckPolicy,
    writes: Vec<(Dot<ReplicaId>, V)>,
}

impl<V> Unconfirmed<V> {
    pub(crate) fn new(ack: AckPolicy) -> Self {
        Unconfirmed {
            ack,
            writes: Vec::new(),
        }
    }

    /// The answer (`kind`) to a write of `value` that became `dot` (`None`: it changed
    /// nothing), held back as the policy asks; under `ack=replicated` the write is hidden from
    /// reads until another node holds it.
    pub(crate) fn write_ok(
        &mut self,
        kind: &'static str,
        dot: Option<Dot<ReplicaId>>,
        value: V,
    ) -> Reply {
        if let (AckPolicy::Replicated, Some(dot)) = (self.ack, &dot) {
            self.writes.push((dot.clone(), value));
        }
        Reply::write_ok(kind, dot, self.ack)
    }

    /// The values to leave out of a read now; forgets the writes another node holds by now.
    pub(crate) fn hidden(
        &mut self,
        held_elsewhere: impl Fn(&Dot<ReplicaId>) -> bool,
    ) -> impl Iterator<Item = &V> {
        self.writes.retain(|(dot, _)| !held_elsewhere(dot));
        self.writes.iter().map(|(_, v)| v)
    }
}
