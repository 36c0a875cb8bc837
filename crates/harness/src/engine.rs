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

use rand::RngExt;
use serde_json::{Map, Value, json};

use crate::checker::protocol::NodeProtocol;
use crate::client::{Completion, Conn, INIT_TIMEOUT, InFlight, OpSpec, RPC_TIMEOUT, Worker};
use crate::history::{History, Op, OpType, Process};
use crate::host::Control;
use crate::ids::{ClientId, Endpoint, MsgId, NetId, NodeId, NodeIndex, Service, parse_client_id};
use crate::journal::Journal;
use crate::latency::Latency;
use crate::message::{BodyHead, LineError, Packet, Preparsed, format_line, raw_body};
use crate::nemesis::{FaultKind, NemesisAction, NemesisSchedule, Target};
use crate::network::{Delivery, Network};
use crate::options::TestOptions;
use crate::partition::{self, Grudge};
use crate::progress::{Phase, Progress};
use crate::rng::{self, Rng};
use crate::schema::{Body, Reply, ResponseSchema, interpret_body, parse_body};
use crate::script::{Script, Step};
use crate::services::Services;
use crate::time::Time;
use crate::value::OpValue;
use crate::workload::{self, Workload};

/// A latency spike multiplies the drawn latency by this...
pub const SLOW_FACTOR: u32 = 10;
/// ...and adds this, so that a spike is felt even at `--latency 0`.
pub const SLOW_EXTRA: Duration = Duration::from_millis(100);
/// How often a `converged` check reads every node while they disagree.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(100);

fn show_nodes(names: &[String]) -> String {
    if names.is_empty() {
        "no node".to_owned()
    } else {
        names.join(" ")
    }
}

/// What the engine asks of the host, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Write this line to the node's stdin.
    Deliver(NodeIndex, String),
    /// Inflict a fault on the node.
    Control(NodeIndex, Control),
}

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
    /// The init (then setup) of a restarted node.
    Rejoin(usize),
}

/// A restarted node's handshake: init, then the workload's setup request.
#[derive(Debug, Clone)]
struct Rejoin {
    rpc: SetupRpc,
    init_done: bool,
}

/// A fault interval, for plots.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSpan {
    /// Start, ns since the main phase began.
    pub start: u64,
    /// End (heal, restart, resume), if it happened.
    pub end: Option<u64>,
    /// Which fault.
    pub kind: FaultKind,
    /// What it was, e.g. `majority` or `kill n3`.
    pub label: String,
}

/// The network's fault settings for node-to-node messages.
#[derive(Debug, Clone, Copy, PartialEq)]
struct NetFaults {
    p_loss: f64,
    p_dup: f64,
    reorder_ms: u64,
}

/// A `converged` check in progress.
#[derive(Debug, Clone)]
struct Probe {
    started: Time,
    deadline: Time,
    next_round: Time,
    /// Worker → slot, for the reads of the current round.
    round: Vec<(usize, Option<Result<OpValue, String>>)>,
    rounds: u32,
}

/// The script of a scenario, being run.
#[derive(Debug, Clone)]
struct ScriptRun {
    script: Script,
    pc: usize,
    wait_until: Option<Time>,
    probe: Option<Probe>,
    failures: Vec<String>,
    checks: Vec<Value>,
    done: bool,
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
    /// Faults, for plots.
    pub faults: Vec<FaultSpan>,
    /// A scenario's script report: its checks and failures.
    pub scenario: Option<Value>,
    /// CPU time the node processes used, when the host measured it.
    pub node_cpu: Option<std::time::Duration>,
}

/// The engine. See the module docs for the driving contract.
pub struct Engine {
    opts: TestOptions,
    workload: Box<dyn Workload>,
    latency: Latency,
    rng_latency: Rng,
    rng_ops: Rng,
    rng_nemesis: Rng,
    rng_faults: Rng,
    rng_net: Rng,
    net_faults: NetFaults,
    alive: Vec<bool>,
    paused: Vec<bool>,
    slow: Vec<bool>,
    rejoin: Vec<Option<Rejoin>>,
    script: Option<ScriptRun>,
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
    faults: Vec<FaultSpan>,
    /// Every worker's in-flight request, by deadline: (deadline, worker).
    deadlines: std::collections::BTreeSet<(Time, usize)>,
    outbox: VecDeque<Command>,
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
            rng_faults: rng::stream(opts.seed, 5),
            rng_net: rng::stream(opts.seed, 6),
            net_faults: NetFaults {
                p_loss: opts.p_loss,
                p_dup: opts.p_dup,
                reorder_ms: opts.reorder_ms,
            },
            alive: vec![true; n],
            paused: vec![false; n],
            slow: vec![false; n],
            rejoin: vec![None; n],
            script: opts.script.clone().map(|script| ScriptRun {
                script,
                pc: 0,
                wait_until: None,
                probe: None,
                failures: Vec::new(),
                checks: Vec::new(),
                done: false,
            }),
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
            faults: Vec::new(),
            deadlines: std::collections::BTreeSet::new(),
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
        self.handle_preparsed(now, node, line, Preparsed::of(line));
    }

    /// A node printed `line` on stdout at `now`, and `pre` is [`Preparsed::of`] that line
    /// (read on another thread).
    pub fn handle_preparsed(&mut self, now: Time, node: NodeIndex, line: &str, pre: Preparsed) {
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
        let Preparsed {
            envelope,
            head,
            fields,
        } = pre;
        match envelope.and_then(|(src, dest, body)| {
            Ok((
                self.resolve("src", &src)?,
                self.resolve("dest", &dest)?,
                body,
            ))
        }) {
            Ok((src, dest, body)) => {
                // Fields were read for a `dest` that reads as a client id; if it resolved to
                // something else, the head comes from the raw body as for any message.
                let (head, fields) = match fields {
                    Some(f) if dest.is_client() => (head, Some(f)),
                    Some(_) => (BodyHead::parse(&body), None),
                    None => (head, None),
                };
                self.route_parsed(
                    Packet {
                        id,
                        src,
                        dest,
                        body,
                        head,
                    },
                    fields,
                );
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
        if self.phase == Phase::Done || !self.is_alive(node) {
            // A node the nemesis killed is expected to be gone.
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

    /// The next thing for the host to do: a line to write to a node's stdin, or a fault.
    pub fn poll_output(&mut self) -> Option<Command> {
        self.outbox.pop_front()
    }

    /// Whether a node is running (not killed by the nemesis).
    pub fn is_alive(&self, node: NodeIndex) -> bool {
        self.alive.get(node.0).copied().unwrap_or(false)
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
                if let Some(run) = &self.script {
                    if let Some(t) = run.wait_until {
                        consider(t);
                    }
                    // A round in flight waits for its reads (they have their own timeouts);
                    // the next round is due at `next_round`.
                    if let Some(p) = run
                        .probe
                        .as_ref()
                        .filter(|p| p.round.is_empty() && p.next_round > self.now)
                    {
                        consider(p.next_round);
                    }
                }
                let probing = self.script.as_ref().is_some_and(|r| r.probe.is_some());
                if let Some(s) = &self.stagger {
                    if let Some(next) = s
                        .next_at()
                        .filter(|_| !probing && self.deadlines.len() < self.workers.len())
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
        for r in self.rejoin.iter().flatten() {
            consider(r.rpc.deadline);
        }
        if let Some(&(deadline, _)) = self.deadlines.first() {
            consider(deadline);
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
            faults: self.faults,
            node_cpu: None,
            scenario: self.script.map(|run| {
                let valid = if run.failures.is_empty() {
                    crate::checker::Validity::Valid
                } else {
                    crate::checker::Validity::Invalid
                };
                json!({
                    "valid?": valid.to_json(),
                    "name": run.script.name,
                    "steps": (0..run.script.steps.len()).map(|i| run.script.show(i)).collect::<Vec<_>>(),
                    "completed-steps": run.pc,
                    "checks": run.checks,
                    "failures": run.failures,
                })
            }),
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
            // A node that floods its stdout with bad lines must not flood the console too.
            let seen = p.not_json + p.bad_envelope + p.unknown_endpoint + p.closed_client;
            let shown_at_most = NodeProtocol::EXAMPLES as u64;
            if seen <= shown_at_most {
                tracing::warn!("node {name} {e}: {shown} (dropped)");
            }
            if seen == shown_at_most {
                tracing::warn!(
                    "node {name}: its further bad lines are dropped and counted (results.json, protocol), not logged"
                );
            }
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
        self.route_parsed(p, None);
    }

    /// Route `p`; `fields` is its body already parsed, if it was.
    fn route_parsed(&mut self, p: Packet, fields: Option<Body>) {
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
            self.client_receive(c, &p, fields);
            return;
        }
        let latency = if p.src.is_client() {
            Duration::ZERO
        } else {
            self.latency.draw(&mut self.rng_latency)
        };
        let (Endpoint::Node(src), Endpoint::Node(dest)) = (p.src, p.dest) else {
            self.net.enqueue(now, now + latency, p);
            return;
        };
        // Node-to-node faults: loss, duplication, reordering, latency spikes. Each draw is
        // made only when its fault is on, so a run without faults draws what it always did.
        let f = self.net_faults;
        if f.p_loss > 0.0 && self.rng_net.random_bool(f.p_loss.min(1.0)) {
            // Journaled as sent, never received.
            return;
        }
        let copy = (f.p_dup > 0.0 && self.rng_net.random_bool(f.p_dup.min(1.0))).then(|| {
            let again = self.latency.draw(&mut self.rng_net);
            (again, p.clone())
        });
        let first = self.fault_delay(src, dest, latency);
        self.net.enqueue(now, now + first, p);
        if let Some((again, dup)) = copy {
            let again = self.fault_delay(src, dest, again);
            self.net.enqueue(now, now + again, dup);
        }
    }

    /// A node-to-node latency with the reordering delay and any spike applied.
    fn fault_delay(&mut self, src: NodeIndex, dest: NodeIndex, latency: Duration) -> Duration {
        let mut d = latency;
        if self.net_faults.reorder_ms > 0 {
            d += Duration::from_millis(self.rng_net.random_range(0..self.net_faults.reorder_ms));
        }
        if self.slow.get(src.0).copied().unwrap_or(false)
            || self.slow.get(dest.0).copied().unwrap_or(false)
        {
            d = d * SLOW_FACTOR + SLOW_EXTRA;
        }
        d
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

    fn client_receive(&mut self, c: ClientId, p: &Packet, fields: Option<Body>) {
        let Some(owner) = self.clients.get(&c).copied() else {
            return;
        };
        let Some(reply_to) = p.head.in_reply_to else {
            return;
        };
        match owner {
            Owner::Init(i) | Owner::Setup(i) => {
                let matches = self.setup[i]
                    .as_ref()
                    .is_some_and(|r| !r.done && r.conn.id == c && r.msg_id == reply_to);
                if matches {
                    let body = fields.or_else(|| parse_body(p.body.get()));
                    self.setup_reply(i, owner, &body.unwrap_or_default());
                }
            }
            Owner::Rejoin(i) => {
                let matches = self.rejoin[i]
                    .as_ref()
                    .is_some_and(|r| r.rpc.conn.id == c && r.rpc.msg_id == reply_to);
                if matches {
                    let body = fields.or_else(|| parse_body(p.body.get()));
                    self.rejoin_reply(i, body.unwrap_or_default());
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
                let completion = match fields {
                    Some(fields) => self.workload.complete_fields(&f.op, fields, p.body.get()),
                    None => self.workload.complete_reply(&f.op, p.body.get()),
                };
                self.complete(t, completion);
            }
        }
    }

    fn setup_reply(&mut self, i: usize, owner: Owner, body: &Body) {
        let name = self.node_name(NodeIndex(i));
        let field = |k: &str| body.get(k).and_then(OpValue::as_json);
        let kind = field("type").and_then(Value::as_str).unwrap_or("");
        match owner {
            Owner::Init(_) => {
                if kind == "error" {
                    let code = field("code").cloned().unwrap_or(Value::Null);
                    let text = field("text").and_then(Value::as_str).unwrap_or("");
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
                match interpret_body(&schema, body.clone()) {
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
            Owner::Worker(_) | Owner::Rejoin(_) => {}
        }
        if let Some(r) = self.setup[i].as_mut() {
            r.done = true;
        }
    }

    /// A restarted node answered its init (or its setup request). Anything but success
    /// crashes the run, as a failed init does at the start.
    fn rejoin_reply(&mut self, i: usize, body: Body) {
        let name = self.node_name(NodeIndex(i));
        let Some(r) = self.rejoin[i].take() else {
            return;
        };
        self.clients.remove(&r.rpc.conn.id);
        let kind = body
            .get("type")
            .and_then(OpValue::as_json)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let expected = if r.init_done {
            "topology_ok"
        } else {
            "init_ok"
        };
        if kind != expected {
            let what = if r.init_done { "topology" } else { "init" };
            return self.fail(
                Some(NodeIndex(i)),
                format!("Node {name} answered {what} after its restart with {kind:?}; expected {expected:?}"),
            );
        }
        if r.init_done {
            return;
        }
        tracing::info!("nemesis: {name} restarted and initialised");
        if let Some(body) = self.workload.setup_request(&self.names[i]) {
            self.rejoin_rpc(i, body, true, RPC_TIMEOUT);
        }
    }

    fn rejoin_rpc(&mut self, node: usize, mut body: Value, init_done: bool, timeout: Duration) {
        let mut conn = self.open_client(Owner::Rejoin(node));
        let msg_id = conn.next_msg_id();
        if let Some(m) = body.as_object_mut() {
            m.insert("msg_id".into(), json!(msg_id.0));
        }
        let from = conn.id;
        self.rejoin[node] = Some(Rejoin {
            rpc: SetupRpc {
                conn,
                msg_id,
                deadline: self.now + timeout,
                done: false,
            },
            init_done,
        });
        self.client_send(from, NodeIndex(node), body);
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
            value: op.value.clone().into(),
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
        self.deadlines.insert((now + RPC_TIMEOUT, t));
        self.client_send(from, node, body);
    }

    fn complete(&mut self, t: usize, c: Completion) {
        let time = self.rel();
        let concurrency = self.workers.len() as u64;
        let Some(w) = self.workers.get_mut(t) else {
            return;
        };
        let Some(f) = w.in_flight.take() else { return };
        self.deadlines.remove(&(f.deadline, t));
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
        if let Some(slot) = self
            .script
            .as_mut()
            .and_then(|r| r.probe.as_mut())
            .and_then(|p| p.round.iter_mut().find(|(w, r)| *w == t && r.is_none()))
        {
            slot.1 = Some(match (&self.history.ops().last(), c.kind) {
                (Some(op), OpType::Ok) => Ok(op.value.clone()),
                (Some(op), _) => Err(op
                    .error
                    .as_ref()
                    .map_or_else(|| "failed".to_owned(), Value::to_string)),
                (None, _) => Err("failed".to_owned()),
            });
        }
        let Some(w) = self.workers.get_mut(t) else {
            return;
        };
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
            value: value.into(),
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
                self.partition(&grudge, spec.name().to_owned(), time, &op);
            }
            NemesisAction::Cut(groups) => {
                let label = groups
                    .iter()
                    .map(|g| self.names_of(g).join(" "))
                    .collect::<Vec<_>>()
                    .join(" | ");
                self.history.push(op("start-partition", json!(label)));
                let grudge = partition::grudge_of_groups(&groups, self.names.len());
                self.partition(&grudge, label, time, &op);
            }
            NemesisAction::Stop => {
                self.history.push(op("stop-partition", Value::Null));
                self.net.partitions.heal();
                tracing::info!("nemesis: network healed");
                self.history
                    .push(op("stop-partition", json!("network-healed")));
                self.close_spans(FaultKind::Partition, None, time);
            }
            NemesisAction::Kill(target) => {
                let hit = self.pick_nodes("kill", &target, |e, i| e.alive[i], &op);
                for &n in &hit {
                    self.alive[n.0] = false;
                    self.paused[n.0] = false;
                    if let Some(r) = self.rejoin[n.0].take() {
                        self.clients.remove(&r.rpc.conn.id);
                    }
                    self.outbox.push_back(Command::Control(n, Control::Kill));
                    self.open_span(FaultKind::Kill, format!("kill {}", self.node_name(n)), time);
                }
                self.record_hit("kill", "killed", &hit, &op);
            }
            NemesisAction::Restart(target) => {
                let hit = self.pick_nodes("start", &target, |e, i| !e.alive[i], &op);
                for &n in &hit {
                    self.alive[n.0] = true;
                    self.outbox.push_back(Command::Control(n, Control::Restart));
                    let node_ids: Vec<Value> = self.names.iter().map(|n| json!(n.0)).collect();
                    let body =
                        json!({"type": "init", "node_id": self.names[n.0].0, "node_ids": node_ids});
                    self.rejoin_rpc(n.0, body, false, INIT_TIMEOUT);
                    self.close_spans(FaultKind::Kill, Some(n), time);
                }
                self.record_hit("start", "restarted", &hit, &op);
            }
            NemesisAction::Pause(target) => {
                let eligible = |e: &Engine, i: usize| e.alive[i] && !e.paused[i];
                let hit = self.pick_nodes("pause", &target, eligible, &op);
                for &n in &hit {
                    self.paused[n.0] = true;
                    self.outbox.push_back(Command::Control(n, Control::Pause));
                    self.open_span(
                        FaultKind::Pause,
                        format!("pause {}", self.node_name(n)),
                        time,
                    );
                }
                self.record_hit("pause", "paused", &hit, &op);
            }
            NemesisAction::Resume(target) => {
                let eligible = |e: &Engine, i: usize| e.alive[i] && e.paused[i];
                let hit = self.pick_nodes("resume", &target, eligible, &op);
                for &n in &hit {
                    self.paused[n.0] = false;
                    self.outbox.push_back(Command::Control(n, Control::Resume));
                    // A pending rejoin waited for nothing while the node was stopped.
                    let deadline = self.now + INIT_TIMEOUT;
                    if let Some(r) = self.rejoin[n.0].as_mut() {
                        r.rpc.deadline = deadline;
                    }
                    self.close_spans(FaultKind::Pause, Some(n), time);
                }
                self.record_hit("resume", "resumed", &hit, &op);
            }
            NemesisAction::Slow(target) => {
                let hit = self.pick_nodes("slow", &target, |e, i| !e.slow[i], &op);
                for &n in &hit {
                    self.slow[n.0] = true;
                    self.open_span(FaultKind::Slow, format!("slow {}", self.node_name(n)), time);
                }
                self.record_hit("slow", "slowed", &hit, &op);
            }
            NemesisAction::Fast(target) => {
                let hit = self.pick_nodes("fast", &target, |e, i| e.slow[i], &op);
                for &n in &hit {
                    self.slow[n.0] = false;
                    self.close_spans(FaultKind::Slow, Some(n), time);
                }
                self.record_hit("fast", "sped up", &hit, &op);
            }
        }
    }

    fn partition(
        &mut self,
        grudge: &Grudge,
        label: String,
        time: u64,
        op: &dyn Fn(&str, Value) -> Op,
    ) {
        self.net.partitions.apply(grudge);
        let value = json!(["isolated", self.grudge_json(grudge)]);
        tracing::info!("nemesis: start-partition {label} {}", value[1]);
        self.history.push(op("start-partition", value));
        self.open_span(FaultKind::Partition, label, time);
    }

    /// Records the invocation of the node fault `f` and picks its nodes among the `eligible`.
    fn pick_nodes(
        &mut self,
        f: &str,
        target: &Target,
        eligible: impl Fn(&Engine, usize) -> bool,
        op: &dyn Fn(&str, Value) -> Op,
    ) -> Vec<NodeIndex> {
        self.history.push(op(f, json!(target.name())));
        let candidates: Vec<NodeIndex> = (0..self.names.len())
            .filter(|&i| eligible(self, i))
            .map(NodeIndex)
            .collect();
        target.pick(&candidates, &mut self.rng_faults)
    }

    /// Logs and records the nodes the node fault `f` hit.
    fn record_hit(
        &mut self,
        f: &str,
        verb: &str,
        hit: &[NodeIndex],
        op: &dyn Fn(&str, Value) -> Op,
    ) {
        let names = self.names_of(hit);
        tracing::info!("nemesis: {verb} {}", show_nodes(&names));
        self.history.push(op(f, json!(names)));
    }

    fn names_of(&self, nodes: &[NodeIndex]) -> Vec<String> {
        nodes.iter().map(|n| self.node_name(*n)).collect()
    }

    fn open_span(&mut self, kind: FaultKind, label: String, time: u64) {
        self.faults.push(FaultSpan {
            start: time,
            end: None,
            kind,
            label,
        });
    }

    /// Close the open spans of `kind` (only `node`'s, if given).
    fn close_spans(&mut self, kind: FaultKind, node: Option<NodeIndex>, time: u64) {
        let suffix = node.map(|n| format!(" {}", self.node_name(n)));
        for span in self
            .faults
            .iter_mut()
            .filter(|f| f.kind == kind && f.end.is_none())
        {
            if suffix
                .as_ref()
                .is_none_or(|s| span.label.ends_with(s.as_str()))
            {
                span.end = Some(time);
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
                Delivery::Node(n, _) if !self.is_alive(n) => {
                    // A killed node hears nothing: dropped like a partitioned message.
                }
                Delivery::Node(n, p) => {
                    self.journal.recv(self.now, &p);
                    if tracing::enabled!(target: "gossip_harness::net", tracing::Level::DEBUG) {
                        tracing::debug!(target: "gossip_harness::net", "recv {} {} -> {} {}", p.id.0, self.name(p.src), self.name(p.dest), p.body.get());
                    }
                    let line = format_line(p.id, &self.name(p.src), &self.name(p.dest), &p.body);
                    self.outbox.push_back(Command::Deliver(n, line));
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
        let late = self
            .rejoin
            .iter()
            .position(|r| r.as_ref().is_some_and(|r| r.rpc.deadline <= now));
        if let Some(i) = late {
            let name = self.node_name(NodeIndex(i));
            let what = if self.rejoin[i].as_ref().is_some_and(|r| r.init_done) {
                "topology"
            } else {
                "init"
            };
            self.fail(
                Some(NodeIndex(i)),
                format!("Node {name} did not answer {what} after its restart"),
            );
            return true;
        }
        while let Some(&(deadline, t)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            let Some(op) = self.workers[t].in_flight.as_ref().map(|f| f.op.clone()) else {
                self.deadlines.pop_first();
                continue;
            };
            let c = self.workload.complete_timeout(&op);
            self.complete(t, c);
            any = true;
        }
        any
    }

    fn all_idle(&self) -> bool {
        self.deadlines.is_empty()
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
                    // A script decides when the main phase ends.
                    let limit = if self.script.is_some() {
                        Duration::MAX
                    } else {
                        self.opts.time_limit
                    };
                    self.stagger = Some(crate::generator::Stagger::new(now, self.opts.rate, limit));
                    if !self.opts.nemesis.is_empty() && self.script.is_none() {
                        self.nemesis = Some(NemesisSchedule::new(
                            now,
                            self.opts.nemesis_interval,
                            &self.opts.nemesis,
                        ));
                    }
                    match &self.script {
                        Some(run) => tracing::info!(
                            "main phase: scenario {} ({} steps) at {} ops/s",
                            run.script.name,
                            run.script.steps.len(),
                            self.opts.rate
                        ),
                        None => tracing::info!(
                            "main phase: {} s at {} ops/s",
                            self.opts.time_limit.as_secs_f64(),
                            self.opts.rate
                        ),
                    }
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
        let mut any = self.step_script();
        let Some(cutoff) = self.stagger.as_ref().map(crate::generator::Stagger::cutoff) else {
            return any;
        };
        if let Some(action) = self
            .nemesis
            .as_mut()
            .filter(|n| n.next_at() <= now && n.next_at() < cutoff)
            .map(|n| n.take(&mut self.rng_nemesis, &mut self.rng_faults))
        {
            self.nemesis_op(action);
            any = true;
        }
        let probing = self.script.as_ref().is_some_and(|r| r.probe.is_some());
        while let Some(next) = self
            .stagger
            .as_ref()
            .and_then(crate::generator::Stagger::next_at)
        {
            if next > now || probing {
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
                self.heal_everything();
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

    /// The final generator's nemesis ops: undo every fault, as Jepsen's final phase does.
    /// With a random nemesis each enabled fault gets its stop op (a partition nemesis always
    /// heals, as in Maelstrom); after a script, only what is still on is undone.
    fn heal_everything(&mut self) {
        if self.script.is_some() {
            if self.net.partitions.is_active() {
                self.nemesis_op(NemesisAction::Stop);
            }
            if self.alive.iter().any(|a| !a) {
                self.nemesis_op(NemesisAction::Restart(Target::All));
            }
            if self.paused.iter().any(|p| *p) {
                self.nemesis_op(NemesisAction::Resume(Target::All));
            }
            if self.slow.iter().any(|s| *s) {
                self.nemesis_op(NemesisAction::Fast(Target::All));
            }
            self.net_faults = NetFaults {
                p_loss: self.opts.p_loss,
                p_dup: self.opts.p_dup,
                reorder_ms: self.opts.reorder_ms,
            };
            return;
        }
        let kinds = self.opts.nemesis.clone();
        for kind in FaultKind::ALL {
            if kinds.contains(&kind) {
                self.nemesis_op(NemesisAction::stop(kind));
            }
        }
    }

    /// Run the script's steps that are due. Returns whether anything happened.
    fn step_script(&mut self) -> bool {
        let now = self.now;
        let mut any = false;
        loop {
            let Some(run) = self.script.as_mut() else {
                return any;
            };
            if run.done {
                return any;
            }
            let Some(step) = run.script.steps.get(run.pc).cloned() else {
                run.done = true;
                tracing::info!("scenario {}: script done", run.script.name);
                if let Some(s) = self.stagger.as_mut() {
                    s.end_at(now);
                }
                return true;
            };
            match step {
                Step::Wait(d) => {
                    let until = *run.wait_until.get_or_insert(now + d);
                    if now < until {
                        return any;
                    }
                    run.wait_until = None;
                }
                Step::Converged(within) => {
                    if !self.step_probe(within) {
                        return any;
                    }
                }
                Step::Fault(action) => self.nemesis_op(action),
                Step::Loss(p) => self.net_faults.p_loss = p,
                Step::Dup(p) => self.net_faults.p_dup = p,
                Step::Reorder(ms) => self.net_faults.reorder_ms = ms,
            }
            if let Some(run) = self.script.as_mut() {
                tracing::info!(
                    "scenario {}: step {} done: {}",
                    run.script.name,
                    run.pc + 1,
                    run.script.show(run.pc)
                );
                run.pc += 1;
            }
            any = true;
        }
    }

    /// One turn of a `converged within` check. Returns whether the step is over (passed or
    /// failed).
    fn step_probe(&mut self, within: Duration) -> bool {
        let now = self.now;
        let echo = self.workload.kind() == crate::options::WorkloadKind::Echo;
        let Some(run) = self.script.as_mut() else {
            return true;
        };
        let pc = run.pc;
        let probe = run.probe.get_or_insert_with(|| Probe {
            started: now,
            deadline: now + within,
            next_round: now,
            round: Vec::new(),
            rounds: 0,
        });
        if echo {
            // Nothing replicated, nothing to compare.
            run.probe = None;
            return true;
        }
        let round_done = !probe.round.is_empty() && probe.round.iter().all(|(_, r)| r.is_some());
        if round_done {
            let results: Vec<(usize, Result<OpValue, String>)> = std::mem::take(&mut probe.round)
                .into_iter()
                .filter_map(|(w, r)| r.map(|r| (w, r)))
                .collect();
            probe.rounds += 1;
            let agree = results.iter().all(|(_, r)| r.is_ok())
                && results
                    .windows(2)
                    .all(|w| matches!((&w[0].1, &w[1].1), (Ok(a), Ok(b)) if a == b));
            let started = probe.started;
            let rounds = probe.rounds;
            if agree {
                let ms = (now - started).as_millis() as u64;
                run.checks.push(json!({
                    "step": pc + 1,
                    "converged": true,
                    "after-ms": ms,
                    "rounds": rounds,
                }));
                run.probe = None;
                if let Some(s) = self.stagger.as_mut() {
                    s.resume_at(now);
                }
                return true;
            }
            if now >= probe.deadline {
                let detail = self.describe_reads(&results);
                let Some(run) = self.script.as_mut() else {
                    return true;
                };
                let msg = format!(
                    "step {} ({}): the nodes did not converge within {} ms: {detail}",
                    pc + 1,
                    run.script.show(pc),
                    within.as_millis()
                );
                tracing::warn!("scenario {}: {msg}", run.script.name);
                run.checks
                    .push(json!({"step": pc + 1, "converged": false, "rounds": rounds}));
                run.failures.push(msg);
                run.probe = None;
                if let Some(s) = self.stagger.as_mut() {
                    s.resume_at(now);
                }
                return true;
            }
            probe.next_round = now + PROBE_INTERVAL;
            return false;
        }
        if !probe.round.is_empty() || now < probe.next_round || !self.all_idle() {
            return false;
        }
        // A new round: one read per node, each from the first worker bound to it.
        let mut round = Vec::new();
        for i in 0..self.names.len() {
            if let Some(t) = self.workers.iter().position(|w| w.node == NodeIndex(i)) {
                round.push((t, None));
            }
        }
        let mut op = self.workload.final_op();
        op.is_final = false;
        let workers: Vec<usize> = round.iter().map(|(t, _)| *t).collect();
        if let Some(p) = self.script.as_mut().and_then(|r| r.probe.as_mut()) {
            p.round = round;
        }
        for t in workers {
            self.invoke(t, op.clone());
        }
        false
    }

    fn describe_reads(&self, results: &[(usize, Result<OpValue, String>)]) -> String {
        let largest = results
            .iter()
            .filter_map(|(_, r)| r.as_ref().ok())
            .filter_map(OpValue::as_ints)
            .max_by_key(|s| s.len());
        results
            .iter()
            .map(|(t, r)| {
                let node = self
                    .workers
                    .get(*t)
                    .map_or_else(|| "?".to_owned(), |w| self.node_name(w.node));
                match r {
                    Err(e) => format!("{node} read failed ({e})"),
                    Ok(OpValue::Ints(set)) => {
                        let missing: Vec<i64> = largest
                            .map(|l| l.iter().filter(|v| !set.contains(*v)).take(5).collect())
                            .unwrap_or_default();
                        if missing.is_empty() {
                            format!("{node} has {} elements", set.len())
                        } else {
                            format!(
                                "{node} has {} elements, lacking e.g. {missing:?}",
                                set.len()
                            )
                        }
                    }
                    Ok(v) => format!("{node} read {v}"),
                }
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}
