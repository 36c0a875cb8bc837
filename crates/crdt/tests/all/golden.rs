//! Golden JSON vectors: the wire shape of every type, pinned.
//!
//! Each vector builds a value through the public API, serialises it to an exact string, and
//! decodes that exact string back to an equal value. A serde change that alters the format
//! (a renamed field, a map turned into a list, a different order) fails here, before a peer
//! running the previous version fails to read it. The shapes are the ones each type's rustdoc
//! and `docs/crdts.md` give; change all three together, and only on purpose.

use std::fmt::Debug;

use gossip_crdt::{
    CausalContext, Causality, CounterMap, CrdtError, Dot, GCounter, GSet, Lattice, LwwRegister,
    LwwWrite, MvRegister, OrMap, OrSet, PnCounter, Sibling, TwoPSet, VersionVector,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

type Result = std::result::Result<(), CrdtError>;

/// `value` serialises to exactly `json`, and `json` decodes to `value`.
#[track_caller]
fn golden<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T, json: &str) {
    let encoded = serde_json::to_string(value).expect("serialises");
    assert_eq!(encoded, json, "the wire shape changed");
    let decoded: T = serde_json::from_str(json).expect("the golden vector decodes");
    assert_eq!(
        &decoded, value,
        "the golden vector decodes to a different value"
    );
}

#[test]
fn g_set_is_a_sorted_array() {
    golden(&GSet::<u32>::new(), "[]");
    let numbers: GSet<u32> = [3, 1, 2].into_iter().collect();
    golden(&numbers, "[1,2,3]");
    let words: GSet<String> = ["pear", "apple"].into_iter().map(String::from).collect();
    golden(&words, r#"["apple","pear"]"#);
}

#[test]
fn two_p_set_is_adds_and_removes() {
    golden(&TwoPSet::<u32>::new(), r#"{"adds":[],"removes":[]}"#);
    let mut set = TwoPSet::new();
    set.insert(2u32);
    set.insert(1);
    set.remove(2);
    set.remove(9);
    golden(&set, r#"{"adds":[1,2],"removes":[2,9]}"#);
}

#[test]
fn lww_register_is_null_or_one_write() {
    golden(&LwwRegister::<String, String>::new(), "null");
    let mut reg = LwwRegister::new();
    reg.write(7, "a".to_string(), "x".to_string());
    golden(&reg, r#"{"timestamp":7,"replica":"a","value":"x"}"#);
    let mut numeric = LwwRegister::new();
    numeric.write(1_700_000_000_000, 3u64, vec![1u8, 2]);
    golden(
        &numeric,
        r#"{"timestamp":1700000000000,"replica":3,"value":[1,2]}"#,
    );
    golden(
        &LwwWrite {
            timestamp: u64::MAX,
            replica: "z".to_string(),
            value: (),
        },
        r#"{"timestamp":18446744073709551615,"replica":"z","value":null}"#,
    );
}

#[test]
fn version_vector_is_an_object_of_counts() -> Result {
    golden(&VersionVector::<String>::new(), "{}");
    let mut v = VersionVector::new();
    v.increment("b".to_string())?;
    v.increment("a".to_string())?;
    v.increment("a".to_string())?;
    golden(&v, r#"{"a":2,"b":1}"#);
    // Integer replica ids become string keys, as JSON requires.
    let numeric: VersionVector<u64> = [(10, 1), (2, u64::MAX)].into_iter().collect();
    golden(&numeric, r#"{"2":18446744073709551615,"10":1}"#);
    Ok(())
}

#[test]
fn g_counter_is_an_object_of_contributions() -> Result {
    golden(&GCounter::<String>::new(), "{}");
    let mut c = GCounter::new();
    c.increment("n1".to_string(), 5)?;
    c.increment("n2".to_string(), 3)?;
    golden(&c, r#"{"n1":5,"n2":3}"#);
    Ok(())
}

#[test]
fn pn_counter_is_two_g_counters() -> Result {
    golden(&PnCounter::<String>::new(), r#"{"p":{},"n":{}}"#);
    let mut c = PnCounter::new();
    c.increment("a".to_string(), 10)?;
    c.decrement("b".to_string(), 4)?;
    golden(&c, r#"{"p":{"a":10},"n":{"b":4}}"#);
    Ok(())
}

#[test]
fn dot_and_causal_context() {
    golden(
        &Dot {
            replica: "a".to_string(),
            counter: 3,
        },
        r#"["a",3]"#,
    );
    golden(&CausalContext::<String>::new(), r#"{"vv":{},"cloud":[]}"#);
    let ctx: CausalContext<String> = [("a", 1), ("a", 2), ("a", 3), ("b", 5)]
        .into_iter()
        .map(|(replica, counter)| Dot {
            replica: replica.to_string(),
            counter,
        })
        .collect();
    golden(&ctx, r#"{"vv":{"a":3},"cloud":[["b",5]]}"#);
}

#[test]
fn or_set_is_entries_with_dots_and_a_context() -> Result {
    golden(
        &OrSet::<String, String>::new(),
        r#"{"entries":[],"context":{"vv":{},"cloud":[]}}"#,
    );
    let mut set = OrSet::new();
    set.insert("a".to_string(), "milk".to_string())?;
    set.insert("a".to_string(), "eggs".to_string())?;
    set.remove(&"milk".to_string());
    golden(
        &set,
        r#"{"entries":[["eggs",[["a",2]]]],"context":{"vv":{"a":2},"cloud":[]}}"#,
    );
    // Elements need not be strings, and a concurrent add leaves two dots on one element.
    let mut a = OrSet::new();
    let mut b = OrSet::new();
    let from_a = a.insert("a".to_string(), 7u32)?;
    b.insert("b".to_string(), 1u32)?;
    b.insert("b".to_string(), 7u32)?;
    b.remove(&1);
    a.join(&b);
    b.join(&from_a);
    assert_eq!(a, b);
    golden(
        &a,
        r#"{"entries":[[7,[["a",1],["b",2]]]],"context":{"vv":{"a":1,"b":2},"cloud":[]}}"#,
    );
    // A delta carries a context with a gap: the dot travels in the cloud.
    let delta = a.insert("b".to_string(), 8)?;
    golden(
        &delta,
        r#"{"entries":[[8,[["b",3]]]],"context":{"vv":{},"cloud":[["b",3]]}}"#,
    );
    Ok(())
}

#[test]
fn mv_register_is_an_array_of_siblings() -> Result {
    golden(&MvRegister::<String, String>::new(), "[]");
    let mut a = MvRegister::new();
    let mut b = MvRegister::new();
    a.write("a".to_string(), "tea".to_string())?;
    let from_b = b.write("b".to_string(), "coffee".to_string())?;
    golden(&from_b, r#"[{"clock":{"b":1},"value":"coffee"}]"#);
    a.join(&from_b);
    golden(
        &a,
        r#"[{"clock":{"a":1},"value":"tea"},{"clock":{"b":1},"value":"coffee"}]"#,
    );
    a.write("a".to_string(), "both".to_string())?;
    golden(&a, r#"[{"clock":{"a":2,"b":1},"value":"both"}]"#);
    golden(
        &Sibling {
            clock: [("x".to_string(), 1)].into_iter().collect(),
            value: 0u8,
        },
        r#"{"clock":{"x":1},"value":0}"#,
    );
    Ok(())
}

#[test]
fn or_map_is_a_key_set_with_values_and_floors() -> Result {
    let s = |x: &str| x.to_string();
    let mut map: OrMap<String, PnCounter<String>, String> = OrMap::new();
    golden(
        &map,
        r#"{"keys":{"entries":[],"context":{"vv":{},"cloud":[]}},"values":[],"floors":[]}"#,
    );
    map.update(s("a"), s("apples"), |n| n.increment_delta(s("a"), 5))?;
    let delta = map.update(s("a"), s("pears"), |n| n.decrement_delta(s("a"), 2))?;
    // One key's delta: its presence dot and its value's delta.
    golden(
        &delta,
        r#"{"keys":{"entries":[["pears",[["a",2]]]],"context":{"vv":{},"cloud":[["a",2]]}},"values":[["pears",{"p":{},"n":{"a":2}}]],"floors":[]}"#,
    );
    let mut b = map.clone();
    // A remove: the key's dots in the context, and what it saw of the value as the floor.
    let removal = map.remove(&s("apples"));
    golden(
        &removal,
        r#"{"keys":{"entries":[],"context":{"vv":{"a":1},"cloud":[]}},"values":[],"floors":[["apples",{"p":{"a":5},"n":{}}]]}"#,
    );
    let concurrent = b.update(s("b"), s("apples"), |n| n.increment_delta(s("b"), 1))?;
    map.join(&concurrent);
    golden(
        &map,
        r#"{"keys":{"entries":[["apples",[["b",1]]],["pears",[["a",2]]]],"context":{"vv":{"a":2,"b":1},"cloud":[]}},"values":[["apples",{"p":{"a":5,"b":1},"n":{}}],["pears",{"p":{},"n":{"a":2}}]],"floors":[["apples",{"p":{"a":5},"n":{}}]]}"#,
    );
    assert_eq!(map.get(&s("apples")).map(|n| n.value()), Some(1));
    // Keys need not be strings, and values may be maps.
    let mut nested: OrMap<String, OrMap<u32, MvRegister<String, String>, String>, String> =
        OrMap::new();
    let delta = nested.update(s("a"), s("doc"), |inner| {
        inner.update_delta(s("a"), 7, |r| r.write_delta(s("a"), s("title")))
    })?;
    golden(
        &delta,
        r#"{"keys":{"entries":[["doc",[["a",1]]]],"context":{"vv":{"a":1},"cloud":[]}},"values":[["doc",{"keys":{"entries":[[7,[["a",1]]]],"context":{"vv":{"a":1},"cloud":[]}},"values":[[7,[{"clock":{"a":1},"value":"title"}]]],"floors":[]}]],"floors":[]}"#,
    );
    Ok(())
}

/// The example of `docs/crdts.md`, section `OrMap`: the JSON it shows.
#[test]
fn or_map_documented_example() -> Result {
    let s = |x: &str| x.to_string();
    let mut a: CounterMap<String, String> = CounterMap::new();
    a.increment(s("b"), s("likes"), 3)?;
    let mut b = a.clone();
    let removal = a.remove(&s("likes"));
    let like = b.increment(s("b"), s("likes"), 1)?;
    a.join(&like);
    b.join(&removal);
    assert_eq!(a, b);
    assert_eq!(a.value(&s("likes")), 1);
    golden(
        &a,
        r#"{"keys":{"entries":[["likes",[["b",2]]]],"context":{"vv":{"b":2},"cloud":[]}},"values":[["likes",{"p":{"b":4},"n":{}}]],"floors":[["likes",{"p":{"b":3},"n":{}}]]}"#,
    );
    Ok(())
}

/// The shapes the rustdoc shows are real: each documented example decodes, and re-encodes to
/// itself (the docs show canonical forms).
#[test]
fn documented_shapes_round_trip() {
    #[track_caller]
    fn canonical<T: Serialize + DeserializeOwned>(json: &str) {
        let value: T = serde_json::from_str(json).expect("the documented shape decodes");
        assert_eq!(serde_json::to_string(&value).expect("serialises"), json);
    }
    canonical::<GSet<u32>>("[1,2,3]");
    canonical::<TwoPSet<String>>(r#"{"adds":["x","y"],"removes":["x"]}"#);
    canonical::<LwwRegister<String, String>>(r#"{"timestamp":7,"replica":"a","value":"v"}"#);
    canonical::<VersionVector<String>>(r#"{"a":2,"b":1}"#);
    canonical::<GCounter<String>>(r#"{"n1":5,"n2":3}"#);
    canonical::<PnCounter<String>>(r#"{"p":{"a":10},"n":{"b":4}}"#);
    canonical::<Dot<String>>(r#"["a",3]"#);
    canonical::<CausalContext<String>>(r#"{"vv":{"a":3},"cloud":[["b",5]]}"#);
    canonical::<OrSet<String, String>>(
        r#"{"entries":[["x",[["a",1],["b",5]]]],"context":{"vv":{"a":3},"cloud":[["b",5]]}}"#,
    );
    canonical::<MvRegister<String, String>>(r#"[{"clock":{"a":1},"value":"tea"}]"#);
    canonical::<OrMap<String, PnCounter<String>, String>>(
        r#"{"keys":{"entries":[["x",[["b",1]]]],"context":{"vv":{"a":1,"b":1},"cloud":[]}},"values":[["x",{"p":{"a":5,"b":1},"n":{}}]],"floors":[["x",{"p":{"a":5},"n":{}}]]}"#,
    );
}

#[test]
fn causality_is_a_lowercase_word_on_the_wire_and_on_screen() {
    for (causality, word) in [
        (Causality::Before, "before"),
        (Causality::After, "after"),
        (Causality::Equal, "equal"),
        (Causality::Concurrent, "concurrent"),
    ] {
        golden(&causality, &format!("\"{word}\""));
        assert_eq!(causality.to_string(), word);
    }
    assert!(serde_json::from_str::<Causality>(r#""Concurrent""#).is_err());
}

/// Replica ids are JSON object keys in these types: a tuple id is refused with an error when
/// encoding, never a panic, and the same id type works as an element or a key elsewhere.
#[test]
fn tuple_replica_ids_fail_to_encode_as_documented() -> Result {
    type Id = (u8, u8);
    let key_error = |e: serde_json::Error| e.to_string().contains("key must be a string");
    let mut counter: GCounter<Id> = GCounter::new();
    counter.increment((1, 2), 3)?;
    assert!(serde_json::to_string(&counter).is_err_and(key_error));
    let mut set: OrSet<u8, Id> = OrSet::new();
    set.insert((1, 2), 7)?;
    assert!(serde_json::to_string(&set).is_err_and(key_error));
    let mut register: MvRegister<u8, Id> = MvRegister::new();
    register.write((1, 2), 7)?;
    assert!(serde_json::to_string(&register).is_err_and(key_error));
    // As elements, tuples are fine: a set's elements are an array.
    let mut ids: OrSet<Id, u8> = OrSet::new();
    ids.insert(1, (1, 2))?;
    golden(
        &ids,
        r#"{"entries":[[[1,2],[[1,1]]]],"context":{"vv":{"1":1},"cloud":[]}}"#,
    );
    Ok(())
}
