//! The one trait every replicated type implements: a join-semilattice.
//!
//! A state-based CRDT is a set of states with a *join* (least upper bound) that replicas use to
//! merge what they hear from each other. If join is commutative, associative and idempotent,
//! replicas that have seen the same updates hold the same state, whatever order, grouping or
//! duplication the network delivered them in. That is the whole trick, and the reason the
//! transport can batch, reorder and retransmit freely.

/// A join-semilattice: states that merge by least upper bound.
///
/// # Laws
///
/// For all `a`, `b`, `c` (`⊔` is [`join`](Lattice::join), `≤` is [`leq`](Lattice::leq)):
///
/// | law | statement |
/// |---|---|
/// | commutative | `a ⊔ b == b ⊔ a` |
/// | associative | `(a ⊔ b) ⊔ c == a ⊔ (b ⊔ c)` |
/// | idempotent | `a ⊔ a == a` |
/// | inflation | `a ≤ a ⊔ b` and `b ≤ a ⊔ b` |
/// | order agrees with join | `a ≤ b` iff `a ⊔ b == b` |
/// | bottom | `Self::default() ⊔ a == a` |
/// | change report | `a.join(&b)` returns `true` iff `a` changed |
///
/// The `laws` module (feature `laws`) checks all of them with quickcheck, for this crate's
/// types and for yours.
///
/// # Deltas
///
/// Every mutator in this crate comes in two forms: `thing_delta(&self, ..) -> Self` *generates*
/// the change without applying it, and `thing(&mut self, ..) -> Self` applies it and returns the
/// same delta, ready to ship. A delta is an ordinary state, usually tiny, and
/// `x.join(&x.thing_delta(..))` leaves `x` exactly as `x.thing(..)` would.
///
/// # Example
///
/// ```
/// use gossip_crdt::{GSet, Lattice};
///
/// let mut a = GSet::new();
/// let mut b = GSet::new();
/// a.insert(1);
/// b.insert(2);
/// assert!(a.join(&b)); // a learned something
/// assert!(!a.join(&b)); // and nothing more the second time
/// assert!(b.leq(&a));
/// ```
pub trait Lattice: Clone + PartialEq + Default {
    /// Merges `other` into `self` (least upper bound, in place).
    ///
    /// Returns `true` iff `self` changed, i.e. iff `other` was not already `≤ self`.
    fn join(&mut self, other: &Self) -> bool;

    /// The partial order: `true` iff `self ≤ other`, i.e. `other` already contains everything
    /// `self` knows (`self ⊔ other == other`).
    ///
    /// The default implementation joins a clone; types override it with something cheaper.
    fn leq(&self, other: &Self) -> bool {
        let mut joined = other.clone();
        !joined.join(self)
    }

    /// `true` iff this is the bottom element (`Self::default()`): the state that knows nothing,
    /// and the empty delta.
    fn is_bottom(&self) -> bool {
        *self == Self::default()
    }

    /// The join of two states, by value.
    fn joined(mut self, other: &Self) -> Self {
        self.join(other);
        self
    }
}

/// Lattices whose states split into join-irreducible parts, which gives *optimal deltas*.
///
/// [`decompose`](Decompose::decompose) returns parts `p₁ … pₙ`, none the join of the others,
/// whose join is `self`. From it follows [`difference`](Decompose::difference): the smallest
/// state that carries everything `self` knows and `known` does not, so that
/// `known ⊔ self.difference(known) == known ⊔ self`.
///
/// The transport uses it to forward only the part of a received delta that was new ("RR" in
/// the delta-synchronisation literature) and to answer a full-state repair request with just
/// what the asker lacks.
///
/// ```
/// use gossip_crdt::{Decompose, GSet};
///
/// let incoming: GSet<u32> = [1, 2, 3].into_iter().collect();
/// let mine: GSet<u32> = [2, 3, 4].into_iter().collect();
/// let news = incoming.difference(&mine);
/// assert_eq!(news.iter().copied().collect::<Vec<_>>(), vec![1]);
/// ```
pub trait Decompose: Lattice {
    /// The join-irreducible parts of `self`; their join is `self`. Bottom has no parts.
    fn decompose(&self) -> Vec<Self>;

    /// The parts of `self` that `known` does not already contain, joined.
    fn difference(&self, known: &Self) -> Self {
        let mut out = Self::default();
        for part in self.decompose() {
            if !part.leq(known) {
                out.join(&part);
            }
        }
        out
    }

    /// Joins `delta` into `self` and returns the part of it that was new here: what
    /// `delta.difference(self)` gave before the join. A replica receiving deltas does this
    /// for each one; types override it to do both in one pass over the delta.
    ///
    /// ```
    /// use gossip_crdt::{Decompose, GSet};
    ///
    /// let mut state: GSet<u32> = [1, 2].into_iter().collect();
    /// let news = state.absorb([2, 3].into_iter().collect());
    /// assert_eq!(news, [3].into_iter().collect());
    /// assert_eq!(state, [1, 2, 3].into_iter().collect());
    /// ```
    fn absorb(&mut self, delta: Self) -> Self {
        let news = delta.difference(self);
        self.join(&news);
        news
    }
}
