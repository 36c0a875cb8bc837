//! The engine driven through the [`NodeHost`] seam by a tiny in-process host on a virtual
//! clock, with a flooding broadcast node written in Rust. No processes, no sleeping: this checks
//! that the engine is deterministic for a seed, that it never busy-loops (the number of host
//! events stays proportional to the work), and that a correct node passes under partitions.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use gossip_harness::checker::Validity;
use gossip_harness::driver::drive;
use gossip_harness::engine::Engine;
use gossip_harness::history::{OpType, Process};
use gossip_harness::host::{HostError, HostEvent, NodeHost};
use gossip_harness::ids::{NodeId, NodeIndex};
use gossip_harness::options::{LatencyDist, TestOptions, WorkloadKind};
use gossip_harness::results::analyze;
use gossip_harness::time::Time;
use serde_json::{Value, json};

/// A broadcast node that floods each new value to every peer, and every 100 ms (a host timer)
/// pushes its whole set to one peer in turn, so it converges after partitions heal.
struct FloodNode {
    id: String,
    peers: Vec<String>,
    seen: HashSet<u64>,
    next_msg: u64,
    turn: usize,
    /// Never answer broadcasts (to provoke client timeouts).
    mute: bool,
}

impl FloodNode {
    fn out(&mut self, dest: &str, mut body: Value) -> String {
        self.next_msg += 1;
        body["msg_id"] = json!(self.next_msg);
        json!({"src": self.id, "dest": dest, "body": body}).to_string()
    }

    fn handle(&mut self, line: &str) -> Vec<String> {
        let Ok(msg) = serde_json::from_str::<Value>(line) else {
            return Vec::new();
        };
        let src = msg["src"].as_str().unwrap_or_default().to_owned();
        let body = &msg["body"];
        let reply_to = body["msg_id"].clone();
        let mut out = Vec::new();
        match body["type"].as_str().unwrap_or_default() {
            "init" => {
                self.id = body["node_id"].as_str().unwrap_or_default().to_owned();
                self.peers = body["node_ids"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .filter(|p| *p != self.id)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                out.push(self.out(&src, json!({"type": "init_ok", "in_reply_to": reply_to})));
            }
            "topology" => out.push(self.out(
                &src,
                json!({"type": "topology_ok", "in_reply_to": reply_to}),
            )),
            "broadcast" if self.mute => {}
            "broadcast" => {
                let v = body["message"].as_u64().unwrap_or_default();
                out.push(self.out(
                    &src,
                    json!({"type": "broadcast_ok", "in_reply_to": reply_to}),
                ));
                if self.seen.insert(v) {
                    for p in self.peers.clone() {
                        out.push(self.out(&p, json!({"type": "gossip", "values": [v]})));
                    }
                }
            }
            "read" => {
                let mut all: Vec<u64> = self.seen.iter().copied().collect();
                all.sort_unstable();
                out.push(self.out(
                    &src,
                    json!({"type": "read_ok", "messages": all, "in_reply_to": reply_to}),
                ));
            }
            "gossip" => {
                for v in body["values"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_u64)
                {
                    self.seen.insert(v);
                }
            }
            _ => {}
        }
        out
    }

    fn tick(&mut self) -> Option<String> {
        if self.peers.is_empty() || self.seen.is_empty() {
            return None;
        }
        let p = self.peers[self.turn % self.peers.len()].clone();
        self.turn += 1;
        let mut all: Vec<u64> = self.seen.iter().copied().collect();
        all.sort_unstable();
        Some(self.out(&p, json!({"type": "gossip", "values": all})))
    }
}

const TICK: Duration = Duration::from_millis(100);

/// Nodes answer instantly; the clock jumps to the engine's next deadline when they are quiet.
struct VirtualHost {
    now: Time,
    nodes: Vec<FloodNode>,
    pending: VecDeque<(NodeIndex, String)>,
    next_tick: Time,
    events: u64,
    mute: bool,
    /// Every line delivered to a node, in order.
    delivered: Vec<String>,
}

impl NodeHost for VirtualHost {
    fn start(&mut self, nodes: &[NodeId]) -> Result<(), HostError> {
        self.nodes = nodes
            .iter()
            .map(|_| FloodNode {
                id: String::new(),
                peers: Vec::new(),
                seen: HashSet::new(),
                next_msg: 0,
                turn: 0,
                mute: self.mute,
            })
            .collect();
        Ok(())
    }

    fn now(&self) -> Time {
        self.now
    }

    fn deliver(&mut self, node: NodeIndex, line: String) {
        self.delivered.push(line.clone());
        if let Some(n) = self.nodes.get_mut(node.0) {
            for out in n.handle(&line) {
                self.pending.push_back((node, out));
            }
        }
    }

    fn next_event(&mut self, deadline: Option<Time>) -> HostEvent {
        self.events += 1;
        if let Some((node, line)) = self.pending.pop_front() {
            return HostEvent::Line {
                node,
                line,
                at: self.now,
                pre: None,
            };
        }
        if deadline.is_none_or(|d| d > self.next_tick) {
            // The nodes' timer comes first.
            self.now = self.now.max(self.next_tick);
            self.next_tick = self.now + TICK;
            for (i, n) in self.nodes.iter_mut().enumerate() {
                if let Some(line) = n.tick() {
                    self.pending.push_back((NodeIndex(i), line));
                }
            }
            return HostEvent::Timeout { now: self.now };
        }
        if let Some(d) = deadline {
            self.now = self.now.max(d);
        }
        HostEvent::Timeout { now: self.now }
    }

    fn stderr_tail(&self, _node: NodeIndex) -> Vec<String> {
        Vec::new()
    }

    fn shutdown(&mut self) -> Vec<(NodeIndex, String)> {
        Vec::new()
    }
}

fn options(seed: u64, hol: bool) -> TestOptions {
    let mut o = TestOptions::defaults(WorkloadKind::Broadcast);
    o.time_limit = Duration::from_secs(20);
    o.rate = 50.0;
    o.latency_ms = 20;
    o.latency_dist = LatencyDist::Exponential;
    o.nemesis = vec![gossip_harness::nemesis::FaultKind::Partition];
    o.nemesis_interval = Duration::from_secs(3);
    o.recovery = Duration::from_secs(2);
    o.seed = seed;
    o.hol_blocking = hol;
    o
}

fn host(mute: bool) -> VirtualHost {
    VirtualHost {
        now: Time::ZERO,
        nodes: Vec::new(),
        pending: VecDeque::new(),
        next_tick: Time::ZERO,
        events: 0,
        mute,
        delivered: Vec::new(),
    }
}

fn run(opts: TestOptions) -> (Value, Vec<String>, u64, Time) {
    let mut host = host(false);
    let (record, interrupted) = drive(Engine::new(opts), &mut host, &mut |_, _| {});
    assert!(!interrupted);
    let history = record
        .history
        .ops()
        .iter()
        .map(|o| serde_json::to_string(o).unwrap_or_default())
        .collect();
    (analyze(&record), history, host.events, host.now)
}

#[test]
fn deterministic_valid_and_no_busy_loop() {
    let (results, history, events, end) = run(options(11, true));
    assert_eq!(Validity::of(&results), Validity::Valid, "{results:#}");
    assert!(history.iter().any(|h| h.contains("start-partition")));
    // 20 s main phase + 2 s recovery + final reads, on the virtual clock.
    assert!(
        end >= Time::from_secs_f64(22.0) && end < Time::from_secs_f64(30.0),
        "ended at {end}"
    );
    // About 1000 ops, each a handful of messages: the loop must not spin on stale deadlines.
    let msgs = results["net"]["all"]["msg-count"].as_u64().unwrap_or(0);
    // Each message is at most one host event, plus a timer wake-up per 100 ms tick.
    assert!(
        events < 3 * msgs + 10_000,
        "{events} host events for {msgs} messages"
    );
    // Same seed, same run.
    let (results2, history2, _, end2) = run(options(11, true));
    assert_eq!(history, history2);
    assert_eq!(results, results2);
    assert_eq!(end, end2);
    // Another seed, another schedule.
    let (_, history3, _, _) = run(options(12, true));
    assert_ne!(history, history3);
}

#[test]
fn head_of_line_blocking_slows_clients_down() {
    fn mean_latency(history: &[String]) -> f64 {
        let ops: Vec<Value> = history
            .iter()
            .filter_map(|h| serde_json::from_str(h).ok())
            .collect();
        let mut open = std::collections::HashMap::new();
        let (mut sum, mut n) = (0u64, 0u64);
        for o in &ops {
            let Some(p) = o["process"].as_u64() else {
                continue;
            };
            if o["type"] == "invoke" {
                open.insert(p, o["time"].as_u64().unwrap_or(0));
            } else if let Some(t0) = open.remove(&p) {
                sum += o["time"].as_u64().unwrap_or(0) - t0;
                n += 1;
            }
        }
        sum as f64 / n.max(1) as f64
    }
    let (_, with_hol, _, _) = run(options(3, true));
    let (_, without, _, _) = run(options(3, false));
    // Without blocking, instant nodes answer in zero virtual time.
    assert_eq!(mean_latency(&without), 0.0);
    assert!(mean_latency(&with_hol) > 0.0);
}

#[test]
fn client_ids_init_and_timeouts_follow_maelstrom() {
    let mut o = TestOptions::defaults(WorkloadKind::Broadcast);
    o.time_limit = Duration::from_secs(8);
    o.rate = 10.0;
    o.recovery = Duration::from_secs(1);
    o.seed = 1;
    let mut h = host(true);
    let (record, _) = drive(Engine::new(o), &mut h, &mut |_, _| {});
    let lines: Vec<Value> = h
        .delivered
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    // Every delivered line carries the network id, first of all the init from c0..c4.
    assert!(lines.iter().all(|l| l["id"].is_u64()));
    let inits: Vec<&Value> = lines
        .iter()
        .filter(|l| l["body"]["type"] == "init")
        .collect();
    assert_eq!(inits.len(), 5);
    for (k, init) in inits.iter().enumerate() {
        assert_eq!(init["src"], format!("c{k}"));
        assert_eq!(init["dest"], format!("n{}", k + 1));
        assert_eq!(init["body"]["msg_id"], 1);
        assert_eq!(
            init["body"]["node_ids"],
            json!(["n1", "n2", "n3", "n4", "n5"])
        );
    }
    let topo: Vec<&Value> = lines
        .iter()
        .filter(|l| l["body"]["type"] == "topology")
        .collect();
    assert_eq!(
        topo.iter()
            .map(|l| l["src"].as_str().unwrap_or_default())
            .collect::<Vec<_>>(),
        ["c5", "c6", "c7", "c8", "c9"]
    );
    assert_eq!(topo[0]["body"]["topology"]["n1"], json!(["n4", "n2"]));
    // Unanswered broadcasts time out after 5 s as info; the worker's next op uses process p + 5
    // and a fresh client id.
    let ops = record.history.ops();
    let timeout = ops
        .iter()
        .find(|o| o.f == "broadcast" && o.kind == OpType::Info);
    let Some(timeout) = timeout else {
        panic!("expected a timed-out broadcast")
    };
    assert_eq!(timeout.error, Some(json!("net-timeout")));
    assert!(
        timeout.time
            - ops
                .iter()
                .rev()
                .find(|o| o.index < timeout.index && o.process == timeout.process)
                .map_or(0, |o| o.time)
            >= 5_000_000_000
    );
    assert!(
        ops.iter()
            .any(|o| matches!(o.process, Process::Worker(p) if p >= 5))
    );
    let clients: HashSet<&str> = lines
        .iter()
        .filter_map(|l| l["src"].as_str())
        .filter(|s| s.starts_with('c'))
        .collect();
    assert!(
        clients.contains("c10") && clients.contains("c15"),
        "{clients:?}"
    );
    // Reads are answered, so the final reads all succeed.
    let finals = ops
        .iter()
        .filter(|o| o.is_final && o.kind == OpType::Ok)
        .count();
    assert_eq!(finals, 5);
}
