//! Running one point through `gossip-harness` and reading its `results.json`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The figures of one run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    /// `net.servers.msgs-per-op`.
    pub msgs_per_op: f64,
    /// `workload.stable-latencies` at 0.5, ms.
    pub median: f64,
    /// `workload.stable-latencies` at 1, ms.
    pub max: f64,
    /// The run's verdict was `true`.
    pub valid: bool,
}

/// How to run the harness.
#[derive(Debug, Clone)]
pub struct Runner {
    /// The `gossip-harness` binary.
    pub harness: PathBuf,
    /// Run in simulation (`--sim`) rather than with processes.
    pub sim: bool,
    /// Harness flags describing the configuration (workload, nodes, rate, ...).
    pub test_flags: Vec<String>,
    /// Where run stores go.
    pub scratch: PathBuf,
}

impl Runner {
    /// Runs the harness once with `node_args` and `seed`.
    pub fn run(&self, node_args: &[String], seed: u64) -> Result<Measurement, String> {
        let store = self.scratch.join(format!("seed-{seed}"));
        let _ = std::fs::remove_dir_all(&store);
        let mut cmd = Command::new(&self.harness);
        cmd.arg("test").args(&self.test_flags);
        if self.sim {
            cmd.arg("--sim");
        }
        cmd.arg("--seed")
            .arg(seed.to_string())
            .arg("--store")
            .arg(&store)
            .arg("--")
            .args(node_args);
        let output = cmd
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.harness.display()))?;
        if !matches!(output.status.code(), Some(0..=2)) {
            let tail: String = String::from_utf8_lossy(&output.stderr)
                .lines()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
                .join(" | ");
            return Err(format!("harness exited with {:?}: {tail}", output.status));
        }
        let results = newest_results(&store)
            .ok_or_else(|| format!("no results.json under {}", store.display()))?;
        let text = std::fs::read_to_string(&results).map_err(|e| e.to_string())?;
        let json: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        parse(&json)
    }
}

/// The figures in a `results.json`.
pub fn parse(json: &Value) -> Result<Measurement, String> {
    let number = |v: &Value, what: &str| {
        v.as_f64()
            .ok_or_else(|| format!("results.json lacks {what}"))
    };
    let latencies = &json["workload"]["stable-latencies"];
    Ok(Measurement {
        msgs_per_op: number(
            &json["net"]["servers"]["msgs-per-op"],
            "net.servers.msgs-per-op",
        )?,
        median: number(&latencies["0.5"], "stable-latencies 0.5")?,
        max: number(&latencies["1"], "stable-latencies 1")?,
        valid: json["valid?"] == Value::Bool(true),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_figures_maelstrom_names() {
        let json: Value = serde_json::from_str(
            r#"{"valid?":true,"net":{"servers":{"msgs-per-op":1.75}},
                "workload":{"stable-latencies":{"0":0,"0.5":262,"0.95":290,"0.99":297,"1":299}}}"#,
        )
        .expect("valid JSON");
        assert_eq!(
            parse(&json),
            Ok(Measurement {
                msgs_per_op: 1.75,
                median: 262.0,
                max: 299.0,
                valid: true
            })
        );
        assert!(parse(&serde_json::json!({"valid?": true})).is_err());
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&mut []).is_nan());
    }
}
