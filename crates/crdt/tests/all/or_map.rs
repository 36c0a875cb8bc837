//! `OrMap` against its sequential specification: replicas update and remove the same keys
//! concurrently, exchange deltas in random order, and must end showing what the
//! specification (docs/crdts.md, "`OrMap`") says.
//!
//! The specification, for one key: an update is *cancelled* if a remove of the key had seen
//! it. The key is present iff some update of it is not cancelled, and its value is what the
//! updates that are not cancelled make of a fresh value: a counter sums them, a set holds the
//! elements they added and no element-remove saw, a register holds the writes no other write
//! saw. A map inside a map follows the same rule one level down, with a key of the inner map
//! also cancelled by a remove of the outer key.

use std::collections::{BTreeMap, BTreeSet};

use gossip_crdt::{CrdtError, Lattice, MvRegister, OrMap, OrSet, PnCounter, Resettable};
use quickcheck::{Arbitrary, Gen, QuickCheck};

const REPLICAS: usize = 3;
const KEYS: u8 = 3;

/// One step of a schedule: an operation at a replica, or a replica sending what it knows.
#[derive(Debug, Clone)]
enum Step<O> {
    Update { replica: u8, key: u8, op: O },
    Remove { replica: u8, key: u8 },
    Sync { from: u8, to: u8 },
}

impl<O: Arbitrary> Arbitrary for Step<O> {
    fn arbitrary(g: &mut Gen) -> Self {
        let replica = u8::arbitrary(g) % REPLICAS as u8;
        let key = u8::arbitrary(g) % KEYS;
        match u8::arbitrary(g) % 6 {
            0 => Step::Remove { replica, key },
            1 | 2 => Step::Sync {
                from: replica,
                to: u8::arbitrary(g) % REPLICAS as u8,
            },
            _ => Step::Update {
                replica,
                key,
                op: O::arbitrary(g),
            },
        }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        Box::new(std::iter::empty())
    }
}

/// An operation as it happened: where, on which key, and what its replica had seen.
#[derive(Debug, Clone)]
struct Record<O> {
    id: usize,
    key: u8,
    /// `None` for a remove of the key.
    op: Option<O>,
    seen: BTreeSet<usize>,
}

impl<O> Record<O> {
    fn saw(&self, other: &Record<O>) -> bool {
        self.seen.contains(&other.id)
    }
}

/// Runs `steps` on three replicas shipping deltas (a sync sends every delta the receiver
/// lacks, shuffled), then syncs everyone, and checks that all replicas are equal and that every
/// key shows what `spec` says of its updates that no remove saw.
fn run<V, O, R>(
    steps: &[Step<O>],
    shuffle: u64,
    change: impl Fn(&O, u8, &V) -> Result<V, CrdtError>,
    read: impl Fn(&V) -> R,
    spec: impl Fn(&[&Record<O>], &[&Record<O>]) -> R,
) -> bool
where
    V: Resettable + std::fmt::Debug,
    O: Clone + std::fmt::Debug,
    R: PartialEq + std::fmt::Debug,
{
    let mut replicas: Vec<OrMap<u8, V, u8>> = vec![OrMap::new(); REPLICAS];
    let mut seen: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); REPLICAS];
    let mut deltas: Vec<OrMap<u8, V, u8>> = Vec::new();
    let mut records: Vec<Record<O>> = Vec::new();
    let mut rng = shuffle;
    let mut sync = |replicas: &mut Vec<OrMap<u8, V, u8>>,
                    seen: &mut Vec<BTreeSet<usize>>,
                    deltas: &Vec<OrMap<u8, V, u8>>,
                    from: usize,
                    to: usize| {
        let mut missing: Vec<usize> = seen[from].difference(&seen[to]).copied().collect();
        for i in (1..missing.len()).rev() {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            missing.swap(i, (rng >> 33) as usize % (i + 1));
        }
        for id in missing {
            replicas[to].join(&deltas[id]);
            seen[to].insert(id);
        }
    };
    for step in steps {
        match step {
            Step::Sync { from, to } => sync(
                &mut replicas,
                &mut seen,
                &deltas,
                *from as usize,
                *to as usize,
            ),
            Step::Update { replica, key, op } => {
                let r = *replica as usize;
                let Ok(delta) = replicas[r].update(*replica, *key, |v| change(op, *replica, v))
                else {
                    continue;
                };
                let id = deltas.len();
                records.push(Record {
                    id,
                    key: *key,
                    op: Some(op.clone()),
                    seen: seen[r].clone(),
                });
                deltas.push(delta);
                seen[r].insert(id);
            }
            Step::Remove { replica, key } => {
                let r = *replica as usize;
                let delta = replicas[r].remove(key);
                let id = deltas.len();
                records.push(Record {
                    id,
                    key: *key,
                    op: None,
                    seen: seen[r].clone(),
                });
                deltas.push(delta);
                seen[r].insert(id);
            }
        }
    }
    for from in 0..REPLICAS {
        for to in 0..REPLICAS {
            sync(&mut replicas, &mut seen, &deltas, from, to);
        }
    }
    if replicas.iter().any(|r| *r != replicas[0]) {
        eprintln!("replicas differ: {replicas:?}");
        return false;
    }
    for key in 0..KEYS {
        let on_key: Vec<&Record<O>> = records.iter().filter(|r| r.key == key).collect();
        let removes: Vec<&Record<O>> = on_key.iter().copied().filter(|r| r.op.is_none()).collect();
        let updates: Vec<&Record<O>> = on_key.iter().copied().filter(|r| r.op.is_some()).collect();
        let live: Vec<&Record<O>> = updates
            .iter()
            .copied()
            .filter(|u| !removes.iter().any(|r| r.saw(u)))
            .collect();
        let expected = (!live.is_empty()).then(|| spec(&live, &updates));
        let shown = replicas[0].get(&key).map(|v| read(&v));
        if shown != expected {
            eprintln!("key {key}: shown {shown:?}, expected {expected:?}\nrecords {on_key:?}");
            return false;
        }
    }
    true
}

fn tests() -> u64 {
    std::env::var("QUICKCHECK_TESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

/// The delta that adds `by` (negative to subtract) to `counter` on behalf of `r`.
fn change(counter: &PnCounter<u8>, r: u8, by: i8) -> Result<PnCounter<u8>, CrdtError> {
    let step = u64::from(by.unsigned_abs());
    if by < 0 {
        counter.decrement_delta(r, step)
    } else {
        counter.increment_delta(r, step)
    }
}

#[test]
fn counters_show_the_updates_no_remove_saw() {
    fn prop(steps: Vec<Step<i8>>, shuffle: u64) -> bool {
        run(
            &steps,
            shuffle,
            |by, r, counter: &PnCounter<u8>| change(counter, r, *by),
            PnCounter::value,
            |live, _| live.iter().filter_map(|u| u.op).map(i128::from).sum(),
        )
    }
    QuickCheck::new()
        .tests(tests())
        .quickcheck(prop as fn(Vec<Step<i8>>, u64) -> bool);
}

/// Add or remove an element of a set.
#[derive(Debug, Clone, Copy)]
enum SetOp {
    Add(u8),
    Remove(u8),
}

impl Arbitrary for SetOp {
    fn arbitrary(g: &mut Gen) -> Self {
        let element = u8::arbitrary(g) % 3;
        if bool::arbitrary(g) {
            SetOp::Add(element)
        } else {
            SetOp::Remove(element)
        }
    }
}

#[test]
fn sets_show_the_adds_no_remove_saw() {
    fn prop(steps: Vec<Step<SetOp>>, shuffle: u64) -> bool {
        run(
            &steps,
            shuffle,
            |op, r, set: &OrSet<u8, u8>| match op {
                SetOp::Add(e) => set.insert_delta(r, *e),
                SetOp::Remove(e) => Ok(set.remove_delta(e)),
            },
            |set| set.iter().copied().collect::<BTreeSet<u8>>(),
            |live, all| {
                live.iter()
                    .filter_map(|u| match u.op {
                        Some(SetOp::Add(e)) => Some((u, e)),
                        _ => None,
                    })
                    .filter(|(add, e)| {
                        !all.iter().any(|x| {
                            matches!(x.op, Some(SetOp::Remove(f)) if f == *e) && x.saw(add)
                        })
                    })
                    .map(|(_, e)| e)
                    .collect()
            },
        )
    }
    QuickCheck::new()
        .tests(tests())
        .quickcheck(prop as fn(Vec<Step<SetOp>>, u64) -> bool);
}

#[test]
fn registers_show_the_writes_nothing_overwrote_or_removed() {
    fn prop(steps: Vec<Step<u8>>, shuffle: u64) -> bool {
        run(
            &steps,
            shuffle,
            |value, r, reg: &MvRegister<u8, u8>| reg.write_delta(r, *value),
            |reg| {
                let mut values: Vec<u8> = reg.read().copied().collect();
                values.sort_unstable();
                values
            },
            |live, all| {
                let mut values: Vec<u8> = live
                    .iter()
                    .filter(|w| !all.iter().any(|x| x.id != w.id && x.saw(w)))
                    .filter_map(|w| w.op)
                    .collect();
                values.sort_unstable();
                values
            },
        )
    }
    QuickCheck::new()
        .tests(tests())
        .quickcheck(prop as fn(Vec<Step<u8>>, u64) -> bool);
}

/// Add to a counter under an inner key, or remove the inner key.
#[derive(Debug, Clone, Copy)]
enum InnerOp {
    Add(u8, i8),
    Remove(u8),
}

impl Arbitrary for InnerOp {
    fn arbitrary(g: &mut Gen) -> Self {
        let key = u8::arbitrary(g) % 2;
        if u8::arbitrary(g) % 3 == 0 {
            InnerOp::Remove(key)
        } else {
            InnerOp::Add(key, i8::arbitrary(g))
        }
    }
}

#[test]
fn maps_of_maps_reset_key_by_key() {
    fn prop(steps: Vec<Step<InnerOp>>, shuffle: u64) -> bool {
        run(
            &steps,
            shuffle,
            |op, r, inner: &OrMap<u8, PnCounter<u8>, u8>| match op {
                InnerOp::Add(k, by) => inner.update_delta(r, *k, |c| change(c, r, *by)),
                InnerOp::Remove(k) => Ok(inner.remove_delta(k)),
            },
            |inner| {
                inner
                    .iter()
                    .map(|(k, c)| (*k, c.value()))
                    .collect::<BTreeMap<u8, i128>>()
            },
            |live, all| {
                // Within the outer key's live updates: the inner adds no inner remove saw.
                let mut out: BTreeMap<u8, i128> = BTreeMap::new();
                for u in live {
                    let Some(InnerOp::Add(k, by)) = u.op else {
                        continue;
                    };
                    let removed = all
                        .iter()
                        .any(|x| matches!(x.op, Some(InnerOp::Remove(j)) if j == k) && x.saw(u));
                    if !removed {
                        *out.entry(k).or_default() += i128::from(by);
                    }
                }
                out
            },
        )
    }
    QuickCheck::new()
        .tests(tests())
        .quickcheck(prop as fn(Vec<Step<InnerOp>>, u64) -> bool);
}

/// The case that tells reset-remove from resurrection: the incrementing replica had itself
/// contributed before the remove, so its delta (its whole entry) carries the old count too.
#[test]
fn a_concurrent_increment_does_not_bring_back_the_old_total() -> Result<(), CrdtError> {
    let mut a: OrMap<&str, PnCounter<&str>, &str> = OrMap::new();
    a.update("b", "likes", |n| n.increment_delta("b", 3))?;
    let mut b = a.clone();
    let removal = a.remove(&"likes");
    let increment = b.update("b", "likes", |n| n.increment_delta("b", 1))?;
    assert_eq!(
        increment.get(&"likes").map(|n| n.value()),
        Some(4),
        "the entry, not +1"
    );
    a.join(&increment);
    b.join(&removal);
    assert_eq!(a, b);
    assert_eq!(a.get(&"likes").map(|n| n.value()), Some(1));
    // Removed again having seen everything: gone, and a later update starts from zero.
    a.remove(&"likes");
    assert!(!a.contains_key(&"likes"));
    a.update("a", "likes", |n| n.increment_delta("a", 2))?;
    assert_eq!(a.get(&"likes").map(|n| n.value()), Some(2));
    Ok(())
}

/// A delta for one key of a large map carries that key alone.
#[test]
fn an_update_delta_carries_one_key() -> Result<(), CrdtError> {
    let mut map: OrMap<u32, OrMap<u32, PnCounter<u8>, u8>, u8> = OrMap::new();
    for key in 0..1_000 {
        map.update(1, key, |inner| {
            inner.update_delta(1, key, |c| c.increment_delta(1, 1))
        })?;
    }
    let delta = map.update_delta(2, 500, |inner| {
        inner.update_delta(2, 7, |c| c.increment_delta(2, 5))
    })?;
    let json =
        serde_json::to_string(&delta).map_err(|_| CrdtError::Overflow { operation: "json" })?;
    assert!(json.len() < 400, "{} bytes: {json}", json.len());
    assert_eq!(delta.keys().collect::<Vec<_>>(), vec![&500]);
    Ok(())
}

/// Runs "a remove at `a` concurrent with `update` at `b`, after `before` was seen by both" and
/// returns what the key shows at both replicas, which must agree.
fn remove_against_update<V: Resettable + std::fmt::Debug>(
    before: impl FnOnce(&V) -> Result<V, CrdtError>,
    update: impl FnOnce(&V) -> Result<V, CrdtError>,
) -> Result<Option<V>, CrdtError> {
    let mut a: OrMap<&str, V, &str> = OrMap::new();
    a.update("a", "k", before)?;
    let mut b = a.clone();
    let removal = a.remove(&"k");
    let concurrent = b.update("b", "k", update)?;
    a.join(&concurrent);
    b.join(&removal);
    assert_eq!(a, b);
    Ok(a.get(&"k"))
}

/// The table of docs/crdts.md ("What a remove concurrent with an update leaves behind"), for
/// the value types the specification tests above do not cover.
#[test]
fn every_value_type_resets_as_documented() -> Result<(), CrdtError> {
    use gossip_crdt::{GCounter, GSet, LwwRegister, TwoPSet, VersionVector};

    let counter = remove_against_update::<GCounter<&str>>(
        |c| c.increment_delta("b", 3),
        |c| c.increment_delta("b", 1),
    )?;
    assert_eq!(counter.map(|c| c.value()), Some(1));

    let later = remove_against_update::<LwwRegister<&str, &str>>(
        |r| Ok(r.write_delta(5, "a", "old")),
        |r| Ok(r.write_delta(7, "b", "new")),
    )?;
    assert_eq!(later.as_ref().and_then(|r| r.read().copied()), Some("new"));
    // Ranked below the write the remove saw: lost, as it would be to that write.
    let earlier = remove_against_update::<LwwRegister<&str, &str>>(
        |r| Ok(r.write_delta(5, "a", "old")),
        |r| Ok(r.write_delta(3, "b", "skewed")),
    )?;
    assert_eq!(earlier.map(|r| r.read().is_none()), Some(true));

    let set = remove_against_update::<GSet<u8>>(
        |s| Ok(s.insert_delta(1)),
        |s| Ok(s.insert_delta(1).joined(&s.insert_delta(2))),
    )?;
    assert_eq!(
        set.map(|s| s.iter().copied().collect::<Vec<_>>()),
        Some(vec![2])
    );

    let two_p = remove_against_update::<TwoPSet<u8>>(
        |s| Ok(s.insert_delta(1).joined(&s.insert_delta(3))),
        |s| Ok(s.insert_delta(2).joined(&s.remove_delta(3))),
    )?;
    assert_eq!(
        two_p.map(|s| s.iter().copied().collect::<Vec<_>>()),
        Some(vec![2])
    );

    let clock = remove_against_update::<VersionVector<&str>>(
        |v| v.increment_delta("b"),
        |v| v.increment_delta("b"),
    )?;
    assert_eq!(clock.map(|v| v.get(&"b")), Some(1));
    Ok(())
}
