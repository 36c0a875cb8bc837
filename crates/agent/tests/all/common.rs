//! A small HTTP/1.0 client and agent helpers for the integration tests.
//!
//! Requests speak HTTP/1.0 so every answer is delimited by the server closing the
//! connection (no chunked decoding), which also suits the watch stream.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use gossip_agent::{Agent, AgentConfig, Security};
use gossip_net::{Keyring, Preset};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// How long a test waits for something that should happen before it fails.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// An answer: status, headers as text, body as text.
pub struct Answer {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }
}

fn request_text(method: &str, path: &str, body: Option<&[u8]>) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.0\r\nHost: test\r\n").into_bytes();
    if let Some(body) = body {
        out.extend_from_slice(
            format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            )
            .as_bytes(),
        );
    }
    out.extend_from_slice(b"\r\n");
    if let Some(body) = body {
        out.extend_from_slice(body);
    }
    out
}

/// Sends one request and reads the whole answer.
pub async fn call_raw(addr: SocketAddr, method: &str, path: &str, body: Option<&[u8]>) -> Answer {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(&request_text(method, path, body))
        .await
        .expect("send");
    let mut raw = Vec::new();
    // The server may close before reading an oversized body; what it answered still counts.
    let _ = stream.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    Answer {
        status,
        headers: head.to_owned(),
        body: body.to_owned(),
    }
}

/// Sends a request with a JSON body (or none) and returns the status and the JSON answer.
pub async fn call(addr: SocketAddr, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string());
    let answer = call_raw(addr, method, path, body.as_deref().map(str::as_bytes)).await;
    let json = answer.json();
    (answer.status, json)
}

/// Calls until `check` accepts the answer, or fails after [`PATIENCE`].
pub async fn eventually(
    addr: SocketAddr,
    path: &str,
    what: &str,
    check: impl Fn(u16, &Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let (status, body) = call(addr, "GET", path, None).await;
        if check(status, &body) {
            return body;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("{what}: still {status} {body} at {addr}{path}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An open watch stream.
pub struct Watch {
    reader: BufReader<TcpStream>,
}

impl Watch {
    /// Opens `/v1/watch?prefix=...` and waits for its `ready` event.
    pub async fn open(addr: SocketAddr, prefix: &str) -> Watch {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream
            .write_all(&request_text(
                "GET",
                &format!("/v1/watch?prefix={prefix}"),
                None,
            ))
            .await
            .expect("send");
        let mut watch = Watch {
            reader: BufReader::new(stream),
        };
        let mut status = String::new();
        watch.reader.read_line(&mut status).await.expect("status");
        assert!(status.contains(" 200 "), "watch answered {status}");
        loop {
            let mut line = String::new();
            watch.reader.read_line(&mut line).await.expect("header");
            if line == "\r\n" || line.is_empty() {
                break;
            }
        }
        let (event, _) = watch.next().await;
        assert_eq!(event, "ready");
        watch
    }

    /// The next event: its name and its data as JSON (keep-alive comments skipped).
    pub async fn next(&mut self) -> (String, Value) {
        tokio::time::timeout(PATIENCE, self.next_inner())
            .await
            .expect("no watch event in time")
    }

    async fn next_inner(&mut self) -> (String, Value) {
        let mut event = String::new();
        let mut data = String::new();
        loop {
            let mut line = String::new();
            let n = self.reader.read_line(&mut line).await.expect("read");
            assert!(n > 0, "watch stream ended");
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                if !data.is_empty() {
                    let json = serde_json::from_str(&data).expect("event data is JSON");
                    return (event, json);
                }
                continue;
            }
            if let Some(rest) = line.strip_prefix("event:") {
                event = rest.trim().to_owned();
            } else if let Some(rest) = line.strip_prefix("data:") {
                data.push_str(rest.trim_start());
            }
        }
    }
}

/// A key all agents of a test share.
pub fn key() -> Security {
    Security::Key(Keyring::generate())
}

/// Starts an agent on loopback with ephemeral ports.
pub async fn start(security: Security, seeds: Vec<SocketAddr>) -> Agent {
    start_with_dir(security, seeds, None).await
}

/// [`start`], keeping the agent's data in `data_dir` when given.
pub async fn start_with_dir(
    security: Security,
    seeds: Vec<SocketAddr>,
    data_dir: Option<std::path::PathBuf>,
) -> Agent {
    Agent::start(AgentConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        http: "127.0.0.1:0".parse().expect("addr"),
        seeds,
        data_dir,
        security,
        preset: Preset::Lan,
        test_faults: None,
    })
    .await
    .expect("agent starts")
}

/// Reads a child's `pipe` line by line, off the async runtime, until a line contains `marker`
/// or the pipe ends: the lines read (the marker's line last), whether it was found, and the
/// reader for what follows.
pub async fn read_until<R: std::io::Read + Send + 'static>(
    pipe: R,
    marker: &'static str,
) -> (Vec<String>, bool, std::io::BufReader<R>) {
    tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let mut reader = std::io::BufReader::new(pipe);
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return (lines, false, reader),
                Ok(_) => {
                    let found = line.contains(marker);
                    lines.push(line);
                    if found {
                        return (lines, true, reader);
                    }
                }
            }
        }
    })
    .await
    .expect("pipe reader")
}
