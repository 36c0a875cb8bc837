//! Several node cores wired by an in-memory router (no harness, no processes): values written
//! on one node are read on all the others, for every replicated workload, and through a
//! partition that heals.

use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use gossip_node::{Birth, Node, Options};
use gossip_transport::Time;
use serde_json::{Value, json};

/// Nodes `n0..n{k-1}`, a constant network latency, and a set of cut links.
struct Router {
    nodes: Vec<Node>,
    now: Time,
    latency: Duration,
    in_flight: VecDeque<(Time, usize, String)>,
    to_clients: Vec<Value>,
    cut: BTreeSet<(usize, usize)>,
    next_client_msg: u64,
}

fn index(id: &str) -> Option<usize> {
    id.strip_prefix('n')?.parse().ok()
}

impl Router {
    fn new(k: usize, args: &[&str]) -> Router {
        let ids: Vec<String> = (0..k).map(|i| format!("n{i}")).collect();
        let mut nodes = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            let options = Options::parse(args).expect("valid arguments");
            let mut node = Node::new(
                options,
                Birth {
                    seed: i as u64 + 1,
                    life: i as u64 + 1,
                },
            );
            let init = json!({"src":"c0","dest":id,"body":{"type":"init","node_id":id,"node_ids":ids,"msg_id":1}});
            node.handle_line(Time::ZERO, &init.to_string());
            nodes.push(node);
        }
        let mut router = Router {
            nodes,
            now: Time::ZERO,
            latency: Duration::from_millis(50),
            in_flight: VecDeque::new(),
            to_clients: Vec::new(),
            cut: BTreeSet::new(),
            next_client_msg: 1,
        };
        router.collect();
        router.to_clients.clear();
        router
    }

    fn collect(&mut self) {
        for i in 0..self.nodes.len() {
            while let Some(line) = self.nodes[i].poll_output() {
                let msg: Value = serde_json::from_str(&line).expect("nodes print JSON");
                let dest = msg["dest"].as_str().unwrap_or_default().to_string();
                match index(&dest) {
                    Some(j) if !self.cut.contains(&(i, j)) => {
                        self.in_flight.push_back((self.now + self.latency, j, line));
                    }
                    Some(_) => {}
                    None => self.to_clients.push(msg),
                }
            }
        }
    }

    /// A client request to node `i`, without waiting for the answer.
    fn send(&mut self, i: usize, body: Value) {
        let mut body = body;
        body["msg_id"] = json!(self.next_client_msg);
        self.next_client_msg += 1;
        let line = json!({"src":"c9","dest":format!("n{i}"),"body":body}).to_string();
        self.nodes[i].handle_line(self.now, &line);
        self.collect();
    }

    /// A client request to node `i`; returns the reply body.
    fn call(&mut self, i: usize, body: Value) -> Value {
        self.send(i, body);
        let reply = self.to_clients.pop().expect("the node answered");
        reply["body"].clone()
    }

    /// Cuts node `i` off from every other node, both ways.
    fn isolate(&mut self, i: usize) {
        for j in (0..self.nodes.len()).filter(|&j| j != i) {
            self.cut.insert((i, j));
            self.cut.insert((j, i));
        }
    }

    /// Runs the cluster for `d` of virtual time.
    fn run(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            let next_delivery = self.in_flight.iter().map(|(t, _, _)| *t).min();
            let next_timer = self.nodes.iter().filter_map(Node::poll_timeout).min();
            let Some(next) = [next_delivery, next_timer].into_iter().flatten().min() else {
                break;
            };
            if next > end {
                break;
            }
            self.now = self.now.max(next);
            let now = self.now;
            let (due, later): (Vec<_>, Vec<_>) =
                self.in_flight.drain(..).partition(|(t, _, _)| *t <= now);
            self.in_flight = later.into();
            for (_, j, line) in due {
                self.nodes[j].handle_line(now, &line);
            }
            for node in &mut self.nodes {
                if node.poll_timeout().is_some_and(|t| t <= now) {
                    node.handle_timeout(now);
                }
            }
            self.collect();
        }
        self.now = end;
    }
}

#[test]
fn broadcast_values_reach_every_node() {
    let mut cluster = Router::new(5, &["broadcast"]);
    for (i, v) in [(0, 10), (3, 11), (4, 12)] {
        assert_eq!(
            cluster.call(i, json!({"type":"broadcast","message":v}))["type"],
            "broadcast_ok"
        );
    }
    cluster.run(Duration::from_secs(2));
    for i in 0..5 {
        assert_eq!(
            cluster.call(i, json!({"type":"read"}))["messages"],
            json!([10, 11, 12]),
            "node n{i}"
        );
    }
}

#[test]
fn g_set_and_counters_converge() {
    let mut set = Router::new(4, &["g-set"]);
    set.call(1, json!({"type":"add","element":1}));
    set.call(2, json!({"type":"add","element":2}));
    set.run(Duration::from_secs(2));
    for i in 0..4 {
        assert_eq!(set.call(i, json!({"type":"read"}))["value"], json!([1, 2]));
    }

    let mut pn = Router::new(3, &["pn-counter"]);
    pn.call(0, json!({"type":"add","delta":5}));
    pn.call(1, json!({"type":"add","delta":-2}));
    pn.call(2, json!({"type":"add","delta":0}));
    pn.call(2, json!({"type":"add","delta":4}));
    pn.run(Duration::from_secs(2));
    for i in 0..3 {
        assert_eq!(pn.call(i, json!({"type":"read"}))["value"], json!(7));
    }

    let mut g = Router::new(3, &["g-counter"]);
    g.call(0, json!({"type":"add","delta":3}));
    g.call(1, json!({"type":"add","delta":4}));
    g.run(Duration::from_secs(2));
    for i in 0..3 {
        assert_eq!(g.call(i, json!({"type":"read"}))["value"], json!(7));
    }
}

#[test]
fn a_partitioned_hub_is_routed_around_and_everything_arrives_after_healing() {
    let mut cluster = Router::new(5, &["broadcast"]);
    // Cut the hub (n0) off from everyone.
    cluster.isolate(0);
    cluster.call(0, json!({"type":"broadcast","message":100}));
    cluster.call(2, json!({"type":"broadcast","message":200}));
    cluster.run(Duration::from_secs(10));
    // Leaves fail over to the next hub: they see each other's values during the partition.
    for i in 1..5 {
        assert_eq!(
            cluster.call(i, json!({"type":"read"}))["messages"],
            json!([200]),
            "node n{i}"
        );
    }
    cluster.cut.clear();
    cluster.run(Duration::from_secs(10));
    for i in 0..5 {
        assert_eq!(
            cluster.call(i, json!({"type":"read"}))["messages"],
            json!([100, 200]),
            "node n{i}"
        );
    }
}

fn read_values(cluster: &mut Router, i: usize) -> Vec<Value> {
    let reply = cluster.call(i, json!({"type":"read"}));
    reply["messages"].as_array().cloned().unwrap_or_default()
}

#[test]
fn a_replicated_ack_waits_until_another_node_holds_the_write() {
    let mut cluster = Router::new(3, &["broadcast", "ack=replicated"]);
    // n1 is a leaf of n0's star; cut it off so its write cannot leave.
    cluster.isolate(1);
    cluster.send(1, json!({"type":"broadcast","message":5}));
    assert!(
        cluster.to_clients.is_empty(),
        "answered before anyone else held it"
    );
    cluster.run(Duration::from_millis(500));
    assert!(cluster.to_clients.is_empty(), "answered while cut off");
    // Nor may a reader see it: a crash now would take it back.
    assert_eq!(read_values(&mut cluster, 1), Vec::<Value>::new());

    cluster.cut.clear();
    cluster.run(Duration::from_secs(3));
    let acks: Vec<&Value> = cluster
        .to_clients
        .iter()
        .filter(|m| m["body"]["type"] == "broadcast_ok")
        .collect();
    assert_eq!(acks.len(), 1, "{:?}", cluster.to_clients);
    assert_eq!(read_values(&mut cluster, 1), vec![json!(5)]);
}

#[test]
fn a_replicated_ack_is_dropped_once_the_client_gave_up() {
    let mut cluster = Router::new(2, &["broadcast", "ack=replicated"]);
    cluster.isolate(0);
    cluster.send(0, json!({"type":"broadcast","message":9}));
    cluster.run(Duration::from_secs(6));
    cluster.cut.clear();
    cluster.run(Duration::from_secs(5));
    assert!(
        cluster
            .to_clients
            .iter()
            .all(|m| m["body"]["type"] != "broadcast_ok"),
        "a reply past the client's timeout: {:?}",
        cluster.to_clients
    );
    // The write itself is not lost: it still spreads.
    assert_eq!(read_values(&mut cluster, 1), vec![json!(9)]);
}

#[test]
fn a_local_ack_answers_at_once() {
    let mut cluster = Router::new(3, &["broadcast"]);
    cluster.isolate(1);
    let reply = cluster.call(1, json!({"type":"broadcast","message":5}));
    assert_eq!(reply["type"], "broadcast_ok");
}

#[test]
fn a_replicated_ack_on_a_lone_node_answers_at_once() {
    // No other node exists to hold the write: waiting would never end.
    let mut cluster = Router::new(1, &["g-set", "ack=replicated"]);
    let reply = cluster.call(0, json!({"type":"add","element":4}));
    assert_eq!(reply["type"], "add_ok");
    let read = cluster.call(0, json!({"type":"read"}));
    assert_eq!(read["value"], json!([4]));
}

#[test]
fn a_replicated_counter_read_leaves_out_adds_no_other_node_holds() {
    let mut cluster = Router::new(3, &["pn-counter", "ack=replicated"]);
    cluster.send(1, json!({"type":"add","delta":2}));
    cluster.run(Duration::from_secs(3));
    cluster.isolate(1);
    cluster.send(1, json!({"type":"add","delta":5}));
    cluster.run(Duration::from_millis(500));
    assert_eq!(cluster.call(1, json!({"type":"read"}))["value"], json!(2));
    cluster.cut.clear();
    cluster.run(Duration::from_secs(3));
    for i in 0..3 {
        assert_eq!(
            cluster.call(i, json!({"type":"read"}))["value"],
            json!(7),
            "node n{i}"
        );
    }
}
