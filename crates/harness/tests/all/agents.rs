//! Real gossip-agent processes under the harness: three agents for about twenty seconds,
//! with a partition and a kill, in network namespaces where they can be made and on
//! loopback elsewhere. The run must be valid: every acknowledged add read by every agent.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// Builds gossip-agent with the cargo running this test and returns its path.
///
/// The build selects what `cargo test --workspace` selects, so it resolves the same features
/// and, run from that command, finds every unit already built. `cargo build -p gossip-agent`
/// would resolve the agent's features alone and rebuild it and its dependency tree.
fn agent_binary() -> PathBuf {
    let out = Command::new(env!("CARGO"))
        .args(["test", "--workspace", "--no-run", "--message-format=json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo test --workspace --no-run failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| {
            m["reason"] == "compiler-artifact"
                && m["target"]["name"] == "gossip-agent"
                && m["target"]["kind"][0] == "bin"
                && m["profile"]["test"] == false
        })
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo names the gossip-agent executable")
}

#[test]
fn three_agents_survive_a_partition_and_a_kill() {
    let agent = agent_binary();
    let store = std::env::temp_dir().join(format!("gossip-rig-test-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_gossip-harness"))
        .args([
            "agents",
            "-w",
            "g-set",
            "--node-count",
            "3",
            "--time-limit",
            "12",
            "--rate",
            "30",
            "--nemesis",
            "partition,kill",
            "--nemesis-interval",
            "2",
            "--recovery",
            "4",
            "--ack",
            "replicated",
            "--seed",
            "3",
        ])
        .arg("--agent-bin")
        .arg(&agent)
        .arg("--store")
        .arg(&store)
        .output()
        .expect("the harness runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mode = if stdout.contains("in namespaces mode") {
        "namespaces"
    } else {
        "loopback"
    };
    println!("agents ran in {mode} mode");
    let results: Value = std::fs::read_to_string(store.join("latest").join("results.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    let history =
        std::fs::read_to_string(store.join("latest").join("history.jsonl")).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&store);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(results["valid?"], Value::Bool(true), "{results}");
    assert_eq!(results["rig"]["mode"], Value::String(mode.into()));
    assert!(history.contains("\"start-partition\""), "no partition ran");
    assert!(history.contains("\"kill\""), "no kill ran");
    let acked = results["workload"]["every-agent"]["acknowledged-count"]
        .as_u64()
        .unwrap_or(0);
    assert!(acked > 50, "only {acked} adds acknowledged: {results}");
    assert_eq!(
        results["workload"]["every-agent"]["final-read-count"],
        Value::from(3)
    );
    assert!(results["net"]["bytes-per-op"].as_f64().unwrap_or(0.0) > 0.0);
}

/// The kernel's table of learnt neighbours is shared by every namespace and full past about
/// 1,024 entries; n agents need about n² of them. The rig pins every address instead, so a
/// namespace holds a permanent entry for the host and for every other agent.
#[test]
fn every_namespace_knows_its_neighbours_permanently() {
    use gossip_harness::agents::rig::{Rig, namespaces_available};
    if !namespaces_available() {
        eprintln!("namespaces cannot be made here: nothing to check");
        return;
    }
    let n = 4;
    let rig = Rig::namespaces(n).expect("the rig is made");
    let described = rig.describe();
    let namespaces: Vec<&str> = described["namespaces"]
        .as_array()
        .expect("namespaces are listed")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(namespaces.len(), n);
    for ns in namespaces {
        let out = Command::new("ip")
            .args(["-n", ns, "neigh", "show", "nud", "permanent"])
            .output()
            .expect("ip runs");
        let text = String::from_utf8_lossy(&out.stdout);
        let entries = text.lines().filter(|l| l.contains("PERMANENT")).count();
        assert_eq!(entries, n, "{ns}: the host and {} peers:\n{text}", n - 1);
    }
}
