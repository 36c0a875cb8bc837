//! When a write is answered: at once (`ack=local`), or once another node holds it
//! (`ack=replicated`).
//!
//! Under `ack=replicated` a write's answer is held ([`HeldReplies`]) until the replication
//! engine learns that another node holds the write, and released then, in the order the
//! writes came. A write answered that way survives the crash of its own node; but a read on
//! that node could still show it before then, and a crash would take back what a reader saw.
//! So until another node holds a write, reads leave it out ([`Unconfirmed`]).

use std::collections::VecDeque;
use std::time::Duration;

use gossip_crdt::Dot;
use gossip_transport::{ReplicaId, Time};

use crate::protocol::Inbound;
use crate::workload::Reply;

/// When the node answers a write (`broadcast`, `add`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AckPolicy {
    /// At once, once applied locally: the lowest latency, but a write whose node crashes (and
    /// loses its state) before passing it on is lost.
    #[default]
    Local,
    /// Once another node is known to hold it: the write survives the crash of its own node.
    Replicated,
}

/// How long a client waits for a reply (Maelstrom's RPC timeout is 5 s), minus a margin for
/// the reply's own trip.
const CLIENT_PATIENCE: Duration = Duration::from_millis(4500);

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
        let mut reply = Reply::ok(kind);
        if let (AckPolicy::Replicated, Some(dot)) = (self.ack, dot) {
            self.writes.push((dot, value));
            reply.after = Some(dot);
        }
        reply
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

/// One held answer.
#[derive(Debug)]
struct Held {
    /// When the write was answered locally.
    since: Time,
    /// The request, to address the answer.
    msg: Inbound,
    /// The write another node must hold first.
    dot: Dot<ReplicaId>,
    reply: Reply,
}

/// Answers to writes waiting until another node holds the write, oldest first.
#[derive(Debug, Default)]
pub(crate) struct HeldReplies {
    queue: VecDeque<Held>,
}

impl HeldReplies {
    /// Holds `reply` to `msg` until another node holds `dot`.
    pub(crate) fn hold(&mut self, now: Time, msg: &Inbound, dot: Dot<ReplicaId>, reply: Reply) {
        self.queue.push_back(Held {
            since: now,
            msg: msg.clone(),
            dot,
            reply,
        });
    }

    /// Takes out the answers whose write another node holds now (`held_elsewhere`), in the
    /// order they were held; drops those held past the client's patience (answering a client
    /// that gave up would name a closed endpoint).
    pub(crate) fn release(
        &mut self,
        now: Time,
        held_elsewhere: impl Fn(&Dot<ReplicaId>) -> bool,
    ) -> Vec<(Inbound, Reply)> {
        if self.queue.is_empty() {
            return Vec::new(); // the common case: this runs after every input
        }
        let mut released = Vec::new();
        let mut waiting = VecDeque::new();
        for held in self.queue.drain(..) {
            if held_elsewhere(&held.dot) {
                released.push((held.msg, held.reply));
            } else if now - held.since >= CLIENT_PATIENCE {
                tracing::warn!(src = %held.msg.src, "no other node acknowledged a write in time; not answering");
            } else {
                waiting.push_back(held);
            }
        }
        self.queue = waiting;
        released
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::parse_line;

    fn dot(counter: u64) -> Dot<ReplicaId> {
        Dot {
            replica: ReplicaId(9),
            counter,
        }
    }

    fn write(msg_id: u64) -> Inbound {
        let line = format!(
            r#"{{"src":"c1","dest":"n1","body":{{"type":"add","element":{msg_id},"msg_id":{msg_id}}}}}"#
        );
        parse_line(&line).expect("a valid line")
    }

    #[test]
    fn answers_leave_in_order_once_held_elsewhere_and_expire_with_the_client() {
        let mut held = HeldReplies::default();
        for n in 1..=4 {
            held.hold(Time::from_millis(n), &write(n), dot(n), Reply::ok("add_ok"));
        }
        let ids = |released: Vec<(Inbound, Reply)>| -> Vec<u64> {
            released
                .iter()
                .filter_map(|(msg, _)| msg.msg_id.map(|id| id.0))
                .collect()
        };
        // Writes 3 and 1 are held elsewhere: answered oldest first.
        let released = held.release(Time::from_millis(10), |d| d.counter % 2 == 1);
        assert_eq!(ids(released), [1, 3]);
        assert!(held.release(Time::from_millis(20), |_| false).is_empty());
        // Write 2 has waited as long as a client does; write 4 not quite.
        let patience = u64::try_from(CLIENT_PATIENCE.as_millis()).unwrap_or(u64::MAX);
        assert!(
            held.release(Time::from_millis(2 + patience), |_| false)
                .is_empty()
        );
        assert_eq!(
            ids(held.release(Time::from_millis(2 + patience), |_| true)),
            [4]
        );
    }

    #[test]
    fn only_replicated_acks_hide_writes_and_hold_answers() {
        let mut local = Unconfirmed::new(AckPolicy::Local);
        assert!(local.write_ok("add_ok", Some(dot(1)), 5).after.is_none());
        assert_eq!(local.hidden(|_| false).count(), 0);

        let mut replicated = Unconfirmed::new(AckPolicy::Replicated);
        assert_eq!(
            replicated.write_ok("add_ok", Some(dot(1)), 5).after,
            Some(dot(1))
        );
        assert!(replicated.write_ok("add_ok", None, 6).after.is_none());
        assert_eq!(
            replicated.write_ok("add_ok", Some(dot(2)), 7).after,
            Some(dot(2))
        );
        let hidden: Vec<i64> = replicated.hidden(|d| d.counter == 1).copied().collect();
        assert_eq!(hidden, [7]);
    }
}
