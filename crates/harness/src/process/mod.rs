//! The process host: every node is an OS process, in real time.
//!
//! Each node gets stdin/stdout pipes and its own process group, with the temp directory as its
//! working directory and the trailing command-line arguments as argv. Per node, a
//! reader thread batches stdout lines into one shared channel, stamped with the time they were
//! read; another copies stderr line by line to `node-logs/<node>.log` (keeping the last 32
//! lines for crash reports); a writer thread feeds stdin so a node that stops reading cannot
//! block the main loop. The main loop (see `driver`) owns the engine and waits on the channel
//! with the engine's next deadline as its timeout.
//!
//! What a node prints is bounded in the harness's memory, whatever the node does: a stdout line
//! may be at most [`MAX_LINE_BYTES`] long (a longer one crashes the run, naming the node), and
//! at most [`MAX_QUEUED_BYTES`] of a node's lines wait for the main loop; beyond that its reader
//! stops reading until the main loop catches up, so a node that floods its stdout blocks on
//! its own full pipe. A longer stderr line reaches the log in pieces of that length.
//!
//! At the end of a run every node's stdin is closed and its process group gets SIGTERM, so
//! that a node can write its exit summary; whatever still runs after a short grace is killed
//! (SIGKILL), as on drop (errors and panics) and on Ctrl-C.
//!
//! Faults ([`Control`]): pause and resume are SIGSTOP and SIGCONT to the node's process
//! group; kill is SIGKILL (its end of file is then expected, not a crash); restart spawns the
//! program again, appending to the same log. Each spawn is a new generation, so a late end of
//! file from a killed process is never mistaken for the new one's.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, LineWriter, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex, Once};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::host::{Control, HostError, HostEvent, NodeHost};
use crate::ids::{NodeId, NodeIndex};
use crate::time::Time;

/// How many stderr lines are kept for crash reports (as Maelstrom does).
const TAIL_LINES: usize = 32;
/// How much of each of those lines is kept.
const TAIL_LINE_CHARS: usize = 4096;
/// The longest line a node may write on stdout, in bytes, without its newline. A reply that
/// reads back a large set is well under a megabyte; a line this long is a runaway node, and a
/// longer one crashes the run rather than grow the harness without bound.
pub const MAX_LINE_BYTES: usize = 4 << 20;
/// How many bytes of one node's stdout lines may wait, read but not yet taken by the main
/// loop (each line counted with a small overhead for the string that holds it). Far more than
/// a pipe holds (64 KiB), so a node the harness keeps up with is never held back.
pub const MAX_QUEUED_BYTES: usize = 1 << 20;
/// What a queued line costs beyond its text (the `String` and its allocation), so that a
/// flood of short lines is bounded as well as one of long lines.
const LINE_OVERHEAD: usize = 32;
/// A batch of lines handed to the main loop ends at this many lines or bytes.
const BATCH_LINES: usize = 1024;
const BATCH_BYTES: usize = 64 << 10;
/// The read buffer of a node's stdout and stderr.
const READ_BUFFER: usize = 64 << 10;
/// The longest the loop sleeps before checking for Ctrl-C.
const POLL_CAP: Duration = Duration::from_millis(100);
/// How long to wait for an exit status after a node closed its stdout, and for the last
/// stderr lines of a dead node.
const EXIT_GRACE: Duration = Duration::from_millis(500);
/// How long the nodes still running at the end of a run get, all together, to write their exit
/// summaries once their stdin has closed and SIGTERM has arrived, before SIGKILL.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// The last stderr lines of a node, and whether its stderr reached end of file.
#[derive(Default)]
struct Tail {
    lines: Mutex<VecDeque<String>>,
    closed: AtomicBool,
}

/// The bytes of one node's stdout lines that its reader has queued and the main loop has not
/// taken yet. The reader waits for room before it queues more (backpressure).
#[derive(Default)]
struct Queue {
    bytes: Mutex<usize>,
    taken: Condvar,
    /// The node is gone (killed, or the host shut down): a waiting reader gives up.
    closed: AtomicBool,
}

impl Queue {
    /// Wait until `n` more bytes fit, then count them. A batch always fits an empty queue, so
    /// a line of up to [`MAX_LINE_BYTES`] gets through. False once the queue is closed.
    fn reserve(&self, n: usize) -> bool {
        let Ok(mut queued) = self.bytes.lock() else {
            return false;
        };
        loop {
            if self.closed.load(Ordering::SeqCst) {
                return false;
            }
            if *queued == 0 || *queued + n <= MAX_QUEUED_BYTES {
                *queued += n;
                return true;
            }
            queued = match self.taken.wait(queued) {
                Ok(q) => q,
                Err(_) => return false,
            };
        }
    }

    /// The main loop took `n` bytes.
    fn release(&self, n: usize) {
        if let Ok(mut queued) = self.bytes.lock() {
            *queued = queued.saturating_sub(n);
        }
        self.taken.notify_all();
    }

    fn close(&self) {
        // Under the lock, so a reader between its check and its wait cannot miss the wake-up.
        let queued = self.bytes.lock();
        self.closed.store(true, Ordering::SeqCst);
        drop(queued);
        self.taken.notify_all();
    }
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

/// Whether Ctrl-C (or SIGTERM) arrived since [`install_interrupt_handler`].
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
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
    /// Lines of a node, read at `at`; `bytes` of them are counted in `queue`.
    Lines {
        node: usize,
        lines: Vec<String>,
        bytes: usize,
        queue: Arc<Queue>,
        at: Instant,
    },
    /// End of a node's stdout: node, generation, when.
    Eof(usize, u64, Instant),
    /// A node's stdout line passed [`MAX_LINE_BYTES`], and its reader stopped: node,
    /// generation, when.
    TooLong(usize, u64, Instant),
}

struct NodeProc {
    name: String,
    child: Child,
    writer: Option<Sender<String>>,
    /// Its stdout lines waiting for the main loop.
    queue: Arc<Queue>,
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
        let (tx, queue) = (self.tx.clone(), Arc::new(Queue::default()));
        let queue2 = queue.clone();
        thread::Builder::new()
            .name(format!("{name}-stdout"))
            .spawn(move || read_loop(i, generation, stdout, &tx, &queue2))
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
            queue,
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

/// Reads one node's stdout into batches of lines for the main loop, until end of file, an
/// overlong line, or the queue closing.
fn read_loop<R: Read>(i: usize, generation: u64, stdout: R, tx: &Sender<Msg>, queue: &Arc<Queue>) {
    let mut r = BufReader::with_capacity(READ_BUFFER, stdout);
    let mut buf = Vec::with_capacity(256);
    let send = |lines: Vec<String>, bytes: usize| {
        lines.is_empty()
            || queue.reserve(bytes)
                && tx
                    .send(Msg::Lines {
                        node: i,
                        lines,
                        bytes,
                        queue: queue.clone(),
                        at: Instant::now(),
                    })
                    .is_ok()
    };
    loop {
        let (mut batch, mut bytes) = (Vec::new(), 0);
        loop {
            buf.clear();
            // One byte past the limit tells a line that is too long from one that just fits.
            let limit = u64::try_from(MAX_LINE_BYTES + 1).unwrap_or(u64::MAX);
            match r.by_ref().take(limit).read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => {
                    if send(batch, bytes) {
                        let _ = tx.send(Msg::Eof(i, generation, Instant::now()));
                    }
                    return;
                }
                Ok(_) if buf.last() != Some(&b'\n') && buf.len() > MAX_LINE_BYTES => {
                    // Stop reading: the node blocks on its pipe until the run ends.
                    if send(batch, bytes) {
                        let _ = tx.send(Msg::TooLong(i, generation, Instant::now()));
                    }
                    return;
                }
                Ok(_) => {
                    while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                        buf.pop();
                    }
                    if !buf.is_empty() {
                        bytes += buf.len() + LINE_OVERHEAD;
                        batch.push(String::from_utf8_lossy(&buf).into_owned());
                    }
                    if buf.capacity() > READ_BUFFER {
                        // Do not keep a long line's buffer for the short lines that follow.
                        buf = Vec::with_capacity(256);
                    }
                }
            }
            // Keep batching while complete lines are already buffered.
            if !r.buffer().contains(&b'\n') || batch.len() >= BATCH_LINES || bytes >= BATCH_BYTES {
                break;
            }
        }
        if !send(batch, bytes) {
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
    let limit = u64::try_from(MAX_LINE_BYTES).unwrap_or(u64::MAX);
    loop {
        buf.clear();
        match r.by_ref().take(limit).read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => {
                tail.closed.store(true, Ordering::SeqCst);
                return;
            }
            Ok(_) => {
                // A longer line reaches the log in pieces, joined up again there.
                let whole = buf.last() == Some(&b'\n');
                let line = String::from_utf8_lossy(&buf);
                let line = line.trim_end_matches(['\n', '\r']);
                let _ = if whole {
                    writeln!(log, "{line}")
                } else {
                    write!(log, "{line}")
                };
                if echo {
                    crate::console::eprint_line(&format!("{name} stderr: {line}"));
                }
                if let Ok(mut t) = tail.lines.lock() {
                    if t.len() == TAIL_LINES {
                        t.pop_front();
                    }
                    t.push_back(line.chars().take(TAIL_LINE_CHARS).collect());
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
                Ok(Msg::Lines {
                    node: i,
                    lines,
                    bytes,
                    queue,
                    at,
                }) => {
                    // At most one batch waits in `pending`: it is refilled only when empty.
                    queue.release(bytes);
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
                Ok(Msg::TooLong(i, generation, at)) => {
                    let Some(n) = self.nodes.get_mut(i) else {
                        continue;
                    };
                    if n.generation == generation && !n.killed && !n.reported_exit {
                        // Its stdout is no longer read: whatever happens to it now is not news.
                        n.reported_exit = true;
                        let reason = format!(
                            "Node {} wrote a line longer than {} MiB on stdout",
                            n.name,
                            MAX_LINE_BYTES >> 20
                        );
                        let at = self.time_of(at);
                        self.pending.push_back(HostEvent::Misbehaved {
                            node: NodeIndex(i),
                            reason,
                            at,
                        });
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
            // A process keeps its disk (its `--data-dir`) whichever way it dies.
            Control::Kill | Control::Crash => {
                let Some(n) = self.nodes.get_mut(node.0) else {
                    return Ok(());
                };
                n.killed = true;
                n.reported_exit = true;
                n.writer = None;
                n.queue.close();
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
        // Maelstrom's teardown check, before any node is told to stop: one that has already
        // exited crashed the test.
        let mut exited = Vec::new();
        for (i, n) in self.nodes.iter_mut().enumerate() {
            match n.child.try_wait() {
                Ok(Some(status)) if !n.reported_exit => {
                    exited.push((NodeIndex(i), describe(status)))
                }
                _ => {}
            }
        }
        for n in &mut self.nodes {
            // Dropping the writer ends its thread, which closes the node's stdin.
            n.writer = None;
            n.queue.close();
            if let Ok(None) = n.child.try_wait() {
                // SIGCONT: a paused node (a run cut short) could not act on SIGTERM.
                signal_group(&n.child, &n.name, Signal::SIGTERM);
                signal_group(&n.child, &n.name, Signal::SIGCONT);
            }
        }
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        for n in &mut self.nodes {
            while Instant::now() < deadline
                && (matches!(n.child.try_wait(), Ok(None)) || !n.tail.closed.load(Ordering::SeqCst))
            {
                thread::sleep(Duration::from_millis(5));
            }
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

/// Sends `signal` to the node's process group: the node leads its own group, so helpers it
/// spawned get it too.
fn signal_group(child: &Child, name: &str, signal: Signal) {
    if let Ok(pid) = i32::try_from(child.id()) {
        match killpg(Pid::from_raw(pid), signal) {
            Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
            Err(e) => tracing::debug!("killpg {name} {signal}: {e}"),
        }
    }
}

fn kill_group(child: &mut Child, name: &str) {
    signal_group(child, name, Signal::SIGKILL);
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for ProcessHost {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

#[cfg(test)]
mod tests;
