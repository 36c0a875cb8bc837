//! gossip-harness: a Maelstrom-compatible test runner in Rust.
//!
//! (Crate docs are completed below, after the module list is final.)
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod checker;
pub mod client;
pub mod engine;
pub mod error_code;
pub mod generator;
pub mod history;
pub mod ids;
pub mod journal;
pub mod latency;
pub mod message;
pub mod nemesis;
pub mod network;
pub mod options;
pub mod partition;
pub mod rng;
pub mod schema;
pub mod services;
pub mod time;
pub mod topology;
pub mod workload;
pub mod driver;
pub mod host;
pub mod process;
pub mod svg;
pub mod cli;
pub mod console;
pub mod node_cmd;
pub mod report;
pub mod results;
pub mod run;
pub mod store;
