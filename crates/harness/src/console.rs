//! What the user sees on the terminal: the options at start, a live progress line, the results
//! summary, and exactly Maelstrom's closing banner with its exit codes.

use std::io::{IsTerminal, StderrLock, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use tracing_subscriber::fmt::MakeWriter;

use crate::checker::Validity;
use crate::progress::{Phase, Progress};
use crate::time::Time;

/// Maelstrom's banner for a valid run.
pub const VALID_BANNER: &str = "Everything looks good! ヽ(‘ー`)ノ";
/// Maelstrom's banner for an invalid run.
pub const INVALID_BANNER: &str = "Analysis invalid! (ﾉಥ益ಥ）ﾉ ┻━┻";
/// Maelstrom's banner for an unknown verdict.
pub const UNKNOWN_BANNER: &str = "Errors occurred during analysis, but no anomalies found. ಠ~ಠ";
/// Jepsen's line for a crashed test.
pub const CRASH_BANNER: &str = "Oh jeez, I'm sorry, Jepsen broke. Here's why:";

/// Exit status of a valid run.
pub const EXIT_VALID: i32 = 0;
/// Exit status of an invalid run.
pub const EXIT_INVALID: i32 = 1;
/// Exit status of an unknown verdict.
pub const EXIT_UNKNOWN: i32 = 2;
/// Exit status for bad arguments.
pub const EXIT_BAD_ARGS: i32 = 254;
/// Exit status of a crashed run.
pub const EXIT_CRASH: i32 = 255;
/// Exit status after Ctrl-C.
pub const EXIT_INTERRUPTED: i32 = 130;

/// The banner and exit status for a verdict.
pub fn verdict(v: Validity) -> (&'static str, i32) {
    match v {
        Validity::Valid => (VALID_BANNER, EXIT_VALID),
        Validity::Invalid => (INVALID_BANNER, EXIT_INVALID),
        Validity::Unknown => (UNKNOWN_BANNER, EXIT_UNKNOWN),
    }
}

/// Whether a progress line stands unfinished on the terminal: whatever writes to stderr next
/// clears it first, so that a log line never runs on from it.
static PROGRESS_SHOWN: AtomicBool = AtomicBool::new(false);

/// Clears the progress line standing on the terminal, if one does.
fn clear_progress(err: &mut impl Write) {
    if PROGRESS_SHOWN.swap(false, Ordering::Relaxed) {
        let _ = err.write_all(b"\r\x1b[K");
    }
}

/// Prints `line` to stderr, on a line of its own even while a progress line is shown.
pub fn eprint_line(line: &str) {
    let mut err = std::io::stderr().lock();
    clear_progress(&mut err);
    let _ = writeln!(err, "{line}");
}

/// Stderr for log lines (a `tracing-subscriber` writer): each event clears the progress line
/// before it is written; the next progress update draws the line again below it.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogWriter;

/// Stderr, locked for one log event.
pub struct LogLine {
    err: StderrLock<'static>,
    cleared: bool,
}

impl Write for LogLine {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if !self.cleared {
            clear_progress(&mut self.err);
            self.cleared = true;
        }
        self.err.write(bytes)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.err.flush()
    }
}

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = LogLine;

    fn make_writer(&'a self) -> LogLine {
        LogLine {
            err: std::io::stderr().lock(),
            cleared: false,
        }
    }
}

/// Prints a progress line to stderr: rewritten in place on a terminal, every 10 s otherwise.
pub struct ProgressLine {
    tty: bool,
    last: Option<Instant>,
}

impl Default for ProgressLine {
    fn default() -> Self {
        ProgressLine::new()
    }
}

/// The progress line for `p` at the run's time `now`. The clock shows time into the main
/// phase, which ends at its length; after it, the phase says what is being waited for.
pub fn progress_text(p: &Progress, now: Time) -> String {
    let phase = match p.phase {
        Phase::Created | Phase::Init => "init".to_owned(),
        Phase::Setup => "setup".to_owned(),
        Phase::Main => "main".to_owned(),
        Phase::Recovery { until } => format!(
            "recovery, final reads in {:.0} s",
            (until - now).as_secs_f64().ceil()
        ),
        Phase::Final => "final reads".to_owned(),
        Phase::Done => "done".to_owned(),
    };
    format!(
        "[{:>6.1}/{:.0} s] {phase:<11} ops {:>7}  msgs {:>9}",
        p.elapsed.min(p.total).as_secs_f64(),
        p.total.as_secs_f64(),
        p.ops_done,
        p.messages
    )
}

impl ProgressLine {
    /// A progress printer for this process's stderr.
    pub fn new() -> ProgressLine {
        ProgressLine {
            tty: std::io::stderr().is_terminal(),
            last: None,
        }
    }

    /// Maybe print `p`; `now` is the run's time.
    pub fn update(&mut self, p: &Progress, now: Time) {
        let every = if self.tty {
            Duration::from_millis(250)
        } else {
            Duration::from_secs(10)
        };
        let wall = Instant::now();
        match self.last {
            None => {
                self.last = Some(wall);
                return;
            }
            Some(last) if wall.duration_since(last) < every => return,
            Some(_) => self.last = Some(wall),
        }
        let line = progress_text(p, now);
        let mut err = std::io::stderr().lock();
        if self.tty {
            clear_progress(&mut err);
            let _ = write!(err, "\r{line}\x1b[K");
            PROGRESS_SHOWN.store(true, Ordering::Relaxed);
        } else {
            let _ = writeln!(err, "{line}");
        }
    }

    /// End the line (on a terminal), leaving the last figures in view.
    pub fn finish(&mut self) {
        if PROGRESS_SHOWN.swap(false, Ordering::Relaxed) {
            eprintln!();
        }
    }
}

fn num(v: &Value) -> String {
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => format!("{f:.3}"),
            _ => n.to_string(),
        },
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// A figure in milliseconds: whole milliseconds are precise enough to read.
fn ms(v: &Value) -> String {
    match v.as_f64() {
        Some(f) => format!("{f:.0}"),
        None => num(v),
    }
}

fn valid_word(v: &Value) -> String {
    match v.get("valid?") {
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => "?".into(),
    }
}

/// A human summary of a results map (the full map is in `results.json`).
pub fn summary(results: &Value, workload: &str) -> String {
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    if let Some(c) = results.get("crash") {
        line(format!(
            "crash      {}",
            c["reason"].as_str().unwrap_or("?")
        ));
        if let Some(tail) = c["stderr-tail"].as_array().filter(|t| !t.is_empty()) {
            line("           last lines of its stderr:".into());
            for l in tail {
                line(format!("             {}", l.as_str().unwrap_or_default()));
            }
        }
    }
    if let Some(w) = results.get("workload") {
        line(format!("workload   {workload}: valid? {}", valid_word(w)));
        if w.get("attempt-count").is_some() {
            line(format!(
                "           attempts {}  stable {}  lost {}  never-read {}  stale {}",
                num(&w["attempt-count"]),
                num(&w["stable-count"]),
                num(&w["lost-count"]),
                num(&w["never-read-count"]),
                num(&w["stale-count"])
            ));
            for key in ["stable-latencies", "lost-latencies"] {
                if let Some(q) = w.get(key).and_then(Value::as_object) {
                    let parts: Vec<String> =
                        q.iter().map(|(k, v)| format!("{k}: {}", num(v))).collect();
                    line(format!("           {key} (ms)  {}", parts.join("  ")));
                }
            }
            if let Some(lost) = w["lost"].as_array().filter(|l| !l.is_empty()) {
                let shown: Vec<String> = lost.iter().take(20).map(num).collect();
                line(format!(
                    "           lost: {}{}",
                    shown.join(" "),
                    if lost.len() > 20 { " ..." } else { "" }
                ));
            }
        }
        if w.get("acceptable").is_some() {
            line(format!(
                "           final reads {}  acceptable {}",
                w["final-reads"], w["acceptable"]
            ));
        }
        if let Some(errs) = w
            .get("errors")
            .and_then(Value::as_array)
            .filter(|e| !e.is_empty())
        {
            line(format!(
                "           {} errors, first: {}",
                errs.len(),
                errs[0]
            ));
        }
    }
    if let Some(sc) = results.get("scenario") {
        line(format!(
            "scenario   {}: valid? {}  {} of {} steps done",
            sc["name"].as_str().unwrap_or("?"),
            valid_word(sc),
            num(&sc["completed-steps"]),
            sc["steps"].as_array().map_or(0, Vec::len)
        ));
        for c in sc["checks"].as_array().into_iter().flatten() {
            if c["converged"] == Value::Bool(true) {
                line(format!(
                    "           step {}: converged after {} ms",
                    num(&c["step"]),
                    ms(&c["after-ms"])
                ));
            }
        }
        for f in sc["failures"].as_array().into_iter().flatten() {
            line(format!(
                "           FAILED {}",
                f.as_str().unwrap_or_default()
            ));
        }
    }
    if let Some(s) = results.get("stats") {
        line(format!(
            "stats      valid? {}  {} ops: {} ok, {} fail, {} info",
            valid_word(s),
            num(&s["count"]),
            num(&s["ok-count"]),
            num(&s["fail-count"]),
            num(&s["info-count"])
        ));
        if let Some(by_f) = s["by-f"].as_object() {
            for (f, c) in by_f {
                line(format!(
                    "           {f}: valid? {}  {} ok / {}",
                    valid_word(c),
                    num(&c["ok-count"]),
                    num(&c["count"])
                ));
            }
        }
    }
    if let Some(a) = results.get("availability") {
        line(format!(
            "availability valid? {}  ok-fraction {}",
            valid_word(a),
            num(&a["ok-fraction"])
        ));
    }
    if let Some(n) = results.get("net") {
        line(format!(
            "net        all {} msgs ({} per op)  clients {}  servers {} ({} per op)",
            num(&n["all"]["msg-count"]),
            num(&n["all"]["msgs-per-op"]),
            num(&n["clients"]["msg-count"]),
            num(&n["servers"]["msg-count"]),
            num(&n["servers"]["msgs-per-op"])
        ));
    }
    if let Some(c) = results.get("node-cpu") {
        line(format!(
            "node cpu   {} ms in all, {} ms per 1000 ops",
            ms(&c["ms"]),
            ms(&c["ms-per-1000-ops"])
        ));
    }
    if let Some(e) = results
        .get("exceptions")
        .and_then(|e| e.get("exceptions"))
        .and_then(Value::as_array)
    {
        for x in e {
            line(format!(
                "exceptions {} x{}: {}",
                num(&x["class"]),
                num(&x["count"]),
                x["example"]["error"]
            ));
        }
    }
    if let Some(nodes) = results
        .get("protocol")
        .and_then(|p| p.get("nodes"))
        .and_then(Value::as_object)
    {
        for (node, p) in nodes {
            line(format!(
                "protocol   node {node}: {} not JSON, {} bad envelopes, {} unknown endpoints, {} replies to closed clients",
                num(&p["not-json-count"]),
                num(&p["bad-envelope-count"]),
                num(&p["unknown-endpoint-count"]),
                num(&p["closed-client-count"])
            ));
            if let Some(ex) = p["examples"]
                .as_array()
                .and_then(|a| a.first())
                .and_then(Value::as_str)
            {
                line(format!("           e.g. {ex}"));
            }
        }
    }
    line(format!("valid?     {}", valid_word(results)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn banners_are_exactly_maelstroms() {
        assert_eq!(
            verdict(Validity::Valid),
            ("Everything looks good! ヽ(‘ー`)ノ", 0)
        );
        assert_eq!(
            verdict(Validity::Invalid),
            ("Analysis invalid! (ﾉಥ益ಥ）ﾉ ┻━┻", 1)
        );
        assert_eq!(
            verdict(Validity::Unknown),
            (
                "Errors occurred during analysis, but no anomalies found. ಠ~ಠ",
                2
            )
        );
        assert!(VALID_BANNER.contains('\u{2018}') && VALID_BANNER.contains('\u{30FC}'));
    }

    fn progress(phase: Phase, elapsed_s: u64) -> Progress {
        Progress {
            phase,
            elapsed: Duration::from_secs(elapsed_s),
            total: Duration::from_secs(20),
            ops_done: 5,
            messages: 147,
        }
    }

    #[test]
    fn the_progress_clock_stops_at_the_main_phase_length() {
        let now = Time::from_millis(30_000);
        let main = progress_text(&progress(Phase::Main, 12), now);
        assert!(main.starts_with("[  12.0/20 s] main "), "{main}");
        let late = progress_text(&progress(Phase::Main, 21), now);
        assert!(late.starts_with("[  20.0/20 s] main "), "{late}");
        let until = Time::from_millis(36_500);
        let rec = progress_text(&progress(Phase::Recovery { until }, 25), now);
        assert!(
            rec.starts_with("[  20.0/20 s] recovery, final reads in 7 s"),
            "{rec}"
        );
        let fin = progress_text(&progress(Phase::Final, 40), now);
        assert!(fin.starts_with("[  20.0/20 s] final reads"), "{fin}");
    }

    #[test]
    fn a_log_line_clears_the_progress_line_first() {
        let mut out = Vec::new();
        PROGRESS_SHOWN.store(true, Ordering::Relaxed);
        clear_progress(&mut out);
        assert_eq!(out, b"\r\x1b[K");
        // Once cleared, the next line is written as it is.
        clear_progress(&mut out);
        assert_eq!(out, b"\r\x1b[K");
    }

    #[test]
    fn summary_mentions_key_figures() {
        let r = json!({
            "valid?": false,
            "workload": {"valid?": false, "attempt-count": 3, "stable-count": 1, "lost-count": 2, "lost": [4, 5],
                         "never-read-count": 0, "stale-count": 0, "stable-latencies": {"0": 0, "1": 5}},
            "net": {"all": {"msg-count": 10, "msgs-per-op": 2.5}, "clients": {"msg-count": 4}, "servers": {"msg-count": 6, "msgs-per-op": 1.5}},
        });
        let s = summary(&r, "broadcast");
        assert!(s.contains("lost 2"), "{s}");
        let cpu = json!({"node-cpu": {"ms": 993.0, "ms-per-1000-ops": 12.345}});
        let c = summary(&cpu, "broadcast");
        assert!(
            c.contains("node cpu   993 ms in all, 12 ms per 1000 ops"),
            "{c}"
        );
        assert!(s.contains("lost: 4 5"));
        assert!(s.contains("servers 6 (1.500 per op)"), "{s}");
    }
}
