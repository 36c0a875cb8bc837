//! Locking that carries on past a panic: every value behind the node's locks stays valid
//! whatever a panicking holder left half done (lattice states, counters, queues), so a poisoned
//! lock is taken as it is rather than spreading the panic.

use std::sync::{Mutex, MutexGuard};

/// `m`'s guard, poisoned or not.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
