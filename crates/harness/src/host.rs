//! The seam between the engine and the nodes: [`NodeHost`].
//!
//! A host runs the nodes and owns the clock. The process host (this crate's `process`
//! module) runs OS processes in real time; a simulation host can run in-process node cores on a
//! virtual clock that jumps from deadline to deadline. The driver (`driver::drive`) is the
//! same for both.

use crate::ids::{NodeId, NodeIndex};
use crate::message::Preparsed;
use crate::time::Time;

/// Something that happened on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostEvent {
    /// A node printed a line on stdout.
    Line {
        /// Which node.
        node: NodeIndex,
        /// The line, without its newline.
        line: String,
        /// When it was read.
        at: Time,
        /// The line already read ([`Preparsed::of`]), if the host did that on another thread.
        pre: Option<Box<Preparsed>>,
    },
    /// A node exited, or closed its stdout, on its own.
    Exited {
        /// Which node.
        node: NodeIndex,
        /// Its exit status, as words ("exit status 3", "signal 9").
        status: String,
        /// When it was noticed.
        at: Time,
    },
    /// A node broke one of the host's limits (say, a stdout line longer than the host reads);
    /// the host stopped listening to it and the run crashes with `reason`, naming the node.
    Misbehaved {
        /// Which node.
        node: NodeIndex,
        /// What it did, as a sentence naming the node.
        reason: String,
        /// When it was noticed.
        at: Time,
    },
    /// The deadline passed with nothing else happening.
    Timeout {
        /// The host's time now.
        now: Time,
    },
    /// The user asked to stop (Ctrl-C).
    Interrupted {
        /// The host's time now.
        now: Time,
    },
    /// The host gave up: the run cannot make progress (a simulation that livelocks, or whose
    /// virtual clock ran past any sensible end). The run crashes with `reason`.
    Stuck {
        /// The host's time now.
        now: Time,
        /// Why.
        reason: String,
    },
}

/// A fault the engine asks the host to inflict on one node (see `nemesis`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Stop the node (SIGSTOP): it processes nothing, its timers do not fire, and what is
    /// delivered to it queues up.
    Pause,
    /// Let a paused node run again (SIGCONT); it works through its queue.
    Resume,
    /// Kill the node (SIGKILL): its state and anything queued for it are lost. Its exit is
    /// expected: not a crash.
    Kill,
    /// Kill the node, keeping its disk: what it committed survives, the rest is lost as in a
    /// power cut. A process is killed as by [`Control::Kill`] (its `--data-dir`, if it has
    /// one, stays); a simulated node's disk crashes and the restart is given what survived.
    Crash,
    /// Start a killed or crashed node again (a new process; in simulation a new core with a
    /// new incarnation), empty after a kill, from its disk after a crash. The engine then
    /// sends it `init` again.
    Restart,
}

/// A node could not be started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostError {
    /// Which node, if one.
    pub node: Option<NodeIndex>,
    /// What went wrong.
    pub message: String,
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HostError {}

/// Runs the nodes and keeps time.
pub trait NodeHost {
    /// Start one node per id (the engine's order gives each its [`NodeIndex`]). Called once,
    /// before anything is delivered.
    fn start(&mut self, nodes: &[NodeId]) -> Result<(), HostError>;

    /// The host's clock.
    fn now(&self) -> Time;

    /// Hand a line (one JSON message, no newline) to a node's stdin. Must not block.
    fn deliver(&mut self, node: NodeIndex, line: String);

    /// Wait for the next event, or until `deadline` (forever if `None`, though a host may
    /// return a [`HostEvent::Timeout`] early).
    fn next_event(&mut self, deadline: Option<Time>) -> HostEvent;

    /// The last lines a node wrote to stderr, oldest first.
    fn stderr_tail(&self, node: NodeIndex) -> Vec<String>;

    /// Stop every node. Returns the nodes that had already exited on their own, with their
    /// status, as Maelstrom's teardown check does.
    fn shutdown(&mut self) -> Vec<(NodeIndex, String)>;

    /// The CPU time (user plus system) the nodes used, once [`shutdown`](Self::shutdown)
    /// returned, if the host can tell. Reported in `results.json`, never part of the verdict.
    fn node_cpu(&self) -> Option<std::time::Duration> {
        None
    }

    /// Inflict a fault on a node. A host that cannot refuses (the default), and the run
    /// crashes with the error.
    fn control(&mut self, node: NodeIndex, action: Control) -> Result<(), HostError> {
        Err(HostError {
            node: Some(node),
            message: format!("this host cannot {action:?} nodes"),
        })
    }
}
