//! A node's stdout cannot grow the harness's memory without bound: a line that never ends
//! crashes the run naming the node, and a node that floods its stdout is held back (its reader
//! stops reading while the main loop catches up), with the garbage reported under `protocol`.
//!
//! The harness's peak memory is read from the kernel for that one run: a small wrapper
//! (`tests/tools/peak_rss.py`) runs the harness and writes what `wait4` says of it, so the
//! other tests' children in this process do not count.

use std::process::Command;

use crate::common::{self, Run};

const NODE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/nodes/test_node.py");
const PEAK_RSS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tools/peak_rss.py");

/// The most resident memory a limited harness may reach here, in KiB. The test nodes print
/// 256 MiB (one line) and 512 MiB (lines); a harness that buffers what it cannot use yet
/// goes far past this, one that holds back needs a few tens of MiB.
const MAX_RSS_KIB: i64 = 160 * 1024;

/// Runs the harness under the wrapper and returns the run with the harness's peak resident
/// set (its children, the nodes, are smaller), in KiB.
fn harness(name: &str, args: &[&str]) -> (Run, i64) {
    let rss_file =
        std::env::temp_dir().join(format!("gossip-harness-rss-{}-{name}", std::process::id()));
    let mut wrapper = Command::new("python3");
    wrapper
        .arg(PEAK_RSS)
        .arg(&rss_file)
        .arg(env!("CARGO_BIN_EXE_gossip-harness"));
    let run = common::harness_with(wrapper, "gossip-harness-limits", name, args);
    let text = std::fs::read_to_string(&rss_file)
        .unwrap_or_else(|e| panic!("no peak from the wrapper ({e}): {}", run.stderr));
    let _ = std::fs::remove_file(&rss_file);
    let peak = text
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("peak {text:?}: {e}"));
    (run, peak)
}

/// One echo node started with the misbehaviour `mode` of the test node, for two seconds.
fn run_misbehaving(name: &str, mode: &str) -> (Run, i64) {
    harness(
        name,
        &[
            "-w",
            "echo",
            "--bin",
            NODE,
            "--node-count",
            "1",
            "--rate",
            "0",
            "--time-limit",
            "2",
            "--recovery",
            "0",
            "--",
            "echo",
            mode,
        ],
    )
}

#[test]
fn an_endless_line_crashes_the_run_naming_the_node() {
    let (r, peak) = run_misbehaving("endless-line", "--endless-line");
    assert_eq!(r.code, 255);
    assert!(
        r.stdout
            .contains("Node n0 wrote a line longer than 4 MiB on stdout"),
        "{}",
        r.stdout
    );
    assert_eq!(r.results["crash"]["node"], "n0");
    assert!(peak < MAX_RSS_KIB, "peak resident set {peak} KiB");
}

#[test]
fn a_flooding_node_is_held_back_and_its_garbage_reported() {
    let (r, peak) = run_misbehaving("flood", "--flood");
    assert_eq!(r.code, 1, "{}", r.stdout);
    let n0 = &r.results["protocol"]["nodes"]["n0"];
    // The flood was read (lines reached the checker), and only a handful were logged.
    assert!(n0["not-json-count"].as_u64().unwrap_or(0) > 1000, "{n0}");
    assert!(
        r.stderr
            .contains("further bad lines are dropped and counted")
    );
    assert!(
        r.stderr.lines().count() < 100,
        "{} lines",
        r.stderr.lines().count()
    );
    assert!(peak < MAX_RSS_KIB, "peak resident set {peak} KiB");
}
