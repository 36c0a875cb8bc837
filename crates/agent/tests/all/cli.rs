//! The command line: `keygen`, and `run` with and without a key.

use crate::common;

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

/// `gossip-agent run` on ephemeral loopback ports, sealed with the key in `path`.
fn run_with_key_file(path: &std::path::Path) -> Command {
    let mut command = agent();
    command
        .args([
            "run",
            "--listen",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--key-file",
        ])
        .arg(path);
    command
}

#[test]
fn run_with_a_bad_key_file_says_which_file() {
    let path = std::env::temp_dir().join(format!("gossip-agent-bad-key-{}", std::process::id()));
    std::fs::write(&path, "not a key\n").expect("write");
    let out = run_with_key_file(&path).output().expect("runs");
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
    let mut child = run_with_key_file(&path)
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

#[tokio::test]
async fn local_starts_a_cluster_prints_its_addresses_and_stops_on_ctrl_c() {
    // Ports P, P+1 and P+1000, P+1001: away from the default and from other test runs.
    let base = 20_000 + (std::process::id() % 4_000) as u16 * 2;
    let mut child = agent()
        .args(["local", "--nodes", "2", "--base-port", &base.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let stdout = child.stdout.take().expect("stdout");
    let (lines, _, rest) = common::read_until(stdout, "status page").await;
    let text = lines.concat();
    let https: Vec<SocketAddr> = [base + 1000, base + 1001]
        .map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
        .to_vec();
    for http in &https {
        assert!(text.contains(&format!("http://{http}")), "{text}");
    }
    assert!(text.contains("curl"), "{text}");
    let second_id = common::eventually(https[0], "/v1/members", "both agents alive", |_, body| {
        body["members"]
            .as_array()
            .is_some_and(|m| m.iter().filter(|m| m["state"] == "alive").count() == 2)
    })
    .await;
    assert_eq!(second_id["members"].as_array().map(Vec::len), Some(2));
    // Ctrl-C: SIGINT to the process.
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("waiter")
        .expect("exit status");
    let mut rest_text = String::new();
    let _ = std::io::Read::read_to_string(&mut rest.into_inner(), &mut rest_text);
    assert!(status.success(), "{status:?}");
    assert!(rest_text.contains("stopping"), "{rest_text}");
}
