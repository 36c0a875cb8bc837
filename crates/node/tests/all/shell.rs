//! The `gossip-node` binary's shell: what it prints when asked for help or its version, and
//! the summary it leaves in its log when told to stop.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn node(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gossip-node"));
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Runs the node with `args` and nothing on stdin.
fn run(args: &[&str]) -> Output {
    node(args)
        .stdin(Stdio::null())
        .output()
        .expect("gossip-node runs")
}

#[test]
fn help_prints_the_usage_on_stdout_and_succeeds() {
    for flag in ["--help", "-h"] {
        let output = run(&[flag]);
        assert!(output.status.success(), "{flag}: {:?}", output.status);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(stdout, gossip_node::USAGE, "{flag}");
        assert!(output.stderr.is_empty(), "{flag}: {output:?}");
    }
    // Anywhere on the line, as with other programs.
    let output = run(&["broadcast", "--help"]);
    assert!(output.status.success(), "{:?}", output.status);
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("usage: gossip-node"));
}

#[test]
fn version_prints_the_name_and_version_and_succeeds() {
    for flag in ["--version", "-V"] {
        let output = run(&[flag]);
        assert!(output.status.success(), "{flag}: {:?}", output.status);
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            format!("gossip-node {}\n", env!("CARGO_PKG_VERSION")),
            "{flag}"
        );
    }
}

#[test]
fn other_dashed_arguments_are_still_refused() {
    let output = run(&["--verbose"]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(output.stdout.is_empty());
    assert!(String::from_utf8_lossy(&output.stderr).contains("usage: gossip-node"));
}

/// A node stopped with SIGTERM while its stdin is still open writes the same exit summary as
/// one whose stdin closed, and exits cleanly.
#[cfg(unix)]
#[test]
fn sigterm_leaves_the_exit_summary_in_the_log() {
    let mut child = node(&["broadcast"]).spawn().expect("gossip-node starts");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let init = r#"{"src":"c0","dest":"n1","body":{"type":"init","node_id":"n1","node_ids":["n1","n2"],"msg_id":1}}"#;
    let write = r#"{"src":"c1","dest":"n1","body":{"type":"broadcast","message":7,"msg_id":1}}"#;
    writeln!(stdin, "{init}\n{write}").expect("the node reads its input");
    stdin.flush().expect("the node reads its input");
    // Both answered (gossip to n2 may come in between): the node is serving, and listening
    // for signals.
    let stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut answered = Vec::new();
    for line in stdout.lines().take(20) {
        let line = line.expect("stdout is UTF-8");
        answered.extend(
            ["init_ok", "broadcast_ok"]
                .into_iter()
                .filter(|t| line.contains(t)),
        );
        if answered.len() == 2 {
            break;
        }
    }
    assert_eq!(answered, ["init_ok", "broadcast_ok"]);
    // A node that fails to exit on SIGTERM is let go by end of input after a while, so that
    // the failure shows instead of hanging the test.
    let (exited, exit_seen) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        let fired = exit_seen.recv_timeout(Duration::from_secs(20)).is_err();
        drop(stdin);
        fired
    });
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill: {status:?}");
    let output = child.wait_with_output().expect("the node exits");
    let _ = exited.send(());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !watchdog.join().expect("the watchdog returns"),
        "the node did not exit on SIGTERM: {stderr}"
    );
    assert!(output.status.success(), "{:?}: {stderr}", output.status);
    assert!(stderr.contains("terminated (SIGTERM); exiting"), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.contains("INFO replication: "), "{stderr}");
}
