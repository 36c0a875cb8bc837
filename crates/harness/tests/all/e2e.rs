//! End-to-end tests of the `gossip-harness` binary with small Python test nodes
//! (`tests/nodes/test_node.py`): correct nodes pass every workload, and each negative control
//! (lost writes, an extra response key, a crash, garbage on stdout, no init) gets the verdict
//! and exit status Maelstrom would give, with the guilty node named.
//!
//! Runs are kept short (`--time-limit` 2–3 s, `--recovery` 1–2 s); the two init-timeout tests
//! take Maelstrom's fixed 10 s.

use crate::common;

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use common::Run;

const NODE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/nodes/test_node.py");

fn harness(name: &str, args: &[&str]) -> Run {
    common::harness("gossip-harness-e2e", name, args)
}

/// One echo node of our node binary, started with `flag`, for a second.
fn one_echo_node(name: &str, flag: &str) -> Run {
    harness(
        name,
        &[
            "-w",
            "echo",
            "--bin",
            NODE,
            "--node-count",
            "1",
            "--time-limit",
            "1",
            "--",
            "echo",
            flag,
        ],
    )
}

fn file(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
}

const VALID: &str = "Everything looks good! ヽ(‘ー`)ノ";
const INVALID: &str = "Analysis invalid! (ﾉಥ益ಥ）ﾉ ┻━┻";

#[test]
fn broadcast_passes_and_fills_the_store() {
    let r = harness(
        "broadcast",
        &[
            "-w",
            "broadcast",
            "--bin",
            NODE,
            "--time-limit",
            "3",
            "--rate",
            "20",
            "--recovery",
            "1",
        ],
    );
    assert_eq!(r.code, 0);
    assert!(r.stdout.trim_end().ends_with(VALID));
    assert_eq!(r.results["valid?"], Value::Bool(true));
    let w = &r.results["workload"];
    assert_eq!(w["lost-count"], 0);
    assert!(w["stable-count"].as_u64().unwrap_or(0) > 0);
    assert!(w["stable-latencies"]["0.5"].is_u64());
    let net = &r.results["net"];
    assert!(net["servers"]["msgs-per-op"].is_f64());
    assert!(net["all"]["msgs-per-op"].is_f64());
    assert!(net["clients"].get("msgs-per-op").is_none());
    // op-count includes the final reads: invocations = net msg-count / msgs-per-op.
    let history = file(&r.dir, "history.jsonl");
    let invokes = history
        .lines()
        .filter(|l| l.contains(r#""type":"invoke""#))
        .count() as f64;
    let mpo = net["all"]["msg-count"].as_f64().unwrap_or(0.0) / invokes;
    assert!((mpo - net["all"]["msgs-per-op"].as_f64().unwrap_or(-1.0)).abs() < 1e-9);
    assert_eq!(
        history
            .lines()
            .filter(|l| l.contains(r#""final?":true"#))
            .count(),
        10,
        "5 final read invocations + completions"
    );
    for f in [
        "results.json",
        "test.json",
        "history.txt",
        "latency-raw.svg",
        "latency-quantiles.svg",
        "rate.svg",
        "messages.svg",
        "report.html",
    ] {
        assert!(!file(&r.dir, f).is_empty(), "{f} missing");
    }
    for n in 1..=5 {
        assert!(r.dir.join(format!("node-logs/n{n}.log")).exists());
    }
    assert!(file(&r.dir, "report.html").contains("<svg"));
    assert!(file(&r.dir, "messages.svg").contains("topology"));
    // Re-checking the stored history gives the same results.
    let out = Command::new(env!("CARGO_BIN_EXE_gossip-harness"))
        .arg("analyze")
        .arg("-t")
        .arg(&r.dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run analyze: {e}"));
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .trim_end()
            .ends_with(VALID)
    );
    let again: Value = serde_json::from_str(&file(&r.dir, "results.json")).unwrap_or(Value::Null);
    assert_eq!(again, r.results);
}

#[test]
fn broadcast_survives_partitions_with_latency() {
    let r = harness(
        "broadcast-partition",
        &[
            "-w",
            "broadcast",
            "--bin",
            NODE,
            "--time-limit",
            "4",
            "--rate",
            "20",
            "--recovery",
            "2",
            "--nemesis",
            "partition",
            "--nemesis-interval",
            "1",
            "--latency",
            "10",
            "--latency-dist",
            "uniform",
            "--seed",
            "5",
        ],
    );
    assert_eq!(r.code, 0);
    assert_eq!(r.results["workload"]["lost-count"], 0);
    let history = file(&r.dir, "history.jsonl");
    assert!(history.contains(r#""f":"start-partition""#));
    assert!(history.contains(r#""value":"network-healed""#));
    assert!(history.contains(r#""process":"nemesis""#));
}

#[test]
fn g_set_passes_with_partitions() {
    let r = harness(
        "g-set",
        &[
            "-w",
            "g-set",
            "--bin",
            NODE,
            "--node-count",
            "3",
            "--time-limit",
            "3",
            "--rate",
            "20",
            "--recovery",
            "2",
            "--nemesis",
            "partition",
            "--nemesis-interval",
            "1",
            "--",
            "g-set",
        ],
    );
    assert_eq!(r.code, 0);
    assert_eq!(r.results["workload"]["valid?"], true);
}

#[test]
fn counters_pass() {
    for (w, mode) in [
        ("g-counter", "counter"),
        ("pn-counter", "counter"),
        ("g-counter", "seqkv-counter"),
    ] {
        let r = harness(
            &format!("{w}-{mode}"),
            &[
                "-w",
                w,
                "--bin",
                NODE,
                "--node-count",
                "3",
                "--time-limit",
                "2",
                "--rate",
                "30",
                "--recovery",
                "1",
                "--",
                mode,
            ],
        );
        assert_eq!(r.code, 0, "{w} {mode}");
        let finals = r.results["workload"]["final-reads"]
            .as_array()
            .map_or(0, Vec::len);
        assert_eq!(finals, 3, "{w} {mode}: one final read per worker");
    }
}

#[test]
fn echo_passes() {
    let r = harness(
        "echo",
        &[
            "-w",
            "echo",
            "--bin",
            NODE,
            "--node-count",
            "1",
            "--time-limit",
            "2",
            "--rate",
            "20",
        ],
    );
    assert_eq!(r.code, 0);
    assert_eq!(r.results["workload"]["errors"], serde_json::json!([]));
    assert!(
        r.results["stats"]["by-f"]["echo"]["ok-count"]
            .as_u64()
            .unwrap_or(0)
            > 10
    );
}

#[test]
fn lost_broadcasts_are_invalid() {
    let r = harness(
        "no-gossip",
        &[
            "-w",
            "broadcast",
            "--bin",
            NODE,
            "--time-limit",
            "3",
            "--rate",
            "20",
            "--recovery",
            "1",
            "--",
            "broadcast",
            "--no-gossip",
        ],
    );
    assert_eq!(r.code, 1);
    assert!(r.stdout.trim_end().ends_with(INVALID));
    assert_eq!(r.results["valid?"], false);
    assert!(r.results["workload"]["lost-count"].as_u64().unwrap_or(0) > 0);
}

#[test]
fn an_extra_response_key_invalidates_stats() {
    let r = harness(
        "extra-key",
        &[
            "-w",
            "broadcast",
            "--bin",
            NODE,
            "--time-limit",
            "2",
            "--rate",
            "20",
            "--recovery",
            "1",
            "--",
            "broadcast",
            "--extra-key",
        ],
    );
    assert_eq!(r.code, 1);
    assert_eq!(r.results["stats"]["valid?"], false);
    assert_eq!(r.results["stats"]["by-f"]["read"]["ok-count"], 0);
    assert_eq!(
        r.results["exceptions"]["exceptions"][0]["class"],
        "malformed-rpc-response"
    );
}

#[test]
fn a_crashing_node_is_named_with_its_stderr() {
    let r = harness(
        "crash",
        &[
            "-w",
            "broadcast",
            "--bin",
            NODE,
            "--time-limit",
            "3",
            "--rate",
            "10",
            "--recovery",
            "1",
            "--",
            "broadcast",
            "--crash",
            "n2",
        ],
    );
    assert_eq!(r.code, 255);
    assert!(
        r.stdout.contains("Node n2 crashed with exit status 3"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("fatal: simulated crash of n2"));
    assert!(r.stdout.contains("Oh jeez, I'm sorry, Jepsen broke."));
    assert_eq!(r.results["crash"]["node"], "n2");
}

#[test]
fn garbage_on_stdout_is_reported_and_invalid() {
    let r = harness(
        "garbage",
        &[
            "-w",
            "g-set",
            "--bin",
            NODE,
            "--node-count",
            "2",
            "--time-limit",
            "2",
            "--rate",
            "20",
            "--recovery",
            "1",
            "--",
            "g-set",
            "--garbage-mid-run",
        ],
    );
    assert_eq!(r.code, 1);
    assert_eq!(r.results["protocol"]["valid?"], false);
    assert!(r.stdout.contains("not well-formed JSON"), "{}", r.stdout);
    assert!(r.stdout.contains("node n0") || r.stdout.contains("node n1"));
}

#[test]
fn a_message_to_an_unknown_node_is_reported_and_invalid() {
    let r = harness(
        "bad-dest",
        &[
            "-w",
            "g-set",
            "--bin",
            NODE,
            "--node-count",
            "2",
            "--time-limit",
            "2",
            "--rate",
            "20",
            "--recovery",
            "1",
            "--",
            "g-set",
            "--bad-dest",
        ],
    );
    assert_eq!(r.code, 1);
    let nodes = r.results["protocol"]["nodes"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    assert!(!nodes.is_empty());
    assert!(nodes.values().all(|p| p["unknown-endpoint-count"] == 1));
    assert!(
        r.stdout.contains(r#"dest "n99", which is not a node"#),
        "{}",
        r.stdout
    );
}

#[test]
fn strict_mode_cuts_off_stdout_like_maelstrom() {
    let r = harness(
        "strict",
        &[
            "-w",
            "g-set",
            "--bin",
            NODE,
            "--node-count",
            "2",
            "--time-limit",
            "2",
            "--rate",
            "20",
            "--recovery",
            "1",
            "--strict",
            "--",
            "g-set",
            "--garbage-mid-run",
        ],
    );
    // Maelstrom semantics: the protocol report does not invalidate, but the node went silent,
    // so its later requests time out.
    assert_eq!(r.results["protocol"]["valid?"], true);
    let nodes = r.results["protocol"]["nodes"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    assert!(
        nodes.values().any(|p| p["stdout-dead"] == true),
        "{nodes:?}"
    );
    assert!(r.results["stats"]["info-count"].as_u64().unwrap_or(0) > 0);
}

#[test]
fn no_init_reply_crashes_with_the_node_named() {
    let r = one_echo_node("no-init", "--no-init");
    assert_eq!(r.code, 255);
    assert!(
        r.stdout.contains("Node n0 did not answer init within 10 s"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("not answering init, as asked"));
}

#[test]
fn garbage_instead_of_init_crashes_with_the_reason() {
    let r = one_echo_node("garbage-init", "--garbage-init");
    assert_eq!(r.code, 255);
    assert!(
        r.stdout.contains("Node n0 did not answer init"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("not well-formed JSON"));
}

#[test]
fn a_node_that_echoes_its_input_is_told_so_not_looped() {
    let r = harness(
        "cat",
        &[
            "-w",
            "echo",
            "--bin",
            "/bin/cat",
            "--node-count",
            "1",
            "--time-limit",
            "1",
        ],
    );
    assert_eq!(r.code, 255);
    assert!(
        r.stdout.contains("Node n0 echoed our init back"),
        "{}",
        r.stdout
    );
    // The init went out once and came back once: nothing was routed round again.
    let sent = r.results["net"]["all"]["send-count"].as_u64();
    assert!(sent.is_some_and(|n| n <= 2), "{sent:?}");
}

/// Asserts that `r` is an argument error: exit 254 before anything started or was stored.
fn assert_bad_args(r: &Run, message: &str) {
    assert_eq!(r.code, 254);
    assert!(
        r.stderr.contains(message),
        "{message:?} not in {}",
        r.stderr
    );
    assert!(!r.stdout.contains("Jepsen broke"), "{}", r.stdout);
    assert!(!r.store.exists(), "a store was written");
}

#[test]
fn a_missing_or_unrunnable_binary_is_an_argument_error() {
    let not_executable = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/all/e2e.rs");
    let a_directory = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/nodes");
    for (name, bin, message) in [
        (
            "missing-bin",
            "/nonexistent/node",
            "--bin /nonexistent/node: No such file",
        ),
        (
            "bare-missing-bin",
            "no-such-node-program",
            "--bin no-such-node-program: No such file",
        ),
        (
            "not-executable-bin",
            not_executable,
            "e2e.rs: not executable",
        ),
        ("directory-bin", a_directory, "nodes: not a file"),
    ] {
        let r = harness(name, &["-w", "echo", "--bin", bin, "--time-limit", "1"]);
        assert_bad_args(&r, message);
    }
}

#[test]
fn bad_arguments_exit_254() {
    let r = harness("bad-args", &["-w", "lin-kv", "--bin", NODE]);
    assert_bad_args(&r, "lin-kv");
    let r = harness(
        "bad-nemesis",
        &["-w", "echo", "--bin", NODE, "--nemesis", "explode"],
    );
    assert_bad_args(&r, "explode");
}

#[test]
fn a_mistyped_flag_is_an_argument_error_not_a_node_argument() {
    for (name, args) in [
        ("typo-flag", &["--node-cout", "3"][..]),
        ("typo-after-word", &["echo", "--ratee", "3"]),
    ] {
        let mut all = vec!["-w", "echo", "--bin", NODE, "--time-limit", "1"];
        all.extend_from_slice(args);
        let r = harness(name, &all);
        assert_bad_args(&r, "unexpected argument");
    }
}

#[test]
fn the_trailing_workload_word_reaches_the_node() {
    // The test node reads its first argument as its mode: g-set answers reads with `value`,
    // so the run only passes if the word got through.
    let r = harness(
        "trailing-word",
        &[
            "-w",
            "g-set",
            "--bin",
            NODE,
            "--node-count",
            "2",
            "--time-limit",
            "1",
            "--rate",
            "10",
            "--recovery",
            "1",
            "--latency",
            "10",
            "g-set",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.results["workload"]["valid?"], true);
}
