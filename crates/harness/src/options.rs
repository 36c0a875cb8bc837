//! The validated configuration of one test run, with Maelstrom's defaults.
//!
//! `cli` parses strings; this module holds the typed result that the engine, the checkers and
//! the store read. Keeping it separate from clap means simulation mode and tests can build
//! options directly.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;

use crate::ids::NodeId;
use crate::nemesis::FaultKind;
use crate::script::Script;

/// Which workload to run: the node crate's list, so the harness runs what the node serves.
pub use gossip_node::WorkloadKind;

/// How inter-server latency is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum LatencyDist {
    /// Exactly the mean.
    #[default]
    Constant,
    /// Integer uniform in `[0, 2·mean)`.
    Uniform,
    /// Exponential with the given mean, truncated to whole milliseconds.
    Exponential,
}

impl LatencyDist {
    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            LatencyDist::Constant => "constant",
            LatencyDist::Uniform => "uniform",
            LatencyDist::Exponential => "exponential",
        }
    }
}

/// Whether simulated nodes keep their replica on a (simulated) disk, and what its commits
/// promise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SimDisk {
    /// No disk: the node keeps everything in memory (as without `--data-dir`).
    #[default]
    None,
    /// Every node has a disk whose commits are durable when they return: a `crash` loses only
    /// what was not committed.
    Durable,
    /// A disk that reports commits durable and never makes them so: a `crash` loses every
    /// write. The negative control of `durable`: acknowledged writes must be found lost.
    Lying,
}

impl SimDisk {
    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            SimDisk::None => "none",
            SimDisk::Durable => "durable",
            SimDisk::Lying => "lying",
        }
    }

    /// `true` for [`SimDisk::None`] (left out of the recorded options then).
    pub fn is_none(&self) -> bool {
        *self == SimDisk::None
    }
}

impl FromStr for SimDisk {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [SimDisk::None, SimDisk::Durable, SimDisk::Lying]
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| format!("unknown disk {s:?} (none, durable, lying)"))
    }
}

impl FromStr for LatencyDist {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [
            LatencyDist::Constant,
            LatencyDist::Uniform,
            LatencyDist::Exponential,
        ]
        .into_iter()
        .find(|d| d.name() == s)
        .ok_or_else(|| {
            format!("unknown latency distribution {s:?} (constant, uniform, exponential)")
        })
    }
}

/// The broadcast topology sent to nodes during setup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum TopologyKind {
    /// A square-ish grid (the default).
    #[default]
    Grid,
    /// A line.
    Line,
    /// Everyone knows everyone.
    Total,
    /// A tree with the given branching factor (2, 3 or 4).
    Tree(u8),
}

impl FromStr for TopologyKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "grid" => Ok(TopologyKind::Grid),
            "line" => Ok(TopologyKind::Line),
            "total" => Ok(TopologyKind::Total),
            "tree" | "tree2" => Ok(TopologyKind::Tree(2)),
            "tree3" => Ok(TopologyKind::Tree(3)),
            "tree4" => Ok(TopologyKind::Tree(4)),
            _ => Err(format!(
                "unknown topology {s:?} (grid, line, total, tree2, tree3, tree4)"
            )),
        }
    }
}

/// `--concurrency`: a number, or a multiple of the node count (`2n`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concurrency {
    /// Exactly this many workers.
    Absolute(usize),
    /// This many workers per node.
    PerNode(usize),
}

impl Concurrency {
    /// Resolve against the node count.
    pub fn resolve(self, node_count: usize) -> usize {
        match self {
            Concurrency::Absolute(n) => n,
            Concurrency::PerNode(k) => k * node_count,
        }
    }
}

impl FromStr for Concurrency {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "bad concurrency {s:?}: expected an integer, optionally followed by n (e.g. 10 or 2n)"
            )
        };
        match s.strip_suffix('n') {
            Some(k) => k.parse().map(Concurrency::PerNode).map_err(|_| bad()),
            None => s.parse().map(Concurrency::Absolute).map_err(|_| bad()),
        }
    }
}

/// `--availability`: the required fraction of ok ops.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Availability {
    /// Every op must succeed.
    Total,
    /// At least this fraction must succeed.
    Fraction(f64),
}

impl FromStr for Availability {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "total" {
            return Ok(Availability::Total);
        }
        match s.parse::<f64>() {
            Ok(x) if (0.0..=1.0).contains(&x) => Ok(Availability::Fraction(x)),
            _ => Err(format!(
                "bad availability {s:?}: expected total or a fraction in [0, 1]"
            )),
        }
    }
}

/// Everything one test run needs to know.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct TestOptions {
    /// The workload.
    pub workload: WorkloadKind,
    /// The node program; `None` means "this executable's hidden `node` subcommand".
    pub bin: Option<PathBuf>,
    /// Arguments passed to every node process.
    pub node_args: Vec<String>,
    /// Server node ids, in test order.
    #[serde(serialize_with = "ser_nodes")]
    pub nodes: Vec<NodeId>,
    /// Number of client workers.
    pub concurrency: usize,
    /// Length of the main phase.
    #[serde(serialize_with = "ser_secs")]
    pub time_limit: Duration,
    /// Target client ops per second (0: no client ops).
    pub rate: f64,
    /// Mean inter-server latency in milliseconds.
    pub latency_ms: u64,
    /// Latency distribution.
    pub latency_dist: LatencyDist,
    /// Broadcast topology.
    pub topology: TopologyKind,
    /// The faults the nemesis injects (empty: none).
    pub nemesis: Vec<FaultKind>,
    /// Mean seconds between nemesis ops.
    #[serde(serialize_with = "ser_secs")]
    pub nemesis_interval: Duration,
    /// Required availability, if any.
    pub availability: Option<Availability>,
    /// Copy node stderr to the console.
    pub log_stderr: bool,
    /// Seed for every random choice of the run.
    pub seed: u64,
    /// Quiet period between healing and the final reads.
    #[serde(serialize_with = "ser_secs")]
    pub recovery: Duration,
    /// Mimic Maelstrom's stdout-thread death on a bad line instead of logging and dropping it.
    pub strict: bool,
    /// Reproduce Maelstrom's head-of-line blocking in each node's delivery queue.
    pub hol_blocking: bool,
    /// Root of the store directory.
    pub store: PathBuf,
    /// Probability that a node-to-node message is lost.
    pub p_loss: f64,
    /// Probability that a node-to-node message is delivered twice.
    pub p_dup: f64,
    /// Extra delay, uniform in `[0, reorder)` ms, added to each node-to-node message.
    pub reorder_ms: u64,
    /// Run our own node in-process on a virtual clock instead of processes in real time.
    pub sim: bool,
    /// Threads that run simulated node cores (`None`: one per core). It changes the wall
    /// time only, never a result, so it is not part of a run's recorded options.
    #[serde(skip)]
    pub sim_threads: Option<usize>,
    /// Simulation: whether each node keeps its replica on a simulated disk.
    #[serde(skip_serializing_if = "SimDisk::is_none")]
    pub sim_disk: SimDisk,
    /// A scenario's fault script, replacing the random nemesis (and ending the main phase
    /// when it ends).
    pub script: Option<Script>,
}

fn ser_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

fn ser_nodes<S: serde::Serializer>(nodes: &[NodeId], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(nodes.iter().map(NodeId::as_str))
}

impl TestOptions {
    /// Maelstrom's defaults for `workload`, with the five default nodes `n1..n5`.
    pub fn defaults(workload: WorkloadKind) -> TestOptions {
        let nodes = default_nodes(None);
        TestOptions {
            workload,
            bin: None,
            node_args: Vec::new(),
            concurrency: nodes.len(),
            nodes,
            time_limit: Duration::from_secs(60),
            rate: 5.0,
            latency_ms: 0,
            latency_dist: LatencyDist::Constant,
            topology: TopologyKind::Grid,
            nemesis: Vec::new(),
            nemesis_interval: Duration::from_secs(10),
            availability: None,
            log_stderr: false,
            seed: 0,
            recovery: Duration::from_secs(10),
            strict: false,
            hol_blocking: true,
            store: PathBuf::from("store"),
            p_loss: 0.0,
            p_dup: 0.0,
            reorder_ms: 0,
            sim: false,
            sim_threads: None,
            sim_disk: SimDisk::None,
            script: None,
        }
    }

    /// Whether the nemesis injects `kind`.
    pub fn has_fault(&self, kind: FaultKind) -> bool {
        self.nemesis.contains(&kind)
    }

    /// The longest the main phase runs: the script's length, or the time limit.
    pub fn main_length(&self) -> Duration {
        self.script.as_ref().map_or(self.time_limit, Script::length)
    }

    /// The node count.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
}

/// Maelstrom's node naming: `n1..n5` by default, `n0..n{N-1}` with `--node-count N`.
pub fn default_nodes(node_count: Option<usize>) -> Vec<NodeId> {
    match node_count {
        None => (1..=5).map(|i| NodeId(format!("n{i}"))).collect(),
        Some(n) => (0..n).map(|i| NodeId(format!("n{i}"))).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_naming_follows_maelstrom() {
        let d = default_nodes(None);
        assert_eq!(d.first().map(NodeId::as_str), Some("n1"));
        assert_eq!(d.len(), 5);
        let c = default_nodes(Some(3));
        assert_eq!(
            c.iter().map(NodeId::as_str).collect::<Vec<_>>(),
            ["n0", "n1", "n2"]
        );
    }

    #[test]
    fn parse_flags() {
        assert_eq!("2n".parse::<Concurrency>(), Ok(Concurrency::PerNode(2)));
        assert_eq!("7".parse::<Concurrency>(), Ok(Concurrency::Absolute(7)));
        assert!("x".parse::<Concurrency>().is_err());
        assert_eq!(Concurrency::PerNode(2).resolve(5), 10);
        assert_eq!("tree".parse::<TopologyKind>(), Ok(TopologyKind::Tree(2)));
        assert_eq!("tree4".parse::<TopologyKind>(), Ok(TopologyKind::Tree(4)));
        assert!(matches!(
            "total".parse::<Availability>(),
            Ok(Availability::Total)
        ));
        assert!("1.5".parse::<Availability>().is_err());
        for d in [
            LatencyDist::Constant,
            LatencyDist::Uniform,
            LatencyDist::Exponential,
        ] {
            assert_eq!(d.name().parse::<LatencyDist>(), Ok(d));
        }
        assert_eq!("g-set".parse::<WorkloadKind>(), Ok(WorkloadKind::GSet));
        assert!("lin-kv".parse::<WorkloadKind>().is_err());
    }
}
