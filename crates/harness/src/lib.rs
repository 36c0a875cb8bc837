//! gossip-harness: a Maelstrom-compatible test runner in Rust.
//!
//! (Crate docs are completed below, after the module list is final.)
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod checker;
pub mod cli;
pub mod client;
pub mod console;
pub mod driver;
pub mod engine;
pub mod error_code;
pub mod generator;
pub mod history;
pub mod host;
pub mod ids;
pub mod journal;
pub mod latency;
pub mod message;
pub mod nemesis;
pub mod network;
pub mod node_cmd;
pub mod options;
pub mod partition;
pub mod process;
pub mod report;
pub mod results;
pub mod rng;
pub mod run;
pub mod schema;
pub mod services;
pub mod store;
pub mod svg;
pub mod time;
pub mod topology;
pub mod workload;
