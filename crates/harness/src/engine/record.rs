//! What a run leaves behind: the record the engine hands over when it is finished, for the
//! checkers, the store and the plots.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::checker::protocol::NodeProtocol;
use crate::history::History;
use crate::ids::NodeId;
use crate::journal::Journal;
use crate::nemesis::FaultKind;
use crate::options::TestOptions;
use crate::time::Time;

/// Why a run crashed (no analysis; exit 255).
#[derive(Debug, Clone, PartialEq)]
pub struct Crash {
    /// The node at fault, if one is.
    pub node: Option<NodeId>,
    /// What happened.
    pub reason: String,
    /// The last lines the node wrote to stderr (filled in by the host).
    pub stderr_tail: Vec<String>,
}

/// A fault interval, for plots.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSpan {
    /// Start, ns since the main phase began.
    pub start: u64,
    /// End (heal, restart, resume), if it happened.
    pub end: Option<u64>,
    /// Which fault.
    pub kind: FaultKind,
    /// What it was, e.g. `majority` or `kill n3`.
    pub label: String,
}

/// Everything a finished (or crashed) run leaves for analysis and output.
pub struct RunRecord {
    /// The options.
    pub opts: TestOptions,
    /// The history.
    pub history: History,
    /// The network journal.
    pub journal: Journal,
    /// Bad stdout lines per node id.
    pub protocol: BTreeMap<String, NodeProtocol>,
    /// Set if the run crashed.
    pub crash: Option<Crash>,
    /// Engine time at which the main phase began (history time 0).
    pub origin: Time,
    /// Engine time at which the run ended.
    pub end: Time,
    /// Faults, for plots.
    pub faults: Vec<FaultSpan>,
    /// A scenario's script report: its checks and failures.
    pub scenario: Option<Value>,
    /// CPU time the node processes used, when the host measured it.
    pub node_cpu: Option<std::time::Duration>,
}
