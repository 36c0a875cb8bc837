//! Real `gossip-agent` processes under test, as Jepsen tests a database: the harness starts
//! N agents, each in its own network namespace on a bridge it makes (or on loopback where
//! namespaces cannot be made), drives clients through their HTTP APIs, injects faults, heals,
//! reads finally from every agent and judges the history with the harness's checkers. The run
//! is stored like every other (`results.json`, `history.jsonl`, plots, `report.html`), with
//! the agents' logs in `node-logs/` and traffic per op from their `/metrics`.
//! `docs/rig.md` is the guide.
//!
//! ```text
//! gossip-harness agents -w g-set --node-count 5 --time-limit 30 --rate 50 \
//!     --nemesis partition,kill,pause --ack replicated
//! ```
//!
//! Layout: `http` (a small blocking HTTP client), [`rig`] (namespaces, bridge, veths, cuts;
//! or loopback ports), `cluster` (the processes: start, kill, pause, restart, traffic),
//! [`workload`] (requests, completions, checks), `run` (the loop: workers, nemesis, probe,
//! final reads, analysis, store).

mod cluster;
mod http;
pub mod rig;
mod run;
pub mod workload;

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use serde_json::{Value, json};

use crate::nemesis::FaultKind;
use crate::options::TestOptions;
use rig::Mode;
use workload::Kind;

/// The acknowledgement level clients ask agents for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckLevel {
    /// Applied at the agent that answered.
    Local,
    /// Also on disk there.
    Durable,
    /// Also applied by at least one other agent.
    Replicated,
    /// Durable and replicated.
    All,
}

impl AckLevel {
    /// The `?ack=` spelling.
    pub fn name(self) -> &'static str {
        match self {
            AckLevel::Local => "local",
            AckLevel::Durable => "durable",
            AckLevel::Replicated => "replicated",
            AckLevel::All => "all",
        }
    }

    fn parse(s: &str) -> Result<AckLevel, String> {
        [
            AckLevel::Local,
            AckLevel::Durable,
            AckLevel::Replicated,
            AckLevel::All,
        ]
        .into_iter()
        .find(|a| a.name() == s)
        .ok_or_else(|| format!("unknown ack level {s:?}: local, durable, replicated or all"))
    }
}

/// The faults of an agents run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Partitions of every shape the harness knows, by blackhole routes (namespaces) or the
    /// agents' test fault layer (loopback).
    Partition,
    /// SIGKILL one agent, its data dir kept; later restart it.
    Kill,
    /// SIGKILL one agent and wipe its data dir; later restart it.
    KillWipe,
    /// SIGSTOP a minority; later SIGCONT.
    Pause,
    /// SIGKILL every agent at once and restart them at once (data dirs kept).
    RestartAll,
}

impl Fault {
    const ALL: [Fault; 5] = [
        Fault::Partition,
        Fault::Kill,
        Fault::KillWipe,
        Fault::Pause,
        Fault::RestartAll,
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Partition => "partition",
            Fault::Kill => "kill",
            Fault::KillWipe => "kill-wipe",
            Fault::Pause => "pause",
            Fault::RestartAll => "restart-all",
        }
    }

    fn kind(self) -> FaultKind {
        match self {
            Fault::Partition => FaultKind::Partition,
            Fault::Kill | Fault::KillWipe | Fault::RestartAll => FaultKind::Kill,
            Fault::Pause => FaultKind::Pause,
        }
    }
}

/// Where the agents run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeChoice {
    /// Namespaces where they can be made, else loopback.
    Auto,
    /// This mode or fail.
    Fixed(Mode),
}

impl ModeChoice {
    fn parse(s: &str) -> Result<ModeChoice, String> {
        match s {
            "auto" => Ok(ModeChoice::Auto),
            "namespaces" | "netns" => Ok(ModeChoice::Fixed(Mode::Namespaces)),
            "loopback" => Ok(ModeChoice::Fixed(Mode::Loopback)),
            other => Err(format!(
                "unknown mode {other:?}: auto, namespaces or loopback"
            )),
        }
    }

    /// The mode to run.
    pub fn resolve(self) -> Mode {
        match self {
            ModeChoice::Fixed(m) => m,
            ModeChoice::Auto if rig::namespaces_available() => Mode::Namespaces,
            ModeChoice::Auto => Mode::Loopback,
        }
    }
}

/// `gossip-harness agents` flags.
#[derive(Debug, Clone, Args)]
pub struct AgentArgs {
    /// Workload: g-set, broadcast, g-counter, pn-counter or register.
    #[arg(short = 'w', long, value_parser = |s: &str| Kind::parse(s).ok_or_else(|| format!("unknown workload {s:?}: g-set, broadcast, g-counter, pn-counter or register")))]
    pub workload: Kind,
    /// How many agents.
    #[arg(long, default_value_t = 5)]
    pub node_count: usize,
    /// Client workers (each talks to agent `worker mod N`).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Seconds of client operations.
    #[arg(long, default_value_t = 30.0)]
    pub time_limit: f64,
    /// Client operations per second, all workers together.
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,
    /// Faults (comma-separated): partition, kill, kill-wipe, pause, restart-all.
    #[arg(long, value_delimiter = ',')]
    pub nemesis: Vec<String>,
    /// Mean seconds between nemesis operations.
    #[arg(long, default_value_t = 5.0)]
    pub nemesis_interval: f64,
    /// Seconds between healing and the final reads.
    #[arg(long, default_value_t = 5.0)]
    pub recovery: f64,
    /// The acknowledgement writes ask for: local, durable, replicated or all.
    #[arg(long, default_value = "replicated", value_parser = AckLevel::parse)]
    pub ack: AckLevel,
    /// How long a write waits for its acknowledgement, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub ack_timeout_ms: u64,
    /// auto (namespaces if root and `ip` works, else loopback), namespaces or loopback.
    #[arg(long, default_value = "auto", value_parser = ModeChoice::parse)]
    pub mode: ModeChoice,
    /// The gossip-agent binary (default: next to this executable, then PATH).
    #[arg(long)]
    pub agent_bin: Option<PathBuf>,
    /// Loss, duplication and delay inside every agent's socket, e.g.
    /// `loss=0.05,duplicate=0.01,delay=20ms` (the agents' `--test-faults`).
    #[arg(long)]
    pub test_faults: Option<String>,
    /// The agents' timing preset: lan, wan or scalable.
    #[arg(long, default_value = "lan")]
    pub preset: String,
    /// Time how long an update takes to reach every agent (four probes a second).
    #[arg(long)]
    pub probe: bool,
    /// Seed of every random choice (ops, nemesis).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Root of the store.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
}

/// Validated options of an agents run.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// The workload.
    pub workload: Kind,
    /// How many agents.
    pub node_count: usize,
    /// Client workers.
    pub concurrency: usize,
    /// Main phase length.
    pub time_limit: Duration,
    /// Ops per second, all workers.
    pub rate: f64,
    /// Faults.
    pub nemesis: Vec<Fault>,
    /// Mean gap between nemesis ops.
    pub nemesis_interval: Duration,
    /// Quiet time before the final reads.
    pub recovery: Duration,
    /// Ack level of writes.
    pub ack: AckLevel,
    /// Ack wait.
    pub ack_timeout: Duration,
    /// Where agents run.
    pub mode: ModeChoice,
    /// The agent binary, if given.
    pub agent_bin: Option<PathBuf>,
    /// `--test-faults` for the agents.
    pub test_faults: Option<String>,
    /// The agents' preset.
    pub preset: String,
    /// Run the delivery probe.
    pub probe: bool,
    /// Seed.
    pub seed: u64,
    /// Store root.
    pub store: PathBuf,
}

impl AgentArgs {
    /// Checks the flags.
    pub fn into_options(self, seed: u64) -> Result<AgentOptions, String> {
        if self.node_count == 0 || self.node_count > 200 {
            return Err("--node-count must be between 1 and 200".into());
        }
        let mut nemesis = Vec::new();
        for n in self.nemesis.iter().filter(|n| !n.is_empty()) {
            let f = Fault::ALL
                .into_iter()
                .find(|f| f.name() == n)
                .ok_or_else(|| {
                    format!("unknown nemesis {n:?}: partition, kill, kill-wipe, pause, restart-all")
                })?;
            if !nemesis.contains(&f) {
                nemesis.push(f);
            }
        }
        let secs = |name: &str, s: f64| {
            if s.is_finite() && s >= 0.0 {
                Ok(Duration::from_secs_f64(s))
            } else {
                Err(format!("--{name} must be a non-negative number of seconds"))
            }
        };
        if !(self.rate.is_finite() && self.rate >= 0.0) {
            return Err("--rate must be a non-negative number".into());
        }
        let concurrency = self.concurrency.unwrap_or(self.node_count);
        if concurrency == 0 {
            return Err("--concurrency must be at least 1".into());
        }
        Ok(AgentOptions {
            workload: self.workload,
            node_count: self.node_count,
            concurrency,
            time_limit: secs("time-limit", self.time_limit)?,
            rate: self.rate,
            nemesis,
            nemesis_interval: secs("nemesis-interval", self.nemesis_interval)?,
            recovery: secs("recovery", self.recovery)?,
            ack: self.ack,
            ack_timeout: Duration::from_millis(self.ack_timeout_ms),
            mode: self.mode,
            agent_bin: self.agent_bin,
            test_faults: self.test_faults,
            preset: self.preset,
            probe: self.probe,
            seed,
            store: self.store,
        })
    }
}

/// Why the agent binary was not found.
#[derive(Debug)]
pub struct NoAgentBinary(String);

impl std::fmt::Display for NoAgentBinary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl AgentOptions {
    /// The query string of a write.
    pub fn ack_query(&self) -> String {
        format!(
            "ack={}&timeout_ms={}",
            self.ack.name(),
            self.ack_timeout.as_millis()
        )
    }

    /// How long a client waits for an answer: the ack wait and a margin.
    pub fn op_timeout(&self) -> Duration {
        self.ack_timeout + Duration::from_secs(3)
    }

    /// The gossip-agent binary: `--agent-bin`, else next to this executable, else `PATH`.
    pub fn agent_program(&self) -> Result<PathBuf, NoAgentBinary> {
        if let Some(p) = &self.agent_bin {
            return std::fs::canonicalize(p)
                .ok()
                .filter(|p| run::is_file(p))
                .ok_or_else(|| {
                    NoAgentBinary(format!("--agent-bin {}: no such file", p.display()))
                });
        }
        let sibling = std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(|d| d.join("gossip-agent")))
            .filter(|p| run::is_file(p));
        let in_path = || {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join("gossip-agent"))
                    .find(|p| run::is_file(p))
            })
        };
        sibling.or_else(in_path).ok_or_else(|| {
            NoAgentBinary(
                "cannot find gossip-agent next to this executable or in PATH: build it \
                 (cargo build -p gossip-agent) or pass --agent-bin"
                    .into(),
            )
        })
    }

    /// The options as a harness run records them (for the plots and the report).
    pub fn test_options(&self) -> TestOptions {
        let mut o = TestOptions::defaults(self.workload.harness_kind());
        o.nodes = run::node_ids(self.node_count);
        o.concurrency = self.concurrency;
        o.time_limit = self.time_limit;
        o.rate = self.rate;
        let mut kinds: Vec<FaultKind> = self.nemesis.iter().map(|f| f.kind()).collect();
        kinds.sort();
        kinds.dedup();
        o.nemesis = kinds;
        o.nemesis_interval = self.nemesis_interval;
        o.recovery = self.recovery;
        o.seed = self.seed;
        o.store = self.store.clone();
        o
    }

    /// The options for `test.json`.
    pub fn describe(&self) -> Value {
        json!({
            "workload": self.workload.name(),
            "node-count": self.node_count,
            "concurrency": self.concurrency,
            "time-limit": self.time_limit.as_secs_f64(),
            "rate": self.rate,
            "nemesis": self.nemesis.iter().map(|f| f.name()).collect::<Vec<_>>(),
            "nemesis-interval": self.nemesis_interval.as_secs_f64(),
            "recovery": self.recovery.as_secs_f64(),
            "ack": self.ack.name(),
            "ack-timeout-ms": self.ack_timeout.as_millis() as u64,
            "test-faults": self.test_faults,
            "preset": self.preset,
            "probe": self.probe,
            "seed": self.seed,
        })
    }
}

/// Runs `gossip-harness agents`. Returns the exit status.
pub fn main(args: AgentArgs, seed: u64, command: &str) -> i32 {
    match args.into_options(seed) {
        Ok(opts) => run::run(&opts, command),
        Err(e) => {
            eprintln!("error: {e}");
            crate::console::EXIT_BAD_ARGS
        }
    }
}
