//! Golden transcripts: the real `gossip-node` binary is fed a JSON-lines file on stdin, and
//! what it prints must match the expected file byte for byte (stdout carries only messages).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// Runs transcript `name` with `args`; stderr must hold each of `logged`.
fn run_transcript(name: &str, args: &[&str], logged: &[&str]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts");
    let input = std::fs::read(dir.join(format!("{name}.in.jsonl"))).expect("input transcript");
    let expected = std::fs::read_to_string(dir.join(format!("{name}.out.jsonl")))
        .expect("expected transcript");
    let mut child = Command::new(env!("CARGO_BIN_EXE_gossip-node"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gossip-node starts");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(&input)
        .expect("the node reads its input");
    let output = child
        .wait_with_output()
        .expect("the node exits at end of input");
    assert!(output.status.success(), "exit status {:?}", output.status);
    let stdout = String::from_utf8(output.stdout).expect("stdout is UTF-8");
    assert_eq!(
        stdout,
        expected,
        "stdout of `gossip-node {}`",
        args.join(" ")
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    for text in logged {
        assert!(stderr.contains(text), "stderr lacks {text:?}: {stderr}");
    }
}

#[test]
fn broadcast_transcript_matches() {
    run_transcript(
        "broadcast",
        &["broadcast"],
        &["not a Maelstrom message", "workload=broadcast"],
    );
}

/// Gossip from non-members (a client id, a node outside `node_ids`) gets nothing back and is
/// counted in the exit summary; an add past 64 bits, an integer that does not fit and a
/// changed second `init` get errors.
#[test]
fn counter_transcript_matches() {
    run_transcript(
        "counter",
        &["pn-counter"],
        &[
            "not a Maelstrom message",
            "workload=pn-counter",
            "not a member",
            "refused 2 gossip messages from non-members",
        ],
    );
}

#[test]
fn bad_arguments_exit_with_usage() {
    let output = Command::new(env!("CARGO_BIN_EXE_gossip-node"))
        .arg("no-such-workload")
        .stdin(Stdio::null())
        .output()
        .expect("gossip-node starts");
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty(), "nothing but messages on stdout");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown workload or argument `no-such-workload`"),
        "{stderr}"
    );
    assert!(stderr.contains("usage: gossip-node"), "{stderr}");
}
