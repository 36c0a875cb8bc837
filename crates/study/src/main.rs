//! `gossip-study`: the message-overhead study.
//!
//! Sweeps replication strategies and their flush intervals through `gossip-harness` on the
//! public efficient-broadcast configuration (25 nodes, 100 ms latency, 100 ops/s, 20 s), runs
//! each point over several seeds, and writes a markdown table, the raw figures as JSON, and an
//! SVG Pareto plot of server messages per operation against median and maximum stable latency,
//! with the published results alongside. `docs/benchmarks.md` shows the commands and reads
//! the results.
//!
//! ```text
//! cargo build --release -p gossip-harness -p gossip-study
//! target/release/gossip-study --sim --seeds 5            # the sweep, simulated
//! target/release/gossip-study --only star --seeds 5      # confirm with real processes
//! ```

mod grid;
mod measure;
mod plot;
mod published;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use serde_json::json;

use grid::{Point, sweep};
use measure::{Measurement, Runner, median};
use plot::Dot;

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(
    name = "gossip-study",
    about = "Sweep replication strategies through gossip-harness and plot messages against latency"
)]
struct Args {
    /// The harness binary (default: `gossip-harness` next to this program).
    #[arg(long)]
    harness: Option<PathBuf>,
    /// Simulate (`gossip-harness test --sim`) instead of running node processes.
    #[arg(long)]
    sim: bool,
    /// Runs per point; the table reports medians.
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    /// The first seed; runs use consecutive seeds.
    #[arg(long, default_value_t = 1)]
    first_seed: u64,
    /// A few settings per strategy instead of the full sweep.
    #[arg(long)]
    quick: bool,
    /// Only these strategy families (flood, tree4, star, gossip, push-pull, hybrid).
    #[arg(long)]
    only: Vec<String>,
    /// The workload (broadcast or g-set).
    #[arg(long, default_value = "broadcast")]
    workload: String,
    /// The test configuration: `3d` (25 nodes, 100 ms latency, 100 ops/s, 20 s: the public
    /// efficient-broadcast benchmark) or `guide` (5 nodes, no latency, 100 ops/s, 10 s: the
    /// configuration of Maelstrom's own g-set guide, whose full-state gossip is the reference).
    #[arg(long, default_value = "3d")]
    config: String,
    /// Where to write the table, the JSON and the plot.
    #[arg(long, default_value = "docs/study")]
    out: PathBuf,
}

/// One point's runs, summarised.
struct Summary {
    point: Point,
    runs: Vec<Measurement>,
    failures: Vec<String>,
}

impl Summary {
    fn medians(&self) -> (f64, f64, f64) {
        let mut m: Vec<f64> = self.runs.iter().map(|r| r.msgs_per_op).collect();
        let mut l: Vec<f64> = self.runs.iter().map(|r| r.median).collect();
        let mut x: Vec<f64> = self.runs.iter().map(|r| r.max).collect();
        (median(&mut m), median(&mut l), median(&mut x))
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let harness = match args.harness.clone().or_else(|| {
        std::env::current_exe()
            .ok()
            .map(|exe| exe.with_file_name("gossip-harness"))
    }) {
        Some(h) if h.exists() => h,
        other => {
            eprintln!(
                "gossip-study: no harness at {:?}; build it (cargo build --release -p gossip-harness) or pass --harness",
                other
            );
            return ExitCode::from(2);
        }
    };
    let mode = if args.sim { "sim" } else { "process" };
    let scratch = std::env::temp_dir().join(format!("gossip-study-{}", std::process::id()));
    let runner = Runner {
        harness,
        sim: args.sim,
        test_flags: match config_flags(&args.config) {
            Some(flags) => ["-w", args.workload.as_str()]
                .iter()
                .chain(flags)
                .map(|s| s.to_string())
                .collect(),
            None => {
                eprintln!(
                    "gossip-study: unknown --config `{}` (3d, guide)",
                    args.config
                );
                return ExitCode::from(2);
            }
        },
        scratch: scratch.clone(),
    };
    let points: Vec<Point> = sweep(args.quick)
        .into_iter()
        .filter(|p| args.only.is_empty() || args.only.iter().any(|o| o == p.family))
        .collect();
    let mut summaries = Vec::new();
    for (i, point) in points.into_iter().enumerate() {
        let mut summary = Summary {
            point,
            runs: Vec::new(),
            failures: Vec::new(),
        };
        for seed in args.first_seed..args.first_seed + args.seeds {
            match runner.run(&summary.point.node_args, seed) {
                Ok(m) => summary.runs.push(m),
                Err(e) => summary.failures.push(format!("seed {seed}: {e}")),
            }
        }
        let (m, l, x) = summary.medians();
        eprintln!(
            "[{:>2}] {:<9} {:<20} {:>7.2} msgs/op  median {:>5.0} ms  max {:>5.0} ms  valid {}/{}",
            i + 1,
            summary.point.family,
            summary.point.setting,
            m,
            l,
            x,
            summary.runs.iter().filter(|r| r.valid).count(),
            args.seeds
        );
        for f in &summary.failures {
            eprintln!("     {f}");
        }
        summaries.push(summary);
    }
    let _ = std::fs::remove_dir_all(&scratch);
    if let Err(e) = write_outputs(&args, mode, &summaries) {
        eprintln!("gossip-study: cannot write results: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// The harness flags of a named configuration.
fn config_flags(name: &str) -> Option<&'static [&'static str]> {
    match name {
        "3d" => Some(&[
            "--node-count",
            "25",
            "--time-limit",
            "20",
            "--rate",
            "100",
            "--latency",
            "100",
        ]),
        "guide" => Some(&["--time-limit", "10", "--rate", "100"]),
        _ => None,
    }
}

fn write_outputs(args: &Args, mode: &str, summaries: &[Summary]) -> std::io::Result<()> {
    std::fs::create_dir_all(&args.out)?;
    let stem = if args.config == "3d" {
        format!("{}-{mode}", args.workload)
    } else {
        format!("{}-{}-{mode}", args.workload, args.config)
    };
    let command = std::env::args().collect::<Vec<_>>().join(" ");

    let mut table = format!(
        "<!-- written by: {command} -->\n\n| strategy | setting | msgs-per-op | median ms | max ms | valid runs |\n|---|---|---:|---:|---:|---:|\n"
    );
    let mut dots = Vec::new();
    let mut raw = Vec::new();
    for s in summaries {
        let (m, l, x) = s.medians();
        let valid = s.runs.iter().filter(|r| r.valid).count();
        table.push_str(&format!(
            "| {} | {} | {:.2} | {:.0} | {:.0} | {}/{} |\n",
            s.point.family,
            s.point.setting,
            m,
            l,
            x,
            valid,
            s.runs.len() + s.failures.len()
        ));
        dots.push(Dot {
            family: s.point.family,
            setting: s.point.setting.clone(),
            msgs_per_op: m,
            median: l,
            max: x,
        });
        raw.push(json!({
            "family": s.point.family,
            "setting": s.point.setting,
            "node-args": s.point.node_args,
            "runs": s.runs.iter().map(|r| json!({
                "msgs-per-op": r.msgs_per_op, "median": r.median, "max": r.max, "valid?": r.valid,
            })).collect::<Vec<_>>(),
            "failures": s.failures,
        }));
    }
    std::fs::write(args.out.join(format!("{stem}.md")), table)?;
    std::fs::write(
        args.out.join(format!("{stem}.json")),
        serde_json::to_string_pretty(&json!({ "command": command, "points": raw }))?,
    )?;
    let setup = if args.config == "3d" {
        "25 nodes · 100 ms latency · 100 ops/s · 20 s"
    } else {
        "5 nodes · no latency · 100 ops/s · 10 s"
    };
    let title = format!(
        "{} · {setup} · {} · median of {} seeds",
        args.workload,
        if mode == "sim" {
            "simulated"
        } else {
            "processes"
        },
        args.seeds
    );
    let references = published::references(&args.config);
    std::fs::write(
        args.out.join(format!("{stem}.svg")),
        plot::render(&dots, references, &title),
    )?;
    eprintln!("wrote {}/{stem}.{{md,json,svg}}", args.out.display());
    Ok(())
}
