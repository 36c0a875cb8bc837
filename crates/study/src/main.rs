//! `gossip-study`: the project's benchmark tooling, in one binary on top of `gossip-harness`.
//!
//! Every figure in `docs/benchmarks.md` that comes from runs of the harness is produced here,
//! with no script language needed:
//!
//! ```text
//! cargo build --release -p gossip-harness -p gossip-study
//! target/release/gossip-study sweep --sim --seeds 5       # the strategy sweep, simulated
//! target/release/gossip-study sweep --only star --seeds 5 # confirm with real processes
//! target/release/gossip-study plot docs/study/broadcast-sim.json   # redraw from the JSON
//! target/release/gossip-study targets 5                   # the node's efficiency targets
//! target/release/gossip-study fidelity 5 10               # process mode against --sim
//! target/release/gossip-study routing 2 10 64             # the harness's routing rate
//! ```
//!
//! Without a subcommand, the arguments are the sweep's (`gossip-study --sim --seeds 5`).
//!
//! # Layout
//!
//! - [`measure`]: run `gossip-harness test` once, read its `results.json`.
//! - [`grid`]: the sweep's points (strategy families and their settings).
//! - [`sweep`]: run the sweep, write its table, JSON and plot; redraw them from the JSON.
//! - [`pareto`]: the sweep's plot, drawn with the harness's chart kit (`gossip_harness::svg`).
//! - [`published`]: the published results the plot compares against.
//! - [`bench`]: the targets, fidelity and routing measurements.

mod bench;
mod grid;
mod measure;
mod pareto;
mod published;
mod sweep;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(
    name = "gossip-study",
    about = "Benchmarks through gossip-harness: the strategy sweep and its plot, the efficiency targets, simulation fidelity, routing throughput",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    #[command(flatten)]
    sweep: sweep::SweepArgs,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Sweep replication strategies and plot messages against latency (the default).
    Sweep(sweep::SweepArgs),
    /// Redraw a sweep's table and plot from its JSON, without running anything.
    Plot {
        /// The sweep's JSON (e.g. docs/study/broadcast-sim.json); the .md and .svg beside it
        /// are rewritten.
        json: PathBuf,
    },
    /// The efficiency targets: the 3d configuration with node processes, RUNS times per
    /// profile, then once per profile with --nemesis partition, then g-set.
    Targets {
        /// Runs per profile (seeds 1..=RUNS).
        #[arg(default_value_t = 5)]
        runs: u64,
        #[command(flatten)]
        harness: HarnessArg,
    },
    /// Fidelity of --sim: the same configuration with processes and simulated, compared on
    /// msgs-per-op and stable-latency quantiles.
    Fidelity {
        /// Process-mode runs (seeds 1..=RUNS).
        #[arg(default_value_t = 3)]
        runs: u64,
        /// Simulated runs (seeds 1..=SEEDS).
        #[arg(default_value_t = 10)]
        seeds: u64,
        #[command(flatten)]
        harness: HarnessArg,
        /// Extra `gossip-harness test` flags, after `--`.
        #[arg(last = true)]
        extra: Vec<String>,
    },
    /// Harness routing throughput: token_ring example nodes forward tokens round a ring with
    /// no client ops; server deliveries divided by the test time.
    Routing {
        /// Nodes.
        #[arg(default_value_t = 2)]
        nodes: u32,
        /// Test time, seconds.
        #[arg(default_value_t = 10)]
        secs: u32,
        /// Tokens each node puts on the ring.
        #[arg(default_value_t = 64)]
        tokens: u32,
        /// The token_ring binary (default: examples/token_ring next to the harness).
        #[arg(long)]
        node_bin: Option<PathBuf>,
        #[command(flatten)]
        harness: HarnessArg,
    },
}

/// Where the harness is.
#[derive(Debug, Clone, clap::Args)]
pub struct HarnessArg {
    /// The harness binary (default: `gossip-harness` next to this program).
    #[arg(long)]
    pub harness: Option<PathBuf>,
}

impl HarnessArg {
    /// The harness binary, or a message saying how to get one.
    pub fn resolve(&self) -> Result<PathBuf, String> {
        match self.harness.clone().or_else(|| {
            std::env::current_exe()
                .ok()
                .map(|exe| exe.with_file_name("gossip-harness"))
        }) {
            Some(h) if h.exists() => Ok(h),
            other => Err(format!(
                "no harness at {other:?}; build it (cargo build --release -p gossip-harness) or pass --harness"
            )),
        }
    }
}

/// A fresh scratch directory for run stores, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    /// A directory under the system's temporary directory, named after this process.
    pub fn new(what: &str) -> Scratch {
        Scratch(std::env::temp_dir().join(format!("gossip-study-{what}-{}", std::process::id())))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let done = match cli.command {
        None => sweep::run(&cli.sweep),
        Some(Cmd::Sweep(args)) => sweep::run(&args),
        Some(Cmd::Plot { json }) => sweep::replot(&json),
        Some(Cmd::Targets { runs, harness }) => bench::targets(&harness, runs),
        Some(Cmd::Fidelity {
            runs,
            seeds,
            harness,
            extra,
        }) => bench::fidelity(&harness, runs, seeds, &extra),
        Some(Cmd::Routing {
            nodes,
            secs,
            tokens,
            node_bin,
            harness,
        }) => bench::routing(&harness, nodes, secs, tokens, node_bin),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gossip-study: {e}");
            ExitCode::from(2)
        }
    }
}
