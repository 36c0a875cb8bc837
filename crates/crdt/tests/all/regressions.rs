//! Counterexamples, frozen. Each test is a case that once broke a law or a promise, named for
//! what went wrong, with the input exactly as it was found. They run in milliseconds and need
//! no seed: if one fails again, the bug is back.

use gossip_crdt::laws;
use gossip_crdt::{
    CausalContext, Decompose, Dot, Lattice, LwwRegister, MvRegister, OrSet, VersionVector,
};

/// Checks every binary law on the pair, both ways round.
#[track_caller]
fn laws_hold<L: Lattice + std::fmt::Debug>(a: &L, b: &L) {
    for (x, y) in [(a, b), (b, a)] {
        assert!(laws::commutative(x, y), "commutative: {x:?} ⊔ {y:?}");
        assert!(laws::associative(x, y, x), "associative: {x:?}, {y:?}");
        assert!(laws::idempotent(x), "idempotent: {x:?}");
        assert!(laws::inflation(x, y), "inflation: {x:?}, {y:?}");
        assert!(laws::order_agrees_with_join(x, y), "order: {x:?}, {y:?}");
        assert!(laws::join_reports_change(x, y), "change: {x:?}, {y:?}");
    }
}

fn or_set(json: &str) -> OrSet<String, String> {
    serde_json::from_str(json).expect("a valid OrSet")
}

/// Found by the laws (commutativity). Join compared `(timestamp, replica)` only, so two writes
/// that reuse the pair (a buggy writer, or a replica id reused after a restart) merged to
/// different values depending on who joined whom. The value now breaks the tie: the greater
/// one wins on every replica.
#[test]
fn lww_tie_on_timestamp_and_replica_is_broken_by_the_value() {
    let mut a = LwwRegister::new();
    a.write(1, 1u8, 217u8);
    let mut b = LwwRegister::new();
    b.write(1, 1u8, 32u8);
    laws_hold(&a, &b);
    assert_eq!(a.clone().joined(&b).read(), Some(&217));
    assert_eq!(b.clone().joined(&a).read(), Some(&217));
    // And the order is the same one `leq` uses.
    assert!(b.leq(&a) && !a.leq(&b));
    // The loser's write delta on the winner's state is bottom.
    assert!(a.write_delta(1, 1, 32).is_bottom());
}

/// Found by the laws (commutativity, then convergence). Join kept a local dot when the other
/// side had *seen* it, where it must keep it when the other side has *not* seen it (or still
/// holds it). Here `b` saw x's add and removed it; with the inverted test, `a ⊔ b` kept x
/// and `b ⊔ a` did not.
#[test]
fn or_set_join_drops_dots_the_other_side_saw_and_removed() {
    let a = or_set(r#"{"entries":[["x",[["r0",1]]]],"context":{"vv":{"r0":1},"cloud":[]}}"#);
    let b = or_set(r#"{"entries":[],"context":{"vv":{"r0":1},"cloud":[]}}"#);
    laws_hold(&a, &b);
    assert!(!a.clone().joined(&b).contains(&"x".to_string()));
    assert!(!b.clone().joined(&a).contains(&"x".to_string()));
    // A dot the other side never saw survives: that is the add-wins half of the rule.
    let c = or_set(r#"{"entries":[],"context":{"vv":{"r1":1},"cloud":[]}}"#);
    laws_hold(&a, &c);
    assert!(a.clone().joined(&c).contains(&"x".to_string()));
}

/// Found while writing the hostile-input tests. A dot with counter 0 names no event, but
/// `CausalContext::contains` answered "seen" for it (`0 <= vv[r]` always holds), so a decoded
/// OrSet could hold a live entry supported by dot 0. Its part in `decompose` then had a live
/// dot outside its own context: a malformed state. Counter 0 is now never seen, and refused
/// in entries.
#[test]
fn or_set_dot_with_counter_zero_is_not_seen_and_not_accepted() {
    let ctx: CausalContext<String> =
        serde_json::from_str(r#"{"vv":{"a":4},"cloud":[]}"#).expect("a valid context");
    assert!(!ctx.contains(&Dot {
        replica: "a".to_string(),
        counter: 0,
    }));
    let decoded = serde_json::from_str::<OrSet<String, String>>(
        r#"{"entries":[["x",[["a",0]]]],"context":{"vv":{"a":4},"cloud":[]}}"#,
    );
    assert!(decoded.is_err(), "{decoded:?}");
}

/// Found while writing the hostile-input tests. `Decompose::difference` defaulted to walking
/// `decompose()`, which lists one part per dot ever seen, so `difference` on an OrSet whose
/// context claimed `u64::MAX` events of one replica (a dozen bytes of JSON) never returned.
/// The OrSet now computes its difference from the live and loose dots only.
#[test]
fn or_set_difference_does_not_enumerate_a_huge_context() {
    let huge = or_set(
        r#"{"entries":[["x",[["a",18446744073709551615]]]],
            "context":{"vv":{"a":18446744073709551615},"cloud":[]}}"#,
    );
    let known = or_set(r#"{"entries":[["x",[["a",1]]]],"context":{"vv":{"a":1},"cloud":[]}}"#);
    let diff = huge.difference(&known);
    assert_eq!(known.clone().joined(&diff), known.clone().joined(&huge));
    assert!(diff.leq(&huge));
    assert_eq!(huge.difference(&OrSet::new()), huge);
    assert!(huge.difference(&huge).iter().next().is_none());
}

/// Found while writing the hostile-input tests. A replica named twice in a version vector's
/// JSON object kept the *last* count, so `{"a":5,"a":1}` decoded below what it claimed. It
/// now keeps the largest, as `FromIterator` does.
#[test]
fn version_vector_duplicate_replica_keeps_the_largest_count() {
    let v: VersionVector<String> = serde_json::from_str(r#"{"a":5,"a":1}"#).expect("valid");
    assert_eq!(v.get(&"a".to_string()), 5);
}

/// Found while writing the hostile-input tests. serde's derived struct decoding also takes the
/// fields as a bare sequence, so `[1,"a",2]` decoded as an LWW write: an undocumented second
/// wire shape. Structs now decode from JSON objects only.
#[test]
fn structs_do_not_decode_from_a_sequence_of_their_fields() {
    assert!(serde_json::from_str::<LwwRegister<u8, String>>(r#"[1,"a",2]"#).is_err());
    assert!(serde_json::from_str::<OrSet<u8, String>>(r#"[[],{"vv":{},"cloud":[]}]"#).is_err());
}

/// Found while writing the hostile-input tests. Decoding an MV register compared every sibling
/// with every other: 20,000 concurrent siblings (700 KB of JSON) took 9 s, and a register
/// holding them made every later join as slow. Siblings are now merged through an index by
/// replica, largest clock first, and a list with more concurrent siblings than replicas in its
/// clocks (which no writes can produce), or longer than the documented limit, is refused.
#[test]
fn mv_register_with_thousands_of_siblings_is_not_quadratic() {
    let n = 20_000;
    let json = format!(
        "[{}]",
        (0..n)
            .map(|i| format!(r#"{{"clock":{{"r{i}":1}},"value":{i}}}"#))
            .collect::<Vec<_>>()
            .join(",")
    );
    assert!(serde_json::from_str::<MvRegister<u64, String>>(&json).is_err());
    let antichain = format!(
        "[{}]",
        (1..=n)
            .map(|i| format!(r#"{{"clock":{{"x":{i},"y":{}}},"value":0}}"#, n + 1 - i))
            .collect::<Vec<_>>()
            .join(",")
    );
    assert!(serde_json::from_str::<MvRegister<u64, String>>(&antichain).is_err());
}

/// Found by an adversarial probe. `OrSet::difference` always emitted its context's gap-free
/// prefix, so `a.difference(&a)`, and the news of absorbing a copy, were never bottom: gossip
/// forwarding whatever news is not bottom never went quiet for the OR-Set.
#[test]
fn or_set_news_is_bottom_when_nothing_is_new() {
    let a = or_set(
        r#"{"entries":[["x",[["r0",1],["r1",4]]],["y",[["r0",3]]]],
            "context":{"vv":{"r0":3,"r1":2},"cloud":[["r1",4]]}}"#,
    );
    assert!(a.difference(&a).is_bottom());
    let mut copy = a.clone();
    assert!(copy.absorb(a.clone()).is_bottom());
    assert_eq!(copy, a);
    // Something older than what is known is not news either.
    let older = or_set(r#"{"entries":[["x",[["r0",1]]]],"context":{"vv":{"r0":1},"cloud":[]}}"#);
    assert!(older.leq(&a) && older.difference(&a).is_bottom());
    // But a removal is.
    let removal = or_set(r#"{"entries":[],"context":{"vv":{"r0":1},"cloud":[]}}"#);
    let news = removal.difference(&a);
    assert!(!news.is_bottom());
    assert_eq!(a.clone().joined(&news), a.clone().joined(&removal));
}
