//! `decompose` and `difference`, type by type and as properties: the parts join back to the
//! state, and a difference is enough for the peer and no more than the state.

use gossip_crdt::{
    Decompose, GCounter, GSet, Lattice, LwwRegister, MvRegister, OrSet, PnCounter, TwoPSet,
    VersionVector,
};
use quickcheck::{Arbitrary, Gen, QuickCheck};

use super::{Result, vv};

// ---------------------------------------------------------------------------------------------
// Decompose and difference, per type
// ---------------------------------------------------------------------------------------------

#[test]
fn g_set_decompose_and_difference() {
    let mine: GSet<u8> = [1, 2, 3].into_iter().collect();
    let theirs: GSet<u8> = [2, 3, 4].into_iter().collect();
    assert_eq!(mine.decompose().len(), 3);
    assert_eq!(mine.difference(&theirs), [1].into_iter().collect());
    assert!(mine.difference(&mine).is_bottom());
    assert_eq!(mine.difference(&GSet::new()), mine);
}

#[test]
fn two_p_set_difference_carries_tombstones() {
    let mut mine = TwoPSet::new();
    mine.insert(1u8);
    let theirs = mine.clone();
    mine.remove(1);
    let diff = mine.difference(&theirs);
    assert!(diff.is_removed(&1));
    assert_eq!(diff.decompose().len(), 1, "only the tombstone");
    assert_eq!(theirs.joined(&diff), mine);
}

#[test]
fn lww_difference_is_all_or_nothing() {
    let mut old = LwwRegister::new();
    old.write(1, "a", "old");
    let mut new = old.clone();
    new.write(2, "a", "new");
    assert_eq!(new.decompose(), vec![new.clone()]);
    assert_eq!(new.difference(&old), new);
    assert!(old.difference(&new).is_bottom());
    assert!(LwwRegister::<u8, u8>::new().decompose().is_empty());
}

#[test]
fn version_vector_and_counter_differences_keep_the_entries_that_grew() -> Result {
    let mine = vv(&[("a", 5), ("b", 1), ("c", 2)]);
    let theirs = vv(&[("a", 5), ("b", 3)]);
    assert_eq!(mine.difference(&theirs), vv(&[("c", 2)]));

    let mut counter = GCounter::new();
    counter.increment("a", 5)?;
    let mut ahead = counter.clone();
    ahead.increment("b", 2)?;
    ahead.increment("a", 1)?;
    let diff = ahead.difference(&counter);
    assert_eq!(diff.iter().collect::<Vec<_>>(), vec![(&"a", 6), (&"b", 2)]);

    let mut pn = PnCounter::new();
    pn.increment("a", 3)?;
    let mut pn_ahead = pn.clone();
    pn_ahead.decrement("a", 1)?;
    let pn_diff = pn_ahead.difference(&pn);
    assert!(pn_diff.increments().is_bottom());
    assert_eq!(pn_diff.decrements().contribution(&"a"), 1);
    Ok(())
}

#[test]
fn or_set_difference_carries_new_adds_and_removals_only() -> Result {
    let mut mine = OrSet::new();
    for i in 0..100u32 {
        mine.insert("a", i)?;
    }
    let theirs = mine.clone();
    mine.remove(&5);
    mine.insert("b", 1000)?;
    let diff = mine.difference(&theirs);
    assert_eq!(
        diff.iter().collect::<Vec<_>>(),
        vec![&1000],
        "not the 99 they hold"
    );
    assert_eq!(theirs.clone().joined(&diff), mine);
    assert!(mine.difference(&mine).iter().next().is_none());
    Ok(())
}

#[test]
fn mv_register_difference_carries_unknown_siblings() -> Result {
    let mut a = MvRegister::new();
    let mut b = MvRegister::new();
    a.write("a", 1)?;
    b.write("b", 2)?;
    let both = a.clone().joined(&b);
    assert_eq!(both.decompose().len(), 2);
    assert_eq!(both.difference(&a), b);
    assert!(a.difference(&both).is_bottom());
    Ok(())
}

/// Replica ids from a space of three, so that generated states share replicas and dots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct R(u8);

impl Arbitrary for R {
    fn arbitrary(g: &mut Gen) -> Self {
        R(u8::arbitrary(g) % 3)
    }
}

/// Small elements, so generated states overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct E(u8);

impl Arbitrary for E {
    fn arbitrary(g: &mut Gen) -> Self {
        E(u8::arbitrary(g) % 6)
    }
}

/// The join of a state's parts is the state, and `difference` is enough and no more than
/// `self`: `known ⊔ self.difference(known) == known ⊔ self` and `difference ≤ self`.
fn decompose_laws<L: Decompose + std::fmt::Debug>(mine: L, known: L) -> bool {
    let parts = mine.decompose();
    let rebuilt = parts.iter().fold(L::default(), |acc, p| acc.joined(p));
    let diff = mine.difference(&known);
    rebuilt == mine
        && parts.iter().all(|p| !p.is_bottom())
        && known.clone().joined(&diff) == known.clone().joined(&mine)
        && diff.leq(&mine)
}

fn check_decompose<L: Decompose + Arbitrary + std::fmt::Debug>() {
    QuickCheck::new().quickcheck(decompose_laws::<L> as fn(L, L) -> bool);
}

#[test]
fn decompose_and_difference_hold_for_every_type() {
    check_decompose::<GSet<E>>();
    check_decompose::<TwoPSet<E>>();
    check_decompose::<LwwRegister<E, R>>();
    check_decompose::<VersionVector<R>>();
    check_decompose::<GCounter<R>>();
    check_decompose::<PnCounter<R>>();
    check_decompose::<OrSet<E, R>>();
    check_decompose::<MvRegister<E, R>>();
}

/// The OR-Set's own `difference` (which never enumerates the context) is no bigger, in live
/// entries, than the default built from `decompose`, and joins to the same state.
#[test]
fn or_set_difference_agrees_with_the_decomposition() {
    fn prop(mine: OrSet<E, R>, known: OrSet<E, R>) -> bool {
        let by_parts = mine
            .decompose()
            .into_iter()
            .filter(|p| !p.leq(&known))
            .fold(OrSet::new(), |acc, p| acc.joined(&p));
        let fast = mine.difference(&known);
        known.clone().joined(&fast) == known.clone().joined(&by_parts)
            && by_parts.leq(&fast)
            && fast.leq(&mine)
    }
    QuickCheck::new().quickcheck(prop as fn(OrSet<E, R>, OrSet<E, R>) -> bool);
}

#[test]
fn or_set_difference_of_an_exhausted_context_is_small() {
    // A state claiming 2^64 - 1 events of replica "a": decompose would never finish, and
    // difference must not try.
    let huge: OrSet<u8, String> = serde_json::from_str(
        r#"{"entries":[[1,[["a",3]]]],"context":{"vv":{"a":18446744073709551615},"cloud":[]}}"#,
    )
    .expect("valid");
    let mut known = OrSet::new();
    known.join(
        &serde_json::from_str(r#"{"entries":[[1,[["a",3]]]],"context":{"vv":{"a":5},"cloud":[]}}"#)
            .expect("valid"),
    );
    let diff = huge.difference(&known);
    assert_eq!(known.clone().joined(&diff), known.clone().joined(&huge));
    assert!(diff.context().cloud().count() <= 1);
    assert!(huge.difference(&OrSet::new()) == huge);
}
