//! The join-semilattice laws as executable checks, for this crate's types and for yours.
//!
//! A CRDT is only as good as its join: if it is not commutative, associative and idempotent,
//! replicas that saw the same updates can disagree forever, and no amount of retransmission
//! fixes that. This module states each law as a plain function returning `bool` (use them with
//! any property-testing tool) and runs them all with quickcheck in one line:
//!
//! ```
//! use gossip_crdt::{laws, GSet};
//!
//! laws::check_lattice::<GSet<u8>>();
//! ```
//!
//! # Checking your own type
//!
//! Implement [`Lattice`] and quickcheck's `Arbitrary` for the state (keep the value space small,
//! e.g. `u8` elements, so that generated states overlap), and [`Mutation`] for an enum of its
//! operations; then [`check`] runs the lattice laws, "each delta mutator equals direct
//! mutation", and convergence under any delivery order with duplicates:
//!
//! ```
//! use gossip_crdt::laws::{self, Mutation};
//! use gossip_crdt::Lattice;
//! use quickcheck::{Arbitrary, Gen};
//!
//! /// A "maximum seen" register: join is max.
//! #[derive(Debug, Clone, Copy, PartialEq, Default)]
//! struct Max(u8);
//!
//! impl Lattice for Max {
//!     fn join(&mut self, other: &Self) -> bool {
//!         let changed = other.0 > self.0;
//!         self.0 = self.0.max(other.0);
//!         changed
//!     }
//! }
//!
//! impl Arbitrary for Max {
//!     fn arbitrary(g: &mut Gen) -> Self {
//!         Max(u8::arbitrary(g))
//!     }
//! }
//!
//! /// Its one operation: propose a value.
//! #[derive(Debug, Clone)]
//! struct Propose(u8);
//!
//! impl Arbitrary for Propose {
//!     fn arbitrary(g: &mut Gen) -> Self {
//!         Propose(u8::arbitrary(g))
//!     }
//! }
//!
//! impl Mutation<Max> for Propose {
//!     fn delta(&self, _replica: u8, state: &Max) -> Option<Max> {
//!         Some(if self.0 > state.0 { Max(self.0) } else { Max::default() })
//!     }
//!     fn apply(&self, _replica: u8, state: &mut Max) -> Option<Max> {
//!         let delta = self.delta(0, state)?;
//!         state.0 = state.0.max(self.0);
//!         Some(delta)
//!     }
//! }
//!
//! laws::check::<Max, Propose>();
//! ```
//!
//! The number of cases per property is `QUICKCHECK_TESTS` (default 1,000 here, not
//! quickcheck's 100). Every run prints its seed to stderr, shown when a check fails; set
//! `GOSSIP_LAWS_SEED` to replay it.

mod arbitrary;

use std::fmt::Debug;

use quickcheck::{Arbitrary, Gen, QuickCheck, TestResult};

use crate::{Decompose, Lattice};

/// `a ⊔ b == b ⊔ a`.
pub fn commutative<L: Lattice>(a: &L, b: &L) -> bool {
    a.clone().joined(b) == b.clone().joined(a)
}

/// `(a ⊔ b) ⊔ c == a ⊔ (b ⊔ c)`.
pub fn associative<L: Lattice>(a: &L, b: &L, c: &L) -> bool {
    a.clone().joined(b).joined(c) == a.clone().joined(&b.clone().joined(c))
}

/// `a ⊔ a == a`, and joining `a` into itself reports no change.
pub fn idempotent<L: Lattice>(a: &L) -> bool {
    let mut x = a.clone();
    !x.join(a) && x == *a
}

/// `a ≤ a ⊔ b` and `b ≤ a ⊔ b`: join never loses information.
pub fn inflation<L: Lattice>(a: &L, b: &L) -> bool {
    let j = a.clone().joined(b);
    a.leq(&j) && b.leq(&j)
}

/// `a ≤ b` iff `a ⊔ b == b`, and `≤` is reflexive.
pub fn order_agrees_with_join<L: Lattice>(a: &L, b: &L) -> bool {
    a.leq(a) && a.leq(b) == (a.clone().joined(b) == *b)
}

/// `⊥ ⊔ a == a` and `a ⊔ ⊥ == a`, and `is_bottom` recognises `⊥`.
pub fn bottom_is_identity<L: Lattice>(a: &L) -> bool {
    let bottom = L::default();
    bottom.is_bottom()
        && bottom.clone().joined(a) == *a
        && a.clone().joined(&bottom) == *a
        && a.is_bottom() == (*a == bottom)
}

/// `a.join(b)` returns `true` iff `a` changed.
pub fn join_reports_change<L: Lattice>(a: &L, b: &L) -> bool {
    let mut x = a.clone();
    let reported = x.join(b);
    reported == (x != *a)
}

/// `known ⊔ a.difference(known) == known ⊔ a`, and the difference is part of `a`: sending
/// only the difference loses nothing.
pub fn difference_recovers<L: Decompose>(a: &L, known: &L) -> bool {
    let diff = a.difference(known);
    diff.leq(a) && known.clone().joined(&diff) == known.clone().joined(a)
}

/// `a.difference(known)` is bottom exactly when `a ≤ known`: nothing new gives no news, so
/// gossip that forwards whatever news is not bottom goes quiet.
pub fn difference_is_bottom_iff_leq<L: Decompose>(a: &L, known: &L) -> bool {
    a.difference(known).is_bottom() == a.leq(known)
}

/// `state.absorb(delta)` joins `delta` into `state` and returns exactly
/// `delta.difference(state)` as it was before.
pub fn absorb_agrees_with_difference<L: Decompose>(state: &L, delta: &L) -> bool {
    let mut absorbed = state.clone();
    let news = absorbed.absorb(delta.clone());
    news == delta.difference(state) && absorbed == state.clone().joined(delta)
}

/// An operation on a lattice, for checking delta mutators and convergence.
///
/// `replica` is the index (0, 1, 2, ...) of the simulated replica performing the operation;
/// map it to your replica id type so that distinct replicas never share an id.
pub trait Mutation<L>: Arbitrary + Debug {
    /// The delta the operation produces on `state`, without applying it; `None` if the
    /// operation is refused (e.g. a counter at its maximum).
    fn delta(&self, replica: u8, state: &L) -> Option<L>;

    /// Applies the operation directly and returns its delta; `None` (and `state` unchanged)
    /// exactly when [`delta`](Mutation::delta) refuses.
    fn apply(&self, replica: u8, state: &mut L) -> Option<L>;
}

/// Generating a delta and joining it equals mutating directly, and both report the same
/// delta; a refused operation leaves the state unchanged.
pub fn delta_matches_mutation<L: Lattice, M: Mutation<L>>(state: &L, replica: u8, op: &M) -> bool {
    let generated = op.delta(replica, state);
    let mut direct = state.clone();
    let applied = op.apply(replica, &mut direct);
    match (generated, applied) {
        (Some(delta), Some(returned)) => {
            delta == returned && state.clone().joined(&delta) == direct
        }
        (None, None) => direct == *state,
        _ => false,
    }
}

/// How many replicas [`converges`] simulates.
pub const CONVERGENCE_REPLICAS: u8 = 3;

/// Replicas that apply the same deltas, in any order, with duplicates, end equal, and equal to
/// the join of everything.
///
/// Each `(replica, op)` runs on replica `replica % CONVERGENCE_REPLICAS`, which first receives
/// a random selection of the deltas produced so far (so operations see partial histories, as
/// on a real network). Afterwards every replica receives every delta in a shuffled order, some
/// twice. `schedule` seeds those random choices.
pub fn converges<L: Lattice, M: Mutation<L>>(ops: &[(u8, M)], schedule: u64) -> bool {
    let mut rng = SplitMix64(schedule);
    let n = usize::from(CONVERGENCE_REPLICAS);
    let mut replicas = vec![L::default(); n];
    let mut deltas: Vec<L> = Vec::new();
    for (replica, op) in ops {
        let r = usize::from(replica % CONVERGENCE_REPLICAS);
        for d in &deltas {
            if rng.below(3) == 0 {
                replicas[r].join(d);
            }
        }
        if let Some(delta) = op.apply(r as u8, &mut replicas[r]) {
            deltas.push(delta);
        }
    }
    let mut everything = L::default();
    for d in &deltas {
        everything.join(d);
    }
    for replica in &mut replicas {
        let mut order: Vec<usize> = (0..deltas.len()).collect();
        for i in 0..deltas.len() {
            if rng.below(4) == 0 {
                order.push(i);
            }
        }
        rng.shuffle(&mut order);
        for i in order {
            replica.join(&deltas[i]);
        }
    }
    // Replicas also hold what they generated locally, which is in `deltas` too.
    replicas.iter().all(|r| *r == everything)
}

/// Runs the law checks with a chosen number of cases and seed.
#[derive(Debug, Clone)]
pub struct Checker {
    tests: u64,
    seed: u64,
    size: usize,
}

impl Default for Checker {
    fn default() -> Self {
        Self::new()
    }
}

impl Checker {
    /// Cases from `QUICKCHECK_TESTS` (default 1,000), seed from `GOSSIP_LAWS_SEED` (default
    /// random), generator size from `QUICKCHECK_GENERATOR_SIZE` (default 30).
    pub fn new() -> Self {
        let env_u64 = |key: &str| std::env::var(key).ok().and_then(|v| v.parse::<u64>().ok());
        Checker {
            tests: env_u64("QUICKCHECK_TESTS").unwrap_or(1000),
            seed: env_u64("GOSSIP_LAWS_SEED").unwrap_or_else(random_seed),
            size: env_u64("QUICKCHECK_GENERATOR_SIZE")
                .and_then(|s| usize::try_from(s).ok())
                .unwrap_or(30),
        }
    }

    /// Sets the number of cases per property.
    pub fn tests(mut self, tests: u64) -> Self {
        self.tests = tests;
        self
    }

    /// Sets the seed, to replay a failure.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The seed this checker uses.
    pub fn seed_value(&self) -> u64 {
        self.seed
    }

    fn run<A: quickcheck::Testable>(&self, law: &str, type_name: &str, prop: A) {
        // Printed up front: the test harness shows it only when the check below panics.
        eprintln!(
            "laws: {type_name}: {law}: {} cases, seed {} (replay: GOSSIP_LAWS_SEED={})",
            self.tests, self.seed, self.seed
        );
        QuickCheck::new()
            .tests(self.tests)
            .max_tests(self.tests.saturating_mul(10))
            .rng(Gen::from_size_and_seed(self.size, self.seed))
            .quickcheck(prop);
    }

    /// Checks every lattice law on `L`; panics with a counterexample on failure.
    pub fn lattice<L: Lattice + Arbitrary + Debug>(&self) {
        let name = std::any::type_name::<L>();
        self.run(
            "commutative",
            name,
            (|a: L, b: L| verdict(commutative(&a, &b), || format!("a = {a:?}\nb = {b:?}")))
                as fn(L, L) -> TestResult,
        );
        self.run(
            "associative",
            name,
            (|a: L, b: L, c: L| {
                verdict(associative(&a, &b, &c), || {
                    format!("a = {a:?}\nb = {b:?}\nc = {c:?}")
                })
            }) as fn(L, L, L) -> TestResult,
        );
        self.run(
            "idempotent",
            name,
            (|a: L| verdict(idempotent(&a), || format!("a = {a:?}"))) as fn(L) -> TestResult,
        );
        self.run(
            "inflation",
            name,
            (|a: L, b: L| verdict(inflation(&a, &b), || format!("a = {a:?}\nb = {b:?}")))
                as fn(L, L) -> TestResult,
        );
        self.run(
            "order agrees with join",
            name,
            (|a: L, b: L| {
                verdict(order_agrees_with_join(&a, &b), || {
                    format!("a = {a:?}\nb = {b:?}")
                })
            }) as fn(L, L) -> TestResult,
        );
        self.run(
            "bottom is the identity",
            name,
            (|a: L| verdict(bottom_is_identity(&a), || format!("a = {a:?}")))
                as fn(L) -> TestResult,
        );
        self.run(
            "join reports change",
            name,
            (|a: L, b: L| {
                verdict(join_reports_change(&a, &b), || {
                    format!("a = {a:?}\nb = {b:?}")
                })
            }) as fn(L, L) -> TestResult,
        );
    }

    /// Checks `L`'s [`Decompose`] methods: the difference loses nothing and is bottom exactly
    /// when nothing is new, and `absorb` agrees with `difference` and `join`; panics with a
    /// counterexample on failure.
    pub fn decompose<L: Decompose + Arbitrary + Debug>(&self) {
        let name = std::any::type_name::<L>();
        self.run(
            "difference recovers the join",
            name,
            (|a: L, known: L| {
                verdict(difference_recovers(&a, &known), || {
                    format!("a = {a:?}\nknown = {known:?}")
                })
            }) as fn(L, L) -> TestResult,
        );
        self.run(
            "difference is bottom iff nothing is new",
            name,
            (|a: L, known: L| {
                let copy = a.clone();
                verdict(
                    difference_is_bottom_iff_leq(&a, &known)
                        && difference_is_bottom_iff_leq(&a, &copy)
                        && difference_is_bottom_iff_leq(&a, &a.clone().joined(&known)),
                    || format!("a = {a:?}\nknown = {known:?}"),
                )
            }) as fn(L, L) -> TestResult,
        );
        self.run(
            "absorb agrees with difference and join",
            name,
            (|state: L, delta: L| {
                verdict(absorb_agrees_with_difference(&state, &delta), || {
                    format!("state = {state:?}\ndelta = {delta:?}")
                })
            }) as fn(L, L) -> TestResult,
        );
    }

    /// Checks that `M`'s delta mutators equal direct mutation and that replicas exchanging
    /// their deltas converge; panics with a counterexample on failure.
    pub fn mutation<L, M>(&self)
    where
        L: Lattice + Arbitrary + Debug,
        M: Mutation<L> + 'static,
    {
        let name = std::any::type_name::<M>();
        self.run(
            "delta equals direct mutation",
            name,
            (|state: L, replica: u8, op: M| {
                verdict(delta_matches_mutation(&state, replica, &op), || {
                    format!("state = {state:?}\nreplica = {replica}\nop = {op:?}")
                })
            }) as fn(L, u8, M) -> TestResult,
        );
        self.run(
            "convergence under any delivery order",
            name,
            (|ops: Vec<(u8, M)>, schedule: u64| {
                verdict(converges::<L, M>(&ops, schedule), || {
                    format!("ops = {ops:?}\nschedule = {schedule}")
                })
            }) as fn(Vec<(u8, M)>, u64) -> TestResult,
        );
    }
}

/// Passes, or fails with the counterexample spelled out (quickcheck alone prints the
/// arguments only when it managed to shrink them).
fn verdict(holds: bool, counterexample: impl FnOnce() -> String) -> TestResult {
    if holds {
        TestResult::passed()
    } else {
        TestResult::error(format!("counterexample:\n{}", counterexample()))
    }
}

/// Checks every lattice law on `L` with the default [`Checker`].
pub fn check_lattice<L: Lattice + Arbitrary + Debug>() {
    Checker::new().lattice::<L>();
}

/// Checks `L`'s [`Decompose`] methods with the default [`Checker`].
pub fn check_decompose<L: Decompose + Arbitrary + Debug>() {
    Checker::new().decompose::<L>();
}

/// Checks `M`'s mutators and convergence with the default [`Checker`].
pub fn check_mutation<L, M>()
where
    L: Lattice + Arbitrary + Debug,
    M: Mutation<L> + 'static,
{
    Checker::new().mutation::<L, M>();
}

/// Checks everything: the lattice laws on `L`, and `M`'s mutators and convergence.
pub fn check<L, M>()
where
    L: Lattice + Arbitrary + Debug,
    M: Mutation<L> + 'static,
{
    let checker = Checker::new();
    checker.lattice::<L>();
    checker.mutation::<L, M>();
}

fn random_seed() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

/// SplitMix64: a tiny, well-distributed generator for delivery schedules, so this module needs
/// no RNG crate.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}
