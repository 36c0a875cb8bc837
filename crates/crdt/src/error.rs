//! Errors a CRDT operation can report.
//!
//! Local mutators can only fail by overflowing a counter (a state received from a peer may
//! already sit at the top of the range). Decoding a state from bytes is serde's job and reports
//! serde's error; the types validate what serde cannot (see each type's `Deserialize`).

use std::fmt;

/// Why a mutator refused to produce a delta. The state is unchanged when one is returned.
#[derive(Debug, Clone, PartialEq, Eq)]
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
