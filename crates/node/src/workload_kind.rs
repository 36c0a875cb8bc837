//! The Maelstrom workloads by name: the node serves them, and the harness runs them.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// The Maelstrom workloads this node serves (and `gossip-harness` runs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkloadKind {
    /// `echo`: reply with what was sent.
    Echo,
    /// `broadcast`: spread integers to every node; `read` returns `messages`.
    Broadcast,
    /// `g-set`: a grow-only set; `read` returns `value`.
    GSet,
    /// `g-counter`: a grow-only counter.
    GCounter,
    /// `pn-counter`: a counter that also goes down.
    PnCounter,
}

impl WorkloadKind {
    /// Every workload.
    pub const ALL: [WorkloadKind; 5] = [
        WorkloadKind::Echo,
        WorkloadKind::Broadcast,
        WorkloadKind::GSet,
        WorkloadKind::GCounter,
        WorkloadKind::PnCounter,
    ];

    /// The Maelstrom name (`g-set`, ...), as on command lines and in store paths.
    pub fn name(self) -> &'static str {
        match self {
            WorkloadKind::Echo => "echo",
            WorkloadKind::Broadcast => "broadcast",
            WorkloadKind::GSet => "g-set",
            WorkloadKind::GCounter => "g-counter",
            WorkloadKind::PnCounter => "pn-counter",
        }
    }

    /// Looks a workload up by its Maelstrom name.
    pub fn from_name(name: &str) -> Option<WorkloadKind> {
        WorkloadKind::ALL.into_iter().find(|w| w.name() == name)
    }
}

/// A name that is not one of [`WorkloadKind::ALL`]'s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownWorkload(pub String);

impl fmt::Display for UnknownWorkload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown workload `{}` (echo, broadcast, g-set, g-counter, pn-counter)",
            self.0
        )
    }
}

impl std::error::Error for UnknownWorkload {}

impl FromStr for WorkloadKind {
    type Err = UnknownWorkload;
    fn from_str(s: &str) -> Result<Self, UnknownWorkload> {
        WorkloadKind::from_name(s).ok_or_else(|| UnknownWorkload(s.to_owned()))
    }
}

impl fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for w in WorkloadKind::ALL {
            assert_eq!(w.name().parse::<WorkloadKind>(), Ok(w));
            assert_eq!(w.to_string(), w.name());
            assert_eq!(
                serde_json::to_value(w).ok(),
                Some(serde_json::Value::String(w.name().to_owned()))
            );
        }
        let e = "lin-kv".parse::<WorkloadKind>().expect_err("unknown");
        assert!(e.to_string().contains("`lin-kv`"), "{e}");
    }
}
