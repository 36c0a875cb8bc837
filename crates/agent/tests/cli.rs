//! The command line: `keygen`, and `run` with and without a key.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use serde_json::json;

fn agent() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gossip-agent"))
}

#[test]
fn keygen_prints_one_line_of_64_hex_digits() {
    let out = agent().arg("keygen").output().expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let line = text.strip_suffix('\n').expect("one line");
    assert_eq!(line.len(), 64, "{text:?}");
    assert!(line.chars().all(|c| c.is_ascii_hexdigit()));
    let again = agent().arg("keygen").output().expect("runs");
    assert_ne!(again.stdout, text.as_bytes(), "two keys are the same");
}

#[test]
fn run_without_a_key_explains_both_options() {
    let out = agent()
        .args(["run", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--key-file") && err.contains("--insecure"),
        "{err}"
    );
    assert!(err.contains("keygen"), "{err}");
}

#[test]
fn run_with_a_bad_key_file_says_which_file() {
    let path = std::env::temp_dir().join(format!("gossip-agent-bad-key-{}", std::process::id()));
    std::fs::write(&path, "not a key\n").expect("write");
    let out = agent()
        .args([
            "run",
            "--listen",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--key-file",
        ])
        .arg(&path)
        .output()
        .expect("runs");
    let _ = std::fs::remove_file(&path);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&path.display().to_string()), "{err}");
}

#[tokio::test]
async fn run_serves_http_with_a_key_from_keygen() {
    let key = agent().arg("keygen").output().expect("runs").stdout;
    let path = std::env::temp_dir().join(format!("gossip-agent-key-{}", std::process::id()));
    std::fs::write(&path, key).expect("write");
    let mut child = agent()
        .args([
            "run",
            "--listen",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--key-file",
        ])
        .arg(&path)
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let stderr = child.stderr.take().expect("stderr");
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stderr).read_line(&mut line).map(|_| line)
    })
    .await
    .expect("reader")
    .expect("a line");
    let http: SocketAddr = line
        .rsplit("http://")
        .next()
        .and_then(|a| a.trim().parse().ok())
        .unwrap_or_else(|| panic!("no HTTP address in {line:?}"));
    let (status, body) = common::call(http, "GET", "/healthz", None).await;
    let killed = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_file(&path);
    killed.expect("kill");
    assert_eq!((status, &body["status"]), (200, &json!("ok")));
}
