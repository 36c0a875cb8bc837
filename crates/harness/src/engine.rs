//! The engine: a deterministic, sans-IO state machine that is the whole test minus the nodes.
//!
//! It owns the network model, the journal, the clients and their workers, the generator and
//! nemesis schedule, the phases (init, setup, main, recovery, final reads), the built-in
//! services and the history. It never reads a clock, sleeps, spawns or touches a pipe: time is
//! a parameter and output is polled. That is what lets the process host drive it in real time
//! and a simulation host drive it on a virtual clock with the same results.
//!
//! Contract (in the style of quinn-proto's `Connection`):
//! - inputs: [`Engine::start`] once, then [`Engine::handle_line`] for every line a node
//!   prints, [`Engine::handle_node_exit`] when a node dies, and [`Engine::handle_timeout`]
//!   whenever the time returned by [`Engine::poll_timeout`] has come;
//! - outputs: after each input, drain [`Engine::poll_output`] (lines to write to a node's
//!   stdin, in order) and re-arm one timer at [`Engine::poll_timeout`];
//! - stop when [`Engine::is_finished`], then take the [`RunRecord`] with
//!   [`Engine::into_record`].
//!
//! Time passed in may lag slightly behind the last value (lines are stamped when read); the
//! engine clamps it so its own clock never goes backwards.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::checker::protocol::NodeProtocol;
use crate::client::{Conn, INIT_TIMEOUT, InFlight, RPC_TIMEOUT, Worker};
use crate::history::{History, Op, OpType, Process};
use crate::ids::{ClientId, Endpoint, MsgId, NetId, NodeId, NodeIndex, Service, parse_client_id};
use crate::journal::Journal;
use crate::latency::Latency;
use crate::message::{BodyHead, LineError, Packet, format_line, parse_line, raw_body};
use crate::nemesis::{NemesisAction, NemesisSchedule};
use crate::network::{Delivery, Network};
use crate::options::TestOptions;
use crate::partition::{self, Grudge};
use crate::rng::{self, Rng};
use crate::schema::{Reply, ResponseSchema, interpret};
use crate::services::Services;
use crate::time::Time;
use crate::workload::{self, Completion, OpSpec, Workload};

/// Why a run crashed (no analysis; exit 255).
#[derive(Debug, Clone, PartialEq)]
pub struct Crash {
    /// The node at fault, if one is.
    pub node: Option<NodeId>,
    /// What happened.
    pub reason: String,
    /// The last lines the node wrote to stderr (filled in by the host).
    pub stderr_tail: Vec<String>,
}

/// The phase the run is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Not started.
    Created,
    /// Waiting for every node's `init_ok`.
    Init,
    /// Client setup (broadcast's topology).
    Setup,
    /// The generator runs.
    Main,
    /// Healed; waiting out the recovery period.
    Recovery {
        /// When the final reads go out.
        until: Time,
    },
    /// Final reads in flight.
    Final,
    /// Over (finished or crashed).
    Done,
}

/// A pending setup RPC (init or topology) to one node.
#[derive(Debug, Clone)]
struct SetupRpc {
    conn: Conn,
    msg_id: MsgId,
    deadline: Time,
    done: bool,
}

/// Who owns an open client connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Init(usize),
    Setup(usize),
    Worker(usize),
}

/// A partition interval, for plots.
#[derive(Debug, Clone, PartialEq)]
pub struct PartitionSpan {
    /// Start, ns since the main phase began.
    pub start: u64,
    /// End (heal), if it happened.
    pub end: Option<u64>,
    /// The shape.
    pub spec: &'static str,
}

/// Everything a finished (or crashed) run leaves for analysis and output.
pub struct RunRecord {
    /// The options.
    pub opts: TestOptions,
    /// The history.
    pub history: History,
    /// The network journal.
    pub journal: Journal,
    /// Bad stdout lines per node id.
    pub protocol: BTreeMap<String, NodeProtocol>,
    /// Set if the run crashed.
    pub crash: Option<Crash>,
    /// Engine time at which the main phase began (history time 0).
    pub origin: Time,
    /// Engine time at which the run ended.
    pub end: Time,
    /// Partitions, for plots.
    pub partitions: Vec<PartitionSpan>,
}

/// Live figures for a progress line.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Current phase.
    pub phase: Phase,
    /// Time into the main phase.
    pub elapsed: Duration,
    /// The main phase's length.
    pub total: Duration,
    /// Client ops completed.
    pub ops_done: u64,
    /// Messages sent on the network.
    pub messages: u64,
}

/// The engine. See the module docs for the driving contract.
pub struct Engine {
    opts: TestOptions,
    workload: Box<dyn Workload>,
    latency: Latency,
    rng_latency: Rng,
    rng_ops: Rng,
    rng_nemesis: Rng,
    now: Time,
    origin: Time,
    phase: Phase,
    names: Vec<NodeId>,
    lookup: HashMap<String, NodeIndex>,
    protocol: Vec<NodeProtocol>,
    net: Network,
    journal: Journal,
    services: Services,
    next_net_id: u64,
    next_client: u64,
    clients: HashMap<ClientId, Owner>,
    setup: Vec<Option<SetupRpc>>,
    setup_conns: Vec<Option<Conn>>,
    workers: Vec<Worker>,
    next_thread: usize,
    stagger: Option<crate::generator::Stagger>,
    nemesis: Option<NemesisSchedule>,
    history: History,
    ops_done: u64,
    partitions: Vec<PartitionSpan>,
    outbox: VecDeque<(NodeIndex, String)>,
    crash: Option<Crash>,
    scratch: Vec<Delivery>,
}

impl Engine {
    /// A new engine for `opts`; every random choice derives from `opts.seed`.
    pub fn new(opts: TestOptions) -> Engine {
        let n = opts.nodes.len();
        let lookup = opts
            .nodes
            .iter()
            .enumerate()
            .map(|(i, id)| (id.0.clone(), NodeIndex(i)))
            .collect();
        let workers = (0..opts.concurrency)
            .map(|t| Worker {
                thread: t,
                node: NodeIndex(if n == 0 { 0 } else { t % n }),
                process: t as u64,
                conn: None,
                in_flight: None,
            })
            .collect();
        Engine {
            workload: workload::make(&opts),
            latency: Latency::new(opts.latency_dist, opts.latency_ms),
            rng_latency: rng::stream(opts.seed, 1),
            rng_ops: rng::stream(opts.seed, 2),
            rng_nemesis: rng::stream(opts.seed, 3),
            services: Services::new(rng::stream(opts.seed, 4)),
            now: Time::ZERO,
            origin: Time::ZERO,
            phase: Phase::Created,
            names: opts.nodes.clone(),
            lookup,
            protocol: vec![NodeProtocol::default(); n],
            net: Network::new(n, opts.hol_blocking),
            journal: Journal::new(),
            next_net_id: 0,
            next_client: 0,
            clients: HashMap::new(),
            setup: vec![None; n],
            setup_conns: vec![None; n],
            workers,
            next_thread: 0,
            stagger: None,
            nemesis: None,
            history: History::new(),
            ops_done: 0,
            partitions: Vec::new(),
            outbox: VecDeque::new(),
            crash: None,
            scratch: Vec::new(),
            opts,
        }
    }

    /// The node ids, in test order (index = [`NodeIndex`]).
    pub fn nodes(&self) -> &[NodeId] {
        &self.names
    }

    /// The options.
    pub fn options(&self) -> &TestOptions {
        &self.opts
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Whether the run is over (finished or crashed).
    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Done
    }

    /// The crash, if the run crashed.
    pub fn crash_report(&self) -> Option<&Crash> {
        self.crash.as_ref()
    }

    /// Live figures.
    pub fn progress(&self) -> Progress {
        let elapsed = match self.phase {
            Phase::Created | Phase::Init | Phase::Setup => Duration::ZERO,
            _ => self.now - self.origin,
        };
        Progress {
            phase: self.phase,
            elapsed,
            total: self.opts.time_limit,
            ops_done: self.ops_done,
            messages: self.journal.all.send_count,
        }
    }

    /// Begin: send `init` to every node. Call once, after the nodes are running.
    pub fn start(&mut self, now: Time) {
        self.now = now;
        if self.phase != Phase::Created {
            return;
        }
        self.phase = Phase::Init;
        let node_ids: Vec<Value> = self.names.iter().map(|n| json!(n.0)).collect();
        for i in 0..self.names.len() {
            let body = json!({"type": "init", "node_id": self.names[i].0, "node_ids": node_ids});
            self.setup_rpc(i, Owner::Init(i), body, INIT_TIMEOUT);
        }
        if self.names.is_empty() {
            self.fail(None, "the test has no nodes".into());
        }
        self.advance();
    }

    /// A node printed `line` on stdout at `now`.
    pub fn handle_line(&mut self, now: Time, node: NodeIndex, line: &str) {
        self.tick(now);
        if self.phase == Phase::Done {
            return;
        }
        if self.protocol.get(node.0).is_none_or(|p| p.stdout_dead) {
            self.advance();
            return;
        }
        let id = NetId(self.next_net_id);
        // Maelstrom increments the id before validation, so rejected lines use one up.
        self.next_net_id += 1;
        match self.accept_line(line) {
            Ok((src, dest, body)) => {
                let head = BodyHead::parse(&body);
                self.route(Packet {
                    id,
                    src,
                    dest,
                    body,
                    head,
                });
            }
            Err(e) => self.bad_line(node, line, &e),
        }
        self.advance();
    }

    /// Time has come (at least the last [`Engine::poll_timeout`]).
    pub fn handle_timeout(&mut self, now: Time) {
        self.tick(now);
        self.advance();
    }

    /// A node exited (or closed its stdout) on its own.
    pub fn handle_node_exit(&mut self, now: Time, node: NodeIndex, status: &str) {
        self.tick(now);
        if self.phase == Phase::Done {
            return;
        }
        let name = self.node_name(node);
        self.fail(Some(node), format!("Node {name} crashed with {status}"));
    }

    /// Abort the run from outside (e.g. a node could not be started).
    pub fn abort(&mut self, now: Time, node: Option<NodeIndex>, reason: String) {
        self.tick(now);
        if self.phase != Phase::Done {
            self.fail(node, reason);
        }
    }

    /// The next line to write to a node's stdin.
    pub fn poll_output(&mut self) -> Option<(NodeIndex, String)> {
        self.outbox.pop_front()
    }

    /// When the engine next needs [`Engine::handle_timeout`], if ever.
    pub fn poll_timeout(&self) -> Option<Time> {
        let mut t: Option<Time> = self.net.next_deadline();
        let mut consider = |x: Time| t = Some(t.map_or(x, |t| t.min(x)));
        match self.phase {
            Phase::Created | Phase::Done => return None,
            Phase::Init | Phase::Setup => {
                for rpc in self.setup.iter().flatten().filter(|r| !r.done) {
                    consider(rpc.deadline);
                }
            }
            Phase::Main => {
                if let Some(s) = &self.stagger {
                    if let Some(next) = s
                        .next_at()
                        .filter(|_| self.workers.iter().any(Worker::is_idle))
                    {
                        consider(next);
                    }
                    if s.cutoff() > self.now {
                        consider(s.cutoff());
                    }
                    if let Some(n) = self.nemesis.as_ref().filter(|n| n.next_at() < s.cutoff()) {
                        consider(n.next_at());
                    }
                }
            }
            Phase::Recovery { until } => consider(until),
            Phase::Final => {}
        }
        for w in &self.workers {
            if let Some(f) = &w.in_flight {
                consider(f.deadline);
            }
        }
        t
    }

    /// Finish: hand over everything recorded.
    pub fn into_record(self) -> RunRecord {
        let protocol = self
            .names
            .iter()
            .map(|n| n.0.clone())
            .zip(self.protocol)
            .collect();
        RunRecord {
            history: self.history,
            journal: self.journal,
            protocol,
            crash: self.crash,
            origin: self.origin,
            end: self.now,
            partitions: self.partitions,
            opts: self.opts,
        }
    }

    // ---- internals ------------------------------------------------------------------------

    fn tick(&mut self, now: Time) {
        self.now = self.now.max(now);
    }

    fn node_name(&self, n: NodeIndex) -> String {
        self.names
            .get(n.0)
            .map_or_else(|| format!("node#{}", n.0), |id| id.0.clone())
    }

    fn name(&self, e: Endpoint) -> Cow<'_, str> {
        match e {
            Endpoint::Node(n) => self
                .names
                .get(n.0)
                .map_or(Cow::Borrowed("?"), |id| Cow::Borrowed(id.as_str())),
            Endpoint::Client(c) => Cow::Owned(c.to_string()),
            Endpoint::Service(s) => Cow::Borrowed(s.as_str()),
        }
    }

    fn resolve(&self, field: &'static str, s: &str) -> Result<Endpoint, LineError> {
        if let Some(n) = self.lookup.get(s) {
            return Ok(Endpoint::Node(*n));
        }
        if let Some(svc) = Service::parse(s) {
            return Ok(Endpoint::Service(svc));
        }
        if let Some(c) = parse_client_id(s) {
            if self.clients.contains_key(&c) {
                return Ok(Endpoint::Client(c));
            }
            return Err(LineError::UnknownEndpoint {
                field,
                value: s.to_owned(),
                closed_client: c.0 < self.next_client,
            });
        }
        Err(LineError::UnknownEndpoint {
            field,
            value: s.to_owned(),
            closed_client: false,
        })
    }

    fn accept_line(
        &self,
        line: &str,
    ) -> Result<(Endpoint, Endpoint, Box<serde_json::value::RawValue>), LineError> {
        let parsed = parse_line(line)?;
        let src = self.resolve("src", &parsed.src)?;
        let dest = self.resolve("dest", &parsed.dest)?;
        Ok((src, dest, parsed.body))
    }

    fn bad_line(&mut self, node: NodeIndex, line: &str, e: &LineError) {
        let name = self.node_name(node);
        let strict = self.opts.strict;
        let Some(p) = self.protocol.get_mut(node.0) else {
            return;
        };
        match e {
            LineError::NotJson(_) => p.not_json += 1,
            LineError::Schema(_) => p.bad_envelope += 1,
            LineError::UnknownEndpoint {
                closed_client: true,
                ..
            } => p.closed_client += 1,
            LineError::UnknownEndpoint { .. } => p.unknown_endpoint += 1,
        }
        let shown: String = line.chars().take(200).collect();
        if p.examples.len() < NodeProtocol::EXAMPLES {
            p.examples.push(format!("{e}: {shown}"));
        }
        if strict {
            p.stdout_dead = true;
            tracing::error!(
                "Error! Node {name} {e}: {shown}. As Maelstrom would, ignoring everything it prints from now on (--strict)."
            );
        } else {
            tracing::warn!("node {name} {e}: {shown} (dropped)");
        }
    }

    fn next_id(&mut self) -> NetId {
        let id = NetId(self.next_net_id);
        self.next_net_id += 1;
        id
    }

    fn open_client(&mut self, owner: Owner) -> Conn {
        let id = ClientId(self.next_client);
        self.next_client += 1;
        self.clients.insert(id, owner);
        Conn::new(id)
    }

    fn route(&mut self, p: Packet) {
        let now = self.now;
        let names = self.journal.wants_detail(&p).then(|| {
            (
                self.name(p.src).into_owned(),
                self.name(p.dest).into_owned(),
            )
        });
        self.journal.send(now, &p, names);
        if tracing::enabled!(target: "gossip_harness::net", tracing::Level::DEBUG) {
            tracing::debug!(target: "gossip_harness::net", "send {} {} -> {} {}", p.id.0, self.name(p.src), self.name(p.dest), p.body.get());
        }
        if let Endpoint::Client(c) = p.dest {
            self.journal.recv(now, &p);
            self.client_receive(c, &p);
            return;
        }
        let latency = if p.src.is_client() {
            Duration::ZERO
        } else {
            self.latency.draw(&mut self.rng_latency)
        };
        self.net.enqueue(now, now + latency, p);
    }

    fn client_send(&mut self, from: ClientId, node: NodeIndex, body: Value) {
        let id = self.next_id();
        let body = raw_body(&body);
        let head = BodyHead::parse(&body);
        self.route(Packet {
            id,
            src: Endpoint::Client(from),
            dest: Endpoint::Node(node),
            body,
            head,
        });
    }

    fn setup_rpc(&mut self, node: usize, owner: Owner, mut body: Value, timeout: Duration) {
        let mut conn = self.open_client(owner);
        let msg_id = conn.next_msg_id();
        if let Some(m) = body.as_object_mut() {
            m.insert("msg_id".into(), json!(msg_id.0));
        }
        let from = conn.id;
        self.setup[node] = Some(SetupRpc {
            conn,
            msg_id,
            deadline: self.now + timeout,
            done: false,
        });
        self.client_send(from, NodeIndex(node), body);
    }

    fn client_receive(&mut self, c: ClientId, p: &Packet) {
        let Some(owner) = self.clients.get(&c).copied() else {
            return;
        };
        let Some(reply_to) = p.head.in_reply_to else {
            return;
        };
        let body: Value = serde_json::from_str(p.body.get()).unwrap_or(Value::Null);
        match owner {
            Owner::Init(i) | Owner::Setup(i) => {
                let matches = self.setup[i]
                    .as_ref()
                    .is_some_and(|r| !r.done && r.conn.id == c && r.msg_id == reply_to);
                if matches {
                    self.setup_reply(i, owner, &body);
                }
            }
            Owner::Worker(t) => {
                let Some(w) = self.workers.get(t) else { return };
                let current = w.conn.as_ref().is_some_and(|k| k.id == c);
                let Some(f) = w
                    .in_flight
                    .as_ref()
                    .filter(|f| current && f.msg_id == reply_to)
                else {
                    // A stale reply: discarded (its receive is already journaled).
                    return;
                };
                let completion = self.workload.complete_reply(&f.op, &body);
                self.complete(t, completion);
            }
        }
    }

    fn setup_reply(&mut self, i: usize, owner: Owner, body: &Value) {
        let name = self.node_name(NodeIndex(i));
        let kind = body.get("type").and_then(Value::as_str).unwrap_or("");
        match owner {
            Owner::Init(_) => {
                if kind == "error" {
                    let code = body.get("code").cloned().unwrap_or(Value::Null);
                    let text = body.get("text").and_then(Value::as_str).unwrap_or("");
                    return self.fail(
                        Some(NodeIndex(i)),
                        format!("Node {name} answered init with error {code}: {text}"),
                    );
                }
                if kind != "init_ok" {
                    return self.fail(
                        Some(NodeIndex(i)),
                        format!("Node {name} answered init with type {kind:?}; expected \"init_ok\" (init-failed)"),
                    );
                }
            }
            Owner::Setup(_) => {
                let schema = ResponseSchema {
                    kind: "topology_ok",
                    fields: &[],
                };
                match interpret(&schema, body) {
                    Reply::Ok(_) => {}
                    Reply::Error(e) => {
                        return self.fail(
                            Some(NodeIndex(i)),
                            format!(
                                "Node {name} answered topology with error {} ({})",
                                e.code.code, e.code.name
                            ),
                        );
                    }
                    Reply::Malformed(why) => {
                        return self.fail(Some(NodeIndex(i)), format!("Node {name}: {why}"));
                    }
                }
            }
            Owner::Worker(_) => {}
        }
        if let Some(r) = self.setup[i].as_mut() {
            r.done = true;
        }
    }

    fn fail(&mut self, node: Option<NodeIndex>, reason: String) {
        tracing::error!("{reason}");
        self.crash = Some(Crash {
            node: node.map(|n| NodeId(self.node_name(n))),
            reason,
            stderr_tail: Vec::new(),
        });
        self.phase = Phase::Done;
    }

    fn rel(&self) -> u64 {
        self.now.as_nanos().saturating_sub(self.origin.as_nanos())
    }

    fn invoke(&mut self, t: usize, op: OpSpec) {
        let now = self.now;
        let time = self.rel();
        let Some(w) = self.workers.get(t) else { return };
        let node = w.node;
        let process = w.process;
        if w.conn.is_none() {
            let conn = self.open_client(Owner::Worker(t));
            if let Some(w) = self.workers.get_mut(t) {
                w.conn = Some(conn);
            }
        }
        let Some(w) = self.workers.get_mut(t) else {
            return;
        };
        let Some(conn) = w.conn.as_mut() else { return };
        let msg_id = conn.next_msg_id();
        let from = conn.id;
        let mut body = self.workload.request(&op);
        if let Some(m) = body.as_object_mut() {
            m.insert("msg_id".into(), json!(msg_id.0));
        }
        self.history.push(Op {
            index: 0,
            kind: OpType::Invoke,
            f: op.f.to_owned(),
            value: op.value.clone(),
            process: Process::Worker(process),
            time,
            is_final: op.is_final,
            error: None,
            exception: None,
        });
        tracing::debug!("{process}\t:invoke\t:{}\t{}", op.f, op.value);
        w.in_flight = Some(InFlight {
            op,
            msg_id,
            deadline: now + RPC_TIMEOUT,
        });
        self.client_send(from, node, body);
    }

    fn complete(&mut self, t: usize, c: Completion) {
        let time = self.rel();
        let concurrency = self.workers.len() as u64;
        let Some(w) = self.workers.get_mut(t) else {
            return;
        };
        let Some(f) = w.in_flight.take() else { return };
        let process = w.process;
        tracing::debug!("{process}\t{}\t:{}\t{}", c.kind.keyword(), f.op.f, c.value);
        self.history.push(Op {
            index: 0,
            kind: c.kind,
            f: f.op.f.to_owned(),
            value: c.value,
            process: Process::Worker(process),
            time,
            is_final: f.op.is_final,
            error: c.error,
            exception: c.exception,
        });
        self.ops_done += 1;
        if c.kind == OpType::Info {
            // The worker's process "crashed": a new process id, and a new connection next time.
            w.process += concurrency;
            if let Some(conn) = w.conn.take() {
                self.clients.remove(&conn.id);
            }
        }
    }

    fn nemesis_op(&mut self, action: NemesisAction) {
        let time = self.rel();
        let op = |f: &str, value: Value| Op {
            index: 0,
            kind: OpType::Info,
            f: f.to_owned(),
            value,
            process: Process::NEMESIS,
            time,
            is_final: false,
            error: None,
            exception: None,
        };
        match action {
            NemesisAction::Start(spec) => {
                self.history.push(op("start-partition", json!(spec.name())));
                let grudge = partition::grudge(spec, self.names.len(), &mut self.rng_nemesis);
                self.net.partitions.apply(&grudge);
                let value = json!(["isolated", self.grudge_json(&grudge)]);
                tracing::info!("nemesis: start-partition {} {}", spec.name(), value[1]);
                self.history.push(op("start-partition", value));
                self.partitions.push(PartitionSpan {
                    start: time,
                    end: None,
                    spec: spec.name(),
                });
            }
            NemesisAction::Stop => {
                self.history.push(op("stop-partition", Value::Null));
                self.net.partitions.heal();
                tracing::info!("nemesis: network healed");
                self.history
                    .push(op("stop-partition", json!("network-healed")));
                if let Some(p) = self.partitions.last_mut().filter(|p| p.end.is_none()) {
                    p.end = Some(time);
                }
            }
        }
    }

    fn grudge_json(&self, g: &Grudge) -> Value {
        let mut m = Map::new();
        for (dest, srcs) in g {
            m.insert(
                self.node_name(*dest),
                srcs.iter().map(|s| json!(self.node_name(*s))).collect(),
            );
        }
        Value::Object(m)
    }

    /// Do everything that is due at `self.now`, until nothing more is.
    fn advance(&mut self) {
        loop {
            if self.phase == Phase::Done {
                return;
            }
            let mut progressed = self.deliver_due();
            progressed |= self.expire();
            progressed |= self.step_phase();
            if !progressed {
                return;
            }
        }
    }

    fn deliver_due(&mut self) -> bool {
        let mut out = std::mem::take(&mut self.scratch);
        self.net.poll(self.now, &mut out);
        let any = !out.is_empty();
        for d in out.drain(..) {
            match d {
                Delivery::Node(n, p) => {
                    self.journal.recv(self.now, &p);
                    if tracing::enabled!(target: "gossip_harness::net", tracing::Level::DEBUG) {
                        tracing::debug!(target: "gossip_harness::net", "recv {} {} -> {} {}", p.id.0, self.name(p.src), self.name(p.dest), p.body.get());
                    }
                    let line = format_line(p.id, &self.name(p.src), &self.name(p.dest), &p.body);
                    self.outbox.push_back((n, line));
                }
                Delivery::Service(svc, p) => {
                    self.journal.recv(self.now, &p);
                    self.service_request(svc, &p);
                }
                Delivery::Dropped(_) => {}
            }
        }
        self.scratch = out;
        any
    }

    fn service_request(&mut self, svc: Service, p: &Packet) {
        let caller = self.name(p.src).into_owned();
        let body: Value = serde_json::from_str(p.body.get()).unwrap_or(Value::Null);
        match self.services.handle(svc, &caller, &body) {
            Ok(mut reply) => {
                if let (Some(m), Some(id)) = (reply.as_object_mut(), p.head.msg_id) {
                    m.insert("in_reply_to".into(), json!(id.0));
                }
                let id = self.next_id();
                let body = raw_body(&reply);
                let head = BodyHead::parse(&body);
                self.route(Packet {
                    id,
                    src: Endpoint::Service(svc),
                    dest: p.src,
                    body,
                    head,
                });
            }
            Err(why) => tracing::warn!(
                "service {} got a request it cannot handle from {caller}: {why}",
                svc.as_str()
            ),
        }
    }

    fn expire(&mut self) -> bool {
        let now = self.now;
        let mut any = false;
        if matches!(self.phase, Phase::Init | Phase::Setup) {
            let late = self
                .setup
                .iter()
                .position(|r| r.as_ref().is_some_and(|r| !r.done && r.deadline <= now));
            if let Some(i) = late {
                let name = self.node_name(NodeIndex(i));
                let mut what = if self.phase == Phase::Init {
                    format!(
                        "Node {name} did not answer init within {} s (init-failed)",
                        INIT_TIMEOUT.as_secs()
                    )
                } else {
                    format!(
                        "Node {name} did not answer topology within {} s",
                        RPC_TIMEOUT.as_secs()
                    )
                };
                if let Some(first) = self.protocol.get(i).and_then(|p| p.examples.first()) {
                    what.push_str(&format!("; it {first}"));
                }
                self.fail(Some(NodeIndex(i)), what);
                return true;
            }
        }
        for t in 0..self.workers.len() {
            let timed_out = self.workers[t]
                .in_flight
                .as_ref()
                .filter(|f| f.deadline <= now)
                .map(|f| f.op.clone());
            if let Some(op) = timed_out {
                let c = self.workload.complete_timeout(&op);
                self.complete(t, c);
                any = true;
            }
        }
        any
    }

    fn all_idle(&self) -> bool {
        self.workers.iter().all(Worker::is_idle)
    }

    fn step_phase(&mut self) -> bool {
        let now = self.now;
        match self.phase {
            Phase::Created | Phase::Done => false,
            Phase::Init => {
                if self
                    .setup
                    .iter()
                    .all(|r| r.as_ref().is_some_and(|r| r.done))
                {
                    // Close the init clients, open one setup client per node.
                    for r in self.setup.iter_mut().filter_map(Option::take) {
                        self.clients.remove(&r.conn.id);
                    }
                    self.phase = Phase::Setup;
                    for i in 0..self.names.len() {
                        match self.workload.setup_request(&self.names[i]) {
                            Some(body) => {
                                self.setup_rpc(i, Owner::Setup(i), body, RPC_TIMEOUT);
                            }
                            None => {
                                let conn = self.open_client(Owner::Setup(i));
                                self.setup_conns[i] = Some(conn);
                            }
                        }
                    }
                    true
                } else {
                    false
                }
            }
            Phase::Setup => {
                if self.setup.iter().all(|r| r.as_ref().is_none_or(|r| r.done)) {
                    for i in 0..self.setup.len() {
                        if let Some(r) = self.setup[i].take() {
                            self.setup_conns[i] = Some(r.conn);
                        }
                    }
                    self.origin = now;
                    self.phase = Phase::Main;
                    self.stagger = Some(crate::generator::Stagger::new(
                        now,
                        self.opts.rate,
                        self.opts.time_limit,
                    ));
                    if self.opts.nemesis_partition {
                        self.nemesis = Some(NemesisSchedule::new(now, self.opts.nemesis_interval));
                    }
                    tracing::info!(
                        "main phase: {} s at {} ops/s",
                        self.opts.time_limit.as_secs_f64(),
                        self.opts.rate
                    );
                    true
                } else {
                    false
                }
            }
            Phase::Main => self.step_main(),
            Phase::Recovery { until } => {
                if now < until {
                    return false;
                }
                self.phase = Phase::Final;
                let op = self.workload.final_op();
                for t in 0..self.workers.len() {
                    self.invoke(t, op.clone());
                }
                true
            }
            Phase::Final => {
                if self.all_idle() {
                    self.phase = Phase::Done;
                    true
                } else {
                    false
                }
            }
        }
    }

    fn step_main(&mut self) -> bool {
        let now = self.now;
        let Some(cutoff) = self.stagger.as_ref().map(crate::generator::Stagger::cutoff) else {
            return false;
        };
        let mut any = false;
        if let Some(action) = self
            .nemesis
            .as_mut()
            .filter(|n| n.next_at() <= now && n.next_at() < cutoff)
            .map(|n| n.take(&mut self.rng_nemesis))
        {
            self.nemesis_op(action);
            any = true;
        }
        while let Some(next) = self
            .stagger
            .as_ref()
            .and_then(crate::generator::Stagger::next_at)
        {
            if next > now {
                break;
            }
            let n = self.workers.len();
            let Some(t) = (0..n)
                .map(|k| (self.next_thread + k) % n)
                .find(|&t| self.workers[t].is_idle())
            else {
                break;
            };
            self.next_thread = (t + 1) % n.max(1);
            let op = self.workload.next_op(&mut self.rng_ops);
            if let Some(s) = self.stagger.as_mut() {
                s.emitted(now, &mut self.rng_ops);
            }
            self.invoke(t, op);
            any = true;
        }
        if now >= cutoff && self.all_idle() {
            if self.workload.has_final_phase() {
                if self.opts.nemesis_partition {
                    self.nemesis_op(NemesisAction::Stop);
                }
                tracing::info!("Waiting for recovery...");
                self.phase = Phase::Recovery {
                    until: now + self.opts.recovery,
                };
            } else {
                self.phase = Phase::Done;
            }
            any = true;
        }
        any
    }
}
