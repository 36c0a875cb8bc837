//! Faults with real processes: a scenario run with `--process` pauses (SIGSTOP/SIGCONT),
//! kills (SIGKILL) and restarts our node as OS processes, in real time (about 8 s).

use std::process::Command;

const SCENARIO: &str = "
scenario process-faults
  about pause, kill and restart real node processes
  test -w broadcast --node-count 3 --rate 20 --latency 5 --recovery 1
  wait 1s
  pause n1
  wait 1500ms
  resume n1
  kill n2
  wait 1s
  restart n2
  converged within 5s
";

#[test]
fn pause_kill_and_restart_work_on_processes() {
    let dir = std::env::temp_dir().join(format!("gossip-harness-pf-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let file = dir.join("faults.scn");
    std::fs::write(&file, SCENARIO).unwrap_or_else(|e| panic!("{e}"));
    let store = dir.join("store");
    let out = Command::new(env!("CARGO_BIN_EXE_gossip-harness"))
        .args([
            "scenario",
            "process-faults",
            "--seed",
            "3",
            "--process",
            "--file",
        ])
        .arg(&file)
        .arg("--store")
        .arg(&store)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the harness: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let history = std::fs::read_to_string(store.join("latest/history.txt")).unwrap_or_default();
    let log = std::fs::read_to_string(store.join("latest/node-logs/n2.log")).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    for f in [":pause", ":resume", ":kill", ":start"] {
        assert!(history.contains(f), "no {f} in the history");
    }
    assert!(stdout.contains("replay: gossip-harness scenario process-faults --seed 3 --file"));
    assert!(stdout.contains("converged after"), "{stdout}");
    // The restarted process logged to the same file: two lives.
    assert_eq!(log.matches("initialised").count(), 2, "{log}");
}
