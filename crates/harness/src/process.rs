//! The process host: every node is an OS process, in real time.
//!
//! Each node gets stdin/stdout pipes and its own process group, with the temp directory as its
//! working directory and the trailing command-line arguments as argv (§1.1). Per node, a
//! reader thread batches stdout lines into one shared channel, stamped with the time they were
//! read; another copies stderr line by line to `node-logs/<node>.log` (keeping the last 32
//! lines for crash reports); a writer thread feeds stdin so a node that stops reading cannot
//! block the main loop. The main loop (see `driver`) owns the engine and waits on the channel
//! with the engine's next deadline as its timeout.
//!
//! Every node process group is killed on shutdown, on drop (errors and panics) and on Ctrl-C.
//!
//! Faults ([`Control`]): pause and resume are SIGSTOP and SIGCONT to the node's process
//! group; kill is SIGKILL (its end of file is then expected, not a crash); restart spawns the
//! program again, appending to the same log. Each spawn is a new generation, so a late end of
//! file from a killed process is never mistaken for the new one's.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, LineWriter, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, Once};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::host::{Control, HostError, HostEvent, NodeHost};
use crate::ids::{NodeId, NodeIndex};
use crate::time::Time;

/// How many stderr lines are kept for crash reports (as Maelstrom does).
const TAIL_LINES: usize = 32;
/// The longest the loop sleeps before checking for Ctrl-C.
const POLL_CAP: Duration = Duration::from_millis(100);
/// How long to wait for an exit status after a node closed its stdout, and for the last
/// stderr lines of a dead node.
const EXIT_GRACE: Duration = Duration::from_millis(500);

/// The last stderr lines of a node, and whether its stderr reached end of file.
#[derive(Default)]
struct Tail {
    lines: Mutex<VecDeque<String>>,
    closed: AtomicBool,
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static HANDLER: Once = Once::new();

/// Install the Ctrl-C (and SIGTERM) handler once per process: it only raises a flag that the
/// main loop polls, so the loop can kill the nodes and write what it has.
pub fn install_interrupt_handler() {
    HANDLER.call_once(|| {
        if let Err(e) = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst)) {
            tracing::warn!("could not install the Ctrl-C handler: {e}");
        }
    });
}

/// How to launch the node processes.
#[derive(Debug, Clone)]
pub struct ProcessConfig {
    /// The program.
    pub program: PathBuf,
    /// Arguments before the user's (e.g. the hidden `node` subcommand).
    pub leading_args: Vec<String>,
    /// The user's trailing arguments.
    pub args: Vec<String>,
    /// Working directory of every node.
    pub cwd: PathBuf,
    /// Where `<node>.log` files go.
    pub log_dir: PathBuf,
    /// Also copy stderr lines to the console.
    pub log_stderr: bool,
}

enum Msg {
    Lines(usize, Vec<String>, Instant),
    /// End of a node's stdout: node, generation, when.
    Eof(usize, u64, Instant),
}

struct NodeProc {
    name: String,
    child: Child,
    writer: Option<Sender<String>>,
    tail: Arc<Tail>,
    reported_exit: bool,
    /// Which spawn of this node this is (0 first).
    generation: u64,
    /// Killed by the nemesis and not restarted yet.
    killed: bool,
}

/// Runs nodes as OS processes. See the module docs.
pub struct ProcessHost {
    config: ProcessConfig,
    start: Instant,
    nodes: Vec<NodeProc>,
    tx: Sender<Msg>,
    rx: Receiver<Msg>,
    pending: VecDeque<HostEvent>,
    shut_down: bool,
    /// CPU time of this process's reaped children when the nodes started.
    children_cpu_at_start: Option<Duration>,
}

impl ProcessHost {
    /// A host that will launch nodes as configured; its clock starts now.
    pub fn new(config: ProcessConfig) -> ProcessHost {
        let (tx, rx) = mpsc::channel();
        ProcessHost {
            config,
            start: Instant::now(),
            nodes: Vec::new(),
            tx,
            rx,
            pending: VecDeque::new(),
            children_cpu_at_start: None,
            shut_down: false,
        }
    }

    fn time_of(&self, at: Instant) -> Time {
        Time::from_nanos(
            u64::try_from(at.saturating_duration_since(self.start).as_nanos()).unwrap_or(u64::MAX),
        )
    }

    fn spawn(&mut self, i: usize, id: &NodeId, generation: u64) -> Result<NodeProc, HostError> {
        let c = &self.config;
        let err = |message: String| HostError {
            node: Some(NodeIndex(i)),
            message,
        };
        let log_path = c.log_dir.join(format!("{}.log", id.0));
        // A restarted node appends to its log.
        let log = File::options()
            .create(true)
            .append(generation > 0)
            .write(true)
            .truncate(generation == 0)
            .open(&log_path)
            .map_err(|e| err(format!("cannot create {}: {e}", log_path.display())))?;
        let mut cmd = Command::new(&c.program);
        cmd.args(&c.leading_args)
            .args(&c.args)
            .current_dir(&c.cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd.spawn().map_err(|e| {
            err(format!(
                "Node {} could not be started: {}: {e}",
                id.0,
                c.program.display()
            ))
        })?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            return Err(err(format!("Node {}: missing stdio pipes", id.0)));
        };
        let tail = Arc::new(Tail::default());
        let name = id.0.clone();
        let (wtx, wrx) = mpsc::channel::<String>();
        thread::Builder::new()
            .name(format!("{name}-stdin"))
            .spawn(move || write_loop(stdin, wrx))
            .map_err(|e| err(format!("cannot start a thread: {e}")))?;
        let tx = self.tx.clone();
        thread::Builder::new()
            .name(format!("{name}-stdout"))
            .spawn(move || read_loop(i, generation, stdout, tx))
            .map_err(|e| err(format!("cannot start a thread: {e}")))?;
        let (tail2, echo, label) = (tail.clone(), c.log_stderr, name.clone());
        thread::Builder::new()
            .name(format!("{name}-stderr"))
            .spawn(move || stderr_loop(stderr, log, tail2, echo, &label))
            .map_err(|e| err(format!("cannot start a thread: {e}")))?;
        Ok(NodeProc {
            name,
            child,
            writer: Some(wtx),
            tail,
            reported_exit: false,
            generation,
            killed: false,
        })
    }

    fn signal(&mut self, node: NodeIndex, signal: Signal) -> Result<(), HostError> {
        let Some(n) = self.nodes.get(node.0) else {
            return Err(HostError {
                node: Some(node),
                message: format!("no node #{}", node.0),
            });
        };
        let Ok(pid) = i32::try_from(n.child.id()) else {
            return Ok(());
        };
        match killpg(Pid::from_raw(pid), signal) {
            Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
            Err(e) => Err(HostError {
                node: Some(node),
                message: format!("cannot send {signal} to node {}: {e}", n.name),
            }),
        }
    }

    fn exit_event(&mut self, i: usize, at: Instant) -> HostEvent {
        let at = self.time_of(at);
        let Some(node) = self.nodes.get_mut(i) else {
            return HostEvent::Timeout { now: at };
        };
        node.reported_exit = true;
        let deadline = Instant::now() + EXIT_GRACE;
        let status = loop {
            match node.child.try_wait() {
                Ok(Some(s)) => break describe(s),
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
                Ok(None) => break "its stdout closed (the process is still running)".to_owned(),
                Err(e) => break format!("an unknown status ({e})"),
            }
        };
        HostEvent::Exited {
            node: NodeIndex(i),
            status,
            at,
        }
    }
}

fn describe(s: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (s.code(), s.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(sig)) => format!("signal {sig}"),
        _ => "an unknown status".to_owned(),
    }
}

fn write_loop(stdin: ChildStdin, rx: Receiver<String>) {
    let mut w = BufWriter::with_capacity(64 * 1024, stdin);
    while let Ok(line) = rx.recv() {
        if w.write_all(line.as_bytes())
            .and_then(|()| w.write_all(b"\n"))
            .is_err()
        {
            return;
        }
        // Write whatever else is queued, then flush once.
        while let Ok(line) = rx.try_recv() {
            if w.write_all(line.as_bytes())
                .and_then(|()| w.write_all(b"\n"))
                .is_err()
            {
                return;
            }
        }
        if w.flush().is_err() {
            return;
        }
    }
}

fn read_loop(i: usize, generation: u64, stdout: std::process::ChildStdout, tx: Sender<Msg>) {
    let mut r = BufReader::with_capacity(64 * 1024, stdout);
    let mut buf = Vec::with_capacity(256);
    loop {
        let mut batch = Vec::new();
        loop {
            buf.clear();
            match r.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => {
                    if !batch.is_empty() {
                        let _ = tx.send(Msg::Lines(i, batch, Instant::now()));
                    }
                    let _ = tx.send(Msg::Eof(i, generation, Instant::now()));
                    return;
                }
                Ok(_) => {
                    while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                        buf.pop();
                    }
                    if !buf.is_empty() {
                        batch.push(String::from_utf8_lossy(&buf).into_owned());
                    }
                }
            }
            // Keep batching while complete lines are already buffered.
            if !r.buffer().contains(&b'\n') || batch.len() >= 1024 {
                break;
            }
        }
        if !batch.is_empty() && tx.send(Msg::Lines(i, batch, Instant::now())).is_err() {
            return;
        }
    }
}

fn stderr_loop(
    stderr: std::process::ChildStderr,
    log: File,
    tail: Arc<Tail>,
    echo: bool,
    name: &str,
) {
    let mut log = LineWriter::new(log);
    let mut r = BufReader::new(stderr);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match r.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => {
                tail.closed.store(true, Ordering::SeqCst);
                return;
            }
            Ok(_) => {
                let line = String::from_utf8_lossy(&buf);
                let line = line.trim_end_matches(['\n', '\r']);
                let _ = writeln!(log, "{line}");
                if echo {
                    eprintln!("{name} stderr: {line}");
                }
                if let Ok(mut t) = tail.lines.lock() {
                    if t.len() == TAIL_LINES {
                        t.pop_front();
                    }
                    t.push_back(line.to_owned());
                }
            }
        }
    }
}

impl NodeHost for ProcessHost {
    fn start(&mut self, nodes: &[NodeId]) -> Result<(), HostError> {
        install_interrupt_handler();
        self.children_cpu_at_start = reaped_children_cpu();
        std::fs::create_dir_all(&self.config.log_dir).map_err(|e| HostError {
            node: None,
            message: format!("cannot create {}: {e}", self.config.log_dir.display()),
        })?;
        for (i, id) in nodes.iter().enumerate() {
            let node = self.spawn(i, id, 0)?;
            self.nodes.push(node);
        }
        Ok(())
    }

    fn now(&self) -> Time {
        self.time_of(Instant::now())
    }

    fn deliver(&mut self, node: NodeIndex, line: String) {
        if let Some(w) = self.nodes.get(node.0).and_then(|n| n.writer.as_ref()) {
            // A closed channel means the node's stdin is gone; its exit is reported elsewhere.
            let _ = w.send(line);
        }
    }

    fn next_event(&mut self, deadline: Option<Time>) -> HostEvent {
        loop {
            if let Some(ev) = self.pending.pop_front() {
                return ev;
            }
            let now = self.now();
            if INTERRUPTED.load(Ordering::SeqCst) {
                return HostEvent::Interrupted { now };
            }
            // Even when the deadline has passed, take what the nodes already said first, so a
            // busy engine can never starve them.
            let wait = deadline.map_or(POLL_CAP, |d| (d - now).min(POLL_CAP));
            let got = if wait.is_zero() {
                match self.rx.try_recv() {
                    Ok(m) => Ok(m),
                    Err(mpsc::TryRecvError::Empty) => return HostEvent::Timeout { now },
                    Err(mpsc::TryRecvError::Disconnected) => Err(RecvTimeoutError::Disconnected),
                }
            } else {
                self.rx.recv_timeout(wait)
            };
            match got {
                Ok(Msg::Lines(i, lines, at)) => {
                    let at = self.time_of(at);
                    self.pending
                        .extend(lines.into_iter().map(|line| HostEvent::Line {
                            node: NodeIndex(i),
                            line,
                            at,
                            pre: None,
                        }));
                }
                Ok(Msg::Eof(i, generation, at)) => {
                    let current = self
                        .nodes
                        .get(i)
                        .is_some_and(|n| n.generation == generation && !n.killed);
                    if current && self.nodes.get(i).is_some_and(|n| !n.reported_exit) {
                        let ev = self.exit_event(i, at);
                        self.pending.push_back(ev);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return HostEvent::Timeout { now: self.now() };
                }
            }
        }
    }

    fn stderr_tail(&self, node: NodeIndex) -> Vec<String> {
        let Some(n) = self.nodes.get(node.0) else {
            return Vec::new();
        };
        // Once the node is dead, let its stderr thread read what is left in the pipe.
        let deadline = Instant::now() + EXIT_GRACE;
        while self.shut_down && !n.tail.closed.load(Ordering::SeqCst) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        n.tail
            .lines
            .lock()
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn control(&mut self, node: NodeIndex, action: Control) -> Result<(), HostError> {
        match action {
            Control::Pause => self.signal(node, Signal::SIGSTOP),
            Control::Resume => self.signal(node, Signal::SIGCONT),
            Control::Kill => {
                let Some(n) = self.nodes.get_mut(node.0) else {
                    return Ok(());
                };
                n.killed = true;
                n.reported_exit = true;
                n.writer = None;
                kill_group(&mut n.child, &n.name);
                Ok(())
            }
            Control::Restart => {
                let Some(n) = self.nodes.get(node.0) else {
                    return Ok(());
                };
                let (id, generation) = (NodeId(n.name.clone()), n.generation + 1);
                let fresh = self.spawn(node.0, &id, generation)?;
                if let Some(slot) = self.nodes.get_mut(node.0) {
                    // The old process is dead and reaped (kill_group waited for it).
                    *slot = fresh;
                }
                Ok(())
            }
        }
    }

    fn shutdown(&mut self) -> Vec<(NodeIndex, String)> {
        if self.shut_down {
            return Vec::new();
        }
        self.shut_down = true;
        let mut exited = Vec::new();
        for (i, n) in self.nodes.iter_mut().enumerate() {
            match n.child.try_wait() {
                Ok(Some(status)) if !n.reported_exit => {
                    exited.push((NodeIndex(i), describe(status)))
                }
                _ => {}
            }
            n.writer = None;
            kill_group(&mut n.child, &n.name);
        }
        exited
    }

    fn node_cpu(&self) -> Option<Duration> {
        // Every node (and every earlier life of a restarted one) has been reaped by now, so the
        // growth of the reaped children's time since start is the nodes' time.
        let now = reaped_children_cpu()?;
        Some(now.saturating_sub(self.children_cpu_at_start?))
    }
}

/// User plus system CPU time of every child this process has reaped so far.
fn reaped_children_cpu() -> Option<Duration> {
    use nix::sys::resource::{UsageWho, getrusage};
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).ok()?;
    let micros = |t: nix::sys::time::TimeVal| {
        u64::try_from(t.tv_sec()).unwrap_or(0) * 1_000_000 + u64::try_from(t.tv_usec()).unwrap_or(0)
    };
    Some(Duration::from_micros(
        micros(usage.user_time()) + micros(usage.system_time()),
    ))
}

fn kill_group(child: &mut Child, name: &str) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // The node leads its own process group: kill the group, so helpers it spawned die too.
        match killpg(Pid::from_raw(pid), Signal::SIGKILL) {
            Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
            Err(e) => tracing::debug!("killpg {name}: {e}"),
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for ProcessHost {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}
