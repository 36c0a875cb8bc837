//! Work, counted: what a hostile state can make a replica pay per delta.
//!
//! The transport joins every delta a peer sends into its state and compares every digest it
//! receives, so the cost of those operations is a peer's lever. Replica ids here are a type
//! that counts every comparison and clone it takes part in; each test builds an adversarial
//! state (thousands of loose dots, thousands of MV siblings, counters next to `u64::MAX`),
//! then asserts that an operation's count stays within `C · size · log2(state)`, where `size`
//! is the delta's (plus what the operation removes or returns). Counting instead of timing
//! keeps the tests exact on a loaded machine.

use std::cell::Cell;
use std::cmp::Ordering;
use std::fmt::Write as _;

use gossip_crdt::{
    CausalContext, CrdtError, Decompose, Dot, Lattice, MvRegister, OrMap, OrSet, PnCounter,
};
use quickcheck::{Arbitrary, Gen, QuickCheck};
use serde::Deserialize;

thread_local! {
    static WORK: Cell<u64> = const { Cell::new(0) };
}

fn tick() {
    WORK.with(|w| w.set(w.get() + 1));
}

/// Runs `f` and returns its result with the comparisons and clones of ids it made.
fn counted<R>(f: impl FnOnce() -> R) -> (R, u64) {
    WORK.with(|w| w.set(0));
    let out = f();
    (out, WORK.with(Cell::get))
}

/// A replica id that counts its comparisons and clones.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
struct Id(u32);

impl Clone for Id {
    fn clone(&self) -> Self {
        tick();
        Id(self.0)
    }
}

impl PartialEq for Id {
    fn eq(&self, other: &Self) -> bool {
        tick();
        self.0 == other.0
    }
}

impl Eq for Id {}

impl PartialOrd for Id {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Id {
    fn cmp(&self, other: &Self) -> Ordering {
        tick();
        self.0.cmp(&other.0)
    }
}

/// Work allowed per unit of size per `log2` of the state: a few times what the operations
/// below need, far below what walking the state costs.
const C: u64 = 24;

fn log2(n: usize) -> u64 {
    u64::from((n + 2).ilog2() + 1)
}

#[track_caller]
fn within(work: u64, size: usize, state: usize, what: &str) {
    let bound = C * (size as u64 + 1) * log2(state);
    assert!(
        work <= bound,
        "{what}: {work} steps for size {size} against a state of {state} (bound {bound})"
    );
}

const MAX: u64 = u64::MAX;

// ---------------------------------------------------------------------------------------------
// OR-Sets and causal contexts with many loose dots
// ---------------------------------------------------------------------------------------------

/// The shape of a hostile OR-Set: `replicas` replicas, each with a gap-free prefix (small, or
/// a few thousand short of `u64::MAX`) and loose dots every other counter above it; every
/// third loose dot is live, and the near-top replicas also hold the dot `u64::MAX`.
#[derive(Debug, Clone)]
struct Shape {
    replicas: u32,
    loose: u64,
    near_top: bool,
}

impl Shape {
    fn prefix(&self, replica: u32) -> u64 {
        if self.near_top && replica.is_multiple_of(2) {
            MAX - 4 * self.loose - 10
        } else {
            u64::from(replica) + 3
        }
    }

    /// Loose dots per replica.
    fn per_replica(&self) -> u64 {
        self.loose / u64::from(self.replicas)
    }

    fn state(&self) -> OrSet<u32, Id> {
        let mut vv = String::new();
        let mut cloud = String::new();
        let mut entries = String::new();
        let mut element = 0u32;
        for r in 0..self.replicas {
            let v = self.prefix(r);
            let _ = write!(vv, "{}\"{r}\":{v}", if r == 0 { "" } else { "," });
            let _ = write!(
                entries,
                "{}[{element},[[{r},{v}]]]",
                if r == 0 { "" } else { "," }
            );
            element += 1;
            let mut loose: Vec<u64> = (0..self.per_replica()).map(|j| v + 2 + 2 * j).collect();
            if self.near_top && r.is_multiple_of(2) {
                loose.push(MAX);
            }
            for (j, c) in loose.iter().enumerate() {
                let _ = write!(
                    cloud,
                    "{}[{r},{c}]",
                    if cloud.is_empty() { "" } else { "," }
                );
                if j % 3 == 0 {
                    let _ = write!(entries, ",[{element},[[{r},{c}]]]");
                    element += 1;
                }
            }
        }
        let json =
            format!(r#"{{"entries":[{entries}],"context":{{"vv":{{{vv}}},"cloud":[{cloud}]}}}}"#);
        serde_json::from_str(&json).expect("a valid hostile state")
    }

    /// A counter near what the state holds for replica `r` (a replica the state lacks when
    /// `r == replicas`), chosen by `kind` and `pick`.
    fn counter(&self, r: u32, kind: u8, pick: u16) -> u64 {
        let v = self.prefix(r.min(self.replicas - 1));
        let j = u64::from(pick) % self.per_replica().max(1);
        match kind % 9 {
            0 => v + 1,         // closes the first gap
            1 => v + 2 + 2 * j, // a loose dot the state has
            2 => v + 3 + 2 * j, // fills a gap between two
            3 => MAX,
            4 => MAX - 1,
            5 => 1,
            6 => v,
            7 => v + 2 * self.per_replica() + 7, // beyond them all
            _ => MAX - u64::from(pick % 4),
        }
    }
}

impl Arbitrary for Shape {
    fn arbitrary(g: &mut Gen) -> Self {
        Shape {
            replicas: 1 + u32::from(u8::arbitrary(g) % 6),
            loose: 2_000 + 1_000 * u64::from(u8::arbitrary(g) % 2),
            near_top: bool::arbitrary(g),
        }
    }
}

/// A small delta against a [`Shape`]: up to eight dots, live or not, and maybe a vector entry
/// that covers a run of the state's loose dots.
#[derive(Debug, Clone)]
struct Delta {
    dots: Vec<(u8, u8, u16, bool, u8)>,
    cover: Option<(u8, u8)>,
}

impl Arbitrary for Delta {
    fn arbitrary(g: &mut Gen) -> Self {
        let len = usize::from(u8::arbitrary(g) % 9);
        Delta {
            dots: (0..len)
                .map(|_| {
                    (
                        u8::arbitrary(g),
                        u8::arbitrary(g),
                        u16::arbitrary(g),
                        bool::arbitrary(g),
                        u8::arbitrary(g),
                    )
                })
                .collect(),
            cover: Option::arbitrary(g),
        }
    }
}

impl Delta {
    fn build(&self, shape: &Shape) -> OrSet<u32, Id> {
        let replica = |pick: u8| u32::from(pick) % (shape.replicas + 1);
        let mut vv = String::new();
        if let Some((r, k)) = self.cover {
            let r = replica(r).min(shape.replicas - 1);
            let top = shape.prefix(r) + 2 * u64::from(k % 64);
            let _ = write!(vv, "\"{r}\":{top}");
        }
        let mut seen = std::collections::BTreeSet::new();
        let mut cloud = String::new();
        let mut entries = String::new();
        for &(r, kind, pick, live, element) in &self.dots {
            let r = replica(r);
            let c = shape.counter(r, kind, pick);
            if c == 0 || !seen.insert((r, c)) {
                continue;
            }
            let _ = write!(
                cloud,
                "{}[{r},{c}]",
                if cloud.is_empty() { "" } else { "," }
            );
            if live {
                let sep = if entries.is_empty() { "" } else { "," };
                let _ = write!(entries, "{sep}[{element},[[{r},{c}]]]");
            }
        }
        let json =
            format!(r#"{{"entries":[{entries}],"context":{{"vv":{{{vv}}},"cloud":[{cloud}]}}}}"#);
        serde_json::from_str(&json).expect("a valid delta")
    }
}

/// Live dots, vector entries and loose dots: the size of an OR-Set's representation. The
/// live dots are counted through the JSON form, which lists them.
fn parts(set: &OrSet<u32, Id>) -> usize {
    let json = serde_json::to_value(set).unwrap_or_default();
    let live: usize = json["entries"].as_array().map_or(0, |entries| {
        entries
            .iter()
            .map(|e| e[1].as_array().map_or(0, Vec::len))
            .sum()
    });
    context_parts(set.context()) + live
}

fn context_parts(ctx: &CausalContext<Id>) -> usize {
    ctx.vector().len() + ctx.cloud().count()
}

impl serde::Serialize for Id {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// Hostile states by shape: building one is most of a case's time, and shapes repeat.
type States = std::collections::HashMap<(u32, u64, bool), OrSet<u32, Id>>;

thread_local! {
    static STATES: std::cell::RefCell<States> = Default::default();
}

fn or_set_delta_costs(shape: Shape, delta: Delta) -> bool {
    let key = (shape.replicas, shape.loose, shape.near_top);
    let state = STATES.with(|states| {
        states
            .borrow_mut()
            .entry(key)
            .or_insert_with(|| shape.state())
            .clone()
    });
    let delta = delta.build(&shape);
    let (n, d) = (parts(&state), parts(&delta));

    let expected = state.clone().joined(&delta);
    let mut absorbed = state.clone();
    let (news, work) = counted(|| absorbed.absorb(delta.clone()));
    let removed = (n + d).saturating_sub(parts(&absorbed));
    within(work, d + removed, n, "OrSet::absorb");
    assert_eq!(absorbed, expected);
    assert_eq!(
        news.is_bottom(),
        delta.leq(&state),
        "news iff not already known"
    );

    let mut joined = state.clone();
    let (_, work) = counted(|| joined.join(&delta));
    within(work, d + removed, n, "OrSet::join");

    let (diff, work) = counted(|| delta.difference(&state));
    within(work, d + parts(&diff), n, "OrSet::difference");
    let (_, work) = counted(|| delta.leq(&state));
    within(work, d, n, "OrSet::leq, delta against state");
    let (_, work) = counted(|| state.leq(&delta));
    within(work, d, n, "OrSet::leq, state against delta");

    // The contexts alone, as the transport's digests.
    let (big, small) = (state.context().clone(), delta.context().clone());
    let (cn, cd) = (context_parts(&big), context_parts(&small));
    let mut ctx = big.clone();
    let (_, work) = counted(|| ctx.join(&small));
    let removed = (cn + cd).saturating_sub(context_parts(&ctx));
    within(work, cd + removed, cn, "CausalContext::join");
    let (_, work) = counted(|| small.leq(&big));
    within(work, cd, cn, "CausalContext::leq, delta against state");
    let (_, work) = counted(|| big.leq(&small));
    within(work, cd, cn, "CausalContext::leq, state against delta");
    true
}

#[test]
fn or_set_and_context_operations_cost_the_delta_not_the_state() {
    QuickCheck::new().quickcheck(or_set_delta_costs as fn(Shape, Delta) -> bool);
}

/// A join adding one dot to an OR-Set holding 100,000 loose dots: each join once rebuilt the
/// whole loose-dot set.
#[test]
fn one_delta_into_an_or_set_of_100_000_loose_dots_costs_a_few_lookups() {
    let shape = Shape {
        replicas: 4,
        loose: 100_000,
        near_top: true,
    };
    let state = shape.state();
    let mut source = OrSet::new();
    let add = source.insert(Id(9), 7u32).expect("fresh");
    let remove = state.remove_delta(&0);
    for delta in [add, remove] {
        let mut set = state.clone();
        let (_, work) = counted(|| set.absorb(delta.clone()));
        within(work, parts(&delta), parts(&state), "absorb into 100,000");
        let mut ctx = state.context().clone();
        let (_, work) = counted(|| ctx.join(delta.context()));
        within(work, parts(&delta), parts(&state), "context join");
    }
}

// ---------------------------------------------------------------------------------------------
// MV registers with many siblings
// ---------------------------------------------------------------------------------------------

/// `n` concurrent siblings from distinct writers `0..n`, each having also seen a shared
/// replica `base`; counters near the top when `near_top`.
fn siblings(n: u32, near_top: bool) -> MvRegister<u32, Id> {
    let base = 1_000_000;
    let mut out = MvRegister::new();
    let mut chunk = String::new();
    for i in 0..n {
        let c = if near_top { MAX - u64::from(i % 3) } else { 1 };
        let sep = if chunk.is_empty() { "" } else { "," };
        let _ = write!(
            chunk,
            r#"{sep}{{"clock":{{"{i}":{c},"{base}":{}}},"value":{i}}}"#,
            i % 5
        );
        if (i + 1) % 1_000 == 0 || i + 1 == n {
            let part: MvRegister<u32, Id> =
                serde_json::from_str(&format!("[{chunk}]")).expect("valid siblings");
            out.join(&part);
            chunk.clear();
        }
    }
    out
}

/// Clock entries plus siblings.
fn sibling_parts(reg: &MvRegister<u32, Id>) -> usize {
    reg.siblings().iter().map(|s| s.clock.len() + 1).sum()
}

#[derive(Debug, Clone)]
struct MvShape {
    n: u32,
    near_top: bool,
    /// For each delta sibling: what it is (a copy, a dominating or dominated write, a new
    /// writer, an unclocked write) and which state sibling it relates to.
    delta: Vec<(u8, u16)>,
}

impl Arbitrary for MvShape {
    fn arbitrary(g: &mut Gen) -> Self {
        let len = usize::from(u8::arbitrary(g) % 6);
        MvShape {
            n: 200 + u32::from(u16::arbitrary(g) % 1_800),
            near_top: bool::arbitrary(g),
            delta: (0..len)
                .map(|_| (u8::arbitrary(g), u16::arbitrary(g)))
                .collect(),
        }
    }
}

fn mv_costs(shape: MvShape) -> bool {
    let state = siblings(shape.n, shape.near_top);
    let mut delta = MvRegister::new();
    for &(kind, pick) in &shape.delta {
        let target = &state.siblings()[usize::from(pick) % state.siblings().len()];
        let mut sibling = target.clone();
        match kind % 5 {
            0 => {}
            1 => {
                let _ = sibling.clock.increment(Id(2_000_000));
            }
            2 => sibling.clock = [(Id(3_000_000 + u32::from(pick)), 1)].into_iter().collect(),
            3 => {
                sibling.clock = target
                    .clock
                    .iter()
                    .map(|(a, c)| (a.clone(), c / 2))
                    .collect()
            }
            _ => sibling.clock = Default::default(),
        }
        delta.join(&MvRegister::from_sibling(sibling));
    }
    let (n, d) = (sibling_parts(&state), sibling_parts(&delta));

    let expected = state.clone().joined(&delta);
    let mut absorbed = state.clone();
    let (news, work) = counted(|| absorbed.absorb(delta.clone()));
    within(work, n + d, n, "MvRegister::absorb, small delta");
    assert_eq!(absorbed, expected);
    assert_eq!(news.is_bottom(), delta.leq(&state));

    // The state as a delta into a small replica, and into a copy of itself.
    let mut small = delta.clone();
    let (_, work) = counted(|| small.absorb(state.clone()));
    within(work, n + d, n, "MvRegister::absorb into a small replica");
    let mut copy = state.clone();
    let (news, work) = counted(|| copy.absorb(state.clone()));
    within(work, 2 * n, n, "MvRegister::absorb of a copy");
    assert!(news.is_bottom());

    for (a, b, what) in [
        (&state, &delta, "state against delta"),
        (&delta, &state, "delta against state"),
        (&state, &absorbed, "state against the join"),
    ] {
        let (_, work) = counted(|| a.leq(b));
        within(work, n + d, n, &format!("MvRegister::leq, {what}"));
        let (_, work) = counted(|| a.difference(b));
        within(work, n + d, n, &format!("MvRegister::difference, {what}"));
    }
    true
}

#[test]
fn mv_register_operations_are_near_linear_in_siblings() {
    QuickCheck::new()
        .tests(40)
        .quickcheck(mv_costs as fn(MvShape) -> bool);
}

/// 10,000 siblings from distinct writers absorbed into a small replica: once 41 s, as
/// `absorb` joined the news one sibling at a time, re-merging everything each time.
#[test]
fn ten_thousand_siblings_absorb_in_near_linear_work() {
    let state = siblings(10_000, false);
    assert_eq!(state.siblings().len(), 10_000);
    let n = sibling_parts(&state);
    let mut small = MvRegister::new();
    small.write(Id(5), 1).expect("fresh");
    let (_, work) = counted(|| small.absorb(state.clone()));
    within(work, n, n, "absorb 10,000 siblings");
    let (_, work) = counted(|| state.leq(&small));
    within(work, n, n, "leq of 10,000 siblings");
    let (_, work) = counted(|| small.clone().absorb(state.clone()));
    within(work, 2 * n, n, "absorb of a copy");
}

/// A context one short of the top with a loose dot elsewhere: inserting the last dot once
/// overflowed `top + 1` (a panic with overflow checks on).
#[test]
fn inserting_the_last_dot_next_to_a_loose_one_does_not_overflow() {
    let mut ctx: CausalContext<Id> =
        serde_json::from_str(r#"{"vv":{"1":18446744073709551614},"cloud":[[2,5]]}"#)
            .expect("valid");
    assert!(ctx.insert(Dot {
        replica: Id(1),
        counter: MAX,
    }));
    assert_eq!(ctx.vector().get(&Id(1)), MAX);
    assert_eq!(ctx.next_dot(Id(1)), None);
    let other: CausalContext<Id> =
        serde_json::from_str(r#"{"vv":{"2":3},"cloud":[[1,18446744073709551615],[2,5]]}"#)
            .expect("valid");
    let mut joined: CausalContext<Id> =
        serde_json::from_str(r#"{"vv":{"1":18446744073709551614},"cloud":[]}"#).expect("valid");
    assert!(joined.join(&other));
    assert_eq!(joined.vector().get(&Id(1)), MAX);
    assert!(other.leq(&joined) && !joined.leq(&other));
}

// ---------------------------------------------------------------------------------------------
// Maps: one key's delta into a map of 100,000 keys
// ---------------------------------------------------------------------------------------------

type Nested = OrMap<Id, OrMap<Id, PnCounter<Id>, Id>, Id>;

/// The scalars of a value's JSON form: dots, entries, keys and counts, the size of a map.
fn leaves(json: &serde_json::Value) -> usize {
    match json {
        serde_json::Value::Array(items) => items.iter().map(leaves).sum(),
        serde_json::Value::Object(fields) => fields.iter().map(|(_, v)| 1 + leaves(v)).sum(),
        _ => 1,
    }
}

fn map_size(map: &Nested) -> usize {
    leaves(&serde_json::to_value(map).unwrap_or_default())
}

/// A map of maps of counters with 100,000 keys written by four replicas, then a few removes;
/// a nested update of one key (new or existing) and a remove of one key, joined into it,
/// compared with it both ways and differenced against it, cost a few lookups each.
#[test]
fn one_key_into_a_map_of_100_000_keys_costs_a_few_lookups() -> Result<(), CrdtError> {
    let mut state: Nested = OrMap::new();
    for key in 0..100_000u32 {
        let writer = Id(key % 4);
        state.update(writer.clone(), Id(key), |inner| {
            inner.update_delta(writer.clone(), Id(key % 7), |c| {
                c.increment_delta(writer.clone(), 1)
            })
        })?;
    }
    for key in (0..100_000u32).step_by(1_000) {
        state.remove(&Id(key));
    }
    let n = map_size(&state);
    let elsewhere = state.clone();
    let deltas = [
        elsewhere.update_delta(Id(9), Id(50_001), |inner| {
            inner.update_delta(Id(9), Id(3), |c| c.increment_delta(Id(9), 5))
        })?,
        elsewhere.update_delta(Id(1), Id(200_000), |inner| {
            inner.update_delta(Id(1), Id(1), |c| c.decrement_delta(Id(1), 1))
        })?,
        elsewhere.remove_delta(&Id(77_777)),
        elsewhere.update_delta(Id(2), Id(5_000), |inner| {
            Ok(inner.remove_delta(&Id(5_000 % 7)))
        })?,
    ];
    // Each delta joins (and is absorbed) on top of the previous ones: one copy of the state
    // each way, not one per delta.
    let mut joined = state.clone();
    let mut absorbed = state.clone();
    for delta in deltas {
        let d = map_size(&delta);
        let (changed, work) = counted(|| joined.join(&delta));
        assert!(changed);
        within(work, d, n, "OrMap::join");
        let (news, work) = counted(|| absorbed.absorb(delta.clone()));
        within(work, d + map_size(&news), n, "OrMap::absorb");
        assert!(!news.is_bottom());
        let (_, work) = counted(|| delta.difference(&state));
        within(work, d, n, "OrMap::difference");
        let (below, work) = counted(|| delta.leq(&state));
        within(work, d, n, "OrMap::leq, delta against state");
        assert!(!below);
        let (_, work) = counted(|| state.leq(&delta));
        within(work, d, n, "OrMap::leq, state against delta");
        let (_, work) = counted(|| delta.leq(&joined));
        within(work, d, n, "OrMap::leq, delta against the join");
    }
    assert!(absorbed == joined, "absorb and join agree");
    Ok(())
}
