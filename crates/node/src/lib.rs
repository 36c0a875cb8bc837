//! # gossip-node: a Maelstrom node built on gossip's CRDTs and transport
//!
//! The program Maelstrom (or `gossip-harness`) starts once per cluster node. It speaks
//! Maelstrom's JSON-over-stdio protocol and serves five workloads: `echo`, `broadcast`,
//! `g-set`, `g-counter` and `pn-counter`. The replicated ones keep their state in
//! `gossip-crdt` lattices (a G-Set, a G-Counter, a PN-Counter) and spread it with
//! `gossip-transport`: by default a star with fallback hubs, leaves pushing at once and the hub
//! batching every 300 ms (`profile=fast`: every 25 ms).
//!
//! What it is not: a general Maelstrom client (it never calls Maelstrom's services) or a
//! workload for linearizable registers.
//!
//! ## Layout
//!
//! | module | what lives there |
//! |---|---|
//! | [`protocol`] | ids, error codes, the envelope: parse what Maelstrom sends, print what it accepts |
//! | [`Node`] | the sans-IO core: lines and time in, lines out (and, with a store, [`Commit`]s out and their outcome in) |
//! | `workload` | one module per workload: what each request means |
//! | `replicated` | a lattice and its replication engine, speaking `gossip` messages: the part of a workload the node drives |
//! | `ack` | when a write is answered: `ack=replicated` holds answers and hides unreplicated writes from reads |
//! | [`WorkloadKind`] | the workloads by name |
//! | [`parse_duration`] | durations as typed: `250ms`, `1.5s` (the node's settings, the harness's scripts) |
//! | [`Options`] | the command line: workload name and `key=value` settings, and the transport configuration they make |
//! | [`run_stdio`] | the tokio shell around the core (and, with `--data-dir`, the store and its commit thread) |
//!
//! ## Choosing the workload
//!
//! Name it as the first argument: `gossip-node g-set`. Under Maelstrom, put it after every
//! Maelstrom option, where Maelstrom passes trailing arguments to the node:
//!
//! ```text
//! maelstrom test -w g-set --bin target/release/gossip-node --node-count 5 --time-limit 20 --rate 10 g-set
//! ```
//!
//! Without a name the node infers the workload from the first request that tells (a
//! `broadcast`, an `add` with an `element` or a `delta`, an `echo`) and refuses reads before
//! that with error 11.
//!
//! ## What it refuses
//!
//! Only members (`init`'s `node_ids`) are peers: `gossip` from anyone else is dropped without
//! a reply or any state kept. Counter gossip whose join would take the counter's increments
//! past `i64::MAX` or its decrements past 2^63 is taken out before the replication engine
//! sees it (an emptied delta keeps its id), so every read fits in 64 bits whatever arrives. A
//! followed `topology` is cut down to members; a second `init` naming another id or
//! membership gets error 10; an integer input that does not fit an `i64` gets error 12. What
//! was dropped is counted in [`Refusals`] and in the exit summary ([`Node::stats`]);
//! `docs/maelstrom.md` has the table.
//!
//! ## Example
//!
//! ```
//! use gossip_node::{Birth, Node, Options};
//! use gossip_transport::Time;
//!
//! let options = Options::parse(&["g-set"]).unwrap();
//! let mut node = Node::new(options, Birth { seed: 7, life: 7 });
//! node.handle_line(Time::ZERO, r#"{"src":"c0","dest":"n1","body":{"type":"init","node_id":"n1","node_ids":["n1"],"msg_id":1}}"#);
//! node.handle_line(Time::ZERO, r#"{"src":"c1","dest":"n1","body":{"type":"add","element":5,"msg_id":1}}"#);
//! node.handle_line(Time::ZERO, r#"{"src":"c1","dest":"n1","body":{"type":"read","msg_id":2}}"#);
//! let lines: Vec<String> = std::iter::from_fn(|| node.poll_output()).collect();
//! assert!(lines[2].contains(r#""type":"read_ok""#) && lines[2].contains(r#""value":[5]"#));
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod ack;
mod duration;
mod node;
mod options;
pub mod protocol;
mod refusals;
mod rejection;
mod replicated;
mod shell;
mod workload;
mod workload_kind;

pub use ack::AckPolicy;
pub use duration::{DurationError, parse_duration};
pub use node::{Birth, Commit, Node};
pub use options::{Options, OptionsError, OverlayChoice, USAGE};
pub use refusals::{NodeStats, Refusals};
pub use rejection::Rejection;
pub use shell::run_stdio;
pub use workload_kind::{UnknownWorkload, WorkloadKind};
