//! The crate's integration tests, one module per subject, linked into one test binary: one
//! link instead of one per file, and the tests of every subject share the test threads.

mod common;
mod convergence;
mod defences;
mod economy;
mod errors;
mod events;
mod membership;
mod or_map;
mod overlapping;
mod persist;
mod resume;
mod simnet;
mod weigh;
mod wire;
