//! Where a run stands: its phase and live figures. The engine reports them, the console
//! prints them, and neither needs the other for it.

use std::time::Duration;

use crate::time::Time;

/// The phase the run is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Not started.
    Created,
    /// Waiting for every node's `init_ok`.
    Init,
    /// Client setup (broadcast's topology).
    Setup,
    /// The generator runs.
    Main,
    /// Healed; waiting out the recovery period.
    Recovery {
        /// When the final reads go out.
        until: Time,
    },
    /// Final reads in flight.
    Final,
    /// Over (finished or crashed).
    Done,
}

/// Live figures for a progress line.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Current phase.
    pub phase: Phase,
    /// Time into the main phase.
    pub elapsed: Duration,
    /// The main phase's length.
    pub total: Duration,
    /// Client ops completed.
    pub ops_done: u64,
    /// Messages sent on the network.
    pub messages: u64,
}
