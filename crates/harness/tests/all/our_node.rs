//! End to end with the project's own node: `gossip-harness test` without `--bin` runs
//! `gossip-node` (linked into the harness) as real processes, and every workload must come
//! out valid, including broadcast and g-set under partitions and the 25-node, 100 ms
//! configuration. Runs are short (a few seconds of test time each).

use crate::common;

use serde_json::Value;

/// Runs the harness with `flags` (whitespace-separated) and asserts a valid verdict.
fn assert_valid(name: &str, flags: &str) -> Value {
    let args: Vec<&str> = flags.split_whitespace().collect();
    let mut v = common::harness("gossip-our-node", name, &args);
    assert_eq!(
        v.code, 0,
        "{name}: the harness judged our node invalid or crashed"
    );
    assert_eq!(v.results["valid?"], Value::Bool(true), "{name}");
    std::mem::take(&mut v.results)
}

#[test]
fn every_workload_passes_on_five_nodes() {
    for w in ["echo", "broadcast", "g-set", "g-counter", "pn-counter"] {
        let results = assert_valid(
            w,
            &format!("-w {w} --time-limit 4 --rate 20 --recovery 2 --seed 11"),
        );
        assert_eq!(results["stats"]["valid?"], Value::Bool(true), "{w}");
    }
}

#[test]
fn broadcast_and_g_set_survive_partitions() {
    for w in ["broadcast", "g-set"] {
        let results = assert_valid(
            &format!("{w}-partition"),
            &format!(
                "-w {w} --time-limit 8 --rate 20 --recovery 6 --nemesis partition --nemesis-interval 2 --seed 12"
            ),
        );
        assert_eq!(results["workload"]["lost-count"], 0, "{w}");
    }
}

#[test]
fn counters_survive_partitions() {
    for w in ["g-counter", "pn-counter"] {
        let results = assert_valid(
            &format!("{w}-partition"),
            &format!(
                "-w {w} --node-count 3 --time-limit 6 --rate 50 --recovery 6 --nemesis partition --nemesis-interval 2 --seed 13"
            ),
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
        "-w broadcast --node-count 25 --time-limit 5 --rate 100 --latency 100 --recovery 3 --seed 14",
    );
    assert_eq!(results["workload"]["lost-count"], 0);
    assert!(results["net"]["servers"]["msgs-per-op"].as_f64().is_some());
}

/// Maelstrom passes one command line to every node, so a `seed=` node argument reaches all
/// of them: it may steer choices, but every node must still name its writes under an id of
/// its own, or their writes collide and are lost.
#[test]
fn the_same_seed_on_every_node_loses_nothing() {
    let results = assert_valid(
        "broadcast-seed",
        "-w broadcast --node-count 5 --time-limit 4 --rate 20 --recovery 2 --seed 15 -- broadcast seed=5",
    );
    assert_eq!(results["workload"]["lost-count"], 0);
    assert!(results["workload"]["stable-count"].as_u64().unwrap_or(0) > 10);
}

#[test]
fn nodes_write_their_exit_summary_when_the_run_ends() {
    let run = common::harness(
        "gossip-our-node",
        "exit-summary",
        &[
            "-w",
            "g-set",
            "--node-count",
            "2",
            "--time-limit",
            "1",
            "--rate",
            "10",
            "--recovery",
            "0",
        ],
    );
    assert_eq!(run.code, 0);
    for node in ["n0", "n1"] {
        let log = std::fs::read_to_string(run.dir.join(format!("node-logs/{node}.log")))
            .unwrap_or_default();
        assert!(log.contains("; exiting"), "{node}: {log}");
        assert!(log.contains("replication:"), "{node}: {log}");
    }
}
