//! The scenario suite (`scenarios/suite.scn`), every scenario swept over 100 seeds in
//! simulation, with our node. A failure prints the scenario, its seed, what failed and the
//! command that replays it (`gossip-harness scenario NAME --seed S`).

use gossip_harness::scenario::{self, SUITE};

/// Seeds per scenario.
const SEEDS: u64 = 100;

#[test]
fn every_scenario_passes_over_many_seeds() {
    let suite = scenario::parse(SUITE).unwrap_or_else(|e| panic!("the suite does not parse: {e}"));
    assert!(suite.len() >= 10, "{} scenarios", suite.len());
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let mut failures = Vec::new();
    let mut runs = 0;
    for sc in &suite {
        let sweep = scenario::sweep(sc, 0, SEEDS, threads, None);
        runs += sweep.runs;
        eprintln!(
            "{}: {} of {} seeds passed",
            sc.name,
            sweep.runs - sweep.failures.len() as u64,
            sweep.runs
        );
        failures.extend(sweep.failures);
    }
    assert_eq!(runs, SEEDS * suite.len() as u64);
    assert!(
        failures.is_empty(),
        "{} failed runs:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn a_failing_scenario_is_reported_with_its_seed_and_replay() {
    // A negative control: the workload cannot converge while the hub is cut off for good.
    let text = "
scenario never-heals
  about converged is checked while a partition is still on
  test -w broadcast --node-count 3 --rate 20 --latency 10 --recovery 1
  wait 1s
  isolate n0
  wait 1s
  converged within 1s
";
    let suite = scenario::parse(text).unwrap_or_else(|e| panic!("{e}"));
    let sweep = scenario::sweep(&suite[0], 5, 3, 1, Some("my.scn"));
    assert_eq!(sweep.failures.len(), 3, "{sweep:?}");
    let report = &sweep.failures[0];
    assert!(
        report.contains("scenario never-heals failed with seed 5"),
        "{report}"
    );
    assert!(
        report.contains("did not converge within 1000 ms"),
        "{report}"
    );
    assert!(
        report.contains("replay: gossip-harness scenario never-heals --seed 5 --file my.scn"),
        "{report}"
    );
    // The same seed gives the same run.
    let a = scenario::run_sim(&suite[0], 5).unwrap_or_else(|e| panic!("{e}"));
    let b = scenario::run_sim(&suite[0], 5).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.results, b.results);
    assert!(!a.passed());
}

#[test]
fn acknowledging_locally_loses_writes_that_replicated_acks_keep() {
    // The controls for the `*-replicated` scenarios: the same faults with the default
    // `ack=local` lose writes a killed node acknowledged before passing them on, on some seeds.
    let suite = scenario::parse(SUITE).unwrap_or_else(|e| panic!("{e}"));
    let replicated: Vec<_> = suite
        .iter()
        .filter(|s| s.flags.iter().any(|f| f == "ack=replicated"))
        .collect();
    assert_eq!(replicated.len(), 3, "the suite's ack=replicated scenarios");
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    for sc in replicated {
        let mut local = sc.clone();
        local.name = format!("{}-local", sc.name);
        let dash = local
            .flags
            .iter()
            .position(|f| f == "--")
            .expect("node args");
        local.flags.truncate(dash);
        let sweep = scenario::sweep(&local, 0, 100, threads, None);
        assert!(
            !sweep.failures.is_empty(),
            "{}: ack=local lost nothing over 100 seeds, so the scenario does not test ack=replicated",
            sc.name
        );
    }
}

#[test]
fn a_lying_disk_loses_writes_that_a_durable_disk_keeps() {
    // The controls for the suite's disk scenarios: the same crashes on a disk that reports
    // commits durable and never makes them so must lose acknowledged writes (or counts).
    let suite = scenario::parse(SUITE).unwrap_or_else(|e| panic!("{e}"));
    let on_disk: Vec<_> = suite
        .iter()
        .filter(|s| s.flags.iter().any(|f| f == "durable"))
        .collect();
    // Every workload the suite runs has a disk scenario that crashes every node at once.
    let workloads: std::collections::BTreeSet<&str> = on_disk
        .iter()
        .filter(|s| s.steps.iter().any(|(_, words)| words == &["crash", "all"]))
        .filter_map(|s| {
            let w = s.flags.iter().position(|f| f == "-w")?;
            s.flags.get(w + 1).map(String::as_str)
        })
        .collect();
    assert_eq!(
        workloads.into_iter().collect::<Vec<_>>(),
        ["broadcast", "g-counter", "g-set", "pn-counter"]
    );
    for sc in on_disk {
        let mut lying = sc.clone();
        lying.name = format!("{}-lying", sc.name);
        for flag in &mut lying.flags {
            if flag == "durable" {
                *flag = "lying".into();
            }
        }
        let sweep = scenario::sweep(&lying, 0, 5, 1, None);
        assert!(
            !sweep.failures.is_empty(),
            "{}: a lying disk lost nothing acknowledged over 5 seeds, so the scenario does not test the disk",
            sc.name
        );
    }
}

#[test]
fn scenario_files_are_checked_when_parsed() {
    for (bad, why) in [
        ("wait 1s", "expected `scenario NAME` first"),
        (
            "scenario x\n  test -w broadcast\n  explode n1",
            "unknown step",
        ),
        (
            "scenario x\n  test -w broadcast\n  wait forever",
            "bad duration",
        ),
        (
            "scenario x\n  test -w broadcast\n  wait 1e30s",
            "too long a duration",
        ),
        (
            "scenario x\n  test -w broadcast\n  converged within 5",
            "has no unit",
        ),
        (
            "scenario x\n  test -w broadcast --node-count 3\n  kill n7",
            "no node \"n7\"",
        ),
        ("scenario x\n  wait 1s", "has no `test` line"),
        (
            "scenario x\n  test -w broadcast\n  partition n1",
            "unknown shape",
        ),
        (
            "scenario x\n  test -w broadcast\n  partition n1 n2",
            "groups separated by |",
        ),
        (
            "scenario x\n  test -w broadcast\n  loss 2",
            "bad probability",
        ),
        (
            "scenario x\n  test -w broadcast --node-count 3\n  crash n1",
            "add --sim-disk durable",
        ),
        (
            "scenario x\n  test -w broadcast --sim-disk maybe\n  crash n1",
            "unknown disk",
        ),
    ] {
        let err = scenario::parse(bad)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains(why), "{bad:?}: {err:?}");
    }
}

#[test]
fn a_scenario_runs_for_its_script_not_the_default_time_limit() {
    let text = "scenario short\n  test -w broadcast --node-count 3\n  wait 2s\n  kill n0\n  wait 500ms\n  restart n0\n  converged within 8s\n";
    let scenarios = scenario::parse(text).expect("parses");
    let opts = scenario::options(&scenarios[0], 1, true).expect("options");
    let engine = gossip_harness::engine::Engine::new(opts);
    assert_eq!(
        engine.progress().total,
        std::time::Duration::from_millis(10_500)
    );
}

#[test]
fn the_scenario_list_lines_up_its_columns() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gossip-harness"))
        .args(["scenario", "--list"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run the harness: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let suite = scenario::parse(SUITE).unwrap_or_else(|e| panic!("{e}"));
    let mut columns = std::collections::BTreeSet::new();
    for sc in &suite {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("{} ", sc.name)))
            .unwrap_or_else(|| panic!("{} not listed:\n{stdout}", sc.name));
        columns.insert(line.find(&sc.about));
    }
    assert_eq!(columns.len(), 1, "{columns:?}\n{stdout}");
}
