//! The command line: Maelstrom's `test` flags with Maelstrom's defaults, plus `--seed`,
//! `--recovery`, `--strict`, `--no-hol-blocking` and `--store`; and the hidden `node`
//! subcommand. Parsing only; [`TestArgs::into_options`] validates into [`TestOptions`].

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::ids::NodeId;
use crate::nemesis::FaultKind;
use crate::options::{
    Availability, Concurrency, LatencyDist, SimDisk, TestOptions, TopologyKind, WorkloadKind,
    default_nodes,
};

/// gossip-harness: run Maelstrom workloads against any program that speaks the protocol.
#[derive(Debug, Parser)]
#[command(name = "gossip-harness", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a test: start the nodes, drive the workload, check the history, write the store.
    Test(Box<TestArgs>),
    /// Run named fault scenarios in simulation: sweep them over many seeds, or replay one run
    /// (with --seed) with full output and a store.
    Scenario(ScenarioArgs),
    /// Test real gossip-agent processes: each in its own network namespace (or on loopback),
    /// driven over HTTP, with partitions, kills and pauses; judged and stored like `test`.
    Agents(Box<crate::agents::AgentArgs>),
    /// Re-check a stored run (its history) and rewrite its results.json.
    Analyze {
        /// The run directory.
        #[arg(short = 't', long = "test", default_value = "store/latest")]
        test: PathBuf,
    },
    /// Run the project's own node on stdin/stdout (what `--bin` defaults to).
    #[command(hide = true)]
    Node {
        /// Arguments for the node.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// `gossip-harness scenario` flags.
#[derive(Debug, Args)]
pub struct ScenarioArgs {
    /// Scenario names (default: every scenario in the file).
    pub names: Vec<String>,
    /// A scenario file (default: the suite built into this harness).
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Run one seed, printing and storing it as `test` does (the replay of a failure).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Sweep this many seeds per scenario.
    #[arg(long, default_value_t = 100)]
    pub seeds: u64,
    /// The first seed of a sweep.
    #[arg(long, default_value_t = 0)]
    pub first_seed: u64,
    /// Threads for a sweep (default: the machine's parallelism).
    #[arg(long)]
    pub threads: Option<usize>,
    /// With --seed: run the scenario with OS processes in real time instead of simulating.
    #[arg(long)]
    pub process: bool,
    /// List the scenarios and exit.
    #[arg(long)]
    pub list: bool,
    /// Where a replayed run is stored.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
}

/// `gossip-harness test` flags.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Workload: echo, broadcast, g-set, g-counter or pn-counter.
    #[arg(short = 'w', long, value_parser = workload)]
    pub workload: WorkloadKind,
    /// The node program. Omitted: this harness's own node (`gossip-harness node`).
    #[arg(long)]
    pub bin: Option<PathBuf>,
    /// Number of nodes, named n0..n{N-1}. Unset: n1..n5.
    #[arg(long)]
    pub node_count: Option<usize>,
    /// Explicit comma-separated node ids (overrides --node-count).
    #[arg(long, value_delimiter = ',')]
    pub nodes: Option<Vec<String>>,
    /// Client workers: a number, or a multiple of the node count such as 2n.
    #[arg(long, default_value = "1n", value_parser = parse::<Concurrency>)]
    pub concurrency: Concurrency,
    /// Seconds of client operations.
    #[arg(long, default_value_t = 60.0)]
    pub time_limit: f64,
    /// Client operations per second (0: none).
    #[arg(long, default_value_t = 5.0)]
    pub rate: f64,
    /// Mean inter-server latency, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency: u64,
    /// Latency distribution: constant, uniform or exponential.
    #[arg(long, default_value = "constant", value_parser = parse::<LatencyDist>)]
    pub latency_dist: LatencyDist,
    /// Broadcast topology: grid, line, total, tree2, tree3 or tree4.
    #[arg(long, default_value = "grid", value_parser = parse::<TopologyKind>)]
    pub topology: TopologyKind,
    /// Faults to inject (comma-separated): partition (as Maelstrom), kill (nodes die, losing
    /// their state, and are restarted), pause (nodes stop; messages queue up), slow (latency
    /// spikes), crash (nodes die keeping their disks, and restart from them: see --sim-disk).
    #[arg(long, value_delimiter = ',')]
    pub nemesis: Vec<String>,
    /// Mean seconds between nemesis operations.
    #[arg(long, default_value_t = 10.0)]
    pub nemesis_interval: f64,
    /// Required availability: total, or a fraction in [0, 1].
    #[arg(long, value_parser = parse::<Availability>)]
    pub availability: Option<Availability>,
    /// Copy node stderr to the console.
    #[arg(long)]
    pub log_stderr: bool,
    /// Log every message sent (debug log level).
    #[arg(long)]
    pub log_net_send: bool,
    /// Log every message received (debug log level).
    #[arg(long)]
    pub log_net_recv: bool,
    /// Run the test this many times (seed, seed+1, ...), stopping at the first failure.
    #[arg(long, default_value_t = 1)]
    pub test_count: u32,
    /// Seed for every random choice (latencies, ops, partitions). Default: random, printed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Seconds of quiet between healing and the final reads.
    #[arg(long, default_value_t = 10.0)]
    pub recovery: f64,
    /// Behave like Maelstrom on a bad stdout line: ignore everything that node prints after it.
    /// Default: log and drop the line, report it under `protocol`, and mark the run invalid.
    #[arg(long)]
    pub strict: bool,
    /// Deliver each message at its own deadline instead of reproducing Maelstrom's
    /// head-of-line blocking (a client request waiting behind a slow server message).
    #[arg(long)]
    pub no_hol_blocking: bool,
    /// Where runs are stored.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
    /// Simulation: run this project's node in-process on a virtual clock (seeded,
    /// deterministic, no real time passes). Not with --bin.
    #[arg(long)]
    pub sim: bool,
    /// Simulation: threads that run node cores (default: one per core). The history and
    /// results do not depend on it, only the wall time.
    #[arg(long, value_name = "N")]
    pub sim_threads: Option<usize>,
    /// Simulation: give each node a disk for its replica: none, durable (what a node
    /// commits survives a `crash`), or lying (commits reported durable, all lost at a crash:
    /// the checkers' negative control).
    #[arg(long, default_value = "none", value_parser = parse::<SimDisk>, value_name = "DISK")]
    pub sim_disk: SimDisk,
    /// Probability that a node-to-node message is lost (0: never, as in Maelstrom).
    #[arg(long, default_value_t = 0.0)]
    pub p_loss: f64,
    /// Probability that a node-to-node message is delivered twice.
    #[arg(long, default_value_t = 0.0)]
    pub p_dup: f64,
    /// Reordering: add a random delay, uniform in [0, MS) milliseconds, to every node-to-node
    /// message.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub reorder: u64,
    /// Arguments passed to every node: words among the flags (such as Maelstrom's trailing
    /// workload name, or `key=value` settings) and everything after `--`, which is where an
    /// argument starting with `-` must go. A flag this harness does not know is an error.
    #[arg(value_name = "NODE_ARGS")]
    pub node_args: Vec<String>,
}

fn parse<T: std::str::FromStr<Err = String>>(s: &str) -> Result<T, String> {
    s.parse()
}

fn workload(s: &str) -> Result<WorkloadKind, String> {
    s.parse()
        .map_err(|e: gossip_node::UnknownWorkload| e.to_string())
}

fn secs(name: &str, v: f64) -> Result<Duration, String> {
    if v.is_finite() && v >= 0.0 {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(format!(
            "--{name} must be a non-negative number of seconds, not {v}"
        ))
    }
}

impl TestArgs {
    /// Validate into options. `seed` is used when `--seed` was not given.
    pub fn into_options(self, seed: u64) -> Result<TestOptions, String> {
        let nodes: Vec<NodeId> = match (&self.nodes, self.node_count) {
            (Some(list), _) => list.iter().map(|s| NodeId(s.trim().to_owned())).collect(),
            (None, count) => default_nodes(count),
        };
        if nodes.is_empty() {
            return Err("a test needs at least one node".into());
        }
        if nodes.iter().any(|n| n.0.is_empty() || n.0.starts_with('c')) {
            return Err(
                "node ids must be non-empty and must not start with c (that marks clients)".into(),
            );
        }
        let concurrency = self.concurrency.resolve(nodes.len());
        if concurrency == 0 {
            return Err("--concurrency must be at least 1".into());
        }
        if !(self.rate.is_finite() && self.rate >= 0.0) {
            return Err(format!(
                "--rate must be a non-negative number, not {}",
                self.rate
            ));
        }
        let mut nemesis = Vec::new();
        for n in &self.nemesis {
            match (n.as_str(), FaultKind::parse(n)) {
                ("", _) => {}
                (_, Some(kind)) => {
                    if !nemesis.contains(&kind) {
                        nemesis.push(kind);
                    }
                }
                (other, None) => {
                    return Err(format!(
                        "unknown nemesis {other:?} (partition, kill, pause, slow, crash)"
                    ));
                }
            }
        }
        nemesis.sort();
        for (name, p) in [("p-loss", self.p_loss), ("p-dup", self.p_dup)] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("--{name} must be a probability in [0, 1], not {p}"));
            }
        }
        if self.sim && self.bin.is_some() {
            return Err(
                "--sim runs this project's own node in-process; it cannot run --bin".into(),
            );
        }
        if self.sim && self.sim_disk.is_none() && nemesis.contains(&FaultKind::Crash) {
            return Err("--nemesis crash keeps a node's disk, and simulated nodes have none: add --sim-disk durable (or lying)".into());
        }
        if !self.sim && !self.sim_disk.is_none() {
            return Err("--sim-disk gives simulated nodes a disk: it needs --sim (a process keeps its own with the node's --data-dir)".into());
        }
        if self.sim_threads == Some(0) {
            return Err("--sim-threads must be at least 1".into());
        }
        if self.test_count == 0 {
            return Err("--test-count must be at least 1".into());
        }
        let interval = secs("nemesis-interval", self.nemesis_interval)?;
        if !nemesis.is_empty() && interval.is_zero() {
            return Err("--nemesis-interval must be positive".into());
        }
        Ok(TestOptions {
            workload: self.workload,
            bin: self.bin,
            node_args: self.node_args,
            nodes,
            concurrency,
            time_limit: secs("time-limit", self.time_limit)?,
            rate: self.rate,
            latency_ms: self.latency,
            latency_dist: self.latency_dist,
            topology: self.topology,
            nemesis,
            nemesis_interval: interval,
            availability: self.availability,
            log_stderr: self.log_stderr,
            seed: self.seed.unwrap_or(seed),
            recovery: secs("recovery", self.recovery)?,
            strict: self.strict,
            hol_blocking: !self.no_hol_blocking,
            store: self.store,
            p_loss: self.p_loss,
            p_dup: self.p_dup,
            reorder_ms: self.reorder,
            sim: self.sim,
            sim_threads: self.sim_threads,
            sim_disk: self.sim_disk,
            script: None,
        })
    }
}

/// The command line `argv` with `--seed` pinned to `seed` (and any `--test-count` dropped),
/// so that one run can be replayed.
pub fn replay_command(argv: &[String], seed: u64) -> String {
    let mut args: Vec<String> = Vec::with_capacity(argv.len() + 2);
    let mut skip = false;
    for a in argv {
        if skip {
            skip = false;
            continue;
        }
        if a == "--seed" || a == "--test-count" {
            skip = true;
            continue;
        }
        if a.starts_with("--seed=") || a.starts_with("--test-count=") {
            continue;
        }
        args.push(a.clone());
    }
    let at = args
        .iter()
        .position(|a| a == "test" || a == "scenario" || a == "agents")
        .map_or(args.len(), |i| i + 1);
    args.insert(at, seed.to_string());
    args.insert(at, "--seed".to_owned());
    args.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_test(args: &[&str]) -> Result<TestOptions, String> {
        let mut argv = vec!["gossip-harness", "test"];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
        match cli.command {
            Command::Test(t) => t.into_options(42),
            Command::Node { .. }
            | Command::Analyze { .. }
            | Command::Scenario(_)
            | Command::Agents(_) => Err("not test".into()),
        }
    }

    fn parse_agents(args: &[&str]) -> Result<crate::agents::AgentOptions, String> {
        let mut argv = vec!["gossip-harness", "agents"];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
        match cli.command {
            Command::Agents(a) => a.into_options(1),
            _ => Err("not agents".into()),
        }
    }

    #[test]
    fn agents_flags_are_checked() {
        use crate::agents::rig::Mode;
        use crate::agents::workload::Kind;
        use crate::agents::{AckLevel, Fault};
        let o = parse_agents(&[
            "-w",
            "register",
            "--nemesis",
            "partition,kill-wipe,partition",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(o.workload, Kind::Register);
        assert_eq!(o.nemesis, vec![Fault::Partition, Fault::KillWipe]);
        assert_eq!(
            (o.node_count, o.concurrency, o.ack),
            (5, 5, AckLevel::Replicated)
        );
        assert_eq!(o.ack_query(), "ack=replicated&timeout_ms=2000");
        assert!(parse_agents(&["-w", "g-set", "--nemesis", "flood"]).is_err());
        assert!(parse_agents(&["-w", "queue"]).is_err());
        assert!(parse_agents(&["-w", "g-set", "--ack", "most"]).is_err());
        assert!(parse_agents(&["-w", "g-set", "--node-count", "0"]).is_err());
        assert!(parse_agents(&["-w", "g-set", "--mode", "vm"]).is_err());
        let o = parse_agents(&["-w", "pn-counter", "--mode", "loopback"]);
        assert_eq!(o.map(|o| o.mode.resolve()).ok(), Some(Mode::Loopback));
    }

    #[test]
    fn defaults_are_maelstroms() {
        let o = parse_test(&["-w", "broadcast", "--bin", "./b"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(o.nodes.len(), 5);
        assert_eq!(o.nodes[0].0, "n1");
        assert_eq!(o.concurrency, 5);
        assert_eq!(o.time_limit, Duration::from_secs(60));
        assert_eq!(o.rate, 5.0);
        assert_eq!(o.latency_ms, 0);
        assert_eq!(o.topology, TopologyKind::Grid);
        assert!(o.nemesis.is_empty());
        assert_eq!(
            (o.p_loss, o.p_dup, o.reorder_ms, o.sim),
            (0.0, 0.0, 0, false)
        );
        assert_eq!(o.nemesis_interval, Duration::from_secs(10));
        assert_eq!(o.recovery, Duration::from_secs(10));
        assert_eq!(o.seed, 42);
        assert!(o.hol_blocking);
        assert!(!o.strict);
    }

    #[test]
    fn flags_and_trailing_args() {
        let o = parse_test(&[
            "-w",
            "g-set",
            "--bin",
            "./b",
            "--node-count",
            "3",
            "--concurrency",
            "2n",
            "--time-limit",
            "2.5",
            "--nemesis",
            "partition",
            "--seed",
            "7",
            "--availability",
            "total",
            "--",
            "--fanout",
            "3",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            o.nodes.iter().map(|n| n.0.as_str()).collect::<Vec<_>>(),
            ["n0", "n1", "n2"]
        );
        assert_eq!(o.concurrency, 6);
        assert_eq!(o.time_limit, Duration::from_millis(2500));
        assert_eq!(o.nemesis, [FaultKind::Partition]);
        assert_eq!(o.seed, 7);
        assert_eq!(o.node_args, ["--fanout", "3"]);
        let bare =
            parse_test(&["-w", "echo", "--bin", "./b", "500"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(bare.node_args, ["500"]);
    }

    #[test]
    fn the_trailing_workload_word_goes_to_the_node() {
        let o = parse_test(&["-w", "broadcast", "--latency", "100", "broadcast"])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (o.latency_ms, o.node_args.as_slice()),
            (100, &["broadcast".to_owned()][..])
        );
        // As in Maelstrom, flags may follow the node's words, and stay the harness's.
        let o = parse_test(&[
            "-w",
            "broadcast",
            "broadcast",
            "--latency",
            "100",
            "fanout=3",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(o.latency_ms, 100);
        assert_eq!(o.node_args, ["broadcast", "fanout=3"]);
        let o = parse_test(&["-w", "g-set", "g-set", "--", "--fanout", "3", "--rate", "9"])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(o.node_args, ["g-set", "--fanout", "3", "--rate", "9"]);
        assert_eq!(o.rate, 5.0);
    }

    #[test]
    fn an_unknown_flag_is_an_error_not_a_node_argument() {
        for args in [
            &["-w", "echo", "--node-cout", "3"][..],
            &["-w", "echo", "echo", "--node-cout", "3"],
            &["-w", "echo", "--latency", "100", "echo", "--ratee", "3"],
            &["-w", "echo", "-x"],
        ] {
            let e = parse_test(args)
                .err()
                .unwrap_or_else(|| panic!("{args:?} parsed"));
            assert!(e.contains("unexpected argument"), "{args:?}: {e}");
        }
    }

    #[test]
    fn replay_pins_the_seed() {
        let argv: Vec<String> = [
            "gossip-harness",
            "test",
            "-w",
            "echo",
            "--seed",
            "3",
            "--test-count",
            "4",
            "--sim",
            "--",
            "a b",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        assert_eq!(
            replay_command(&argv, 9),
            "gossip-harness test --seed 9 -w echo --sim -- 'a b'"
        );
    }

    #[test]
    fn bad_values_are_rejected() {
        assert!(parse_test(&["-w", "lin-kv"]).is_err());
        assert!(parse_test(&["-w", "echo", "--nemesis", "explode"]).is_err());
        assert!(parse_test(&["-w", "echo", "--p-loss", "1.5"]).is_err());
        assert!(parse_test(&["-w", "echo", "--sim", "--bin", "./b"]).is_err());
        assert!(parse_test(&["-w", "echo", "--rate", "-1"]).is_err());
        assert!(parse_test(&["-w", "echo", "--node-count", "0"]).is_err());
        assert!(parse_test(&["-w", "echo", "--concurrency", "zero"]).is_err());
    }
}
