//! What each type means, one named scenario at a time: the semantics a user relies on, beyond
//! the lattice laws (which `laws.rs` checks). Replicas are named by strings; timestamps
//! are plain numbers chosen by the test, as a caller's clock would supply them.
//!
//! One file per subject: the sets, the registers, the version vector, the counters,
//! `decompose` and `difference`, and the vocabulary the types share.

mod counters;
mod decompose;
mod registers;
mod sets;
mod version_vector;
mod vocabulary;

use gossip_crdt::VersionVector;

type Result = std::result::Result<(), gossip_crdt::CrdtError>;

/// A version vector over named replicas, from its entries.
fn vv(entries: &[(&'static str, u64)]) -> VersionVector<&'static str> {
    entries.iter().copied().collect()
}
