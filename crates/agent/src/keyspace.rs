//! The keyspace: named sets, counters and registers, as pure functions over the CRDT maps.
//!
//! Each kind is one map from name to CRDT, replicated as one named replica, so names come
//! and go without new replicas. Every write here is a function `(state, me, request) ->
//! delta` that does not touch the state: the network shell applies the delta and ships it.
//!
//! Registers use their own actor type ([`Actor`]), not the replica id, because a write that
//! carries a client's context may need a fresh actor to stay concurrent with what the client
//! did not see (see [`register_write_delta`]).

use std::fmt;

use gossip_crdt::{
    Causality, CounterMap, CrdtError, Lattice, MvRegister, OrMap, OrSet, SetMap, Sibling,
    VersionVector,
};
use gossip_transport::ReplicaId;
use serde_json::Value;

use crate::value;

/// A register writer: the replica id, and a suffix `.k` for the rare write that must not
/// dominate a sibling the client did not see.
pub type Actor = String;

/// Sets by name; elements are canonical JSON texts.
pub type Sets = SetMap<String, String, ReplicaId>;
/// Counters by name.
pub type Counters = CounterMap<String, ReplicaId>;
/// Multi-value registers by name; values are canonical JSON texts.
pub type Registers = OrMap<String, MvRegister<String, Actor>, ReplicaId>;

/// The three kinds of value a name can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Observed-remove sets of JSON values.
    Sets,
    /// Up-and-down counters.
    Counters,
    /// Multi-value registers of JSON values.
    Registers,
}

impl Kind {
    /// Every kind, in the order pages list them.
    pub const ALL: [Kind; 3] = [Kind::Sets, Kind::Counters, Kind::Registers];

    /// The path segment and replica name: `sets`, `counters`, `registers`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Sets => "sets",
            Kind::Counters => "counters",
            Kind::Registers => "registers",
        }
    }

    /// The singular noun, for messages: "a set", "a counter", "a register".
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Sets => "a set",
            Kind::Counters => "a counter",
            Kind::Registers => "a register",
        }
    }

    /// The kind a path segment names.
    pub fn parse(segment: &str) -> Option<Kind> {
        match segment {
            "sets" => Some(Kind::Sets),
            "counters" => Some(Kind::Counters),
            "registers" => Some(Kind::Registers),
            _ => None,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The most bytes a name may have.
pub const MAX_NAME_BYTES: usize = 256;
/// The most entries a register context may name: a context lists the writers of one
/// register's siblings, a handful in practice.
pub const MAX_CONTEXT_ENTRIES: usize = 256;

/// Why a request could not become a delta. None of these changes any state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyspaceError {
    /// The name is empty, too long or holds a control character.
    BadName {
        /// Why the name is refused.
        reason: String,
    },
    /// A register context that does not parse.
    BadContext {
        /// What is wrong with it.
        reason: String,
    },
    /// A counter or clock would overflow (a peer's state sits at the top of the range).
    Crdt(CrdtError),
}

impl fmt::Display for KeyspaceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyspaceError::BadName { reason } => write!(f, "bad name: {reason}"),
            KeyspaceError::BadContext { reason } => write!(
                f,
                "bad context: {reason}; pass the \"context\" string a read returned, unchanged"
            ),
            KeyspaceError::Crdt(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for KeyspaceError {}

impl From<CrdtError> for KeyspaceError {
    fn from(e: CrdtError) -> Self {
        KeyspaceError::Crdt(e)
    }
}

/// Checks a name: 1 to [`MAX_NAME_BYTES`] bytes, no control characters.
pub fn check_name(name: &str) -> Result<(), KeyspaceError> {
    if name.is_empty() {
        return Err(KeyspaceError::BadName {
            reason: "a name cannot be empty".into(),
        });
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(KeyspaceError::BadName {
            reason: format!("{} bytes, the limit is {MAX_NAME_BYTES}", name.len()),
        });
    }
    if name.chars().any(char::is_control) {
        return Err(KeyspaceError::BadName {
            reason: "a name cannot hold control characters".into(),
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Sets

/// The delta that adds every element of `elements` (canonical texts) to set `name`, or
/// `None` for an empty list.
pub fn set_add_delta(
    state: &Sets,
    me: ReplicaId,
    name: &str,
    elements: &[String],
) -> Result<Option<Sets>, KeyspaceError> {
    if elements.is_empty() {
        return Ok(None);
    }
    let delta = state.update_delta(me, name.to_owned(), |set| {
        // Each add needs its own dot: apply them to a scratch copy as they are made.
        let mut scratch = set.clone();
        let mut delta = OrSet::new();
        for element in elements {
            delta.join(&scratch.insert(me, element.clone())?);
        }
        Ok::<_, CrdtError>(delta)
    })?;
    Ok(Some(delta))
}

/// The delta that removes the listed elements (the adds seen here) from set `name`, or
/// `None` if the set holds none of them (nothing to remove, and the set is not created).
pub fn set_remove_delta(
    state: &Sets,
    me: ReplicaId,
    name: &str,
    elements: &[String],
) -> Result<Option<Sets>, KeyspaceError> {
    let Some(view) = state.get(&name.to_owned()) else {
        return Ok(None);
    };
    if !elements.iter().any(|e| view.contains(e)) {
        return Ok(None);
    }
    let delta = state.update_delta(me, name.to_owned(), |set| {
        let mut delta = OrSet::new();
        for element in elements {
            delta.join(&set.remove_delta(element));
        }
        Ok::<_, CrdtError>(delta)
    })?;
    Ok(Some(delta))
}

/// Set `name`'s elements in read order, or `None` if it is absent.
pub fn set_read(state: &Sets, name: &str) -> Option<Vec<Value>> {
    state
        .get(&name.to_owned())
        .map(|set| value::sorted_values(set.iter()))
}

// ---------------------------------------------------------------------------------------
// Counters

/// The delta that adds `by` (negative to subtract) to counter `name`; `0` creates the
/// counter if it is absent and changes nothing else.
pub fn counter_add_delta(
    state: &Counters,
    me: ReplicaId,
    name: &str,
    by: i64,
) -> Result<Counters, KeyspaceError> {
    let delta = if by < 0 {
        state.decrement_delta(me, name.to_owned(), by.unsigned_abs())
    } else {
        state.increment_delta(me, name.to_owned(), by.unsigned_abs())
    };
    Ok(delta?)
}

/// Counter `name`'s value, or `None` if it is absent.
pub fn counter_read(state: &Counters, name: &str) -> Option<i128> {
    state.get(&name.to_owned()).map(|c| c.value())
}

// ---------------------------------------------------------------------------------------
// Registers

/// What a register read returns: every current value, and the context to pass back to
/// replace exactly these.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisterView {
    /// The siblings' values, in read order.
    pub values: Vec<Value>,
    /// The join of the siblings' clocks, encoded by [`encode_context`].
    pub context: String,
}

/// Register `name`'s values and context, or `None` if it is absent.
pub fn register_read(state: &Registers, name: &str) -> Option<RegisterView> {
    state.get(&name.to_owned()).map(|register| RegisterView {
        values: value::sorted_values(register.read()),
        context: encode_context(&register.clock()),
    })
}

/// A context as text: `actor:count` entries joined by `,`, in actor order. Clients treat it
/// as opaque; the empty string is the context of a read that saw nothing.
pub fn encode_context(clock: &VersionVector<Actor>) -> String {
    clock
        .iter()
        .map(|(actor, n)| format!("{actor}:{n}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses a context made by [`encode_context`].
pub fn decode_context(text: &str) -> Result<VersionVector<Actor>, KeyspaceError> {
    let bad = |reason: String| KeyspaceError::BadContext { reason };
    let mut clock = VersionVector::new();
    if text.is_empty() {
        return Ok(clock);
    }
    for (i, entry) in text.split(',').enumerate() {
        if i >= MAX_CONTEXT_ENTRIES {
            return Err(bad(format!("more than {MAX_CONTEXT_ENTRIES} entries")));
        }
        let (actor, count) = entry
            .rsplit_once(':')
            .ok_or_else(|| bad(format!("entry {entry:?} is not actor:count")))?;
        let valid_actor = !actor.is_empty()
            && actor.len() <= 40
            && actor.chars().all(|c| c.is_ascii_digit() || c == '.');
        if !valid_actor {
            return Err(bad(format!("{actor:?} is not an actor")));
        }
        let count: u64 = count
            .parse()
            .map_err(|_| bad(format!("{count:?} is not a count")))?;
        if clock.get(&actor.to_owned()) != 0 {
            return Err(bad(format!("actor {actor} is named twice")));
        }
        clock.witness(actor.to_owned(), count);
    }
    Ok(clock)
}

/// The actor `me` writes registers as; `k > 0` gives the spare actors of [`register_write_delta`].
fn actor(me: ReplicaId, k: usize) -> Actor {
    if k == 0 {
        me.0.to_string()
    } else {
        format!("{}.{k}", me.0)
    }
}

/// The delta that writes `value` (canonical text) to register `name`.
///
/// - Without a context the write replaces every value this replica holds for the name
///   (the register's own write); values written concurrently elsewhere stay as siblings.
/// - With the context a read returned, it replaces exactly the values that read saw: its
///   clock is the context with the writer's entry moved past anything it wrote before.
///   If that clock would also cover a sibling the read did not see (one written here since,
///   whose clock exceeds the context only in this writer's entry), the write takes a spare
///   actor `me.k`, so it stays concurrent with that sibling instead of silently replacing it.
pub fn register_write_delta(
    state: &Registers,
    me: ReplicaId,
    name: &str,
    value: String,
    context: Option<&VersionVector<Actor>>,
) -> Result<Registers, KeyspaceError> {
    let delta = state.update_delta(me, name.to_owned(), |register| {
        let Some(context) = context else {
            return register.write_delta(actor(me, 0), value);
        };
        let stored = register.clock();
        let unseen: Vec<&Sibling<String, Actor>> = register
            .siblings()
            .iter()
            .filter(|s| !s.clock.leq(context))
            .collect();
        // Each unseen sibling rules out at most one actor, so this ends within
        // `unseen.len() + 1` tries.
        for k in 0..=unseen.len() {
            let who = actor(me, k);
            let mut clock = context.clone();
            clock.witness(who.clone(), stored.get(&who));
            clock.increment(who)?;
            let covers_unseen = unseen.iter().any(|s| {
                matches!(
                    s.clock.compare(&clock),
                    Causality::Before | Causality::Equal
                )
            });
            if !covers_unseen {
                return Ok(MvRegister::from_sibling(Sibling { clock, value }));
            }
        }
        // Unreachable by the counting above; refuse rather than replace unseen values.
        Err(CrdtError::Overflow {
            operation: "register write: no spare actor",
        })
    })?;
    Ok(delta)
}

// ---------------------------------------------------------------------------------------
// Any kind

/// The delta that removes `name` as this replica sees it, or `None` if it is absent.
pub fn remove_delta<V: gossip_crdt::Resettable>(
    state: &OrMap<String, V, ReplicaId>,
    name: &str,
) -> Option<OrMap<String, V, ReplicaId>> {
    let name = name.to_owned();
    state.contains_key(&name).then(|| state.remove_delta(&name))
}

/// The names a map delta touches: the keys it updates and the keys it removes.
///
/// `OrMap` lists a removed key only inside its serialised form (the `floors`), so that is
/// read through the documented JSON shape `{"keys":..,"values":[[k,v]..],"floors":[[k,v]..]}`.
pub fn touched_names<V>(delta: &OrMap<String, V, ReplicaId>) -> Vec<String>
where
    V: gossip_crdt::Resettable + serde::Serialize,
{
    let mut names: Vec<String> = delta.keys().cloned().collect();
    if let Ok(Value::Object(map)) = serde_json::to_value(delta) {
        for field in ["values", "floors"] {
            if let Some(Value::Array(pairs)) = map.get(field) {
                for pair in pairs {
                    if let Some(Value::String(name)) = pair.get(0) {
                        names.push(name.clone());
                    }
                }
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const A: ReplicaId = ReplicaId(1);
    const B: ReplicaId = ReplicaId(2);

    fn text(v: Value) -> String {
        value::canonical(&v)
    }

    /// Applies a delta made from the state itself.
    macro_rules! apply {
        ($state:ident, $delta:expr) => {{
            let delta = $delta;
            $state.join(&delta);
        }};
    }

    #[test]
    fn set_add_remove_and_read_sorted() -> Result<(), KeyspaceError> {
        let mut s = Sets::new();
        let add = set_add_delta(
            &s,
            A,
            "tags",
            &[text(json!("b")), text(json!(1)), text(json!("a"))],
        )?;
        apply!(s, add.expect("a delta"));
        assert_eq!(
            set_read(&s, "tags"),
            Some(vec![json!(1), json!("a"), json!("b")])
        );
        let rm = set_remove_delta(&s, A, "tags", &[text(json!("a"))])?;
        apply!(s, rm.expect("a delta"));
        assert_eq!(set_read(&s, "tags"), Some(vec![json!(1), json!("b")]));
        assert_eq!(set_read(&s, "other"), None);
        // Removing what is not there changes nothing and creates nothing.
        assert_eq!(set_remove_delta(&s, A, "other", &[text(json!("a"))])?, None);
        assert_eq!(set_remove_delta(&s, A, "tags", &[text(json!("zz"))])?, None);
        Ok(())
    }

    #[test]
    fn a_concurrent_add_survives_a_remove() -> Result<(), KeyspaceError> {
        let mut a = Sets::new();
        apply!(
            a,
            set_add_delta(&a, A, "s", &[text(json!("x"))])?.expect("delta")
        );
        let mut b = a.clone();
        let rm = set_remove_delta(&a, A, "s", &[text(json!("x"))])?.expect("delta");
        let re = set_add_delta(&b, B, "s", &[text(json!("x"))])?.expect("delta");
        apply!(a, rm.clone());
        apply!(a, re.clone());
        apply!(b, re);
        apply!(b, rm);
        assert_eq!(a, b);
        assert_eq!(set_read(&a, "s"), Some(vec![json!("x")]));
        Ok(())
    }

    #[test]
    fn counters_count_up_and_down_and_reset_on_remove() -> Result<(), KeyspaceError> {
        let mut c = Counters::new();
        apply!(c, counter_add_delta(&c, A, "n", 5)?);
        apply!(c, counter_add_delta(&c, B, "n", -7)?);
        assert_eq!(counter_read(&c, "n"), Some(-2));
        apply!(c, remove_delta(&c, "n").expect("present"));
        assert_eq!(counter_read(&c, "n"), None);
        assert!(remove_delta(&c, "n").is_none());
        apply!(c, counter_add_delta(&c, A, "n", 1)?);
        assert_eq!(counter_read(&c, "n"), Some(1));
        Ok(())
    }

    #[test]
    fn writes_with_the_same_context_on_two_replicas_are_siblings_until_resolved()
    -> Result<(), KeyspaceError> {
        let mut a = Registers::new();
        apply!(
            a,
            register_write_delta(&a, A, "t", text(json!("v0")), None)?
        );
        let mut b = a.clone();
        let seen = register_read(&a, "t").expect("present");
        let ctx = decode_context(&seen.context)?;
        let wa = register_write_delta(&a, A, "t", text(json!("alice")), Some(&ctx))?;
        let wb = register_write_delta(&b, B, "t", text(json!("bob")), Some(&ctx))?;
        a.join(&wa);
        a.join(&wb);
        b.join(&wb);
        b.join(&wa);
        assert_eq!(a, b);
        let both = register_read(&a, "t").expect("present");
        assert_eq!(both.values, vec![json!("alice"), json!("bob")]);
        // A write passing the context that saw both replaces both.
        let ctx = decode_context(&both.context)?;
        apply!(
            b,
            register_write_delta(&b, B, "t", text(json!("merged")), Some(&ctx))?
        );
        a.join(&b);
        assert_eq!(
            register_read(&a, "t").expect("present").values,
            vec![json!("merged")]
        );
        Ok(())
    }

    #[test]
    fn a_stale_context_does_not_replace_a_later_write_on_the_same_replica()
    -> Result<(), KeyspaceError> {
        let mut a = Registers::new();
        apply!(
            a,
            register_write_delta(&a, A, "t", text(json!("v0")), None)?
        );
        let stale = decode_context(&register_read(&a, "t").expect("present").context)?;
        // A second client writes through the same replica after the first one read.
        let seen_v0 = stale.clone();
        apply!(
            a,
            register_write_delta(&a, A, "t", text(json!("v1")), Some(&seen_v0))?
        );
        // The first client now writes with what it read: v1 was not seen, so it stays.
        apply!(
            a,
            register_write_delta(&a, A, "t", text(json!("v2")), Some(&stale))?
        );
        let view = register_read(&a, "t").expect("present");
        assert_eq!(view.values, vec![json!("v1"), json!("v2")]);
        // And the context of that read resolves both.
        let ctx = decode_context(&view.context)?;
        apply!(
            a,
            register_write_delta(&a, A, "t", text(json!("v3")), Some(&ctx))?
        );
        assert_eq!(
            register_read(&a, "t").expect("present").values,
            vec![json!("v3")]
        );
        Ok(())
    }

    #[test]
    fn a_write_without_context_replaces_what_this_replica_holds() -> Result<(), KeyspaceError> {
        let mut a = Registers::new();
        apply!(a, register_write_delta(&a, A, "t", text(json!(1)), None)?);
        apply!(a, register_write_delta(&a, A, "t", text(json!(2)), None)?);
        assert_eq!(
            register_read(&a, "t").expect("present").values,
            vec![json!(2)]
        );
        Ok(())
    }

    #[test]
    fn contexts_round_trip_and_bad_ones_are_refused() -> Result<(), KeyspaceError> {
        let mut clock = VersionVector::new();
        clock.witness("12".to_owned(), 3);
        clock.witness("7.1".to_owned(), 1);
        let text = encode_context(&clock);
        assert_eq!(text, "12:3,7.1:1");
        assert_eq!(decode_context(&text)?, clock);
        assert_eq!(decode_context("")?, VersionVector::new());
        for bad in ["x", "12:", ":3", "12:-1", "1 2:3", "1:1,1:2", "a:1"] {
            assert!(decode_context(bad).is_err(), "{bad:?} was accepted");
        }
        let long = (0..=MAX_CONTEXT_ENTRIES)
            .map(|i| format!("{i}:1"))
            .collect::<Vec<_>>()
            .join(",");
        assert!(decode_context(&long).is_err());
        Ok(())
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("orders/2024").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name(&"x".repeat(MAX_NAME_BYTES + 1)).is_err());
        assert!(check_name("a\nb").is_err());
    }

    #[test]
    fn touched_names_include_removed_ones() -> Result<(), KeyspaceError> {
        let mut c = Counters::new();
        let up = counter_add_delta(&c, A, "up", 1)?;
        assert_eq!(touched_names(&up), vec!["up".to_owned()]);
        apply!(c, up);
        let gone = remove_delta(&c, "up").expect("present");
        assert_eq!(touched_names(&gone), vec!["up".to_owned()]);
        Ok(())
    }
}
