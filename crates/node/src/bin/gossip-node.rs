//! `gossip-node`: the Maelstrom node. See the crate docs for arguments.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    gossip_node::run_stdio(&args)
}
