//! One run against agents: start them, drive clients and the nemesis in real time, heal,
//! read finally from every agent, judge, and store the run like every other.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rand::RngExt;
use serde_json::{Map, Value, json};

use super::cluster::{Cluster, Launch};
use super::rig::{Mode, Rig};
use super::workload::{self, Op as WOp, WorkerState};
use super::{AgentOptions, Fault, http};
use crate::checker::{self, Validity};
use crate::console;
use crate::engine::{FaultSpan, RunRecord};
use crate::history::{History, Op, OpType, Process};
use crate::ids::{NodeId, NodeIndex};
use crate::journal::Journal;
use crate::nemesis::{FaultKind, Target};
use crate::partition::{self, PartitionSpec};
use crate::rng;
use crate::store;
use crate::time::Time;

/// Tries of each final read before it is given up.
const FINAL_READ_TRIES: u32 = 20;
/// How long the delivery probe waits for one update to reach every agent.
const PROBE_PATIENCE: Duration = Duration::from_secs(5);
/// How often the probe polls an agent that has not yet shown the update.
const PROBE_POLL: Duration = Duration::from_millis(2);
/// How often the probe starts an update: often enough for a p99 over a short run, rarely
/// enough that its polling stays a small share of the agents' work.
const PROBE_EVERY: Duration = Duration::from_millis(250);
/// How often every agent is read after healing, until their reads agree.
const AGREEMENT_POLL: Duration = Duration::from_millis(10);

/// The history, shared by workers and the nemesis, with the run's time origin.
struct Recorder {
    start: Instant,
    history: Mutex<History>,
}

impl Recorder {
    fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    fn push(&self, process: Process, kind: OpType, f: &str, value: Value, fin: bool) {
        self.push_op(Op {
            index: 0,
            kind,
            f: f.to_owned(),
            value: value.into(),
            process,
            time: self.now(),
            is_final: fin,
            error: None,
            exception: None,
        });
    }

    fn push_op(&self, op: Op) {
        let mut h = self.history.lock().unwrap_or_else(|p| p.into_inner());
        h.push(op);
    }
}

/// Runs one op of a worker: invoke, request, completion. Returns the completion type.
fn run_op(
    rec: &Recorder,
    op: &WOp,
    process: u64,
    addr: std::net::SocketAddr,
    opts: &AgentOptions,
    w: &mut WorkerState,
    fin: bool,
) -> OpType {
    let kind = opts.workload;
    let (f, value) = workload::invocation(op);
    rec.push(Process::Worker(process), OpType::Invoke, f, value, fin);
    let (method, path, body) = workload::request(kind, op, &opts.ack_query());
    let answer = http::request(addr, method, &path, body.as_deref(), opts.op_timeout());
    let out = workload::complete(kind, op, answer, w);
    rec.push_op(Op {
        index: 0,
        kind: out.kind,
        f: f.to_owned(),
        value: out.value.into(),
        process: Process::Worker(process),
        time: rec.now(),
        is_final: fin,
        error: out.error,
        exception: None,
    });
    out.kind
}

/// The workers' shared state.
struct Shared {
    rec: Recorder,
    stop: AtomicBool,
    next_value: AtomicI64,
}

fn worker(shared: Arc<Shared>, opts: AgentOptions, addrs: Vec<std::net::SocketAddr>, id: usize) {
    let mut rng = rng::stream(opts.seed, 100 + id as u64);
    let mut state = WorkerState::default();
    let mut process = id as u64;
    let addr = addrs[id % addrs.len()];
    let per_worker = opts.rate / opts.concurrency as f64;
    let gap = if per_worker > 0.0 {
        Duration::from_secs_f64(1.0 / per_worker)
    } else {
        Duration::from_secs(3600)
    };
    let end = shared.rec.start + opts.time_limit;
    // Stagger the first op over one gap, so workers do not start in step.
    let mut next = Instant::now() + gap.mul_f64(rng.random::<f64>());
    while !shared.stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        if next >= end {
            break;
        }
        if next > now {
            std::thread::sleep((next - now).min(Duration::from_millis(200)));
            continue;
        }
        let mut fresh = || shared.next_value.fetch_add(1, Ordering::SeqCst);
        let op = workload::next_op(opts.workload, &mut rng, &mut fresh, &state);
        let kind = run_op(&shared.rec, &op, process, addr, &opts, &mut state, false);
        if kind == OpType::Info {
            // As Jepsen: a process whose op is indeterminate is replaced by a new one.
            process += opts.concurrency as u64;
        }
        // A worker held up by a slow answer does not burst to catch up.
        let floor = Instant::now().checked_sub(gap).unwrap_or(next);
        next = next.max(floor) + gap.mul_f64(2.0 * rng.random::<f64>());
    }
}

/// The delivery probe: every [`PROBE_EVERY`], an update at one agent, timed until every agent shows
/// it. Returns the delivery times in microseconds, and how many never arrived in time.
fn probe(shared: Arc<Shared>, addrs: Vec<std::net::SocketAddr>, end: Instant) -> (Vec<u64>, u64) {
    let mut times = Vec::new();
    let mut missed = 0;
    let mut k: u64 = 0;
    let timeout = Duration::from_secs(1);
    while Instant::now() < end && !shared.stop.load(Ordering::SeqCst) {
        let at = addrs[(k as usize) % addrs.len()];
        let element = format!("p{k}");
        let body = json!({"add": [element]}).to_string();
        let started = Instant::now();
        let wrote = http::request(at, "POST", "/v1/sets/probe", Some(&body), timeout)
            .is_ok_and(|a| a.status == 200);
        if wrote {
            let mut waiting: Vec<_> = addrs.clone();
            while !waiting.is_empty() && started.elapsed() < PROBE_PATIENCE {
                waiting.retain(|a| {
                    !http::request(*a, "GET", "/v1/sets/probe", None, timeout).is_ok_and(|r| {
                        r.status == 200
                            && serde_json::from_str::<Value>(&r.body).is_ok_and(|v| {
                                v["value"]
                                    .as_array()
                                    .is_some_and(|a| a.iter().any(|x| x == &json!(element)))
                            })
                    })
                });
                if !waiting.is_empty() {
                    std::thread::sleep(PROBE_POLL);
                }
            }
            if waiting.is_empty() {
                times.push(started.elapsed().as_micros() as u64);
            } else {
                missed += 1;
            }
        }
        k += 1;
        let pause = PROBE_EVERY.saturating_sub(started.elapsed());
        sleep_unless_stopped(&shared.stop, pause);
    }
    (times, missed)
}

/// After healing: reads every agent every [`AGREEMENT_POLL`] until their reads are equal,
/// for at most `patience` after `healed`. Clients have stopped by then, so equal reads are
/// the converged state (every agent holds what any agent holds) and stay equal. Returns the
/// time from `healed` to the end of the first round that agreed (None: they never did within
/// `patience`) and how many rounds were read.
fn await_agreement(
    kind: workload::Kind,
    addrs: &[std::net::SocketAddr],
    healed: Instant,
    patience: Duration,
) -> (Option<Duration>, u32) {
    let (method, path) = workload::read_request(kind);
    let mut rounds = 0;
    loop {
        rounds += 1;
        let mut first: Option<Value> = None;
        let mut agreed = true;
        for a in addrs {
            let answer = http::request(*a, method, path, None, Duration::from_secs(1));
            match (workload::comparable_read(kind, answer), &first) {
                (None, _) => agreed = false,
                (Some(v), None) => first = Some(v),
                (Some(v), Some(f)) => agreed &= &v == f,
            }
            if !agreed {
                break;
            }
        }
        if agreed {
            return (Some(healed.elapsed()), rounds);
        }
        if healed.elapsed() >= patience || crate::process::interrupted() {
            return (None, rounds);
        }
        std::thread::sleep(AGREEMENT_POLL);
    }
}

fn sleep_unless_stopped(stop: &AtomicBool, d: Duration) {
    let end = Instant::now() + d;
    while Instant::now() < end && !stop.load(Ordering::SeqCst) && !crate::process::interrupted() {
        std::thread::sleep((end - Instant::now()).min(Duration::from_millis(50)));
    }
}

/// A fault in force, to undo later.
enum Active {
    Partition,
    Kill(Vec<usize>),
    Pause(Vec<usize>),
}

/// The nemesis: at random gaps (mean `interval`), toggles the next enabled fault in turn.
struct Nemesis {
    rng: rng::Rng,
    active: Vec<(Fault, Active, usize)>,
    spans: Vec<FaultSpan>,
    turn: usize,
}

impl Nemesis {
    fn note(&self, rec: &Recorder, f: &str, value: Value) {
        rec.push(Process::NEMESIS, OpType::Info, f, value, false);
    }

    fn step(&mut self, rec: &Recorder, cluster: &mut Cluster, faults: &[Fault]) {
        // The faults take turns, so a short run sees each of them.
        let Some(&fault) = faults.get(self.turn % faults.len().max(1)) else {
            return;
        };
        self.turn += 1;
        if let Some(pos) = self.active.iter().position(|(f, _, _)| *f == fault) {
            let (f, active, span) = self.active.remove(pos);
            self.undo(rec, cluster, f, active);
            if let Some(s) = self.spans.get_mut(span) {
                s.end = Some(rec.now());
            }
            return;
        }
        let n = cluster.count();
        let all: Vec<NodeIndex> = (0..n).map(NodeIndex).collect();
        let (active, label, kind) = match fault {
            Fault::Partition => {
                let spec = PartitionSpec::ALL[self.rng.random_range(0..PartitionSpec::ALL.len())];
                let grudge = partition::grudge(spec, n, &mut self.rng);
                let cuts: BTreeSet<(usize, usize)> = grudge
                    .iter()
                    .flat_map(|(dest, srcs)| srcs.iter().map(move |src| (src.0, dest.0)))
                    .collect();
                let shown: Vec<Value> = grudge
                    .iter()
                    .map(|(d, s)| json!({"agent": d.0, "drops-from": s.iter().map(|x| x.0).collect::<Vec<_>>()}))
                    .collect();
                self.note(
                    rec,
                    "start-partition",
                    json!({"shape": spec.name(), "grudge": shown}),
                );
                if let Err(e) = cluster.set_cuts(cuts) {
                    self.note(rec, "nemesis-error", json!(e.to_string()));
                }
                (
                    Active::Partition,
                    spec.name().to_owned(),
                    FaultKind::Partition,
                )
            }
            Fault::Kill | Fault::KillWipe => {
                let up: Vec<NodeIndex> =
                    all.iter().copied().filter(|i| cluster.is_up(i.0)).collect();
                let picked: Vec<usize> = Target::One
                    .pick(&up, &mut self.rng)
                    .iter()
                    .map(|i| i.0)
                    .collect();
                let wipe = fault == Fault::KillWipe;
                for &i in &picked {
                    cluster.kill(i, wipe);
                }
                self.note(rec, "kill", json!({"agents": picked, "wipe": wipe}));
                let label = format!("{} a{}", fault.name(), join(&picked));
                (Active::Kill(picked), label, FaultKind::Kill)
            }
            Fault::Pause => {
                let up: Vec<NodeIndex> =
                    all.iter().copied().filter(|i| cluster.is_up(i.0)).collect();
                let picked: Vec<usize> = Target::Minority
                    .pick(&up, &mut self.rng)
                    .iter()
                    .map(|i| i.0)
                    .collect();
                for &i in &picked {
                    cluster.pause(i);
                }
                self.note(rec, "pause", json!({"agents": picked}));
                let label = format!("pause a{}", join(&picked));
                (Active::Pause(picked), label, FaultKind::Pause)
            }
            Fault::RestartAll => {
                // Instant: every agent dies at once and comes back.
                let everyone: Vec<usize> = (0..n).collect();
                for &i in &everyone {
                    cluster.kill(i, false);
                }
                self.note(rec, "kill", json!({"agents": everyone, "wipe": false}));
                let start = rec.now();
                for &i in &everyone {
                    if let Err(e) = cluster.restart(i) {
                        self.note(rec, "nemesis-error", json!(e.to_string()));
                    }
                }
                self.note(rec, "start", json!({"agents": everyone}));
                self.spans.push(FaultSpan {
                    start,
                    end: Some(rec.now()),
                    kind: FaultKind::Kill,
                    label: "restart-all".into(),
                });
                return;
            }
        };
        self.spans.push(FaultSpan {
            start: rec.now(),
            end: None,
            kind,
            label,
        });
        self.active.push((fault, active, self.spans.len() - 1));
    }

    fn undo(&mut self, rec: &Recorder, cluster: &mut Cluster, fault: Fault, active: Active) {
        match active {
            Active::Partition => {
                if let Err(e) = cluster.set_cuts(BTreeSet::new()) {
                    self.note(rec, "nemesis-error", json!(e.to_string()));
                }
                self.note(rec, "stop-partition", json!("healed"));
            }
            Active::Kill(agents) => {
                for &i in &agents {
                    if let Err(e) = cluster.restart(i) {
                        self.note(rec, "nemesis-error", json!(e.to_string()));
                    }
                }
                self.note(
                    rec,
                    "start",
                    json!({"agents": agents, "fault": fault.name()}),
                );
            }
            Active::Pause(agents) => {
                for &i in &agents {
                    if let Err(e) = cluster.resume(i) {
                        self.note(rec, "nemesis-error", json!(e.to_string()));
                    }
                }
                self.note(rec, "resume", json!({"agents": agents}));
            }
        }
    }

    fn heal(&mut self, rec: &Recorder, cluster: &mut Cluster) {
        while let Some((f, active, span)) = self.active.pop() {
            self.undo(rec, cluster, f, active);
            if let Some(s) = self.spans.get_mut(span) {
                s.end = Some(rec.now());
            }
        }
        if let Err(e) = cluster.heal_all() {
            self.note(rec, "nemesis-error", json!(e.to_string()));
        }
    }
}

fn join(v: &[usize]) -> String {
    v.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",a")
}

/// Runs one test against agents. Returns the exit status.
pub fn run(opts: &AgentOptions, command: &str) -> i32 {
    let started = Instant::now();
    crate::process::install_interrupt_handler();
    let program = match opts.agent_program() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return console::EXIT_BAD_ARGS;
        }
    };
    let name = opts.workload.name();
    let dir = match store::create_run_dir(&opts.store, name, SystemTime::now()) {
        Ok(d) => d,
        Err(e) => {
            println!("{}\n{e}", console::CRASH_BANNER);
            return console::EXIT_CRASH;
        }
    };
    let rig = match opts.mode.resolve() {
        Mode::Namespaces => Rig::namespaces(opts.node_count),
        Mode::Loopback => Rig::loopback(opts.node_count),
    };
    let rig = match rig {
        Ok(r) => r,
        Err(e) => {
            println!("{}\n{e}", console::CRASH_BANNER);
            return console::EXIT_CRASH;
        }
    };
    println!(
        "Agents: {} of {} in {} mode, ack={}, seed {} (replay: {command})",
        opts.node_count,
        program.display(),
        rig.mode().name(),
        opts.ack.name(),
        opts.seed
    );
    let rig_info = rig.describe();
    let launch = Launch {
        program,
        test_faults: opts.test_faults.clone(),
        preset: opts.preset.clone(),
    };
    let mut cluster = match Cluster::start(rig, launch, &dir) {
        Ok(c) => c,
        Err(e) => {
            println!("{}\n{e}", console::CRASH_BANNER);
            return console::EXIT_CRASH;
        }
    };
    let addrs: Vec<_> = (0..cluster.count())
        .map(|i| cluster.rig().http_addr(i))
        .collect();
    let shared = Arc::new(Shared {
        rec: Recorder {
            start: Instant::now(),
            history: Mutex::new(History::new()),
        },
        stop: AtomicBool::new(false),
        next_value: AtomicI64::new(0),
    });
    let main_end = shared.rec.start + opts.time_limit;
    let workers: Vec<_> = (0..opts.concurrency)
        .map(|id| {
            let (s, o, a) = (shared.clone(), opts.clone(), addrs.clone());
            std::thread::spawn(move || worker(s, o, a, id))
        })
        .collect();
    let prober = opts.probe.then(|| {
        let (s, a) = (shared.clone(), addrs.clone());
        std::thread::spawn(move || probe(s, a, main_end))
    });
    let mut nemesis = Nemesis {
        rng: rng::stream(opts.seed, 7),
        active: Vec::new(),
        spans: Vec::new(),
        turn: 0,
    };
    let mut interrupted = false;
    if !opts.nemesis.is_empty() {
        loop {
            let gap = opts
                .nemesis_interval
                .mul_f64(2.0 * nemesis.rng.random::<f64>());
            let at = Instant::now() + gap;
            if at >= main_end {
                break;
            }
            sleep_unless_stopped(&shared.stop, gap);
            if crate::process::interrupted() {
                break;
            }
            nemesis.step(&shared.rec, &mut cluster, &opts.nemesis);
        }
    }
    while Instant::now() < main_end {
        if crate::process::interrupted() {
            interrupted = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50).min(main_end - Instant::now()));
    }
    interrupted |= crate::process::interrupted();
    if interrupted {
        shared.stop.store(true, Ordering::SeqCst);
    }
    for w in workers {
        let _ = w.join();
    }
    shared.stop.store(true, Ordering::SeqCst);
    let (delivery, missed) = prober.and_then(|p| p.join().ok()).unwrap_or_default();
    let main_seconds = shared.rec.start.elapsed().as_secs_f64();
    let in_force: Vec<&str> = nemesis.active.iter().map(|(f, _, _)| f.name()).collect();
    nemesis.heal(&shared.rec, &mut cluster);
    let healed = Instant::now();
    let mut convergence = json!({"healed": in_force});
    if !interrupted {
        println!(
            "Healed; waiting {} s before the final reads",
            opts.recovery.as_secs_f64()
        );
        let (agreed, rounds) = await_agreement(opts.workload, &addrs, healed, opts.recovery);
        let ms = agreed.map(|d| (d.as_secs_f64() * 10_000.0).round() / 10.0);
        match ms {
            Some(ms) => println!("Every agent agreed {ms} ms after healing"),
            None => println!("The agents did not agree within the recovery time"),
        }
        convergence = json!({
            "healed": in_force,
            "agreed-after-ms": ms,
            "rounds": rounds,
            "poll-ms": AGREEMENT_POLL.as_millis() as u64,
        });
        let stop = AtomicBool::new(false);
        sleep_unless_stopped(&stop, opts.recovery.saturating_sub(healed.elapsed()));
        for (i, addr) in addrs.iter().enumerate() {
            let mut state = WorkerState::default();
            for _ in 0..FINAL_READ_TRIES {
                let kind = run_op(
                    &shared.rec,
                    &WOp::Read,
                    (opts.concurrency * 1000 + i) as u64,
                    *addr,
                    opts,
                    &mut state,
                    true,
                );
                if kind == OpType::Ok {
                    break;
                }
                std::thread::sleep(Duration::from_millis(250));
            }
        }
    }
    let traffic = cluster.traffic();
    cluster.stop_all();
    drop(cluster);
    let history = shared
        .rec
        .history
        .lock()
        .map(|h| h.clone())
        .unwrap_or_else(|p| p.into_inner().clone());
    let results = analyze(
        opts,
        &history,
        traffic,
        &rig_info,
        main_seconds,
        (&delivery, missed),
        convergence,
    );
    let test = json!({
        "name": name,
        "command": command,
        "seed": opts.seed,
        "agents": opts.describe(),
        "rig": rig_info,
        "store": dir.display().to_string(),
        "wall-seconds": started.elapsed().as_secs_f64(),
        "harness-version": env!("CARGO_PKG_VERSION"),
    });
    let record = RunRecord {
        opts: opts.test_options(),
        history,
        journal: Journal::new(),
        protocol: Default::default(),
        crash: None,
        origin: Time::ZERO,
        end: Time::ZERO + started.elapsed(),
        faults: nemesis.spans,
        scenario: None,
        node_cpu: None,
    };
    if let Err(e) = store::write_run(&dir, &record, &results, &test)
        .and_then(|()| store::link_latest(&opts.store, name, &dir))
    {
        eprintln!("warning: {e}");
    }
    println!();
    print!("{}", console::summary(&results, name));
    println!("Results in {} (report.html)", dir.display());
    println!("Seed {} (replay: {command})", opts.seed);
    println!();
    if interrupted {
        println!("Interrupted; every agent was killed and the rig removed.");
        return console::EXIT_INTERRUPTED;
    }
    let (banner, code) = console::verdict(Validity::of(&results));
    println!("{banner}");
    code
}

/// The results map: the harness's checkers, the workload's check, traffic per op from the
/// agents' counters, throughput, delivery times, and how long after healing the agents agreed.
fn analyze(
    opts: &AgentOptions,
    h: &History,
    traffic: super::cluster::Traffic,
    rig: &Value,
    main_seconds: f64,
    (delivery_us, missed): (&[u64], u64),
    convergence: Value,
) -> Value {
    let mut m = Map::new();
    m.insert("exceptions".into(), checker::exceptions::check(h));
    m.insert("stats".into(), checker::stats::check(h));
    m.insert("availability".into(), checker::availability::check(h, None));
    m.insert("workload".into(), workload::check(opts.workload, h));
    let valid = Validity::merge_all(m.values().map(Validity::of));
    let ops = h.client_invocations().max(1) as f64;
    let per_op = |x: u64| ((x as f64 / ops) * 100.0).round() / 100.0;
    m.insert(
        "net".into(),
        json!({
            "valid?": true,
            "source": "the agents' /metrics: UDP datagrams and TCP frames sent, as on the wire",
            "all": {"msg-count": traffic.packets, "msgs-per-op": per_op(traffic.packets)},
            "servers": {"msg-count": traffic.packets, "msgs-per-op": per_op(traffic.packets)},
            "bytes": traffic.bytes,
            "bytes-per-op": per_op(traffic.bytes),
        }),
    );
    let ok_ops = h
        .ops()
        .iter()
        .filter(|o| o.is_client() && o.kind == OpType::Ok && !o.is_final)
        .count();
    m.insert(
        "throughput".into(),
        json!({"ok-ops": ok_ops, "seconds": main_seconds,
               "ok-ops-per-second": (ok_ops as f64 / main_seconds.max(1e-9) * 10.0).round() / 10.0}),
    );
    let ms: Vec<u64> = delivery_us.to_vec();
    let mut sorted = ms.clone();
    sorted.sort_unstable();
    let q = |p: f64| checker::quantile(&sorted, p).map(|us| us as f64 / 1000.0);
    m.insert(
        "delivery".into(),
        json!({"probes": ms.len() as u64 + missed, "missed": missed,
               "ms": {"0.5": q(0.5), "0.99": q(0.99), "1": q(1.0)}}),
    );
    m.insert("convergence".into(), convergence);
    m.insert("rig".into(), rig.clone());
    m.insert("ack".into(), json!(opts.ack.name()));
    m.insert("valid?".into(), valid.to_json());
    Value::Object(m)
}

/// Agent i's node id in the recorded options.
pub(super) fn node_ids(n: usize) -> Vec<NodeId> {
    (0..n).map(|i| NodeId(format!("a{i}"))).collect()
}

/// Whether a path exists and is a file (for the agent binary lookup).
pub(super) fn is_file(p: &Path) -> bool {
    p.is_file()
}
