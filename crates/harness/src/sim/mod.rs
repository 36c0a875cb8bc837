//! Simulation mode (`--sim`): this project's node cores ([`gossip_node::Node`]) run
//! in-process on a virtual clock, behind the same [`NodeHost`] seam as OS processes, so the
//! engine, network model, workloads, checkers and store are exactly process mode's.
//!
//! The clock jumps from event to event: a node answers a line at the instant it is delivered
//! (its output is handed to the engine stamped with that instant), and when nothing is
//! pending the clock moves to the earlier of the engine's next deadline and the nodes' next
//! timer. No thread, no sleep, no wall-clock read. Every node's seed and life (its replica id
//! and incarnation) derive from the run's `--seed`, so a run replays exactly: the same flags and seed give the same
//! history and the same `results.json`, byte for byte.
//!
//! Node cores live in an ordered pool (`ordered_pool`): each call into a core is a job, jobs for one node
//! run in order, jobs for different nodes may run side by side on `--sim-threads` threads, and
//! their output is taken in the order the calls were made. So the thread count changes the
//! wall time only: a run's history, journal and node logs are the same for any count (the
//! test `the_number_of_threads_changes_nothing` checks 1, 2 and 4).
//!
//! Faults: a paused node keeps what is delivered to it in an inbox and its timers do not
//! fire; on resume it works through the inbox, then runs its overdue timers. A killed node
//! loses its core and its inbox (lines it printed before dying still reach the network). A
//! restart builds a fresh core with a new life: a new replica id and an incarnation that is
//! merely different (as likely smaller as larger), which peers settle by challenge.
//!
//! Disks (`--sim-disk`): each node keeps its replica on a [`MemStore`], and the host commits
//! what the core asks for ([`Node::poll_commit`]) right after each call, so a commit takes no
//! virtual time. A `crash` kills the core and crashes its store ([`MemStore::crash`]: what was
//! not committed durably is lost); the restart is handed what survived. A `kill` takes the
//! disk too: the restart finds an empty one. A `lying` disk commits without ever making
//! anything durable, so a crash loses every write: the negative control.
//!
//! Node logs (the core's `tracing` events at info level and above) are captured per node,
//! stamped with virtual time, and written to `node-logs/<node>.log` at the end. A node that
//! panics is reported as a crashed node, with its seed in the replay line as usual.
//!
//! A simulation that cannot end is stopped rather than left spinning: when nothing at all is
//! scheduled, when one virtual instant sees more than [`SAME_INSTANT_LIMIT`] events (a
//! zero-time livelock), or when the clock passes the configured end.

mod logs;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gossip_node::{Birth, Node};
use gossip_store::{Durability, MemStore, Store, Uuid};

use crate::host::{Control, HostError, HostEvent, NodeHost};
use crate::ids::{NodeId, NodeIndex};
use crate::message::Preparsed;
use crate::options::SimDisk;
use crate::ordered_pool::OrderedPool;
use crate::time::Time;
use logs::{LOG_CONTEXT, NodeLog, NodeLogs};

/// More events than this at one virtual instant is taken for a livelock.
pub const SAME_INSTANT_LIMIT: u64 = 20_000_000;

/// How to run the simulated nodes.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Arguments for every node: the workload name first, then `key=value` settings.
    pub node_args: Vec<String>,
    /// The run's seed.
    pub seed: u64,
    /// Where to write `<node>.log` at the end (none: keep logs in memory only).
    pub log_dir: Option<PathBuf>,
    /// Also copy node log lines to stderr.
    pub log_stderr: bool,
    /// Give up when the virtual clock passes this.
    pub end: Time,
    /// Threads that run node cores (the caller's included). Results do not depend on it.
    pub threads: usize,
    /// Whether each node keeps its replica on a simulated disk.
    pub disk: SimDisk,
}

/// Counters of what the simulation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Lines handed to node cores.
    pub lines_in: u64,
    /// Lines node cores printed.
    pub lines_out: u64,
    /// Node timer firings.
    pub timeouts: u64,
    /// Events returned to the driver.
    pub events: u64,
}

struct SimNode {
    name: String,
    /// Whether its core is running (its state lives in the pool, see [`Job`]).
    alive: bool,
    paused: bool,
    inbox: VecDeque<String>,
    /// Lives so far (the current incarnation).
    life: u64,
    /// The timer this node has in the heap, if any.
    armed: Option<Time>,
    /// Its disk (with `--sim-disk`): the core holds a handle to the same store.
    disk: Option<MemStore>,
}

/// A node core, and the disk it commits to.
struct Core {
    node: Node,
    disk: Option<MemStore>,
}

/// One call into a node core, run by the pool.
struct Job {
    node: usize,
    /// The life it was meant for: results of an earlier life no longer set timers.
    life: u64,
    now: Time,
    input: Input,
}

enum Input {
    Line(String),
    Timeout,
}

/// What a call into a node core did.
struct Outcome {
    node: usize,
    life: u64,
    /// Whether a core was there to run it (it may have died since the job was queued).
    ran: bool,
    was_line: bool,
    /// Its lines, each already read for the engine (on the thread that ran the call).
    lines: Vec<(String, Box<Preparsed>)>,
    /// The core's next timer afterwards (not before the call's instant).
    next_timer: Option<Time>,
    /// What the core panicked with, if it did.
    panic: Option<String>,
}

type Cores = OrderedPool<Option<Core>, Job, Outcome>;

/// The simulation host. See the module docs.
pub struct SimHost {
    config: SimConfig,
    options: Option<gossip_node::Options>,
    now: Time,
    nodes: Vec<SimNode>,
    /// The node cores, which run there (on several threads if configured).
    cores: Option<Cores>,
    timers: BinaryHeap<Reverse<(Time, usize)>>,
    ready: VecDeque<(NodeIndex, String, Box<Preparsed>)>,
    exits: VecDeque<(NodeIndex, String)>,
    logs: Arc<NodeLogs>,
    dispatch: tracing::Dispatch,
    same_instant: u64,
    stats: SimStats,
    due: Vec<usize>,
}

/// Keeps a node's life apart from its seed when both derive from the run's seed.
const LIFE_SALT: u64 = 0x3c6e_f372_fe94_f82b;

/// Keeps a node's disk identity apart from its seed and life.
const DISK_SALT: u64 = 0x9b05_688c_2b3e_6c1f;

/// A seed for node `i`'s life `life`, derived from the run's seed (splitmix64 finaliser).
pub fn node_seed(seed: u64, i: usize, life: u64) -> u64 {
    let mut z = seed
        ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ life.wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn to_node_time(t: Time) -> gossip_transport::Time {
    gossip_transport::Time::from_duration(Duration::from_nanos(t.as_nanos()))
}

fn from_node_time(t: gossip_transport::Time) -> Time {
    Time::from_nanos(u64::try_from(t.since_origin().as_nanos()).unwrap_or(u64::MAX))
}

impl SimHost {
    /// A host that will run our node with `config`; its clock starts at zero.
    pub fn new(config: SimConfig) -> SimHost {
        let logs = Arc::new(NodeLogs {
            echo: config.log_stderr,
            nodes: Mutex::new(Vec::new()),
        });
        let dispatch = logs::dispatch(Arc::clone(&logs));
        SimHost {
            config,
            options: None,
            now: Time::ZERO,
            nodes: Vec::new(),
            cores: None,
            timers: BinaryHeap::new(),
            ready: VecDeque::new(),
            exits: VecDeque::new(),
            logs,
            dispatch,
            same_instant: 0,
            stats: SimStats::default(),
            due: Vec::new(),
        }
    }

    /// What the simulation did so far.
    pub fn stats(&self) -> SimStats {
        self.stats
    }

    fn birth(&self, i: usize, life: u64) -> Birth {
        // A `seed=` node argument reaches every node unchanged, as Maelstrom passes it: it
        // may only steer choices. What must be unique comes from the node and its life.
        let seed = match self.options.as_ref().and_then(|o| o.seed) {
            Some(seed) => seed,
            None => node_seed(self.config.seed, i, life),
        };
        Birth {
            seed,
            life: node_seed(self.config.seed ^ LIFE_SALT, i, life),
        }
    }

    /// An empty disk for node `i`, as it is at life `life` (`None` without `--sim-disk`).
    fn blank_disk(&self, i: usize, life: u64) -> Option<MemStore> {
        if self.config.disk.is_none() {
            return None;
        }
        let id = node_seed(self.config.seed ^ DISK_SALT, i, life);
        Some(MemStore::with_node_id(Uuid::from_u64_pair(id, i as u64)))
    }

    /// Queues a call into node `i`'s core at the current instant (its result is taken, in
    /// order, by [`SimHost::take_outcome`]).
    fn call(&mut self, i: usize, input: Input) {
        let (Some(node), Some(cores)) = (self.nodes.get(i), self.cores.as_mut()) else {
            return;
        };
        cores.submit(
            i,
            Job {
                node: i,
                life: node.life,
                now: self.now,
                input,
            },
        );
    }

    /// Takes the next call's result: its lines go out, a panic kills the node, and its timer
    /// is re-armed. `false` once every call's result has been taken.
    fn take_outcome(&mut self) -> bool {
        let Some(o) = self.cores.as_mut().and_then(Cores::take) else {
            return false;
        };
        if !o.ran {
            // Its core had died before the call came up: the line is lost, as on delivery.
            if o.was_line {
                self.stats.lines_in -= 1;
            }
            return true;
        }
        let current = self.nodes.get(o.node).is_some_and(|n| n.life == o.life);
        if let Some(what) = o.panic {
            if current && let Some(node) = self.nodes.get_mut(o.node) {
                node.alive = false;
                node.armed = None;
            }
            self.exits.push_back((
                NodeIndex(o.node),
                format!("a panic in the node core: {what}"),
            ));
            return true;
        }
        self.stats.lines_out += o.lines.len() as u64;
        self.ready.extend(
            o.lines
                .into_iter()
                .map(|(l, pre)| (NodeIndex(o.node), l, pre)),
        );
        let Some(node) = self.nodes.get_mut(o.node).filter(|n| current && n.alive) else {
            return true;
        };
        if o.next_timer != node.armed {
            node.armed = o.next_timer;
            if let Some(t) = o.next_timer {
                self.timers.push(Reverse((t, o.node)));
            }
        }
        true
    }

    /// The earliest live timer (stale heap entries are dropped on the way).
    fn next_timer(&mut self) -> Option<Time> {
        while let Some(&Reverse((t, i))) = self.timers.peek() {
            let node = &self.nodes[i];
            if node.armed == Some(t) && node.alive {
                return Some(t);
            }
            self.timers.pop();
        }
        None
    }

    /// Fire every timer due at `now`, in (time, node) order.
    fn fire_timers(&mut self) {
        let mut due = std::mem::take(&mut self.due);
        due.clear();
        while let Some(&Reverse((t, i))) = self.timers.peek() {
            if t > self.now {
                break;
            }
            self.timers.pop();
            let node = &mut self.nodes[i];
            if node.armed != Some(t) || !node.alive {
                continue;
            }
            node.armed = None;
            if node.paused {
                // Fires on resume.
                continue;
            }
            due.push(i);
        }
        for &i in &due {
            self.stats.timeouts += 1;
            self.call(i, Input::Timeout);
        }
        self.due = due;
    }

    fn advance_to(&mut self, t: Time) {
        if t > self.now {
            self.now = t;
            self.same_instant = 0;
        }
    }

    /// The log lines node `i` printed so far (at most the first 20,000).
    pub fn log_lines(&self, node: NodeIndex) -> Vec<String> {
        self.logs
            .nodes
            .lock()
            .map(|n| n.get(node.0).map(|l| l.lines.clone()).unwrap_or_default())
            .unwrap_or_default()
    }

    fn write_logs(&self) {
        let Some(dir) = &self.config.log_dir else {
            return;
        };
        let Ok(logs) = self.logs.nodes.lock() else {
            return;
        };
        for (node, log) in self.nodes.iter().zip(logs.iter()) {
            let mut text = String::new();
            for l in &log.lines {
                text.push_str(l);
                text.push('\n');
            }
            if log.dropped > 0 {
                let _ = writeln!(
                    text,
                    "... {} more lines not kept; the last ones:",
                    log.dropped
                );
                for l in &log.tail {
                    text.push_str(l);
                    text.push('\n');
                }
            }
            let path = dir.join(format!("{}.log", node.name));
            if let Err(e) = std::fs::write(&path, text) {
                tracing::warn!("cannot write {}: {e}", path.display());
            }
        }
    }
}

impl NodeHost for SimHost {
    fn start(&mut self, nodes: &[NodeId]) -> Result<(), HostError> {
        let options = gossip_node::Options::parse(&self.config.node_args).map_err(|e| HostError {
            node: None,
            message: format!(
                "bad node arguments {:?}: {e} (in simulation, node arguments are our node's `key=value` settings)",
                self.config.node_args
            ),
        })?;
        self.options = Some(options.clone());
        if let Ok(mut logs) = self.logs.nodes.lock() {
            *logs = nodes
                .iter()
                .map(|n| NodeLog {
                    name: n.0.clone(),
                    ..NodeLog::default()
                })
                .collect();
        }
        let disks: Vec<Option<MemStore>> =
            (0..nodes.len()).map(|i| self.blank_disk(i, 0)).collect();
        let cores = disks
            .iter()
            .enumerate()
            .map(|(i, disk)| Some(core(options.clone(), self.birth(i, 0), disk.clone())))
            .collect();
        let durability = match self.config.disk {
            SimDisk::Lying => Durability::Buffered,
            SimDisk::None | SimDisk::Durable => Durability::Immediate,
        };
        let run = run_job(Arc::clone(&self.logs), self.dispatch.clone(), durability);
        self.cores = Some(OrderedPool::new(cores, self.config.threads, run));
        self.nodes = nodes
            .iter()
            .zip(disks)
            .map(|(id, disk)| SimNode {
                name: id.0.clone(),
                alive: true,
                paused: false,
                inbox: VecDeque::new(),
                life: 0,
                armed: None,
                disk,
            })
            .collect();
        Ok(())
    }

    fn now(&self) -> Time {
        self.now
    }

    fn deliver(&mut self, node: NodeIndex, line: String) {
        let Some(n) = self.nodes.get_mut(node.0) else {
            return;
        };
        if !n.alive {
            return;
        }
        if n.paused {
            n.inbox.push_back(line);
            return;
        }
        self.stats.lines_in += 1;
        self.call(node.0, Input::Line(line));
    }

    fn next_event(&mut self, deadline: Option<Time>) -> HostEvent {
        self.stats.events += 1;
        self.same_instant += 1;
        if self.same_instant > SAME_INSTANT_LIMIT {
            return HostEvent::Stuck {
                now: self.now,
                reason: format!(
                    "simulation livelock: more than {SAME_INSTANT_LIMIT} events at virtual time {}",
                    self.now
                ),
            };
        }
        loop {
            if let Some((node, line, pre)) = self.ready.pop_front() {
                return HostEvent::Line {
                    node,
                    line,
                    at: self.now,
                    pre: Some(pre),
                };
            }
            // Every call made so far has its say before anything else happens.
            if self.take_outcome() {
                continue;
            }
            if let Some((node, status)) = self.exits.pop_front() {
                return HostEvent::Exited {
                    node,
                    status,
                    at: self.now,
                };
            }
            let timer = self.next_timer();
            let target = match (timer, deadline) {
                (Some(t), Some(d)) => t.min(d),
                (Some(t), None) => t,
                (None, Some(d)) => d,
                (None, None) => {
                    return HostEvent::Stuck {
                        now: self.now,
                        reason: format!(
                            "simulation stuck at virtual time {}: nothing is scheduled",
                            self.now
                        ),
                    };
                }
            };
            if target > self.config.end {
                return HostEvent::Stuck {
                    now: self.now,
                    reason: format!(
                        "the simulated run did not end by virtual time {} (next event at {target})",
                        self.config.end
                    ),
                };
            }
            self.advance_to(target);
            if timer.is_some_and(|t| t <= target) {
                self.fire_timers();
                continue;
            }
            return HostEvent::Timeout { now: self.now };
        }
    }

    fn stderr_tail(&self, node: NodeIndex) -> Vec<String> {
        self.logs
            .nodes
            .lock()
            .map(|n| {
                n.get(node.0)
                    .map(|l| l.tail.iter().cloned().collect())
                    .unwrap_or_default()
            })
            .unwrap_or_default()
    }

    fn shutdown(&mut self) -> Vec<(NodeIndex, String)> {
        // Stops the pool's threads; the logs stay readable.
        self.cores = None;
        self.write_logs();
        Vec::new()
    }

    fn control(&mut self, node: NodeIndex, action: Control) -> Result<(), HostError> {
        let i = node.0;
        let next_life = self.nodes.get(i).map_or(0, |n| n.life + 1);
        let birth = self.birth(i, next_life);
        let blank = self.blank_disk(i, next_life);
        let options = self.options.clone();
        let now = self.now;
        let Some(n) = self.nodes.get_mut(i) else {
            return Err(HostError {
                node: Some(node),
                message: format!("no node #{i}"),
            });
        };
        match action {
            Control::Pause => n.paused = true,
            Control::Resume => {
                if !n.paused {
                    return Ok(());
                }
                n.paused = false;
                let inbox = std::mem::take(&mut n.inbox);
                for line in inbox {
                    self.stats.lines_in += 1;
                    self.call(i, Input::Line(line));
                }
                self.call(i, Input::Timeout);
            }
            Control::Kill | Control::Crash => {
                // After the calls already queued for it (their lines still go out).
                if let Some(cores) = self.cores.as_mut() {
                    cores.with_state(i, |core| *core = None);
                }
                n.alive = false;
                n.paused = false;
                n.inbox.clear();
                n.armed = None;
                let what = match (&action, n.disk.take()) {
                    (Control::Crash, Some(disk)) => {
                        let kept = disk.crash();
                        let note = format!(
                            "CRASHED by the nemesis (memory lost; {} bytes survive on its disk)",
                            kept.bytes()
                        );
                        n.disk = Some(kept);
                        note
                    }
                    (_, disk) => {
                        // A kill takes the disk too (as a machine replaced).
                        n.disk = disk.and(blank);
                        "KILLED by the nemesis (state lost)".to_owned()
                    }
                };
                self.logs.push(i, now, &what);
            }
            Control::Restart => {
                let Some(options) = options else {
                    return Ok(());
                };
                n.life += 1;
                n.paused = false;
                n.armed = None;
                n.alive = true;
                let disk = n.disk.clone();
                let from = match &disk {
                    Some(d) if d.bytes() > 0 => "from its disk",
                    _ => "empty",
                };
                if let Some(cores) = self.cores.as_mut() {
                    cores.with_state(i, |slot| *slot = Some(core(options, birth, disk)));
                }
                let life = n.life;
                self.logs
                    .push(i, now, &format!("RESTARTED (life {life}, {from})"));
            }
        }
        Ok(())
    }
}

/// A core for a node's life, on `disk` if it has one.
fn core(options: gossip_node::Options, birth: Birth, disk: Option<MemStore>) -> Core {
    let node = match &disk {
        Some(store) => Node::with_store(options, birth, Box::new(store.clone())),
        None => Node::new(options, birth),
    };
    Core { node, disk }
}

/// The pool's work: one call into a core, its logs captured, then the commits it asks for
/// (made at once, as `durability` says). A panic kills the core.
fn run_job(
    logs: Arc<NodeLogs>,
    dispatch: tracing::Dispatch,
    durability: Durability,
) -> impl Fn(&mut Option<Core>, Job) -> Outcome + Send + Sync + 'static {
    move |slot, job| {
        let was_line = matches!(job.input, Input::Line(_));
        let mut outcome = Outcome {
            node: job.node,
            life: job.life,
            ran: false,
            was_line,
            lines: Vec::new(),
            next_timer: None,
            panic: None,
        };
        let Some(Core { node: core, disk }) = slot.as_mut() else {
            return outcome;
        };
        outcome.ran = true;
        let now = job.now;
        LOG_CONTEXT.with(|c| c.set((job.node, now.as_nanos())));
        let result = tracing::dispatcher::with_default(&dispatch, || {
            catch_unwind(AssertUnwindSafe(|| {
                match &job.input {
                    Input::Line(line) => core.handle_line(to_node_time(now), line),
                    Input::Timeout => core.handle_timeout(to_node_time(now)),
                }
                if let Some(store) = disk.as_ref() {
                    while let Some(commit) = core.poll_commit() {
                        let result = store.commit(&commit.batch, durability);
                        core.handle_committed(to_node_time(now), commit.number, result);
                    }
                }
            }))
        });
        if let Err(panic) = result {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_owned());
            logs.push(job.node, now, &format!("PANIC {what}"));
            *slot = None;
            outcome.panic = Some(what);
            return outcome;
        }
        while let Some(line) = core.poll_output() {
            let pre = Box::new(Preparsed::of(&line));
            outcome.lines.push((line, pre));
        }
        outcome.next_timer = core.poll_timeout().map(|t| from_node_time(t).max(now));
        outcome
    }
}

#[cfg(test)]
mod tests;
