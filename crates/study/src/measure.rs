//! Running `gossip-harness test` once and reading the figures of its `results.json`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The figures of one run, as Maelstrom names them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    /// `net.servers.msgs-per-op`.
    pub msgs_per_op: f64,
    /// `workload.stable-latencies` at 0.5, ms.
    pub median: f64,
    /// `workload.stable-latencies` at 0.95, ms, when the workload reports it.
    pub p95: Option<f64>,
    /// `workload.stable-latencies` at 0.99, ms, when the workload reports it.
    pub p99: Option<f64>,
    /// `workload.stable-latencies` at 1, ms.
    pub max: f64,
    /// The run's verdict was `true`.
    pub valid: bool,
    /// `workload.lost-count`, when the workload reports it.
    pub lost: Option<u64>,
    /// `node-cpu.ms-per-1000-ops` (process mode only).
    pub cpu_ms_per_1000_ops: Option<f64>,
}

/// Why a run gave no figures. None of these change anything but the scratch directory.
#[derive(Debug)]
pub enum RunError {
    /// The harness could not be started.
    Spawn {
        /// The binary.
        harness: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The harness exited with a status other than valid (0), invalid (1) or unknown (2).
    Exit {
        /// The exit status.
        status: std::process::ExitStatus,
        /// The last lines of its stderr.
        tail: String,
    },
    /// The run left no `results.json`.
    NoResults(PathBuf),
    /// A result file could not be read or parsed.
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// `results.json` lacks a figure.
    Missing(&'static str),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Spawn { harness, source } => {
                write!(f, "cannot run {}: {source}", harness.display())
            }
            RunError::Exit { status, tail } => write!(f, "harness exited with {status}: {tail}"),
            RunError::NoResults(dir) => write!(f, "no results.json under {}", dir.display()),
            RunError::Read { path, reason } => {
                write!(f, "cannot read {}: {reason}", path.display())
            }
            RunError::Missing(what) => write!(f, "results.json lacks {what}"),
        }
    }
}

impl std::error::Error for RunError {}

/// The files of a finished run.
#[derive(Debug, Clone)]
pub struct Run {
    /// `results.json`.
    pub results: Value,
    /// `test.json` (options and wall time), `Null` when absent.
    pub test: Value,
}

/// How to run the harness.
#[derive(Debug, Clone)]
pub struct Runner {
    /// The `gossip-harness` binary.
    pub harness: PathBuf,
    /// Where run stores go.
    pub scratch: PathBuf,
}

impl Runner {
    /// Runs `gossip-harness test FLAGS --seed SEED --store DIR -- NODE_ARGS` and reads what
    /// it wrote.
    pub fn run(&self, flags: &[String], node_args: &[String], seed: u64) -> Result<Run, RunError> {
        let store = self.scratch.join(format!("seed-{seed}"));
        let _ = std::fs::remove_dir_all(&store);
        let output = Command::new(&self.harness)
            .arg("test")
            .args(flags)
            .arg("--seed")
            .arg(seed.to_string())
            .arg("--store")
            .arg(&store)
            .arg("--")
            .args(node_args)
            .output()
            .map_err(|source| RunError::Spawn {
                harness: self.harness.clone(),
                source,
            })?;
        if !matches!(output.status.code(), Some(0..=2)) {
            let tail: String = String::from_utf8_lossy(&output.stderr)
                .lines()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
                .join(" | ");
            return Err(RunError::Exit {
                status: output.status,
                tail,
            });
        }
        let results = newest_results(&store).ok_or_else(|| RunError::NoResults(store.clone()))?;
        let test = results.with_file_name("test.json");
        Ok(Run {
            results: read_json(&results)?,
            test: if test.exists() {
                read_json(&test)?
            } else {
                Value::Null
            },
        })
    }
}

fn read_json(path: &Path) -> Result<Value, RunError> {
    let text = std::fs::read_to_string(path).map_err(|e| RunError::Read {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    serde_json::from_str(&text).map_err(|e| RunError::Read {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

/// The figures in a `results.json`.
pub fn parse(json: &Value) -> Result<Measurement, RunError> {
    let number = |v: &Value, what: &'static str| v.as_f64().ok_or(RunError::Missing(what));
    let latencies = &json["workload"]["stable-latencies"];
    Ok(Measurement {
        msgs_per_op: number(
            &json["net"]["servers"]["msgs-per-op"],
            "net.servers.msgs-per-op",
        )?,
        median: number(&latencies["0.5"], "stable-latencies 0.5")?,
        p95: latencies["0.95"].as_f64(),
        p99: latencies["0.99"].as_f64(),
        max: number(&latencies["1"], "stable-latencies 1")?,
        valid: json["valid?"] == Value::Bool(true),
        lost: json["workload"]["lost-count"].as_u64(),
        cpu_ms_per_1000_ops: json["node-cpu"]["ms-per-1000-ops"].as_f64(),
    })
}

/// The most recent `results.json` below `dir`.
fn newest_results(dir: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).ok()?.flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == "results.json") {
                found.push(path);
            }
        }
    }
    found.sort();
    found.pop()
}

/// The median of `xs` (the mean of the middle two for an even count).
pub fn median(xs: &mut [f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// The mean of `xs`.
pub fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.iter().sum::<f64>() / xs.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_figures_maelstrom_names() {
        let json: Value = serde_json::from_str(
            r#"{"valid?":true,"net":{"servers":{"msgs-per-op":1.75}},
                "node-cpu":{"ms-per-1000-ops":441.5},
                "workload":{"lost-count":0,
                            "stable-latencies":{"0":0,"0.5":262,"0.95":290,"0.99":297,"1":299}}}"#,
        )
        .expect("valid JSON");
        let m = parse(&json).expect("every figure present");
        assert_eq!(
            m,
            Measurement {
                msgs_per_op: 1.75,
                median: 262.0,
                p95: Some(290.0),
                p99: Some(297.0),
                max: 299.0,
                valid: true,
                lost: Some(0),
                cpu_ms_per_1000_ops: Some(441.5),
            }
        );
        assert!(matches!(
            parse(&serde_json::json!({"valid?": true})),
            Err(RunError::Missing("net.servers.msgs-per-op"))
        ));
    }

    #[test]
    fn median_and_mean() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&mut []).is_nan());
        assert_eq!(mean(&[1.0, 2.0, 6.0]), 3.0);
        assert!(mean(&[]).is_nan());
    }
}
