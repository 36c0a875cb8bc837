//! `Arbitrary` for every type in the crate, so the laws can be checked on them and on types
//! built from them.
//!
//! Counters and clocks are drawn from a tiny range on purpose: laws fail on collisions (equal
//! timestamps, shared dots, equal entries), and collisions only happen in small spaces.

use std::collections::BTreeMap;

use quickcheck::{Arbitrary, Gen};

use crate::{
    CausalContext, Decompose, Dot, GCounter, GSet, Lattice, LwwRegister, MvRegister, OrMap, OrSet,
    PnCounter, Resettable, Sibling, TwoPSet, VersionVector,
};

/// Shrinks a state by leaving out one of its join-irreducible parts at a time.
fn shrink_parts<L: Decompose + 'static>(state: &L) -> Box<dyn Iterator<Item = L>> {
    let parts = state.decompose();
    Box::new((0..parts.len()).map(move |skip| {
        let mut smaller = L::default();
        for (i, part) in parts.iter().enumerate() {
            if i != skip {
                smaller.join(part);
            }
        }
        smaller
    }))
}

/// A small count, 0 to 7.
fn small(g: &mut Gen) -> u64 {
    u64::from(u8::arbitrary(g) % 8)
}

impl<T: Arbitrary + Ord + Clone> Arbitrary for GSet<T> {
    fn arbitrary(g: &mut Gen) -> Self {
        Vec::<T>::arbitrary(g).into_iter().collect()
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let elements: Vec<T> = self.iter().cloned().collect();
        Box::new(elements.shrink().map(|v| v.into_iter().collect()))
    }
}

impl<T: Arbitrary + Ord + Clone> Arbitrary for TwoPSet<T> {
    fn arbitrary(g: &mut Gen) -> Self {
        let mut set = TwoPSet::new();
        for value in Vec::<T>::arbitrary(g) {
            set.insert(value);
        }
        for value in Vec::<T>::arbitrary(g) {
            set.remove(value);
        }
        set
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        shrink_parts(self)
    }
}

impl<A: Arbitrary + Ord + Clone> Arbitrary for VersionVector<A> {
    fn arbitrary(g: &mut Gen) -> Self {
        let len = usize::from(u8::arbitrary(g) % 5);
        (0..len).map(|_| (A::arbitrary(g), small(g))).collect()
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let entries: Vec<(A, u64)> = self.iter().map(|(a, n)| (a.clone(), n)).collect();
        Box::new(entries.shrink().map(|v| v.into_iter().collect()))
    }
}

impl<A: Arbitrary + Ord + Clone> Arbitrary for GCounter<A> {
    fn arbitrary(g: &mut Gen) -> Self {
        let mut counter = GCounter::new();
        for (replica, by) in Vec::<(A, u8)>::arbitrary(g) {
            // Overflow cannot happen with u8 steps from zero.
            let _ = counter.increment(replica, u64::from(by % 8));
        }
        counter
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        shrink_parts(self)
    }
}

impl<A: Arbitrary + Ord + Clone> Arbitrary for PnCounter<A> {
    fn arbitrary(g: &mut Gen) -> Self {
        let mut counter = PnCounter::new();
        for (replica, delta) in Vec::<(A, i8)>::arbitrary(g) {
            let by = (delta % 8).unsigned_abs().into();
            // Overflow cannot happen with small steps from zero.
            let _ = if delta < 0 {
                counter.decrement(replica, by)
            } else {
                counter.increment(replica, by)
            };
        }
        counter
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        shrink_parts(self)
    }
}

impl<T: Arbitrary + Ord + Clone, A: Arbitrary + Ord + Clone> Arbitrary for LwwRegister<T, A> {
    fn arbitrary(g: &mut Gen) -> Self {
        let mut register = LwwRegister::new();
        if bool::arbitrary(g) {
            register.write(small(g), A::arbitrary(g), T::arbitrary(g));
        }
        register
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        shrink_parts(self)
    }
}

impl<A: Arbitrary> Arbitrary for Dot<A> {
    fn arbitrary(g: &mut Gen) -> Self {
        Dot {
            replica: A::arbitrary(g),
            counter: 1 + small(g),
        }
    }
}

impl<A: Arbitrary + Ord + Clone> Arbitrary for CausalContext<A> {
    fn arbitrary(g: &mut Gen) -> Self {
        Vec::<Dot<A>>::arbitrary(g).into_iter().collect()
    }
}

/// Every dot of a context, for building entries over it. Counters here are small.
fn dots_of<A: Ord + Clone>(context: &CausalContext<A>) -> Vec<Dot<A>> {
    let prefix = context.vector().iter().flat_map(|(replica, count)| {
        (1..=count).map(move |counter| Dot {
            replica: replica.clone(),
            counter,
        })
    });
    prefix.chain(context.cloud().cloned()).collect()
}

impl<T: Arbitrary + Ord + Clone, A: Arbitrary + Ord + Clone> Arbitrary for OrSet<T, A> {
    /// A context of small dots; each dot is live (supporting a random element) or removed.
    /// Independently generated sets may give one dot different elements: the laws must hold
    /// even then, since join treats `(element, dot)` pairs uniformly.
    fn arbitrary(g: &mut Gen) -> Self {
        let context = CausalContext::<A>::arbitrary(g);
        let mut entries: BTreeMap<T, Vec<Dot<A>>> = BTreeMap::new();
        for dot in dots_of(&context) {
            if bool::arbitrary(g) {
                entries.entry(T::arbitrary(g)).or_default().push(dot);
            }
        }
        OrSet::from_parts(entries, context)
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        shrink_parts(self)
    }
}

impl<T: Arbitrary + Ord + Clone, A: Arbitrary + Ord + Clone> Arbitrary for MvRegister<T, A> {
    fn arbitrary(g: &mut Gen) -> Self {
        let mut register = MvRegister::new();
        let len = usize::from(u8::arbitrary(g) % 4);
        for _ in 0..len {
            register.join(&MvRegister::from_sibling(Sibling {
                clock: VersionVector::arbitrary(g),
                value: T::arbitrary(g),
            }));
        }
        register
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        shrink_parts(self)
    }
}

/// A few `(key, value)` pairs, joined where a key repeats.
fn small_map<K: Arbitrary + Ord + Clone, V: Arbitrary + Lattice>(g: &mut Gen) -> BTreeMap<K, V> {
    let mut out: BTreeMap<K, V> = BTreeMap::new();
    for _ in 0..u8::arbitrary(g) % 4 {
        out.entry(K::arbitrary(g))
            .or_default()
            .join(&V::arbitrary(g));
    }
    out
}

impl<K, V, A> Arbitrary for OrMap<K, V, A>
where
    K: Arbitrary + Ord + Clone,
    V: Arbitrary + Resettable + Decompose,
    A: Arbitrary + Ord + Clone,
{
    /// An arbitrary key set, and a few values and floors under arbitrary keys (present or
    /// not): every combination is a state some history reaches.
    fn arbitrary(g: &mut Gen) -> Self {
        OrMap::from_parts(OrSet::arbitrary(g), small_map(g), small_map(g))
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        shrink_parts(self)
    }
}
