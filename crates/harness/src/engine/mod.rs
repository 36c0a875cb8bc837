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
//!
//! This file holds the engine's state, its inputs and outputs, and the loop that does whatever
//! is due; one file per concern does the rest: `routing` (node output to packets, network
//! faults, delivery, services), `clients` (setup handshakes, workers' requests and their
//! completions), `faults` (the nemesis's actions), `phases` (init to final reads, timeouts),
//! `interpreter` (scenario scripts) and `probe` (convergence checks); `record` is what a run
//! leaves.

mod clients;
mod faults;
mod interpreter;
mod phases;
mod probe;
mod record;
mod routing;

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Duration;

use serde_json::{Value, json};

use crate::checker::protocol::NodeProtocol;
use crate::client::{Conn, INIT_TIMEOUT, Worker};
use crate::generator::Stagger;
use crate::history::History;
use crate::host::Control;
use crate::ids::{ClientId, Endpoint, NetId, NodeId, NodeIndex};
use crate::journal::Journal;
use crate::latency::Latency;
use crate::message::{BodyHead, LineError, Packet, Preparsed};
use crate::nemesis::NemesisSchedule;
use crate::network::{Delivery, Network};
use crate::options::TestOptions;
use crate::progress::{Phase, Progress};
use crate::rng::{self, Rng};
use crate::services::Services;
use crate::time::Time;
use crate::workload::{self, Workload};
use clients::{Owner, Rejoin, SetupRpc};
use interpreter::ScriptRun;
use routing::NetFaults;

pub use probe::PROBE_INTERVAL;
pub use record::{Crash, FaultSpan, RunRecord};
pub use routing::{SLOW_EXTRA, SLOW_FACTOR};

/// What the engine asks of the host, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Write this line to the node's stdin.
    Deliver(NodeIndex, String),
    /// Inflict a fault on the node.
    Control(NodeIndex, Control),
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
    stagger: Option<Stagger>,
    nemesis: Option<NemesisSchedule>,
    history: History,
    ops_done: u64,
    faults: Vec<FaultSpan>,
    /// Every worker's in-flight request, by deadline: (deadline, worker).
    deadlines: BTreeSet<(Time, usize)>,
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
            net_faults: NetFaults::of(&opts),
            alive: vec![true; n],
            paused: vec![false; n],
            slow: vec![false; n],
            rejoin: vec![None; n],
            script: opts.script.clone().map(ScriptRun::new),
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
            deadlines: BTreeSet::new(),
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
            total: self.opts.main_length(),
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
            let (from, to) = (self.resolve("src", &src)?, self.resolve("dest", &dest)?);
            if to == Endpoint::Node(node) && from != to {
                return Err(LineError::Echoed { src, dest });
            }
            Ok((from, to, body))
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
            Err(e) => {
                self.bad_line(node, line, &e);
                // During init, the only thing a node was sent is its init: it will never answer.
                if matches!(e, LineError::Echoed { .. }) && self.phase == Phase::Init {
                    let name = self.node_name(node);
                    self.fail(
                        Some(node),
                        format!(
                            "Node {name} echoed our init back instead of answering it (does it copy stdin to stdout?)"
                        ),
                    );
                }
            }
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
            scenario: self.script.map(ScriptRun::report),
            opts: self.opts,
        }
    }

    // ---- shared by the parts ----------------------------------------------------------------

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
}
