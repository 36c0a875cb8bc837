//! A trivial node for the routing benchmark: after `init` it puts K tokens on a ring of all
//! nodes (K is its first argument, default 64) and forwards every token it receives to the
//! next node, forever. Each forward is one message through the harness, so the harness's
//! server message rate is its routing throughput. It parses every line as JSON and writes
//! buffered output, flushing whenever its input runs dry, like a real node would.
//!
//! ```text
//! cargo build --release -p gossip-harness --example token_ring
//! target/release/gossip-harness test -w echo --bin target/release/examples/token_ring \
//!     --node-count 2 --rate 0 --time-limit 10 -- 64
//! ```

use std::io::{BufRead, BufReader, BufWriter, Write};

use serde_json::{Value, json};

fn main() {
    let tokens: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(64);
    let stdin = std::io::stdin();
    let mut input = BufReader::with_capacity(1 << 16, stdin.lock());
    let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut me = String::new();
    let mut next = String::new();
    let mut line = String::new();
    let mut msg_id = 0u64;
    loop {
        if input.buffer().is_empty() && out.flush().is_err() {
            return;
        }
        line.clear();
        match input.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let Ok(msg) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let body = &msg["body"];
        msg_id += 1;
        match body["type"].as_str() {
            Some("init") => {
                me = body["node_id"].as_str().unwrap_or_default().to_owned();
                let ids: Vec<&str> = body["node_ids"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                let pos = ids.iter().position(|n| *n == me).unwrap_or(0);
                next = ids
                    .get((pos + 1) % ids.len().max(1))
                    .map_or_else(|| me.clone(), |s| (*s).to_owned());
                let reply = json!({"src": me, "dest": msg["src"], "body": {"type": "init_ok", "in_reply_to": body["msg_id"], "msg_id": msg_id}});
                let _ = writeln!(out, "{reply}");
                for k in 0..tokens {
                    msg_id += 1;
                    let _ = writeln!(
                        out,
                        "{}",
                        json!({"src": me, "dest": next, "body": {"type": "token", "token": k, "msg_id": msg_id}})
                    );
                }
            }
            Some("token") => {
                let _ = writeln!(
                    out,
                    "{}",
                    json!({"src": me, "dest": next, "body": {"type": "token", "token": body["token"], "msg_id": msg_id}})
                );
            }
            Some("echo") => {
                let reply = json!({"src": me, "dest": msg["src"], "body": {"type": "echo_ok", "echo": body["echo"], "in_reply_to": body["msg_id"]}});
                let _ = writeln!(out, "{reply}");
            }
            _ => {}
        }
    }
}
