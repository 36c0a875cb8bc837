//! One vocabulary across the types: the same verbs (insert, remove, increment, write, read)
//! and collection traits everywhere, and the older names still working for one release.

use gossip_crdt::{
    CounterMap, Decompose, Dot, Lattice, LwwRegister, MvRegister, OrSet, PnCounter, SetMap, TwoPSet,
};
use quickcheck::QuickCheck;

use super::Result;

// ---------------------------------------------------------------------------------------------
// One vocabulary
// ---------------------------------------------------------------------------------------------

#[test]
fn two_p_set_collects_extends_and_counts_without_walking() {
    let mut set: TwoPSet<u32> = (0..10).collect();
    assert_eq!((set.len(), set.iter().count()), (10, 10));
    set.remove(3);
    set.remove(42); // a tombstone for an element never inserted
    set.extend([3, 42, 10]); // too late for 3 and 42
    assert_eq!(
        set.iter().copied().collect::<Vec<_>>(),
        [0, 1, 2, 4, 5, 6, 7, 8, 9, 10]
    );
    assert_eq!(set.len(), 10);
    assert!(!set.is_empty());
    let emptied: TwoPSet<u32> =
        serde_json::from_str(r#"{"adds":[1,2],"removes":[2,1,7]}"#).expect("a valid state");
    assert_eq!(emptied.len(), 0);
    assert!(emptied.is_empty());
}

/// The count of present elements agrees with the elements, however the state was reached:
/// operations, joins in both directions, decoding, `difference` and `absorb`.
#[test]
fn two_p_set_len_agrees_with_its_elements() {
    fn agrees(set: &TwoPSet<u8>) -> bool {
        set.len() == set.iter().count() && set.is_empty() == (set.iter().next().is_none())
    }
    fn prop(a: TwoPSet<u8>, b: TwoPSet<u8>, ops: Vec<(bool, u8)>) -> bool {
        let mut x = a.clone();
        let mut ok = agrees(&a) && agrees(&b);
        for (insert, value) in ops {
            let value = value % 8;
            let delta = if insert {
                x.insert(value)
            } else {
                x.remove(value)
            };
            ok &= agrees(&x) && agrees(&delta);
        }
        let mut y = b.clone();
        ok &= y.join(&x) | true && agrees(&y);
        x.join(&b);
        ok &= agrees(&x) && x == y;
        let mut absorbed = a.clone();
        let news = absorbed.absorb(b.clone());
        ok &= agrees(&absorbed) && agrees(&news) && agrees(&b.difference(&a));
        let json = serde_json::to_string(&y).unwrap_or_default();
        ok &= serde_json::from_str::<TwoPSet<u8>>(&json).is_ok_and(|d| agrees(&d) && d == y);
        ok
    }
    QuickCheck::new()
        .tests(2_000)
        .quickcheck(prop as fn(TwoPSet<u8>, TwoPSet<u8>, Vec<(bool, u8)>) -> bool);
}

#[test]
fn pn_counter_increments_and_decrements_by_unsigned_steps() -> Result {
    let mut c = PnCounter::new();
    let up = c.increment("a", 5)?;
    let down = c.decrement("a", 7)?;
    assert_eq!(c.value(), -2);
    let mut other = PnCounter::new();
    other.join(&down);
    assert_eq!(
        other.value(),
        -7,
        "a decrement's delta carries the decrement alone"
    );
    other.join(&up);
    assert_eq!(other, c);
    Ok(())
}

#[test]
fn counter_and_set_maps_speak_as_their_values() -> Result {
    let mut likes: CounterMap<&str, &str> = CounterMap::new();
    likes.increment("a", "post", 3)?;
    likes.decrement("a", "post", 5)?;
    let delta = likes.decrement_delta("b", "post", 1)?;
    assert_eq!(likes.value(&"post"), -2);
    likes.join(&delta);
    assert_eq!(likes.value(&"post"), -3);
    assert_eq!(likes.value(&"other"), 0);

    let mut tags: SetMap<&str, &str, &str> = SetMap::new();
    tags.insert("a", "doc", "draft")?;
    assert!(tags.contains_element(&"doc", &"draft"));
    assert!(!tags.contains_element(&"doc", &"final"));
    assert!(!tags.contains_element(&"other", &"draft"));
    tags.remove_element("a", "doc", &"draft")?;
    assert!(!tags.contains_element(&"doc", &"draft"));
    assert!(
        tags.contains_key(&"doc"),
        "removing an element keeps the key"
    );
    Ok(())
}

#[test]
fn registers_write_and_read() -> Result {
    let mut lww = LwwRegister::new();
    assert_eq!(lww.read(), None);
    let delta = lww.write_delta(3, "a", "x");
    assert_eq!(lww.read(), None, "a delta is not applied");
    lww.write(3, "a", "x");
    assert_eq!(lww, delta);
    assert_eq!(lww.read(), Some(&"x"));
    let last = lww.last_write().expect("written");
    assert_eq!((last.timestamp, last.replica), (3, "a"));

    let mut mv = MvRegister::new();
    assert_eq!(mv.read().len(), 0);
    let delta = mv.write_delta("a", "x")?;
    mv.write("a", "x")?;
    assert_eq!(mv, delta);
    assert_eq!(mv.read().collect::<Vec<_>>(), [&"x"]);
    Ok(())
}

#[test]
fn dots_are_copy_when_replica_ids_are() {
    fn copy<T: Copy>(value: T) -> (T, T) {
        (value, value)
    }
    let (a, b) = copy(Dot {
        replica: 1u64,
        counter: 2,
    });
    assert_eq!(a, b);
}

/// The names before the one vocabulary still work, for one release, and do what the new ones
/// do.
#[test]
#[allow(deprecated)]
fn the_old_names_still_work() -> Result {
    let mut two_p = TwoPSet::new();
    assert_eq!(two_p.add_delta("x"), TwoPSet::new().insert_delta("x"));
    two_p.add("x");
    assert!(two_p.contains(&"x"));

    let mut or_set = OrSet::new();
    assert_eq!(
        or_set.add_delta("a", "x")?,
        OrSet::new().insert_delta("a", "x")?
    );
    or_set.add("a", "x")?;
    assert!(or_set.contains(&"x"));

    let mut pn = PnCounter::new();
    assert_eq!(
        pn.add_delta("a", -2)?,
        PnCounter::new().decrement_delta("a", 2)?
    );
    pn.add("a", i64::MIN)?; // |i64::MIN| = 2^63 fits the u64 decrement entry
    pn.add("a", 1)?;
    assert_eq!(pn.value(), i128::from(i64::MIN) + 1);

    let mut map: CounterMap<&str, &str> = CounterMap::new();
    let delta = map.add_delta("a", "k", -1)?;
    map.add("a", "k", 3)?;
    map.join(&delta);
    assert_eq!((map.count(&"k"), map.value(&"k")), (2, 2));

    let mut lww = LwwRegister::new();
    assert_eq!(
        lww.set_delta(1, "a", "x"),
        LwwRegister::new().write_delta(1, "a", "x")
    );
    lww.set(1, "a", "x");
    assert_eq!(lww.get(), Some(&"x"));

    let mut mv = MvRegister::new();
    mv.write("a", "x")?;
    assert_eq!(mv.values().collect::<Vec<_>>(), [&"x"]);
    Ok(())
}
