//! The strategy sweep: every point of [`crate::grid`] over several seeds, written as a
//! markdown table, the raw figures as JSON, and the Pareto plot. The JSON holds everything
//! the table and the plot show, so `gossip-study plot FILE.json` redraws both without running
//! anything.

use std::path::{Path, PathBuf};

use clap::Parser;
use serde_json::{Value, json};

use crate::grid::{FAMILIES, Point, sweep};
use crate::measure::{Measurement, Runner, median, parse};
use crate::pareto::{self, Dot};
use crate::{HarnessArg, Scratch, published};

/// The sweep's arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct SweepArgs {
    #[command(flatten)]
    harness: HarnessArg,
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
    /// Only these strategy families (flood, tree4, star, star-batched, gossip, push-pull,
    /// hybrid).
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

impl SweepArgs {
    fn mode(&self) -> &'static str {
        if self.sim { "sim" } else { "process" }
    }

    /// Output file stem, e.g. `broadcast-sim` or `g-set-guide-sim`.
    fn stem(&self) -> String {
        if self.config == "3d" {
            format!("{}-{}", self.workload, self.mode())
        } else {
            format!("{}-{}-{}", self.workload, self.config, self.mode())
        }
    }

    fn title(&self) -> String {
        let setup = if self.config == "3d" {
            "25 nodes · 100 ms latency · 100 ops/s · 20 s"
        } else {
            "5 nodes · no latency · 100 ops/s · 10 s"
        };
        format!(
            "{} · {setup} · {} · median of {} seeds",
            self.workload,
            if self.sim { "simulated" } else { "processes" },
            self.seeds
        )
    }
}

/// One point's runs, summarised.
pub struct Summary {
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

/// Runs the sweep and writes its outputs.
pub fn run(args: &SweepArgs) -> Result<(), String> {
    let harness = args.harness.resolve()?;
    let Some(flags) = config_flags(&args.config) else {
        return Err(format!("unknown --config `{}` (3d, guide)", args.config));
    };
    let mut flags: Vec<String> = ["-w", args.workload.as_str()]
        .iter()
        .chain(flags)
        .map(|s| s.to_string())
        .collect();
    if args.sim {
        flags.push("--sim".into());
    }
    let scratch = Scratch::new("sweep");
    let runner = Runner {
        harness,
        scratch: scratch.0.clone(),
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
            match runner
                .run(&flags, &summary.point.node_args, seed)
                .and_then(|run| parse(&run.results))
            {
                Ok(m) => summary.runs.push(m),
                Err(e) => summary.failures.push(format!("seed {seed}: {e}")),
            }
        }
        let (m, l, x) = summary.medians();
        eprintln!(
            "[{:>2}] {:<12} {:<28} {:>7.2} msgs/op  median {:>5.0} ms  max {:>5.0} ms  valid {}/{}",
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
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    write_outputs(&args.out, &args.stem(), &command, args, &summaries)
        .map_err(|e| format!("cannot write results: {e}"))
}

/// Redraws the table and plot beside `json` from the figures in it.
pub fn replot(json: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(json)
        .map_err(|e| format!("cannot read {}: {e}", json.display()))?;
    let doc: Value =
        serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", json.display()))?;
    let command = doc["command"]
        .as_str()
        .ok_or_else(|| format!("{} has no \"command\"", json.display()))?;
    let args = args_of(command)
        .ok_or_else(|| format!("cannot read the sweep's options from `{command}`"))?;
    let summaries = doc["points"]
        .as_array()
        .ok_or_else(|| format!("{} has no \"points\"", json.display()))?
        .iter()
        .map(summary_of)
        .collect::<Result<Vec<_>, String>>()?;
    let out = json.parent().unwrap_or(Path::new("."));
    let stem = json
        .file_stem()
        .and_then(|s| s.to_str())
        .ok_or_else(|| format!("{} has no file name", json.display()))?;
    write_outputs(out, stem, command, &args, &summaries)
        .map_err(|e| format!("cannot write results: {e}"))
}

/// The sweep options of a recorded command line (with or without the `sweep` subcommand).
fn args_of(command: &str) -> Option<SweepArgs> {
    let words: Vec<&str> = command.split_whitespace().collect();
    let (first, rest) = words.split_first()?;
    let rest = match rest.first() {
        Some(&"sweep") => &rest[1..],
        _ => rest,
    };
    #[derive(Parser)]
    struct Only {
        #[command(flatten)]
        sweep: SweepArgs,
    }
    Only::try_parse_from(std::iter::once(*first).chain(rest.iter().copied()))
        .ok()
        .map(|o| o.sweep)
}

fn summary_of(p: &Value) -> Result<Summary, String> {
    let name = p["family"].as_str().unwrap_or_default();
    let family = FAMILIES
        .iter()
        .find(|f| **f == name)
        .ok_or_else(|| format!("unknown family `{name}`"))?;
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let runs = p["runs"]
        .as_array()
        .map(|runs| {
            runs.iter()
                .filter_map(|r| {
                    Some(Measurement {
                        msgs_per_op: r["msgs-per-op"].as_f64()?,
                        median: r["median"].as_f64()?,
                        p95: None,
                        p99: None,
                        max: r["max"].as_f64()?,
                        valid: r["valid?"] == Value::Bool(true),
                        lost: None,
                        cpu_ms_per_1000_ops: None,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Summary {
        point: Point {
            family,
            setting: p["setting"].as_str().unwrap_or_default().to_owned(),
            node_args: strings(&p["node-args"]),
        },
        runs,
        failures: strings(&p["failures"]),
    })
}

fn write_outputs(
    out: &Path,
    stem: &str,
    command: &str,
    args: &SweepArgs,
    summaries: &[Summary],
) -> std::io::Result<()> {
    std::fs::create_dir_all(out)?;
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
    std::fs::write(out.join(format!("{stem}.md")), table)?;
    std::fs::write(
        out.join(format!("{stem}.json")),
        serde_json::to_string_pretty(&json!({ "command": command, "points": raw }))?,
    )?;
    let references = published::references(&args.config);
    std::fs::write(
        out.join(format!("{stem}.svg")),
        pareto::render(&dots, references, &args.title()),
    )?;
    eprintln!("wrote {}/{stem}.{{md,json,svg}}", out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_commands_give_back_the_sweep_options() {
        let old = args_of("target/release/gossip-study --sim --seeds 3 --workload g-set --config guide --only star --only star-batched --out docs/study")
            .expect("the old form parses");
        assert!(old.sim);
        assert_eq!(old.seeds, 3);
        assert_eq!(old.stem(), "g-set-guide-sim");
        assert_eq!(old.only, ["star", "star-batched"]);
        let new = args_of("gossip-study sweep --seeds 5").expect("the subcommand form parses");
        assert_eq!(new.stem(), "broadcast-process");
        assert!(new.title().contains("median of 5 seeds"));
        assert!(args_of("gossip-study --no-such-flag").is_none());
    }

    #[test]
    fn a_point_reads_back_from_its_json() {
        let p = json!({"family": "star", "setting": "relay-flush=300ms",
            "node-args": ["strategy=tree"], "failures": [],
            "runs": [{"msgs-per-op": 1.3, "median": 180.0, "max": 390.0, "valid?": true},
                     {"msgs-per-op": 1.4, "median": 190.0, "max": 400.0, "valid?": true},
                     {"msgs-per-op": 1.5, "median": 170.0, "max": 410.0, "valid?": false}]});
        let s = summary_of(&p).expect("a valid point");
        assert_eq!(s.point.family, "star");
        assert_eq!(s.medians(), (1.4, 180.0, 400.0));
        assert!(summary_of(&json!({"family": "carrier-pigeon"})).is_err());
    }
}
