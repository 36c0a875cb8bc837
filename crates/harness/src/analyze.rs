//! `gossip-harness analyze`: re-check a stored run from its files, as Maelstrom's `analyze`
//! does, e.g. after a checker changed.
//!
//! The history checkers run again on `history.jsonl`, with the workload and `--availability`
//! read from `test.json`. Network statistics and protocol reports need the journal and the
//! nodes' output, which are not stored, so they are carried over from the old `results.json`,
//! as are a scenario's convergence checks and the nodes' CPU time.
//! The new results are printed and written back to `results.json`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::checker::Validity;
use crate::console::{self, EXIT_CRASH};
use crate::history::{History, Op};
use crate::options::{Availability, TestOptions};
use crate::results::analyze_history;

/// Why a stored run could not be re-checked.
#[derive(Debug)]
pub enum AnalyzeError {
    /// A file could not be read or written.
    Io(PathBuf, std::io::Error),
    /// A file is not what the harness writes.
    Format(PathBuf, String),
}

impl std::fmt::Display for AnalyzeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AnalyzeError::Io(p, e) => write!(f, "{}: {e}", p.display()),
            AnalyzeError::Format(p, e) => write!(f, "{}: {e}", p.display()),
        }
    }
}

impl std::error::Error for AnalyzeError {}

fn read_json(path: &Path) -> Result<Value, AnalyzeError> {
    let text = std::fs::read_to_string(path).map_err(|e| AnalyzeError::Io(path.to_owned(), e))?;
    serde_json::from_str(&text).map_err(|e| AnalyzeError::Format(path.to_owned(), e.to_string()))
}

/// Re-check the run in `dir`; returns the new results.
pub fn reanalyze(dir: &Path) -> Result<Value, AnalyzeError> {
    let test_path = dir.join("test.json");
    let test = read_json(&test_path)?;
    let options = &test["options"];
    let workload = options["workload"]
        .as_str()
        .and_then(|w| w.parse().ok())
        .ok_or_else(|| {
            AnalyzeError::Format(test_path.clone(), "no known options.workload".into())
        })?;
    let mut opts = TestOptions::defaults(workload);
    opts.strict = options["strict"].as_bool().unwrap_or(false);
    opts.availability = match &options["availability"] {
        Value::String(s) if s == "total" => Some(Availability::Total),
        Value::Object(m) => m
            .get("fraction")
            .and_then(Value::as_f64)
            .map(Availability::Fraction),
        _ => None,
    };
    let hist_path = dir.join("history.jsonl");
    let text =
        std::fs::read_to_string(&hist_path).map_err(|e| AnalyzeError::Io(hist_path.clone(), e))?;
    let mut ops = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let op: Op = serde_json::from_str(line)
            .map_err(|e| AnalyzeError::Format(hist_path.clone(), format!("line {}: {e}", i + 1)))?;
        ops.push(op);
    }
    let history = History::from_ops(ops);
    let results_path = dir.join("results.json");
    let old = read_json(&results_path).unwrap_or(Value::Null);
    if old.get("crash").is_some() {
        return Ok(old);
    }
    let mut results = analyze_history(&opts, &history, old["net"].clone(), old["protocol"].clone());
    // A scenario's convergence checks are not in the history either: carried over too.
    if let (Some(scenario), Some(m)) = (old.get("scenario"), results.as_object_mut()) {
        m.insert("scenario".into(), scenario.clone());
        m.remove("valid?");
        let valid = Validity::merge_all(m.values().map(Validity::of));
        m.insert("valid?".into(), valid.to_json());
    }
    // A measurement of the run, not of the history.
    if let (Some(cpu), Some(m)) = (old.get("node-cpu"), results.as_object_mut()) {
        m.insert("node-cpu".into(), cpu.clone());
    }
    let pretty = serde_json::to_string_pretty(&results).unwrap_or_default() + "\n";
    std::fs::write(&results_path, pretty).map_err(|e| AnalyzeError::Io(results_path, e))?;
    Ok(results)
}

/// The `analyze` subcommand: prints the summary and the banner, returns the exit status.
pub fn run(dir: &Path) -> i32 {
    match reanalyze(dir) {
        Ok(results) => {
            let name = read_json(&dir.join("test.json"))
                .ok()
                .and_then(|t| t["name"].as_str().map(str::to_owned));
            print!(
                "{}",
                console::summary(&results, name.as_deref().unwrap_or("?"))
            );
            println!();
            if let Some(c) = results.get("crash") {
                println!(
                    "{}\n{}",
                    console::CRASH_BANNER,
                    c["reason"].as_str().unwrap_or_default()
                );
                return EXIT_CRASH;
            }
            let (banner, code) = console::verdict(Validity::of(&results));
            println!("{banner}");
            code
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_CRASH
        }
    }
}
