//! The measurements `docs/benchmarks.md` reports besides the sweep: the node's efficiency
//! targets, the fidelity of simulation, and the harness's routing throughput. Each prints a
//! markdown table on stdout (progress goes to stderr).

use std::path::PathBuf;

use crate::measure::{Measurement, Runner, mean, median, parse};
use crate::{HarnessArg, Scratch};

/// The public efficient-broadcast configuration (Maelstrom's challenge 3d).
const CONFIG_3D: [&str; 8] = [
    "--node-count",
    "25",
    "--time-limit",
    "20",
    "--rate",
    "100",
    "--latency",
    "100",
];

fn flags(workload: &str, extra: &[&str]) -> Vec<String> {
    ["-w", workload]
        .iter()
        .chain(CONFIG_3D.iter())
        .chain(extra)
        .map(|s| s.to_string())
        .collect()
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{v:.0}"))
}

/// Median and range of `xs`, e.g. `1.36 (1.34–1.36)`.
fn median_range(xs: &[f64], decimals: usize) -> String {
    let mut v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return "–".into();
    }
    let m = median(&mut v);
    let (lo, hi) = (v[0], v[v.len() - 1]);
    format!("{m:.decimals$} ({lo:.decimals$}–{hi:.decimals$})")
}

/// One part of the targets run: a workload and node setting over some seeds.
struct Part {
    label: &'static str,
    workload: &'static str,
    seeds: Vec<u64>,
    extra: &'static [&'static str],
    node_arg: &'static str,
}

/// Each profile RUNS times with processes, once more under partitions, then g-set.
pub fn targets(harness: &HarnessArg, runs: u64) -> Result<(), String> {
    let scratch = Scratch::new("targets");
    let runner = Runner {
        harness: harness.resolve()?,
        scratch: scratch.0.clone(),
    };
    let part = |label, workload, seeds, extra, node_arg| Part {
        label,
        workload,
        seeds,
        extra,
        node_arg,
    };
    let plan = [
        part(
            "efficient",
            "broadcast",
            (1..=runs).collect(),
            &[],
            "profile=efficient",
        ),
        part(
            "fast",
            "broadcast",
            (1..=runs).collect(),
            &[],
            "profile=fast",
        ),
        part(
            "efficient+partition",
            "broadcast",
            vec![101],
            &["--nemesis", "partition"],
            "profile=efficient",
        ),
        part(
            "fast+partition",
            "broadcast",
            vec![102],
            &["--nemesis", "partition"],
            "profile=fast",
        ),
        part(
            "g-set efficient",
            "g-set",
            (1..=runs).collect(),
            &[],
            "profile=efficient",
        ),
    ];
    println!(
        "| run | seed | msgs-per-op | median ms | max ms | valid? | lost | node CPU ms / 1,000 ops |"
    );
    println!("|---|---:|---:|---:|---:|---|---:|---:|");
    let mut summary = Vec::new();
    for Part {
        label,
        workload,
        seeds,
        extra,
        node_arg,
    } in plan
    {
        let mut got: Vec<Measurement> = Vec::new();
        for seed in seeds {
            eprintln!("{label}, seed {seed}");
            match runner
                .run(&flags(workload, extra), &[node_arg.to_owned()], seed)
                .and_then(|r| parse(&r.results))
            {
                Ok(m) => {
                    println!(
                        "| {label} | {seed} | {:.3} | {:.0} | {:.0} | {} | {} | {} |",
                        m.msgs_per_op,
                        m.median,
                        m.max,
                        m.valid,
                        m.lost.map_or_else(|| "–".to_owned(), |l| l.to_string()),
                        fmt_opt(m.cpu_ms_per_1000_ops)
                    );
                    got.push(m);
                }
                Err(e) => println!("| {label} | {seed} | {e} | | | | | |"),
            }
        }
        summary.push((label, got));
    }
    println!();
    println!("| run | msgs-per-op | median ms | max ms | node CPU ms / 1,000 ops | valid |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (label, got) in summary {
        let pick = |f: fn(&Measurement) -> f64| got.iter().map(f).collect::<Vec<f64>>();
        println!(
            "| {label} | {} | {} | {} | {} | {}/{} |",
            median_range(&pick(|m| m.msgs_per_op), 2),
            median_range(&pick(|m| m.median), 0),
            median_range(&pick(|m| m.max), 0),
            median_range(&pick(|m| m.cpu_ms_per_1000_ops.unwrap_or(f64::NAN)), 0),
            got.iter().filter(|m| m.valid).count(),
            got.len()
        );
    }
    Ok(())
}

/// The 3d configuration with processes (seeds 1..=runs) and simulated (seeds 1..=seeds).
pub fn fidelity(
    harness: &HarnessArg,
    runs: u64,
    seeds: u64,
    extra: &[String],
) -> Result<(), String> {
    let scratch = Scratch::new("fidelity");
    let runner = Runner {
        harness: harness.resolve()?,
        scratch: scratch.0.clone(),
    };
    println!("| mode | seed | servers msgs-per-op | stable p50 (ms) | p95 | p99 | max | valid? |");
    println!("|---|---:|---:|---:|---:|---:|---:|---|");
    let mut means: Vec<(&str, Vec<Measurement>)> = Vec::new();
    for (mode, count) in [("process", runs), ("sim", seeds)] {
        let mut f = flags("broadcast", &[]);
        f.extend(extra.iter().cloned());
        if mode == "sim" {
            f.push("--sim".into());
        }
        let mut got = Vec::new();
        for seed in 1..=count {
            eprintln!("{mode}, seed {seed}");
            match runner.run(&f, &[], seed).and_then(|r| parse(&r.results)) {
                Ok(m) => {
                    println!(
                        "| {mode} | {seed} | {:.3} | {:.0} | {} | {} | {:.0} | {} |",
                        m.msgs_per_op,
                        m.median,
                        fmt_opt(m.p95),
                        fmt_opt(m.p99),
                        m.max,
                        m.valid
                    );
                    got.push(m);
                }
                Err(e) => println!("| {mode} | {seed} | {e} | | | | | |"),
            }
        }
        means.push((mode, got));
    }
    let figures = |got: &[Measurement]| -> [f64; 5] {
        let col = |f: fn(&Measurement) -> f64| mean(&got.iter().map(f).collect::<Vec<_>>());
        [
            col(|m| m.msgs_per_op),
            col(|m| m.median),
            col(|m| m.p95.unwrap_or(f64::NAN)),
            col(|m| m.p99.unwrap_or(f64::NAN)),
            col(|m| m.max),
        ]
    };
    let mut rows = Vec::new();
    for (mode, got) in means.iter().filter(|(_, got)| !got.is_empty()) {
        let f = figures(got);
        println!(
            "| **{mode} mean** | | **{:.3}** | **{:.1}** | **{:.1}** | **{:.1}** | **{:.1}** | |",
            f[0], f[1], f[2], f[3], f[4]
        );
        rows.push(f);
    }
    if let [p, s] = rows.as_slice() {
        let d: Vec<String> = p
            .iter()
            .zip(s)
            .map(|(p, s)| format!("{:+.1} %", (s - p) / p * 100.0))
            .collect();
        println!("| sim vs process | | {} | |", d.join(" | "));
    }
    Ok(())
}

/// Messages per second routed between token_ring nodes.
pub fn routing(
    harness: &HarnessArg,
    nodes: u32,
    secs: u32,
    tokens: u32,
    node_bin: Option<PathBuf>,
) -> Result<(), String> {
    let harness = harness.resolve()?;
    let node_bin =
        node_bin.unwrap_or_else(|| harness.with_file_name("examples").join("token_ring"));
    if !node_bin.exists() {
        return Err(format!(
            "no token_ring at {}; build it (cargo build --release -p gossip-harness --example token_ring) or pass --node-bin",
            node_bin.display()
        ));
    }
    let scratch = Scratch::new("routing");
    let runner = Runner {
        harness,
        scratch: scratch.0.clone(),
    };
    let flags: Vec<String> = [
        "-w".to_owned(),
        "echo".to_owned(),
        "--bin".to_owned(),
        node_bin.display().to_string(),
        "--node-count".to_owned(),
        nodes.to_string(),
        "--rate".to_owned(),
        "0".to_owned(),
        "--time-limit".to_owned(),
        secs.to_string(),
    ]
    .to_vec();
    let run = runner
        .run(&flags, &[tokens.to_string()], 1)
        .map_err(|e| e.to_string())?;
    let servers = &run.results["net"]["servers"];
    let (Some(sends), Some(recvs)) = (
        servers["send-count"].as_u64(),
        servers["recv-count"].as_u64(),
    ) else {
        return Err("results.json lacks net.servers send-count / recv-count".into());
    };
    let wall = run.test["wall-seconds"].as_f64().unwrap_or(f64::NAN);
    println!(
        "routed {sends} sends / {recvs} deliveries in {secs} s of test time ({wall:.1} s wall): {:.0} messages/s",
        recvs as f64 / f64::from(secs)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_with_their_range() {
        assert_eq!(median_range(&[1.36, 1.34, 1.35], 2), "1.35 (1.34–1.36)");
        assert_eq!(median_range(&[f64::NAN], 0), "–");
        assert_eq!(
            flags("g-set", &["--nemesis", "partition"])[..3],
            ["-w", "g-set", "--node-count"]
        );
    }
}
