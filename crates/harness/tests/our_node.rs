//! End to end with the project's own node: `gossip-harness test` without `--bin` runs
//! `gossip-node` (linked into the harness) as real processes, and every workload must come
//! out valid, including broadcast and g-set under partitions and the 25-node, 100 ms
//! configuration. Runs are short (a few seconds of test time each).

use std::process::Command;

use serde_json::Value;

struct Verdict {
    code: i32,
    results: Value,
}

fn run(name: &str, args: &[&str]) -> Verdict {
    let store = std::env::temp_dir().join(format!("gossip-our-node-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&store);
    let out = Command::new(env!("CARGO_BIN_EXE_gossip-harness"))
        .arg("test")
        .arg("--store")
        .arg(&store)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the harness: {e}"));
    let results = std::fs::read_to_string(store.join("latest").join("results.json"))
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(Value::Null);
    let code = out.status.code().unwrap_or(-1);
    if code != 0 {
        eprintln!(
            "--- {name}: exit {code}\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&store);
    Verdict { code, results }
}

fn assert_valid(name: &str, args: &[&str]) -> Value {
    let v = run(name, args);
    assert_eq!(
        v.code, 0,
        "{name}: the harness judged our node invalid or crashed"
    );
    assert_eq!(v.results["valid?"], Value::Bool(true), "{name}");
    v.results
}

#[test]
fn every_workload_passes_on_five_nodes() {
    for w in ["echo", "broadcast", "g-set", "g-counter", "pn-counter"] {
        let results = assert_valid(
            w,
            &[
                "-w",
                w,
                "--time-limit",
                "4",
                "--rate",
                "20",
                "--recovery",
                "2",
                "--seed",
                "11",
            ],
        );
        assert_eq!(results["stats"]["valid?"], Value::Bool(true), "{w}");
    }
}

#[test]
fn broadcast_and_g_set_survive_partitions() {
    for w in ["broadcast", "g-set"] {
        let results = assert_valid(
            &format!("{w}-partition"),
            &[
                "-w",
                w,
                "--time-limit",
                "8",
                "--rate",
                "20",
                "--recovery",
                "6",
                "--nemesis",
                "partition",
                "--nemesis-interval",
                "2",
                "--seed",
                "12",
            ],
        );
        assert_eq!(results["workload"]["lost-count"], 0, "{w}");
    }
}

#[test]
fn counters_survive_partitions() {
    for w in ["g-counter", "pn-counter"] {
        let results = assert_valid(
            &format!("{w}-partition"),
            &[
                "-w",
                w,
                "--node-count",
                "3",
                "--time-limit",
                "6",
                "--rate",
                "50",
                "--recovery",
                "6",
                "--nemesis",
                "partition",
                "--nemesis-interval",
                "2",
                "--seed",
                "13",
            ],
        );
        let reads = results["workload"]["final-reads"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(reads.len(), 3, "{w}: one final read per node");
    }
}

#[test]
fn twenty_five_nodes_with_latency() {
    let results = assert_valid(
        "broadcast-25",
        &[
            "-w",
            "broadcast",
            "--node-count",
            "25",
            "--time-limit",
            "5",
            "--rate",
            "100",
            "--latency",
            "100",
            "--recovery",
            "3",
            "--seed",
            "14",
        ],
    );
    assert_eq!(results["workload"]["lost-count"], 0);
    assert!(results["net"]["servers"]["msgs-per-op"].as_f64().is_some());
}
