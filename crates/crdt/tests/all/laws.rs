//! Every type in the crate, checked against the lattice laws, its delta mutators and
//! convergence, with the public `laws` module (1,000 cases per property by default).

use gossip_crdt::laws::{self, Mutation};
use gossip_crdt::{
    CausalContext, CrdtError, Decompose, GCounter, GSet, Lattice, LwwRegister, MvRegister, OrMap,
    OrSet, PnCounter, Resettable, TwoPSet, VersionVector,
};
use quickcheck::{Arbitrary, Gen};

/// Replica ids from a space of three, so that independently generated states share replicas
/// (equal timestamps from one writer, shared dots) and the laws meet the hard cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct R(u8);

impl Arbitrary for R {
    fn arbitrary(g: &mut Gen) -> Self {
        R(u8::arbitrary(g) % 3)
    }
}

/// Elements and values come from a small space so that replicas collide.
fn small_value(g: &mut Gen) -> u8 {
    u8::arbitrary(g) % 6
}

#[derive(Debug, Clone)]
struct Insert(u8);

impl Arbitrary for Insert {
    fn arbitrary(g: &mut Gen) -> Self {
        Insert(small_value(g))
    }
}

impl Mutation<GSet<u8>> for Insert {
    fn delta(&self, _: u8, s: &GSet<u8>) -> Option<GSet<u8>> {
        Some(s.insert_delta(self.0))
    }
    fn apply(&self, _: u8, s: &mut GSet<u8>) -> Option<GSet<u8>> {
        Some(s.insert(self.0))
    }
}

#[derive(Debug, Clone)]
enum TwoPOp {
    Add(u8),
    Remove(u8),
}

impl Arbitrary for TwoPOp {
    fn arbitrary(g: &mut Gen) -> Self {
        if bool::arbitrary(g) {
            TwoPOp::Add(small_value(g))
        } else {
            TwoPOp::Remove(small_value(g))
        }
    }
}

impl Mutation<TwoPSet<u8>> for TwoPOp {
    fn delta(&self, _: u8, s: &TwoPSet<u8>) -> Option<TwoPSet<u8>> {
        Some(match self {
            TwoPOp::Add(v) => s.insert_delta(*v),
            TwoPOp::Remove(v) => s.remove_delta(*v),
        })
    }
    fn apply(&self, _: u8, s: &mut TwoPSet<u8>) -> Option<TwoPSet<u8>> {
        Some(match self {
            TwoPOp::Add(v) => s.insert(*v),
            TwoPOp::Remove(v) => s.remove(*v),
        })
    }
}

#[derive(Debug, Clone)]
struct Tick;

impl Arbitrary for Tick {
    fn arbitrary(_: &mut Gen) -> Self {
        Tick
    }
}

impl Mutation<VersionVector<R>> for Tick {
    fn delta(&self, r: u8, s: &VersionVector<R>) -> Option<VersionVector<R>> {
        s.increment_delta(R(r)).ok()
    }
    fn apply(&self, r: u8, s: &mut VersionVector<R>) -> Option<VersionVector<R>> {
        s.increment(R(r)).ok()
    }
}

#[derive(Debug, Clone)]
struct Increment(u64);

impl Arbitrary for Increment {
    fn arbitrary(g: &mut Gen) -> Self {
        Increment(u64::from(u8::arbitrary(g) % 5))
    }
}

impl Mutation<GCounter<R>> for Increment {
    fn delta(&self, r: u8, s: &GCounter<R>) -> Option<GCounter<R>> {
        s.increment_delta(R(r), self.0).ok()
    }
    fn apply(&self, r: u8, s: &mut GCounter<R>) -> Option<GCounter<R>> {
        s.increment(R(r), self.0).ok()
    }
}

#[derive(Debug, Clone)]
struct Add(i64);

impl Arbitrary for Add {
    fn arbitrary(g: &mut Gen) -> Self {
        Add(i64::from(i8::arbitrary(g) % 6))
    }
}

impl Mutation<PnCounter<R>> for Add {
    fn delta(&self, r: u8, s: &PnCounter<R>) -> Option<PnCounter<R>> {
        let by = self.0.unsigned_abs();
        if self.0 < 0 {
            s.decrement_delta(R(r), by).ok()
        } else {
            s.increment_delta(R(r), by).ok()
        }
    }
    fn apply(&self, r: u8, s: &mut PnCounter<R>) -> Option<PnCounter<R>> {
        let by = self.0.unsigned_abs();
        if self.0 < 0 {
            s.decrement(R(r), by).ok()
        } else {
            s.increment(R(r), by).ok()
        }
    }
}

/// An LWW write; the timestamp comes from the op, as from a replica's clock.
#[derive(Debug, Clone)]
struct Set {
    timestamp: u64,
    value: u8,
}

impl Arbitrary for Set {
    fn arbitrary(g: &mut Gen) -> Self {
        Set {
            timestamp: u64::from(u8::arbitrary(g) % 4),
            value: small_value(g),
        }
    }
}

impl Mutation<LwwRegister<u8, R>> for Set {
    fn delta(&self, r: u8, s: &LwwRegister<u8, R>) -> Option<LwwRegister<u8, R>> {
        Some(s.write_delta(self.timestamp, R(r), self.value))
    }
    fn apply(&self, r: u8, s: &mut LwwRegister<u8, R>) -> Option<LwwRegister<u8, R>> {
        Some(s.write(self.timestamp, R(r), self.value))
    }
}

#[derive(Debug, Clone)]
enum OrOp {
    Add(u8),
    Remove(u8),
}

impl Arbitrary for OrOp {
    fn arbitrary(g: &mut Gen) -> Self {
        if bool::arbitrary(g) {
            OrOp::Add(small_value(g))
        } else {
            OrOp::Remove(small_value(g))
        }
    }
}

impl Mutation<OrSet<u8, R>> for OrOp {
    fn delta(&self, r: u8, s: &OrSet<u8, R>) -> Option<OrSet<u8, R>> {
        match self {
            OrOp::Add(v) => s.insert_delta(R(r), *v).ok(),
            OrOp::Remove(v) => Some(s.remove_delta(v)),
        }
    }
    fn apply(&self, r: u8, s: &mut OrSet<u8, R>) -> Option<OrSet<u8, R>> {
        match self {
            OrOp::Add(v) => s.insert(R(r), *v).ok(),
            OrOp::Remove(v) => Some(s.remove(v)),
        }
    }
}

#[derive(Debug, Clone)]
struct Write(u8);

impl Arbitrary for Write {
    fn arbitrary(g: &mut Gen) -> Self {
        Write(small_value(g))
    }
}

impl Mutation<MvRegister<u8, R>> for Write {
    fn delta(&self, r: u8, s: &MvRegister<u8, R>) -> Option<MvRegister<u8, R>> {
        s.write_delta(R(r), self.0).ok()
    }
    fn apply(&self, r: u8, s: &mut MvRegister<u8, R>) -> Option<MvRegister<u8, R>> {
        s.write(R(r), self.0).ok()
    }
}

/// An operation on a map: update a key with an operation of the value's type, or remove it.
/// Keys come from a space of three, so that updates and removes of one key meet.
#[derive(Debug, Clone)]
enum MapOp<M> {
    Update(u8, M),
    Remove(u8),
}

impl<M: Arbitrary> Arbitrary for MapOp<M> {
    fn arbitrary(g: &mut Gen) -> Self {
        let key = u8::arbitrary(g) % 3;
        if u8::arbitrary(g) % 3 == 0 {
            MapOp::Remove(key)
        } else {
            MapOp::Update(key, M::arbitrary(g))
        }
    }
}

/// The error a refused value operation becomes inside a map update.
fn refused() -> CrdtError {
    CrdtError::Overflow {
        operation: "a value operation",
    }
}

impl<V, M> Mutation<OrMap<u8, V, R>> for MapOp<M>
where
    V: Resettable,
    M: Mutation<V> + 'static,
{
    fn delta(&self, r: u8, s: &OrMap<u8, V, R>) -> Option<OrMap<u8, V, R>> {
        match self {
            MapOp::Update(key, op) => s
                .update_delta(R(r), *key, |v| op.delta(r, v).ok_or_else(refused))
                .ok(),
            MapOp::Remove(key) => Some(s.remove_delta(key)),
        }
    }
    fn apply(&self, r: u8, s: &mut OrMap<u8, V, R>) -> Option<OrMap<u8, V, R>> {
        match self {
            MapOp::Update(key, op) => s
                .update(R(r), *key, |v| op.delta(r, v).ok_or_else(refused))
                .ok(),
            MapOp::Remove(key) => Some(s.remove(key)),
        }
    }
}

type Map<V> = OrMap<u8, V, R>;

#[test]
fn map_of_counters_obeys_the_laws() {
    laws::check::<Map<GCounter<R>>, MapOp<Increment>>();
    laws::check::<Map<PnCounter<R>>, MapOp<Add>>();
    laws::check_decompose::<Map<GCounter<R>>>();
    laws::check_decompose::<Map<PnCounter<R>>>();
}

#[test]
fn map_of_sets_obeys_the_laws() {
    laws::check::<Map<OrSet<u8, R>>, MapOp<OrOp>>();
    laws::check::<Map<GSet<u8>>, MapOp<Insert>>();
    laws::check::<Map<TwoPSet<u8>>, MapOp<TwoPOp>>();
    laws::check_decompose::<Map<OrSet<u8, R>>>();
    laws::check_decompose::<Map<GSet<u8>>>();
    laws::check_decompose::<Map<TwoPSet<u8>>>();
}

#[test]
fn map_of_registers_obeys_the_laws() {
    laws::check::<Map<MvRegister<u8, R>>, MapOp<Write>>();
    laws::check::<Map<LwwRegister<u8, R>>, MapOp<Set>>();
    laws::check::<Map<VersionVector<R>>, MapOp<Tick>>();
    laws::check_decompose::<Map<MvRegister<u8, R>>>();
    laws::check_decompose::<Map<LwwRegister<u8, R>>>();
    laws::check_decompose::<Map<VersionVector<R>>>();
}

#[test]
fn map_of_maps_obeys_the_laws() {
    laws::check::<Map<Map<PnCounter<R>>>, MapOp<MapOp<Add>>>();
    laws::check::<Map<Map<OrSet<u8, R>>>, MapOp<MapOp<OrOp>>>();
    laws::check_decompose::<Map<Map<PnCounter<R>>>>();
    laws::check_decompose::<Map<Map<OrSet<u8, R>>>>();
}

#[test]
fn g_set_obeys_the_laws() {
    laws::check::<GSet<u8>, Insert>();
}

#[test]
fn two_p_set_obeys_the_laws() {
    laws::check::<TwoPSet<u8>, TwoPOp>();
}

#[test]
fn version_vector_obeys_the_laws() {
    laws::check::<VersionVector<R>, Tick>();
}

#[test]
fn g_counter_obeys_the_laws() {
    laws::check::<GCounter<R>, Increment>();
}

#[test]
fn pn_counter_obeys_the_laws() {
    laws::check::<PnCounter<R>, Add>();
}

#[test]
fn lww_register_obeys_the_laws() {
    laws::check::<LwwRegister<u8, R>, Set>();
}

#[test]
fn causal_context_obeys_the_laws() {
    laws::check_lattice::<CausalContext<R>>();
}

#[test]
fn or_set_obeys_the_laws() {
    laws::check::<OrSet<u8, R>, OrOp>();
}

#[test]
fn mv_register_obeys_the_laws() {
    laws::check::<MvRegister<u8, R>, Write>();
}

#[test]
fn every_decomposable_type_absorbs_and_differs_lawfully() {
    laws::check_decompose::<GSet<u8>>();
    laws::check_decompose::<TwoPSet<u8>>();
    laws::check_decompose::<VersionVector<R>>();
    laws::check_decompose::<GCounter<R>>();
    laws::check_decompose::<PnCounter<R>>();
    laws::check_decompose::<LwwRegister<u8, R>>();
    laws::check_decompose::<OrSet<u8, R>>();
    laws::check_decompose::<MvRegister<u8, R>>();
}

/// The checks must be able to fail: a "join" that is not idempotent is caught.
#[test]
fn a_broken_lattice_is_caught() {
    #[derive(Debug, Clone, PartialEq, Default)]
    struct Sum(u8);
    impl Lattice for Sum {
        fn join(&mut self, other: &Self) -> bool {
            self.0 = self.0.wrapping_add(other.0);
            other.0 != 0
        }
    }
    impl Arbitrary for Sum {
        fn arbitrary(g: &mut Gen) -> Self {
            Sum(u8::arbitrary(g))
        }
    }
    let caught = std::panic::catch_unwind(|| {
        laws::Checker::new().tests(200).seed(7).lattice::<Sum>();
    });
    assert!(
        caught.is_err(),
        "addition is not a join, the laws must say so"
    );
    assert!(!laws::idempotent(&Sum(3)));
}

/// The decomposition checks must be able to fail too: an `absorb` that returns the whole
/// delta (forwarding what the replica already had) is caught.
#[test]
fn an_absorb_that_forwards_known_parts_is_caught() {
    #[derive(Debug, Clone, PartialEq, Default)]
    struct Leaky(GSet<u8>);
    impl Lattice for Leaky {
        fn join(&mut self, other: &Self) -> bool {
            self.0.join(&other.0)
        }
    }
    impl Decompose for Leaky {
        fn decompose(&self) -> Vec<Self> {
            self.0.decompose().into_iter().map(Leaky).collect()
        }
        fn absorb(&mut self, delta: Self) -> Self {
            self.join(&delta);
            delta
        }
    }
    impl Arbitrary for Leaky {
        fn arbitrary(g: &mut Gen) -> Self {
            Leaky(GSet::arbitrary(g))
        }
    }
    let caught = std::panic::catch_unwind(|| {
        laws::Checker::new().tests(200).seed(7).decompose::<Leaky>();
    });
    assert!(caught.is_err(), "a leaky absorb must be reported");
}

/// A difference that always returns something (the whole state) loses nothing and agrees with
/// `absorb`, but gossip forwarding it would never go quiet: the decomposition checks catch it.
#[test]
fn a_difference_that_is_never_quiet_is_caught() {
    #[derive(Debug, Clone, PartialEq, Default)]
    struct Noisy(GSet<u8>);
    impl Lattice for Noisy {
        fn join(&mut self, other: &Self) -> bool {
            self.0.join(&other.0)
        }
    }
    impl Decompose for Noisy {
        fn decompose(&self) -> Vec<Self> {
            self.0.decompose().into_iter().map(Noisy).collect()
        }
        fn difference(&self, _known: &Self) -> Self {
            self.clone()
        }
    }
    impl Arbitrary for Noisy {
        fn arbitrary(g: &mut Gen) -> Self {
            Noisy(GSet::arbitrary(g))
        }
    }
    let caught = std::panic::catch_unwind(|| {
        laws::Checker::new().tests(200).seed(7).decompose::<Noisy>();
    });
    assert!(
        caught.is_err(),
        "a difference that is never bottom must be reported"
    );
}
