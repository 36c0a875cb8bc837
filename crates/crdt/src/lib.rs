//! # gossip-crdt: replicated data types that merge without coordination
//!
//! State-based CRDTs (conflict-free replicated data types) with deltas. Each type is a
//! [`Lattice`]: replicas update locally, ship small deltas, and merge what they receive with
//! [`Lattice::join`]; whatever order, grouping or duplication the network delivers, replicas
//! that saw the same updates hold the same state.
//!
//! This crate is the bottom layer of *gossip*. It is pure data: no IO, no clock, no
//! randomness, no threads. Timestamps and replica ids come from the caller; spreading deltas
//! between machines is the job of `gossip-transport`.
//!
//! ## Layout
//!
//! | module | what lives there |
//! |---|---|
//! | [`Lattice`], [`Decompose`] | the join-semilattice trait and optimal deltas |
//! | [`GSet`], [`TwoPSet`], [`OrSet`] | sets: grow-only; remove-forever; add-wins with re-add |
//! | [`GCounter`], [`PnCounter`] | counters: grow-only; up and down |
//! | [`LwwRegister`], [`MvRegister`] | registers: last writer wins (loses concurrent writes); multi-value (keeps them) |
//! | [`OrMap`], [`Resettable`] | maps of CRDTs (maps too): observed-remove keys, reset-remove values |
//! | [`CounterMap`], [`RegisterMap`], [`SetMap`] | the common maps, with one-call updates |
//! | [`VersionVector`], [`Causality`] | causal history and conflict detection |
//! | [`Dot`], [`CausalContext`] | event ids and sets of them, behind the OR-Set |
//! | `laws` (feature `laws`) | the lattice laws as quickcheck checks, for your types too |
//!
//! Every mutator exists twice: `op_delta(&self, ..)` generates the change without applying
//! it, `op(&mut self, ..)` applies it; both return the delta to ship. Every type serialises
//! with serde to the JSON shape its documentation gives (pinned by golden tests), and decoding
//! a malformed state is an error, never a panic.
//!
//! ## One vocabulary
//!
//! | kind | mutators (each with its `_delta`) | reads |
//! |---|---|---|
//! | sets: [`GSet`], [`TwoPSet`], [`OrSet`] | `insert`, `remove` (not `GSet`) | `contains`, `iter`, `len` |
//! | counters: [`GCounter`], [`PnCounter`] | `increment(replica, by: u64)`, `decrement` (PN only) | `value` |
//! | registers: [`LwwRegister`], [`MvRegister`] | `write` | `read` (LWW: the value; MV: the siblings' values) |
//! | maps: [`OrMap`] | `update`, `remove` | `get`, `contains_key`, `keys`, `iter` |
//! | [`CounterMap`], [`RegisterMap`], [`SetMap`] | as their values, with a key: `increment`, `write`, `insert`, `remove_element` | `value`, `read`, `elements`, `contains_element` |
//!
//! Errors follow one rule: a mutator returns `Result<_, CrdtError>` exactly when it can fail,
//! and it can fail only where it draws a new event (a dot or a counter step) that could pass
//! `u64::MAX`; the state is then unchanged. So `OrSet::insert`, the counters, `MvRegister::write`
//! and every map update return a `Result`; `GSet::insert`, `TwoPSet::insert`, every `remove`
//! of a set element or a map key, and `LwwRegister::write` (its timestamp is the caller's)
//! return the delta directly. `docs/crdts.md` has the full table and the deprecated old names.
//!
//! Replica ids are JSON object keys in the types that keep one entry per replica (counters,
//! version vectors, the OR-Set's and OR-Map's causal context, the MV register's clocks): in
//! JSON they must be strings or integers, and a tuple or struct id fails to encode at run time.
//!
//! ## Example: detecting a conflict
//!
//! ```
//! use gossip_crdt::{Causality, Lattice, MvRegister};
//!
//! // Two replicas of a document title, edited while they could not talk.
//! let mut lisbon = MvRegister::new();
//! let mut tokyo = MvRegister::new();
//! let from_lisbon = lisbon.write("lisbon", "Draft")?;
//! let from_tokyo = tokyo.write("tokyo", "Final")?;
//!
//! // The version vectors say the writes are concurrent ...
//! let a = &from_lisbon.siblings()[0].clock;
//! let b = &from_tokyo.siblings()[0].clock;
//! assert_eq!(a.compare(b), Causality::Concurrent);
//!
//! // ... so after exchanging deltas both replicas keep both values.
//! lisbon.join(&from_tokyo);
//! tokyo.join(&from_lisbon);
//! assert_eq!(lisbon, tokyo);
//! assert!(lisbon.is_conflicted());
//! # Ok::<(), gossip_crdt::CrdtError>(())
//! ```
//!
//! See `docs/crdts.md` in the repository for the catalogue and its trade-offs.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod causal_context;
mod error;
mod g_counter;
mod g_set;
mod lattice;
mod lww_register;
mod map_types;
mod mv_register;
mod or_map;
mod or_set;
mod pn_counter;
mod reset;
mod two_p_set;
mod version_vector;
mod wire;

#[cfg(feature = "laws")]
pub mod laws;

pub use causal_context::{CausalContext, Dot};
pub use error::CrdtError;
pub use g_counter::GCounter;
pub use g_set::{GSet, GSetIntoIter, GSetIter};
pub use lattice::{Decompose, Lattice};
pub use lww_register::{LwwRegister, LwwWrite};
pub use map_types::{CounterMap, RegisterMap, SetMap};
pub use mv_register::{MvRegister, Sibling};
pub use or_map::OrMap;
pub use or_set::OrSet;
pub use pn_counter::PnCounter;
pub use reset::Resettable;
pub use two_p_set::TwoPSet;
pub use version_vector::{Causality, VersionVector};

/// `docs/crdts.md`, included only so that `cargo test` compiles and runs its examples.
#[doc = include_str!("../../../docs/crdts.md")]
#[cfg(doctest)]
pub struct CrdtsGuide;
