//! Node log capture: a node core's `tracing` events at info level and above, filed under the
//! node whose core the thread is running and stamped with virtual time.

use std::cell::Cell;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

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
    pub(super) fn push(&self, i: usize, now: Time, text: &str) {
        let line = format!("[{now}] {text}");
        let Ok(mut nodes) = self.nodes.lock() else {
            return;
        };
        let Some(log) = nodes.get_mut(i) else {
            return;
        };
        if self.echo {
            eprintln!("{} stderr: {line}", log.name);
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

/// A `tracing` subscriber that files each event under the node being called.
pub(super) struct LogSubscriber(pub(super) Arc<NodeLogs>);

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, " {value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            let _ = write!(self.0, " {value}");
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

impl Subscriber for LogSubscriber {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if self.enabled(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        *meta.level() <= Level::INFO
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::INFO)
    }

    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields(event.metadata().level().to_string());
        event.record(&mut fields);
        let (i, now) = LOG_CONTEXT.with(Cell::get);
        self.0.push(i, Time::from_nanos(now), &fields.0);
    }

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}
