//! Malformed and hostile states: decoding returns an error, never panics, never hangs; and a
//! state that decodes is safe to use (join, compare, mutate) however extreme its numbers.
//!
//! A peer may be buggy, or an attacker; either way its bytes must not take a replica down.
//! Non-canonical but meaningful inputs (zero entries, dominated siblings, duplicates) are
//! accepted and normalised, so that equal states compare equal.
//!
//! One file per kind of input: wrong shapes, broken invariants and non-canonical states, numbers
//! at the top of the range, and fuzzing.

mod fuzz;
mod invariants;
mod shapes;
mod top_of_range;

use std::fmt::Debug;

use gossip_crdt::Decompose;
use serde::de::DeserializeOwned;

const MAX: u64 = u64::MAX;

/// `json` must be refused as a `T`.
#[track_caller]
fn refused<T: DeserializeOwned + Debug>(json: &str) {
    if let Ok(value) = serde_json::from_str::<T>(json) {
        panic!(
            "accepted as {}: {json}\n  decoded: {value:?}",
            std::any::type_name::<T>()
        );
    }
}

/// `json` must decode as a `T`.
#[track_caller]
fn accepted<T: DeserializeOwned>(json: &str) -> T {
    match serde_json::from_str::<T>(json) {
        Ok(value) => value,
        Err(e) => panic!("refused as {}: {json}: {e}", std::any::type_name::<T>()),
    }
}

/// Uses a decoded state every way that takes no argument from outside: none may panic.
fn exercise<L: Decompose + Debug>(state: &L) {
    let bottom = L::default();
    let mut copy = state.clone();
    assert!(
        !copy.join(state),
        "a decoded state must be idempotent: {state:?}"
    );
    assert!(state.leq(state) && bottom.leq(state));
    assert_eq!(bottom.clone().joined(state), *state);
    let _ = state.difference(&bottom);
    assert!(state.difference(state).leq(state));
}
