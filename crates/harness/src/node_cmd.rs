//! The hidden `node` subcommand: what runs when `--bin` is omitted.
//!
//! The harness re-executes itself (`current_exe() node <workload> <args...>`) for every node,
//! so the README's main command needs no other binary: this is `gossip-node` linked in.

use std::process::ExitCode;

/// Runs the project's own node on stdin/stdout with `args` (as `gossip-node` would).
pub fn run(args: Vec<String>) -> ExitCode {
    gossip_node::run_stdio(&args)
}
