//! An agent with a data dir keeps its values across restarts, graceful or not.
//!
//! The crash test kills a `gossip-agent` process with SIGKILL at random moments while clients
//! write to it with durable acknowledgements, restarts it on the same data dir, and checks
//! that every acknowledged write is there after each restart and, at the end, on its peer.
//! `GOSSIP_CRASH_KILLS` sets the number of kills (default 5; `scripts/crash-test.sh` runs
//! 200), `GOSSIP_CRASH_SEED` the seed of the kill times (printed by every run).

use crate::common;

use std::collections::BTreeSet;
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{PATIENCE, call};
use gossip_agent::{Agent, Security};
use serde_json::{Value, json};

/// A fresh directory under the system's temporary one, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(what: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("gossip-agent-{what}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn start_in(dir: &Path, seeds: Vec<SocketAddr>) -> Agent {
    common::start_with_dir(Security::Insecure, seeds, Some(dir.to_path_buf())).await
}

/// The values of set `name` on the agent at `addr`, as texts (empty if absent).
async fn members_of(addr: SocketAddr, name: &str) -> BTreeSet<String> {
    let (status, body) = call(addr, "GET", &format!("/v1/sets/{name}"), None).await;
    if status == 404 {
        return BTreeSet::new();
    }
    assert_eq!(status, 200, "{body}");
    body["value"]
        .as_array()
        .unwrap_or_else(|| panic!("no values in {body}"))
        .iter()
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
        .collect()
}

#[tokio::test]
async fn an_agent_restarted_with_its_data_dir_comes_back_with_its_values() {
    let dir = TempDir::new("restart");
    let agent = start_in(&dir.0, vec![]).await;
    let a = agent.http_addr();
    let (status, body) = call(a, "POST", "/v1/sets/s", Some(json!({"add": ["x", "y"]}))).await;
    assert_eq!((status, &body["ack"]), (200, &json!("durable")), "{body}");
    let (status, _) = call(a, "POST", "/v1/counters/c", Some(json!({"increment": 5}))).await;
    assert_eq!(status, 200);
    let (status, _) = call(a, "PUT", "/v1/registers/r", Some(json!({"value": "v1"}))).await;
    assert_eq!(status, 200);
    let id = agent.node().id();
    agent.shutdown().await.expect("shutdown");

    let agent = start_in(&dir.0, vec![]).await;
    let a = agent.http_addr();
    assert_eq!(agent.node().id(), id);
    assert_eq!(
        members_of(a, "s").await,
        BTreeSet::from(["x".to_string(), "y".to_string()])
    );
    let (status, body) = call(a, "GET", "/v1/counters/c", None).await;
    assert_eq!((status, &body["value"]), (200, &json!(5)), "{body}");
    let (status, body) = call(a, "GET", "/v1/registers/r", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["values"], json!(["v1"]), "{body}");
    agent.shutdown().await.expect("shutdown");
}

/// A small deterministic generator (xorshift64*): the kill times come from the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Starts `gossip-agent run` on `dir`, joining `seed`; returns it and its HTTP address.
async fn spawn_agent(dir: &Path, seed: SocketAddr) -> (Child, SocketAddr) {
    // Port 0 picks a free UDP port, whose TCP twin may be taken (the node binds both): then
    // the agent exits at once and is started again.
    for _ in 0..10 {
        match try_spawn_agent(dir, seed).await {
            Ok(started) => return started,
            Err(text) if text.contains("cannot bind") => continue,
            Err(text) => panic!("the agent did not start: {text}"),
        }
    }
    panic!("the agent found no free port in 10 tries");
}

async fn try_spawn_agent(dir: &Path, seed: SocketAddr) -> Result<(Child, SocketAddr), String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gossip-agent"))
        .args([
            "run",
            "--listen",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--insecure",
            "--join",
            &seed.to_string(),
            "--data-dir",
        ])
        .arg(dir)
        .stderr(Stdio::piped())
        .spawn()
        .expect("gossip-agent starts");
    let stderr = child.stderr.take().expect("stderr");
    let (lines, found, mut reader) = common::read_until(stderr, "http://").await;
    if found {
        // Keep draining stderr so the agent never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while reader.read_line(&mut sink).is_ok_and(|n| n > 0) {
                sink.clear();
            }
        });
    }
    let text = if found {
        lines.last().cloned().unwrap_or_default()
    } else {
        lines.concat()
    };
    if !found {
        let _ = child.wait();
        return Err(text);
    }
    let http = text
        .rsplit("http://")
        .next()
        .and_then(|a| a.trim().parse().ok())
        .unwrap_or_else(|| panic!("no HTTP address in {text:?}"));
    Ok((child, http))
}

/// Writes `w<writer>-<n>` with `ack=durable` until the agent stops answering; records every
/// write acknowledged as durable.
async fn write_until_killed(addr: SocketAddr, writer: usize, acked: Arc<Mutex<Vec<String>>>) {
    for n in 0u64.. {
        let value = format!("w{writer}-{n}");
        let body = json!({"add": [value.clone()]}).to_string();
        let request = format!(
            "POST /v1/sets/crash?ack=durable HTTP/1.0\r\nHost: t\r\nContent-Type: \
             application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let Ok(answer) = raw_call(addr, &request).await else {
            return;
        };
        let Some((head, body)) = answer.split_once("\r\n\r\n") else {
            return;
        };
        if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
            return;
        }
        let Ok(json) = serde_json::from_str::<Value>(body) else {
            return;
        };
        assert_eq!(json["ack"], json!("durable"), "{json}");
        acked.lock().expect("acked").push(value);
    }
}

async fn raw_call(addr: SocketAddr, request: &str) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    Ok(String::from_utf8_lossy(&raw).into_owned())
}

/// Every acknowledged write is in the set on `addr`; returns how many were checked.
async fn check_acked(addr: SocketAddr, acked: &Mutex<Vec<String>>, when: &str) -> usize {
    let present = members_of(addr, "crash").await;
    let acked = acked.lock().expect("acked").clone();
    let lost: Vec<&String> = acked.iter().filter(|v| !present.contains(*v)).collect();
    assert!(
        lost.is_empty(),
        "{when}: {} of {} acknowledged writes lost, e.g. {:?}",
        lost.len(),
        acked.len(),
        lost.iter().take(5).collect::<Vec<_>>()
    );
    acked.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_never_loses_a_durable_acknowledgement() {
    let kills: usize = std::env::var("GOSSIP_CRASH_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(5);
    let seed: u64 = std::env::var("GOSSIP_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| u64::from(std::process::id()) * 0x9e37_79b9 + 1);
    println!("crash test: seed {seed} (GOSSIP_CRASH_SEED), {kills} kills");
    let mut rng = Rng(seed.max(1));
    let dir = TempDir::new("crash");
    let peer_dir = TempDir::new("crash-peer");
    let peer = start_in(&peer_dir.0, vec![]).await;
    let seed_addr = peer.node().local_addr();
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut checked = 0;
    for kill in 0..kills {
        let (mut child, http) = spawn_agent(&dir.0, seed_addr).await;
        checked = check_acked(http, &acked, &format!("after restart {kill}")).await;
        let writers: Vec<_> = (0..4)
            .map(|w| tokio::spawn(write_until_killed(http, w, acked.clone())))
            .collect();
        let wait = 50 + rng.next() % 450;
        tokio::time::sleep(Duration::from_millis(wait)).await;
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        for w in writers {
            w.await.expect("writer");
        }
    }
    let (mut child, http) = spawn_agent(&dir.0, seed_addr).await;
    let total = check_acked(http, &acked, "after the last restart").await;
    assert!(total >= checked);
    assert!(total > 0, "no write was acknowledged as durable");
    // And on the peer, once the restarted agent and it have exchanged digests.
    let expected: BTreeSet<String> = acked.lock().expect("acked").iter().cloned().collect();
    let peer_http = peer.http_addr();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let present = members_of(peer_http, "crash").await;
        let missing = expected.difference(&present).count();
        if missing == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the peer still lacks {missing} acknowledged writes"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    println!("crash test: kills {kills}, writes acknowledged {total}, writes lost 0");
    peer.shutdown().await.expect("shutdown");
}
