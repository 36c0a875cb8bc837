//! # gossip-agent: a replicated store of CRDTs anyone can run, script and watch
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod keyspace;
pub mod value;
