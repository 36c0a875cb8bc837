//! The crate's integration tests, one module per subject, linked into one test binary: one
//! link instead of one per file, and the tests of every subject share the test threads.

mod agents;
mod common;
mod e2e;
mod module_graph;
mod our_node;
mod output_limits;
mod process_faults;
mod scenarios;
mod sim;
mod virtual_host;
