//! Simulation mode (`--sim`) through the binary and the library: determinism (byte-identical
//! `results.json` for the same flags and seed, and the printed replay command reproduces the
//! run), every workload passing under faults, and the fault flags doing what they say.

use std::path::{Path, PathBuf};
use std::process::Command;

use gossip_harness::checker::Validity;
use gossip_harness::driver::drive;
use gossip_harness::engine::Engine;
use gossip_harness::history::Process;
use gossip_harness::nemesis::FaultKind;
use gossip_harness::options::{TestOptions, WorkloadKind};
use gossip_harness::results::analyze;
use gossip_harness::run::sim_config;
use gossip_harness::sim::SimHost;
use serde_json::Value;

struct Store(PathBuf);

impl Drop for Store {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn store(name: &str) -> Store {
    let p = std::env::temp_dir().join(format!("gossip-harness-sim-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    Store(p)
}

/// Run the binary; returns (exit status, stdout).
fn harness(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gossip-harness"))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the harness: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let code = out.status.code().unwrap_or(-1);
    if code != 0 {
        eprintln!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    }
    (code, stdout)
}

fn file(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

#[test]
fn same_flags_and_seed_give_byte_identical_results() {
    let (a, b) = (store("det-a"), store("det-b"));
    let flags = [
        "test",
        "--sim",
        "-w",
        "broadcast",
        "--node-count",
        "7",
        "--time-limit",
        "6",
        "--rate",
        "40",
        "--latency",
        "30",
        "--latency-dist",
        "exponential",
        "--nemesis",
        "partition,pause,slow",
        "--nemesis-interval",
        "1.5",
        "--p-loss",
        "0.05",
        "--p-dup",
        "0.05",
        "--reorder",
        "20",
        "--recovery",
        "3",
        "--seed",
        "4242",
    ];
    let run = |s: &Store| {
        let mut args: Vec<&str> = flags.to_vec();
        let root = s.0.to_string_lossy().into_owned();
        args.extend(["--store", &root]);
        let (code, stdout) = harness(&args);
        assert_eq!(code, 0, "{stdout}");
        (stdout, s.0.join("latest"))
    };
    let (out_a, dir_a) = run(&a);
    let (_, dir_b) = run(&b);
    let results = file(&dir_a, "results.json");
    assert_eq!(
        results,
        file(&dir_b, "results.json"),
        "results.json differs"
    );
    assert_eq!(file(&dir_a, "history.jsonl"), file(&dir_b, "history.jsonl"));
    let r: Value = serde_json::from_str(&results).unwrap_or(Value::Null);
    assert_eq!(r["valid?"], Value::Bool(true));
    assert!(r["net"]["servers"]["msg-count"].as_u64().unwrap_or(0) > 100);
    // The run prints its seed and a replay command at the start and the end; replaying it
    // (into another store) gives the same results again.
    let replay = out_a
        .lines()
        .filter_map(|l| l.strip_prefix("Seed 4242 (replay: "))
        .map(|l| l.trim_end_matches(')').to_owned())
        .collect::<Vec<_>>();
    assert_eq!(replay.len(), 2, "{out_a}");
    assert!(
        replay[0].contains("--seed 4242") && replay[0].contains("--sim"),
        "{}",
        replay[0]
    );
    let c = store("det-c");
    let root_a = a.0.to_string_lossy().into_owned();
    let root_c = c.0.to_string_lossy().into_owned();
    let mut words: Vec<String> = replay[0]
        .split_whitespace()
        .skip(1)
        .map(|w| {
            if w == root_a {
                root_c.clone()
            } else {
                w.to_owned()
            }
        })
        .collect();
    assert!(words.contains(&root_c), "{words:?}");
    words.retain(|w| !w.is_empty());
    let args: Vec<&str> = words.iter().map(String::as_str).collect();
    let (code, _) = harness(&args);
    assert_eq!(code, 0);
    assert_eq!(file(&c.0.join("latest"), "results.json"), results);
    // Another seed, another run.
    let d = store("det-d");
    let mut args: Vec<&str> = flags.to_vec();
    let root_d = d.0.to_string_lossy().into_owned();
    *args.last_mut().unwrap_or(&mut "") = "4243";
    args.extend(["--store", &root_d]);
    harness(&args);
    assert_ne!(
        file(&d.0.join("latest"), "history.jsonl"),
        file(&dir_a, "history.jsonl")
    );
}

fn sim_run(opts: TestOptions) -> (Value, gossip_harness::engine::RunRecord) {
    let mut host = SimHost::new(sim_config(&opts, None));
    let (record, interrupted) = drive(Engine::new(opts), &mut host, &mut |_, _| {});
    assert!(!interrupted);
    (analyze(&record), record)
}

fn small(workload: WorkloadKind, seed: u64) -> TestOptions {
    let mut o = TestOptions::defaults(workload);
    o.nodes = gossip_harness::options::default_nodes(Some(5));
    o.concurrency = 5;
    o.time_limit = std::time::Duration::from_secs(15);
    o.rate = 30.0;
    o.latency_ms = 20;
    // Maelstrom's 10 s: repairs under 10% loss can take several retransmission rounds.
    o.recovery = std::time::Duration::from_secs(10);
    o.sim = true;
    o.seed = seed;
    o
}

/// Everything a run produced that threads could disturb: results, history, network journal,
/// and every node's log.
fn fingerprint(opts: TestOptions, threads: usize) -> (Validity, String) {
    let mut config = sim_config(&opts, None);
    config.threads = threads;
    let names = opts.nodes.clone();
    let mut host = SimHost::new(config);
    let (record, interrupted) = drive(Engine::new(opts), &mut host, &mut |_, _| {});
    assert!(!interrupted);
    let logs: Vec<Vec<String>> = (0..names.len())
        .map(|i| host.log_lines(gossip_harness::ids::NodeIndex(i)))
        .collect();
    let results = analyze(&record);
    let all = format!(
        "{results}\n{:?}\n{:?}\n{logs:?}\n{:?}",
        record.history.ops(),
        record.journal.events(),
        host.stats()
    );
    (Validity::of(&results), all)
}

#[test]
fn the_number_of_threads_changes_nothing() {
    for (workload, seed) in [(WorkloadKind::Broadcast, 1), (WorkloadKind::PnCounter, 2)] {
        let mut o = small(workload, seed);
        o.nodes = gossip_harness::options::default_nodes(Some(12));
        o.concurrency = 6;
        o.time_limit = std::time::Duration::from_secs(8);
        o.rate = 60.0;
        o.latency_ms = 0;
        o.nemesis = vec![FaultKind::Partition, FaultKind::Pause, FaultKind::Kill];
        o.nemesis_interval = std::time::Duration::from_secs(1);
        o.p_dup = 0.05;
        let one = fingerprint(o.clone(), 1);
        assert_eq!(one.0, Validity::Valid, "{workload} seed {seed}");
        for threads in [2, 4] {
            assert!(
                fingerprint(o.clone(), threads) == one,
                "{workload} seed {seed}: {threads} threads give a different run than one"
            );
        }
    }
}

#[test]
fn every_workload_passes_in_simulation_under_network_faults() {
    for workload in WorkloadKind::ALL {
        for seed in 0..5 {
            let mut o = small(workload, seed);
            if workload != WorkloadKind::Echo {
                // Echo's checker counts a timed-out echo as a mismatch, as Maelstrom's does.
                o.nemesis = vec![FaultKind::Partition, FaultKind::Pause, FaultKind::Slow];
                o.nemesis_interval = std::time::Duration::from_secs(2);
                o.p_loss = 0.1;
                o.p_dup = 0.1;
                o.reorder_ms = 40;
            }
            let (results, record) = sim_run(o);
            assert_eq!(
                Validity::of(&results),
                Validity::Valid,
                "{workload} seed {seed}: {}",
                gossip_harness::scenario::describe_failure(&results)
            );
            let nemesis_ops = record
                .history
                .ops()
                .iter()
                .filter(|op| op.process == Process::NEMESIS)
                .count();
            if workload != WorkloadKind::Echo {
                assert!(
                    nemesis_ops >= 4,
                    "{workload} seed {seed}: {nemesis_ops} nemesis ops"
                );
            }
        }
    }
}

#[test]
fn kill_nemesis_restarts_nodes_that_rejoin_with_new_incarnations() {
    let mut o = small(WorkloadKind::GSet, 9);
    o.nemesis = vec![FaultKind::Kill];
    o.nemesis_interval = std::time::Duration::from_secs(2);
    let (results, record) = sim_run(o);
    // Not a crash: killed nodes are expected to go, and restarted ones answer init again.
    assert!(results.get("crash").is_none(), "{results:#}");
    let fs: Vec<&str> = record
        .history
        .ops()
        .iter()
        .filter(|op| op.process == Process::NEMESIS)
        .map(|op| op.f.as_str())
        .collect();
    assert!(fs.contains(&"kill") && fs.contains(&"start"), "{fs:?}");
    // The final phase restarts everyone; the final reads (g-set's carry no final? flag) all
    // succeed.
    let ops = record.history.ops();
    let finals = &ops[ops.len() - 5..];
    assert!(
        finals
            .iter()
            .all(|op| op.f == "read" && op.kind == gossip_harness::history::OpType::Ok),
        "{finals:?}"
    );
}

#[test]
fn loss_and_duplication_flags_act_on_node_to_node_messages_only() {
    // Every node-to-node message lost: servers never receive anything, clients do.
    let mut o = small(WorkloadKind::Broadcast, 1);
    o.p_loss = 1.0;
    let (results, _) = sim_run(o);
    let net = &results["net"];
    assert_eq!(net["servers"]["recv-count"], 0, "{net}");
    assert!(net["servers"]["send-count"].as_u64().unwrap_or(0) > 0);
    assert_eq!(net["clients"]["send-count"], net["clients"]["recv-count"]);
    // Nobody hears of anyone else's broadcasts.
    assert_eq!(Validity::of(&results["workload"]), Validity::Invalid);
    // Every node-to-node message delivered twice.
    let mut o = small(WorkloadKind::Broadcast, 1);
    o.p_dup = 1.0;
    let (results, _) = sim_run(o);
    let s = &results["net"]["servers"];
    assert_eq!(
        s["recv-count"].as_u64(),
        s["send-count"].as_u64().map(|n| 2 * n),
        "{s}"
    );
    assert_eq!(Validity::of(&results), Validity::Valid);
    // Without fault flags the engine draws exactly what it drew before faults existed: the
    // same seed gives the same history with and without `sim` (the flag only picks the host).
    let (a, _) = sim_run(small(WorkloadKind::Broadcast, 3));
    let mut o = small(WorkloadKind::Broadcast, 3);
    o.p_loss = 0.0;
    let (b, _) = sim_run(o);
    assert_eq!(a, b);
}

#[test]
fn simulated_faults_appear_in_the_store() {
    let s = store("faults");
    let root = s.0.to_string_lossy().into_owned();
    let (code, stdout) = harness(&[
        "test",
        "--sim",
        "-w",
        "pn-counter",
        "--node-count",
        "3",
        "--time-limit",
        "8",
        "--rate",
        "20",
        "--nemesis",
        "pause,slow",
        "--nemesis-interval",
        "1",
        "--seed",
        "2",
        "--store",
        &root,
    ]);
    assert_eq!(code, 0, "{stdout}");
    let dir = s.0.join("latest");
    let history = file(&dir, "history.txt");
    for f in [":pause", ":resume", ":slow", ":fast"] {
        assert!(history.contains(f), "no {f} in history.txt");
    }
    let log = file(&dir.join("node-logs"), "n0.log");
    assert!(log.contains("INFO initialised node=n0"), "{log}");
    let test: Value = serde_json::from_str(&file(&dir, "test.json")).unwrap_or(Value::Null);
    assert_eq!(test["options"]["sim"], Value::Bool(true));
    assert_eq!(
        test["options"]["nemesis"],
        serde_json::json!(["pause", "slow"])
    );
}
