//! Fuzz-style properties: arbitrary bytes and arbitrary (often hostile) JSON messages never
//! make the core panic, and afterwards it still answers a well-formed request correctly.

use gossip_node::{Birth, Node, Options};
use gossip_transport::Time;
use quickcheck::{Arbitrary, Gen, QuickCheck};
use serde_json::{Map, Value, json};

const WORKLOADS: [&str; 5] = ["echo", "broadcast", "g-set", "g-counter", "pn-counter"];
const KEYS: [&str; 16] = [
    "type",
    "msg_id",
    "in_reply_to",
    "element",
    "delta",
    "message",
    "topology",
    "echo",
    "node_id",
    "node_ids",
    "inc",
    "seq",
    "ack",
    "runs",
    "have",
    "pull",
];
const TYPES: [&str; 12] = [
    "init",
    "read",
    "add",
    "broadcast",
    "topology",
    "echo",
    "gossip",
    "read_ok",
    "error",
    "cas",
    "",
    "add_ok",
];

/// A JSON value of bounded depth, biased towards the shapes the node looks at.
fn value(g: &mut Gen, depth: u32) -> Value {
    let pick = u8::arbitrary(g) % if depth == 0 { 6 } else { 9 };
    match pick {
        0 => Value::Null,
        1 => Value::Bool(bool::arbitrary(g)),
        2 => json!(i64::arbitrary(g)),
        3 => json!(u64::arbitrary(g)),
        4 => json!(f64::arbitrary(g)),
        5 => Value::String(String::arbitrary(g)),
        6 => Value::Array(
            (0..u8::arbitrary(g) % 4)
                .map(|_| value(g, depth - 1))
                .collect(),
        ),
        7 => Value::Object(body(g, depth - 1)),
        _ => json!([
            u64::arbitrary(g) % 4,
            u64::arbitrary(g) % 4,
            [[value(g, depth - 1)]]
        ]),
    }
}

fn body(g: &mut Gen, depth: u32) -> Map<String, Value> {
    let mut map = Map::new();
    for _ in 0..u8::arbitrary(g) % 6 {
        let key = g.choose(&KEYS).copied().unwrap_or("type");
        let v = if key == "type" {
            Value::String(g.choose(&TYPES).copied().unwrap_or("read").to_string())
        } else if bool::arbitrary(g) {
            json!(u64::arbitrary(g) % 5)
        } else {
            value(g, depth)
        };
        map.insert(key.to_string(), v);
    }
    map
}

/// One hostile input line.
#[derive(Debug, Clone)]
enum Line {
    Bytes(Vec<u8>),
    Text(String),
    Message(Value),
}

impl Arbitrary for Line {
    fn arbitrary(g: &mut Gen) -> Self {
        match u8::arbitrary(g) % 4 {
            0 => Line::Bytes(Vec::arbitrary(g)),
            1 => Line::Text(String::arbitrary(g)),
            _ => {
                let src = g
                    .choose(&["c1", "n1", "n2", "c0", ""])
                    .copied()
                    .unwrap_or("c1");
                let mut msg = json!({"src": src, "dest": "n1", "body": body(g, 3)});
                if bool::arbitrary(g) {
                    msg["id"] = json!(u8::arbitrary(g));
                }
                if u8::arbitrary(g) % 8 == 0 {
                    msg["body"] = value(g, 2);
                }
                Line::Message(msg)
            }
        }
    }
}

fn survives(workload_index: u8, lines: Vec<Line>) -> bool {
    let workload = WORKLOADS[usize::from(workload_index) % WORKLOADS.len()];
    let options = Options::parse(&[workload]).expect("valid");
    let mut node = Node::new(options, Birth { seed: 3, life: 3 });
    let init = r#"{"src":"c0","dest":"n1","body":{"type":"init","node_id":"n1","node_ids":["n1","n2"],"msg_id":1}}"#;
    node.handle_line(Time::ZERO, init);
    let mut now = Time::ZERO;
    for line in &lines {
        now += std::time::Duration::from_millis(7);
        let text = match line {
            Line::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
            Line::Text(t) => t.clone(),
            Line::Message(m) => m.to_string(),
        };
        node.handle_line(now, &text);
        node.handle_timeout(now);
        while node.poll_output().is_some() {}
    }
    // Still serving: a well-formed request gets its proper reply.
    let (request, expected_type) = match workload {
        "echo" => (
            json!({"type":"echo","echo":"still here","msg_id":424242}),
            "echo_ok",
        ),
        _ => (json!({"type":"read","msg_id":424242}), "read_ok"),
    };
    let line = json!({"src":"c77","dest":"n1","body":request}).to_string();
    node.handle_line(now, &line);
    std::iter::from_fn(|| node.poll_output()).any(|out| {
        let v: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
        v["dest"] == "c77"
            && v["body"]["in_reply_to"] == 424242
            && v["body"]["type"] == expected_type
    })
}

#[test]
fn hostile_input_never_stops_the_node() {
    let cases = std::env::var("QUICKCHECK_TESTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    QuickCheck::new()
        .tests(cases)
        .quickcheck(survives as fn(u8, Vec<Line>) -> bool);
}
