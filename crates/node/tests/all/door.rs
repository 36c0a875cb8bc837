//! What the node refuses at its door: gossip from non-members, counter gossip that would take
//! the counter out of 64 bits, topologies naming strangers, a changed `init`, integers that
//! do not fit.

use std::time::Duration;

use gossip_node::{Birth, Node, Options, Refusals};
use gossip_transport::Time;
use quickcheck::{Arbitrary, Gen, QuickCheck};
use serde_json::{Value, json};

/// Node `n1` of the cluster `n1, n2, n3`, initialised, with its init reply taken.
fn node(args: &[&str]) -> Node {
    let options = Options::parse(args).expect("valid arguments");
    let mut node = Node::new(options, Birth { seed: 5, life: 1 });
    let init = r#"{"src":"c0","dest":"n1","body":{"type":"init","node_id":"n1","node_ids":["n1","n2","n3"],"msg_id":1}}"#;
    node.handle_line(Time::ZERO, init);
    let out = drain(&mut node);
    assert_eq!(out[0]["body"]["type"], "init_ok", "{out:?}");
    node
}

/// Every line the node has for stdout, as JSON.
fn drain(node: &mut Node) -> Vec<Value> {
    std::iter::from_fn(|| node.poll_output())
        .map(|line| serde_json::from_str(&line).expect("the node prints JSON"))
        .collect()
}

/// Runs the node's timers for `span`, collecting what it prints.
fn run_for(node: &mut Node, from: Time, span: Duration) -> Vec<Value> {
    let mut out = Vec::new();
    let end = from + span;
    while let Some(at) = node.poll_timeout().filter(|&at| at <= end) {
        node.handle_timeout(at);
        out.extend(drain(node));
    }
    out
}

fn gossip(src: &str, body: Value) -> String {
    let mut body = body;
    body["type"] = json!("gossip");
    json!({"src": src, "dest": "n1", "body": body}).to_string()
}

fn request(node: &mut Node, now: Time, body: Value) -> Value {
    let line = json!({"src":"c9","dest":"n1","body":body}).to_string();
    node.handle_line(now, &line);
    let out = drain(node);
    out.into_iter()
        .find(|m| m["dest"] == "c9")
        .unwrap_or_else(|| panic!("no reply to {body}"))
}

fn read(node: &mut Node, now: Time) -> Value {
    request(node, now, json!({"type":"read","msg_id":1_000_000}))
}

#[test]
fn a_pull_from_a_client_id_gets_no_gossip_back() {
    let mut node = node(&["g-set"]);
    let pull = json!({"inc": 1, "pull": true, "have": {"vv": {}, "cloud": []}});
    // A member's pull is answered: the message itself is fine.
    node.handle_line(Time::ZERO, &gossip("n2", pull.clone()));
    assert!(
        drain(&mut node).iter().any(|m| m["dest"] == "n2"),
        "a member's pull is answered"
    );
    node.handle_line(Time::ZERO, &gossip("c5", pull.clone()));
    node.handle_line(Time::ZERO, &gossip("n9", pull));
    let out = drain(&mut node);
    assert!(out.is_empty(), "nothing goes to non-members: {out:?}");
    let later = run_for(&mut node, Time::ZERO, Duration::from_secs(10));
    assert!(
        later.iter().all(|m| m["dest"] == "n2" || m["dest"] == "n3"),
        "only members are ever addressed: {later:?}"
    );
    assert_eq!(node.refusals().non_member, 2);
}

#[test]
fn invented_senders_are_not_acknowledged_and_their_deltas_not_applied() {
    let mut node = node(&["g-set"]);
    let mut now = Time::ZERO;
    for i in 0..1000u64 {
        now += Duration::from_millis(1);
        let body = json!({"inc": 1, "seq": [1, 1], "runs": [[1000 + i, 1, [[i]]]]});
        node.handle_line(now, &gossip(&format!("n{}", 100 + i), body));
    }
    let mut out = drain(&mut node);
    out.extend(run_for(&mut node, now, Duration::from_secs(10)));
    let strangers: Vec<&Value> = out
        .iter()
        .filter(|m| m["dest"] != "n2" && m["dest"] != "n3")
        .collect();
    assert!(
        strangers.is_empty(),
        "{} lines to strangers",
        strangers.len()
    );
    assert_eq!(read(&mut node, now)["body"]["value"], json!([]));
    assert_eq!(node.refusals().non_member, 1000);
    let summary = node.stats().map(|s| s.to_string()).unwrap_or_default();
    assert!(
        summary.contains("refused 1000 gossip messages from non-members"),
        "{summary}"
    );
}

#[test]
fn gossip_from_a_non_member_does_not_choose_the_workload() {
    let mut node = node(&[]);
    let body = json!({"inc": 1, "w": "g-set", "runs": [[7, 1, [[4]]]]});
    node.handle_line(Time::ZERO, &gossip("n7", body.clone()));
    assert_eq!(node.workload(), None, "no state kept for a non-member");
    assert_eq!(node.refusals().non_member, 1);
    node.handle_line(Time::ZERO, &gossip("n2", body));
    assert_eq!(node.workload(), Some(gossip_node::WorkloadKind::GSet));
}

/// A gossip body from `n2` carrying one run of `deltas` (counter JSON) from `origin`.
fn run_of(origin: u64, first: u64, deltas: &[Value]) -> Value {
    json!({"inc": 1, "runs": [[origin, first, deltas]]})
}

#[test]
fn a_g_counter_delta_past_64_bits_is_emptied_and_not_passed_on() {
    let mut node = node(&["g-counter"]);
    let huge = u64::MAX;
    node.handle_line(
        Time::ZERO,
        &gossip(
            "n2",
            run_of(77, 1, &[json!({"77": huge}), json!({"78": 5})]),
        ),
    );
    let mut out = drain(&mut node);
    out.extend(run_for(&mut node, Time::ZERO, Duration::from_secs(5)));
    let reply = read(&mut node, Time::from_millis(5000));
    assert_eq!(reply["body"]["type"], "read_ok", "{reply}");
    assert_eq!(reply["body"]["value"], 5);
    assert!(
        out.iter()
            .all(|m| !m.to_string().contains(&huge.to_string())),
        "the refused entry is not passed on: {out:?}"
    );
    assert_eq!(node.refusals().counter_deltas, 1);
    // The emptied delta's id is recorded: the same run again changes nothing.
    node.handle_line(
        Time::from_millis(5000),
        &gossip("n2", run_of(77, 1, &[json!({"77": 1}), json!({"78": 5})])),
    );
    assert_eq!(read(&mut node, Time::from_millis(5000))["body"]["value"], 5);
}

#[test]
fn a_pn_counter_snapshot_past_64_bits_loses_only_its_offending_entries() {
    let mut node = node(&["pn-counter"]);
    let snap = json!({"p": {"40": 3, "41": u64::MAX}, "n": {"42": 1u64 << 63, "43": 1}});
    let body = json!({"inc": 1, "snap": snap, "have": {"vv": {"40": 1, "41": 1, "42": 1, "43": 1}, "cloud": []}});
    node.handle_line(Time::ZERO, &gossip("n2", body));
    let reply = read(&mut node, Time::ZERO);
    assert_eq!(reply["body"]["type"], "read_ok", "{reply}");
    // +3, then -2^63 fills the decrements: the -1 after it does not fit.
    assert_eq!(reply["body"]["value"], json!(3i128 - (1i128 << 63)));
    assert_eq!(
        node.refusals(),
        Refusals {
            counter_snapshot_entries: 2,
            ..Refusals::default()
        }
    );
}

#[test]
fn a_local_add_past_64_bits_is_refused() {
    for workload in ["g-counter", "pn-counter"] {
        let mut node = node(&[workload]);
        let add = |node: &mut Node, delta: i64, id: u64| {
            request(
                node,
                Time::ZERO,
                json!({"type":"add","delta":delta,"msg_id":id}),
            )
        };
        assert_eq!(add(&mut node, i64::MAX, 1)["body"]["type"], "add_ok");
        let reply = add(&mut node, 1, 2);
        assert_eq!(reply["body"]["code"], 14, "{workload}: {reply}");
        let reply = read(&mut node, Time::ZERO);
        assert_eq!(reply["body"]["value"], i64::MAX, "{workload}: {reply}");
    }
}

/// One step of counter traffic into `n1`: genuine or hostile.
#[derive(Debug, Clone)]
enum Step {
    /// A client's `add`.
    Add(i64),
    /// A run from `n2`: `(origin, p or n, entry value)` per delta.
    Run(u64, Vec<(u64, bool, u64)>),
    /// A snapshot from `n3` with these entries.
    Snap(Vec<(u64, bool, u64)>),
}

/// A value near a bound as often as a small one.
fn amount(g: &mut Gen) -> u64 {
    let small = u64::arbitrary(g) % 1000;
    match u8::arbitrary(g) % 6 {
        0 => u64::MAX - small,
        1 => (1 << 63) - small,
        2 => (1 << 63) + small,
        3 => (1 << 62) + small,
        _ => small,
    }
}

fn entries(g: &mut Gen) -> Vec<(u64, bool, u64)> {
    (0..1 + u8::arbitrary(g) % 3)
        .map(|_| (1 + u64::arbitrary(g) % 4, bool::arbitrary(g), amount(g)))
        .collect()
}

impl Arbitrary for Step {
    fn arbitrary(g: &mut Gen) -> Self {
        match u8::arbitrary(g) % 3 {
            0 => Step::Add(match u8::arbitrary(g) % 3 {
                0 => i64::arbitrary(g),
                _ => i64::arbitrary(g) % 100,
            }),
            1 => Step::Run(1 + u64::arbitrary(g) % 20, entries(g)),
            _ => Step::Snap(entries(g)),
        }
    }
}

/// Counter JSON for one set of entries; a g-counter takes every entry as an increment.
fn counter_json(pn: bool, entries: &[(u64, bool, u64)]) -> Value {
    let mut p = serde_json::Map::new();
    let mut n = serde_json::Map::new();
    for &(origin, up, value) in entries {
        let side = if up || !pn { &mut p } else { &mut n };
        side.insert(origin.to_string(), json!(value));
    }
    if pn {
        json!({"p": p, "n": n})
    } else {
        Value::Object(p)
    }
}

fn reads_always_succeed(pn: bool, steps: Vec<Step>) -> bool {
    let mut node = node(&[if pn { "pn-counter" } else { "g-counter" }]);
    let mut now = Time::ZERO;
    for (i, step) in steps.iter().enumerate() {
        now += Duration::from_millis(30);
        let line = match step {
            Step::Add(delta) => {
                json!({"src":"c9","dest":"n1","body":{"type":"add","delta":delta,"msg_id":i}})
                    .to_string()
            }
            Step::Run(first, deltas) => {
                let deltas: Vec<Value> = deltas
                    .iter()
                    .map(|e| counter_json(pn, std::slice::from_ref(e)))
                    .collect();
                gossip("n2", run_of(9, *first, &deltas))
            }
            Step::Snap(entries) => {
                let have: serde_json::Map<String, Value> = entries
                    .iter()
                    .map(|(origin, _, _)| (origin.to_string(), json!(1)))
                    .collect();
                gossip(
                    "n3",
                    json!({"inc": 1, "snap": counter_json(pn, entries), "have": {"vv": have, "cloud": []}}),
                )
            }
        };
        node.handle_line(now, &line);
        node.handle_timeout(now);
        drain(&mut node);
        let reply = read(&mut node, now);
        if reply["body"]["type"] != "read_ok" || !reply["body"]["value"].is_i64() {
            eprintln!("after {step:?}: {reply}");
            return false;
        }
    }
    true
}

#[test]
fn counter_reads_succeed_whatever_gossip_arrives() {
    let cases = std::env::var("QUICKCHECK_TESTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    QuickCheck::new()
        .tests(cases)
        .quickcheck(reads_always_succeed as fn(bool, Vec<Step>) -> bool);
}

#[test]
fn a_followed_topology_is_cut_down_to_members() {
    let mut node = node(&["broadcast", "overlay=maelstrom"]);
    let topology = json!({"type":"topology","msg_id":2,"topology":{
        "n1": ["n2", "n9", "c5"], "n2": ["n1", "n3"], "n3": ["n2"], "n9": ["n1"]}});
    let reply = request(&mut node, Time::ZERO, topology);
    assert_eq!(reply["body"]["type"], "topology_ok");
    let reply = request(
        &mut node,
        Time::ZERO,
        json!({"type":"broadcast","message":8,"msg_id":3}),
    );
    assert_eq!(reply["body"]["type"], "broadcast_ok");
    let out = run_for(&mut node, Time::ZERO, Duration::from_secs(10));
    assert!(
        out.iter().any(|m| m["dest"] == "n2"),
        "the neighbour gets the broadcast"
    );
    assert!(
        out.iter().all(|m| m["dest"] == "n2" || m["dest"] == "n3"),
        "nothing to non-members: {out:?}"
    );
}

#[test]
fn a_second_init_must_repeat_the_first() {
    let mut node = node(&["g-set"]);
    let init = |id: &str, ids: Value, msg_id: u64| {
        json!({"src":"c0","dest":"n1","body":{"type":"init","node_id":id,"node_ids":ids,"msg_id":msg_id}})
            .to_string()
    };
    node.handle_line(Time::ZERO, &init("n1", json!(["n3", "n1", "n2"]), 2));
    assert_eq!(drain(&mut node)[0]["body"]["type"], "init_ok");
    for (id, ids) in [
        ("n1", json!(["n1", "n2"])),
        ("n1", json!(["n1", "n2", "n4"])),
        ("n2", json!(["n1", "n2", "n3"])),
    ] {
        node.handle_line(Time::ZERO, &init(id, ids.clone(), 3));
        let out = drain(&mut node);
        assert_eq!(out[0]["body"]["type"], "error", "{id} {ids}: {out:?}");
        assert_eq!(out[0]["body"]["code"], 10, "{id} {ids}: {out:?}");
        let text = out[0]["body"]["text"].as_str().unwrap_or_default();
        assert!(text.contains("already initialised as n1"), "{text}");
    }
    // The first membership still holds: n4 is no peer.
    node.handle_line(
        Time::ZERO,
        &gossip("n4", json!({"inc": 1, "runs": [[4, 1, [[4]]]]})),
    );
    assert_eq!(node.refusals().non_member, 1);
}

#[test]
fn integers_that_do_not_fit_are_malformed() {
    for (workload, kind, key) in [
        ("broadcast", "broadcast", "message"),
        ("g-set", "add", "element"),
        ("g-counter", "add", "delta"),
        ("pn-counter", "add", "delta"),
    ] {
        let mut node = node(&[workload]);
        let bad = [
            r#"1180591620717411303424"#,
            r#"18446744073709551615"#,
            r#"9223372036854775808"#,
            r#"-9223372036854775809"#,
            r#"1.5"#,
            r#"1e30"#,
            r#"2.0"#,
            r#""3""#,
            r#"null"#,
        ];
        for (i, value) in bad.into_iter().enumerate() {
            let line = format!(
                r#"{{"src":"c9","dest":"n1","body":{{"type":"{kind}","{key}":{value},"msg_id":{i}}}}}"#
            );
            node.handle_line(Time::ZERO, &line);
            let out = drain(&mut node);
            let reply = out.iter().find(|m| m["dest"] == "c9");
            let reply = reply.unwrap_or_else(|| panic!("{workload}: no reply to {value}"));
            assert_eq!(reply["body"]["code"], 12, "{workload} {value}: {reply}");
            let text = reply["body"]["text"].as_str().unwrap_or_default();
            assert!(text.starts_with(&format!("`{key}` must be")), "{text}");
        }
    }
    let mut node = node(&["g-counter"]);
    let reply = request(
        &mut node,
        Time::ZERO,
        json!({"type":"add","delta":-1,"msg_id":1}),
    );
    assert_eq!(reply["body"]["code"], 12, "a g-counter only grows: {reply}");
}
