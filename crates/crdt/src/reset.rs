//! `Resettable`: what a value needs to live under a key of an [`OrMap`](crate::OrMap).
//!
//! Removing a key takes away what the remover saw of its value, and nothing else: an update
//! made concurrently, on a replica that had not seen the remove, survives, and the value then
//! shows that update alone ("reset-remove"). The map cannot forget the old value (a concurrent
//! delta may carry it again: a counter's delta is the writer's whole entry, not the increment),
//! so it keeps, per key, the join of what removes observed (the key's *floor*) and shows
//! the value with the floor taken away. This trait is that subtraction.

use crate::Lattice;

/// A lattice whose states can be read "as if everything another state holds were removed".
///
/// `self.reset_by(observed)` is what a key shows when its value is `self` and removes have
/// observed `observed`: the part of `self` that was not there when they looked.
///
/// `x.reset_by(&x)` must read as empty, and `x.reset_by(observed)` must keep whatever `x`
/// holds that `observed` does not (what concurrent updates added). For
/// counters that is a subtraction per replica; for causal types (OR-Set, multi-value register,
/// map) it drops the elements, writes or keys whose events were observed; for types that
/// cannot tell a re-add from the original (`GSet`, `TwoPSet`) it drops every element
/// `observed` holds, so re-adding one after a remove is not seen (use an `OrSet`).
///
/// ```
/// use gossip_crdt::{GCounter, Resettable};
///
/// let mut counter = GCounter::new();
/// counter.increment("a", 5)?;
/// let seen_by_remove = counter.clone();
/// counter.increment("a", 2)?; // an update the remove did not see
/// assert_eq!(counter.reset_by(&seen_by_remove).value(), 2);
/// # Ok::<(), gossip_crdt::CrdtError>(())
/// ```
pub trait Resettable: Lattice {
    /// What is left of `self` once everything `observed` holds is taken away.
    fn reset_by(&self, observed: &Self) -> Self;
}
