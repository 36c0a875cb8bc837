//! What the end-to-end tests share: running `gossip-harness test` into a private store.
// Each test file that includes this module uses a part of it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// One harness run: its exit status, console, results and store (removed when dropped).
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub results: Value,
    /// The run's directory (`store/latest`).
    pub dir: PathBuf,
    /// The store the run was given (`--store`).
    pub store: PathBuf,
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.store);
    }
}

/// Runs `gossip-harness test ARGS` with a store named after the test (`suite`, `name`); prints
/// the console on stderr (shown when the test fails).
pub fn harness(suite: &str, name: &str, args: &[&str]) -> Run {
    harness_with(
        Command::new(env!("CARGO_BIN_EXE_gossip-harness")),
        suite,
        name,
        args,
    )
}

/// As [`harness`], with `command` standing for `gossip-harness` (the binary, or a wrapper
/// that runs it).
pub fn harness_with(mut command: Command, suite: &str, name: &str, args: &[&str]) -> Run {
    let store = std::env::temp_dir().join(format!("{suite}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&store);
    let out = command
        .arg("test")
        .arg("--store")
        .arg(&store)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the harness: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let dir = store.join("latest");
    let results = std::fs::read_to_string(dir.join("results.json"))
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(Value::Null);
    let code = out.status.code().unwrap_or(-1);
    eprintln!("--- {name}: exit {code}\n--- stdout\n{stdout}\n--- stderr\n{stderr}");
    Run {
        code,
        stdout,
        stderr,
        results,
        dir,
        store,
    }
}
