//! The hidden `node` subcommand: what runs when `--bin` is omitted.
//!
//! The harness re-executes itself (`current_exe() node <args...>`) for every node, so the
//! README's main command needs no other binary. The project's own node lives in `gossip-node`,
//! which this crate must not depend on (dependencies point harness → node only through this
//! seam). Until the node lead wires it in, this stub explains itself on stderr and exits
//! non-zero; the harness then reports the node as crashed with that message.
//!
//! Hook point: replace the body of [`run`] with `gossip_node::run_stdio(args)`.

use std::process::ExitCode;

/// Run the project's own node on stdin/stdout with `args`.
pub fn run(args: Vec<String>) -> ExitCode {
    let _ = args;
    eprintln!(
        "gossip-harness node: the project's own node (gossip-node) is not wired into the harness yet; \
         pass --bin <path-to-a-node-binary> to gossip-harness test"
    );
    ExitCode::from(2)
}
