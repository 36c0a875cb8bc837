//! The `g-counter` and `pn-counter` workloads: `add` a `delta`, `read` the integer `value`.
//!
//! Counter entries are keyed by the replica's *incarnation* id, not its node name: a node
//! restarted with its state lost starts a fresh entry instead of counting again from zero
//! under a name whose old, larger entry would hide the new increments.
//!
//! A read must fit in 64 bits, so the counter keeps the sum of its increments within
//! `i64::MAX` and the sum of its decrements within 2^63 (see [`Sums::in_range`]). A local
//! `add` that would break that is refused with error 14; gossip that would is screened
//! before the replication engine sees it (see [`screen`]).

use std::sync::Arc;

use gossip_crdt::{Decompose, GCounter, Lattice, PnCounter};
use gossip_transport::{Packet, ReplicaId, Time};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{Reply, Setup, Workload, integer_field, not_supported};
use crate::ack::Unconfirmed;
use crate::protocol::{ErrorCode, Inbound};
use crate::replicated::{Replicated, Replication, Screen};
use crate::{Refusals, Rejection};

/// A counter's increments and decrements, each added up over every replica's entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Sums {
    pub(crate) up: u128,
    pub(crate) down: u128,
}

impl Sums {
    fn plus(self, other: Sums) -> Sums {
        Sums {
            up: self.up.saturating_add(other.up),
            down: self.down.saturating_add(other.down),
        }
    }

    /// `true` iff every read fits in an `i64`: not only this state's, but that of any state
    /// below it (a node holding only some of these deltas, or a read leaving out writes no
    /// other node holds yet), whose value lies between `-down` and `up`. A bound on the value
    /// alone would not do: `+2^63` then `-1` reads as `i64::MAX` here, and as an overflow on a
    /// node that has the first delta and not yet the second.
    pub(crate) fn in_range(self) -> bool {
        self.up <= i64::MAX.unsigned_abs().into() && self.down <= i64::MIN.unsigned_abs().into()
    }
}

/// What the two counter workloads need from their lattice.
pub(crate) trait Counter:
    Lattice + Decompose + Serialize + DeserializeOwned + Send + Sync
{
    /// The workload's Maelstrom name, for error texts.
    const NAME: &'static str;

    /// The delta adding `delta` on behalf of `replica`, or why not.
    fn add(&self, replica: ReplicaId, delta: i64) -> Result<Self, Rejection>;

    /// The counter's value.
    fn total(&self) -> i128;

    /// The sums of the counter's increments and decrements.
    fn sums(&self) -> Sums;

    /// How much joining `delta` would add to [`sums`](Counter::sums).
    fn growth(&self, delta: &Self) -> Sums;
}

/// How much joining `delta` would add to the value of `state`.
fn g_growth(state: &GCounter<ReplicaId>, delta: &GCounter<ReplicaId>) -> u128 {
    delta
        .iter()
        .map(|(replica, n)| u128::from(n.saturating_sub(state.contribution(replica))))
        .sum()
}

fn overflow(e: gossip_crdt::CrdtError) -> Rejection {
    Rejection::new(ErrorCode::Abort, e.to_string())
}

impl Counter for GCounter<ReplicaId> {
    const NAME: &'static str = "g-counter";

    fn add(&self, replica: ReplicaId, delta: i64) -> Result<Self, Rejection> {
        let by = u64::try_from(delta).map_err(|_| {
            Rejection::malformed(format!("a g-counter only grows: delta {delta} is negative"))
        })?;
        self.increment_delta(replica, by).map_err(overflow)
    }

    fn total(&self) -> i128 {
        // A sum of u64 entries, one per replica: far inside i128.
        self.value() as i128
    }

    fn sums(&self) -> Sums {
        Sums {
            up: self.value(),
            down: 0,
        }
    }

    fn growth(&self, delta: &Self) -> Sums {
        Sums {
            up: g_growth(self, delta),
            down: 0,
        }
    }
}

impl Counter for PnCounter<ReplicaId> {
    const NAME: &'static str = "pn-counter";

    fn add(&self, replica: ReplicaId, delta: i64) -> Result<Self, Rejection> {
        let by = delta.unsigned_abs();
        if delta < 0 {
            self.decrement_delta(replica, by).map_err(overflow)
        } else {
            self.increment_delta(replica, by).map_err(overflow)
        }
    }

    fn total(&self) -> i128 {
        self.value()
    }

    fn sums(&self) -> Sums {
        Sums {
            up: self.increments().value(),
            down: self.decrements().value(),
        }
    }

    fn growth(&self, delta: &Self) -> Sums {
        Sums {
            up: g_growth(self.increments(), delta.increments()),
            down: g_growth(self.decrements(), delta.decrements()),
        }
    }
}

/// Takes out of `packet` whatever would take a counter at `state` out of range (see
/// [`Sums::in_range`]), in the order the engine applies it: each offending delta of a run
/// becomes the empty delta (its id stays, so no peer sends it again) and each offending entry
/// of a snapshot is left out of it. Returns what it took out.
///
/// Whatever passes keeps every node's counter readable, in any order and combination, because
/// joins only raise the sums.
pub(crate) fn screen<C: Counter>(state: &C, packet: &mut Packet<C>) -> Refusals {
    let base = state.sums();
    // The common case, in one pass without a copy of the state: the growths of the parts,
    // added up, bound the growth of their join.
    let bound = packet
        .runs
        .iter()
        .flat_map(|run| &run.deltas)
        .chain(&packet.snap)
        .fold(base, |sums, part| sums.plus(state.growth(part)));
    if bound.in_range() {
        return Refusals::default();
    }
    let mut refused = Refusals::default();
    let mut joined = state.clone();
    let mut sums = base;
    let mut admit = |part: &C| {
        let next = sums.plus(joined.growth(part));
        let fits = next.in_range();
        if fits {
            joined.join(part);
            sums = next;
        }
        fits
    };
    for run in Arc::make_mut(&mut packet.runs) {
        for delta in &mut run.deltas {
            if !admit(delta) {
                *delta = C::default();
                refused.counter_deltas += 1;
            }
        }
    }
    if let Some(snap) = &mut packet.snap {
        let mut kept = C::default();
        for part in snap.decompose() {
            if admit(&part) {
                kept.join(&part);
            } else {
                refused.counter_snapshot_entries += 1;
            }
        }
        *snap = kept;
    }
    refused
}

/// A counter workload over the lattice `C`.
#[derive(Debug)]
pub(crate) struct CounterWorkload<C> {
    counter: Replicated<C>,
    unconfirmed: Unconfirmed<i64>,
}

impl<C: Counter> CounterWorkload<C> {
    pub(crate) fn new(setup: Setup<'_>) -> Result<Self, gossip_store::StoreError> {
        Ok(CounterWorkload {
            unconfirmed: Unconfirmed::new(setup.options.ack),
            counter: setup.replicated()?.screened(Screen {
                check: screen,
                why: "gossip would take the counter out of 64 bits",
            }),
        })
    }
}

impl<C: Counter> Workload for CounterWorkload<C> {
    fn request(&mut self, now: Time, msg: &Inbound) -> Result<Reply, Rejection> {
        match msg.kind.as_str() {
            "add" => {
                let delta = integer_field(msg, "delta")?;
                let me = self.counter.replicator().id();
                let state = self.counter.state();
                let d = state.add(me, delta)?;
                if !state.sums().plus(state.growth(&d)).in_range() {
                    return Err(Rejection::new(
                        ErrorCode::Abort,
                        format!(
                            "adding {delta} would take the {} out of 64 bits: its increments must add up to at most 2^63-1 and its decrements to at most 2^63",
                            C::NAME
                        ),
                    ));
                }
                let dot = self.counter.update(now, d)?;
                Ok(self.unconfirmed.write_ok("add_ok", dot, delta))
            }
            "read" => {
                // Adds no other node holds yet do not count (see `Unconfirmed`).
                let replicator = self.counter.replicator();
                let pending: i128 = self
                    .unconfirmed
                    .hidden(|d| replicator.is_held_elsewhere(d))
                    .map(|d| i128::from(*d))
                    .sum();
                let value = replicator.state().total() - pending;
                // Maelstrom wants an integer (it rejects `5.0`) that fits in 64 bits.
                let value = i64::try_from(value).map_err(|_| {
                    Rejection::new(
                        ErrorCode::Abort,
                        format!("the counter ({value}) no longer fits in 64 bits"),
                    )
                })?;
                Ok(Reply::ok("read_ok").with("value", Value::from(value)))
            }
            _ => Err(not_supported(C::NAME, msg)),
        }
    }

    fn replication(&self) -> Option<&dyn Replication> {
        Some(&self.counter)
    }

    fn replication_mut(&mut self) -> Option<&mut dyn Replication> {
        Some(&mut self.counter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_is_that_of_an_i64_on_each_side() {
        let max = u128::from(i64::MAX.unsigned_abs());
        let sums = |up, down| Sums { up, down };
        assert!(sums(max, max + 1).in_range());
        assert!(!sums(max + 1, 0).in_range());
        assert!(!sums(0, max + 2).in_range());
    }

    /// A g-counter with these `(replica, entry)` pairs.
    fn g(entries: &[(u64, u64)]) -> GCounter<ReplicaId> {
        let mut counter = GCounter::new();
        for &(replica, n) in entries {
            let delta = counter.increment_delta(ReplicaId(replica), n);
            counter.join(&delta.expect("an entry from zero fits"));
        }
        counter
    }

    #[test]
    fn screening_keeps_what_fits_in_the_order_it_comes() {
        let state = g(&[(1, 1 << 62)]);
        let mut packet = Packet::new(1);
        packet.runs = Arc::new(vec![gossip_transport::Run {
            origin: ReplicaId(9),
            first: 1,
            deltas: vec![g(&[(2, 3)]), g(&[(3, 1 << 62)]), g(&[(4, 1)]), g(&[(1, 7)])],
        }]);
        let refused = screen(&state, &mut packet);
        assert_eq!(refused.counter_deltas, 1, "{packet:?}");
        // 2^62 + 3 leaves no room for another 2^62; the last delta, below the entry held,
        // adds nothing.
        assert_eq!(
            packet.runs[0].deltas,
            vec![g(&[(2, 3)]), GCounter::new(), g(&[(4, 1)]), g(&[(1, 7)])]
        );
        // Nothing to take out: the packet is left as it came.
        let before = packet.clone();
        assert!(screen(&state, &mut packet).is_empty());
        assert_eq!(packet, before);
    }
}
