//! Errors a CRDT operation can report.
//!
//! The policy, the same for every type: a mutator returns `Result<_, CrdtError>` exactly when
//! it can fail, and it can fail only where it draws a new event (a dot or a counter step) that
//! could pass `u64::MAX`. Mutators that draw no event (`GSet::insert`, every `remove`,
//! `LwwRegister::write`, whose timestamp comes from the caller) return the delta directly.
//! Decoding a state from bytes is serde's job and reports serde's error; the types validate
//! what serde cannot (see each type's `Deserialize`).

use std::fmt;

/// Why a mutator refused to produce a delta. The state is unchanged when one is returned.
///
/// Non-exhaustive: a later version may add variants, so match with a wildcard arm. A match
/// without one does not compile outside this crate:
///
/// ```compile_fail,E0004
/// fn operation(e: &gossip_crdt::CrdtError) -> &'static str {
///     match e {
///         gossip_crdt::CrdtError::Overflow { operation } => operation,
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CrdtError {
    /// A counter or clock entry would pass `u64::MAX`. Caused by the state, not by the caller's
    /// argument alone: a peer (or a hostile input) may have shipped an entry near the top.
    Overflow {
        /// Which operation overflowed, e.g. `"GCounter::increment"`.
        operation: &'static str,
    },
}

impl fmt::Display for CrdtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CrdtError::Overflow { operation } => {
                write!(f, "{operation}: the entry would pass u64::MAX")
            }
        }
    }
}

impl std::error::Error for CrdtError {}
