//! A forged gossip message that claims the node's own replica id just ahead of its counter
//! (as anyone on a Maelstrom network can send) must not make the node's next writes vanish:
//! the claim is refused and the node moves to a fresh replica id. For every workload.

use gossip_node::{Birth, Node, Options};
use gossip_transport::Time;
use serde_json::{Value, json};

/// A client write of a value, as a request body.
type Write = fn(i64) -> Value;

/// Node `n1` of `n1, n2`, running `workload`, initialised.
fn node(workload: &str) -> Node {
    let options = Options::parse(&[workload]).expect("valid arguments");
    let mut node = Node::new(options, Birth { seed: 5, life: 1 });
    node.handle_line(
        Time::ZERO,
        r#"{"src":"c0","dest":"n1","body":{"type":"init","node_id":"n1","node_ids":["n1","n2"],"msg_id":1}}"#,
    );
    drain(&mut node);
    node
}

fn drain(node: &mut Node) -> Vec<Value> {
    std::iter::from_fn(|| node.poll_output())
        .map(|line| serde_json::from_str(&line).expect("the node prints JSON"))
        .collect()
}

/// Sends a client request; returns the reply and whatever else the node printed.
fn request(node: &mut Node, now: Time, body: Value) -> (Value, Vec<Value>) {
    let line = json!({"src":"c9","dest":"n1","body":body}).to_string();
    node.handle_line(now, &line);
    let mut out = drain(node);
    // Leaves and hubs may batch: let the node's timers run a little.
    for _ in 0..20 {
        let Some(at) = node.poll_timeout() else { break };
        if at > now + std::time::Duration::from_secs(1) {
            break;
        }
        node.handle_timeout(at);
        out.extend(drain(node));
    }
    let at = out
        .iter()
        .position(|m| m["dest"] == "c9")
        .unwrap_or_else(|| panic!("no reply to {body}: {out:?}"));
    let reply = out.remove(at);
    (reply, out)
}

/// The first gossip run the node sent: `[origin, first, [delta, ...]]`.
fn first_run(out: &[Value]) -> Option<Value> {
    out.iter()
        .filter(|m| m["body"]["type"] == "gossip")
        .find_map(|m| m["body"]["runs"].get(0).cloned())
}

#[test]
fn a_forged_claim_on_the_nodes_own_id_loses_no_write() {
    let cases: [(&str, Write); 4] = [
        (
            "broadcast",
            |v| json!({"type":"broadcast","message":v,"msg_id":v}),
        ),
        ("g-set", |v| json!({"type":"add","element":v,"msg_id":v})),
        ("g-counter", |v| json!({"type":"add","delta":v,"msg_id":v})),
        ("pn-counter", |v| json!({"type":"add","delta":v,"msg_id":v})),
    ];
    for (workload, write) in cases {
        let mut node = node(workload);
        let (reply, out) = request(&mut node, Time::from_millis(1), write(1));
        assert!(
            reply["body"]["type"]
                .as_str()
                .is_some_and(|t| t.ends_with("_ok")),
            "{workload}: {reply}"
        );
        let run = first_run(&out).unwrap_or_else(|| panic!("{workload}: no gossip: {out:?}"));
        let (origin, delta) = (run[0].clone(), run[2][0].clone());
        // n2 "tells" n1 that n1's replica wrote its second delta already.
        let forged = json!({"src":"n2","dest":"n1","body":{
            "type":"gossip","inc":77,"runs":[[origin, 2, [delta]]]
        }});
        node.handle_line(Time::from_millis(2), &forged.to_string());
        drain(&mut node);
        let (reply, _) = request(&mut node, Time::from_millis(3), write(2));
        assert!(
            reply["body"]["type"]
                .as_str()
                .is_some_and(|t| t.ends_with("_ok")),
            "{workload}: {reply}"
        );
        let (read, _) = request(
            &mut node,
            Time::from_millis(4),
            json!({"type":"read","msg_id":99}),
        );
        let body = &read["body"];
        match workload {
            "broadcast" => assert_eq!(body["messages"], json!([1, 2]), "{workload}"),
            "g-set" => assert_eq!(body["value"], json!([1, 2]), "{workload}"),
            _ => assert_eq!(
                body["value"],
                json!(3),
                "{workload}: the second add vanished"
            ),
        }
    }
}
