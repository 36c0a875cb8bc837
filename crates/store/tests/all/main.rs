//! The crate's integration tests, one module per subject, linked into one test binary: one
//! link instead of one per file, and the tests of every subject share the test threads.

mod crash;
mod damage;
mod group_commit;
