//! Node log capture: a node core's `tracing` events at info level and above, filed under the
//! node whose core the thread is running and stamped with virtual time.

use std::cell::Cell;
use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use tracing::Dispatch;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::layer::SubscriberExt;

use crate::time::Time;

/// Log lines kept in memory per node (the rest are counted, and the tail is kept).
const LOG_LINES: usize = 20_000;
/// Stderr lines kept for crash reports.
const TAIL_LINES: usize = 32;

#[derive(Default)]
pub(super) struct NodeLog {
    pub(super) name: String,
    pub(super) lines: Vec<String>,
    pub(super) dropped: u64,
    pub(super) tail: VecDeque<String>,
}

thread_local! {
    /// The node whose core this thread is running, and the virtual instant: where its log
    /// events go.
    pub(super) static LOG_CONTEXT: Cell<(usize, u64)> = const { Cell::new((0, 0)) };
}

pub(super) struct NodeLogs {
    pub(super) echo: bool,
    pub(super) nodes: Mutex<Vec<NodeLog>>,
}

impl NodeLogs {
    /// Files a line of the harness's own about node `i` (a kill, a restart, a panic).
    pub(super) fn push(&self, i: usize, now: Time, text: &str) {
        self.file(i, format!("[{now}] {text}"));
    }

    fn file(&self, i: usize, line: String) {
        let Ok(mut nodes) = self.nodes.lock() else {
            return;
        };
        let Some(log) = nodes.get_mut(i) else {
            return;
        };
        if self.echo {
            crate::console::eprint_line(&format!("{} stderr: {line}", log.name));
        }
        if log.tail.len() == TAIL_LINES {
            log.tail.pop_front();
        }
        log.tail.push_back(line.clone());
        if log.lines.len() < LOG_LINES {
            log.lines.push(line);
        } else {
            log.dropped += 1;
        }
    }
}

/// The `tracing` dispatch a node core's calls run under: `tracing-subscriber`'s fmt layer at
/// info level, stamped with virtual time, each line filed under the node being called.
pub(super) fn dispatch(logs: Arc<NodeLogs>) -> Dispatch {
    let layer = tracing_subscriber::fmt::layer()
        .with_timer(VirtualTime)
        .with_target(false)
        .with_ansi(false)
        .with_writer(NodeWriter(logs));
    // A global filter (not a per-layer one): callsites below info are then never enabled,
    // rather than asked about at every event of a busy core.
    Dispatch::new(
        tracing_subscriber::registry()
            .with(LevelFilter::INFO)
            .with(layer),
    )
}

/// Stamps a line with the virtual instant of the call being run.
struct VirtualTime;

impl FormatTime for VirtualTime {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        let (_, now) = LOG_CONTEXT.with(Cell::get);
        write!(w, "[{}]", Time::from_nanos(now))
    }
}

/// Hands out one [`LineWriter`] per event.
struct NodeWriter(Arc<NodeLogs>);

impl<'a> MakeWriter<'a> for NodeWriter {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> LineWriter<'a> {
        LineWriter {
            logs: &self.0,
            buf: Vec::new(),
        }
    }
}

/// Collects one formatted event and files it when dropped (the fmt layer writes an event,
/// then drops its writer).
struct LineWriter<'a> {
    logs: &'a NodeLogs,
    buf: Vec<u8>,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter<'_> {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let (i, _) = LOG_CONTEXT.with(Cell::get);
        let text = String::from_utf8_lossy(&self.buf);
        self.logs.file(i, text.trim_end().to_owned());
    }
}
