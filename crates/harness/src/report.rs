//! `report.html`: one self-contained page per run with the verdict, the key figures and the
//! plots inline, so a run can be read (or screenshotted) without any other file.

use std::fmt::Write as _;

use serde_json::Value;

use crate::checker::Validity;
use crate::console;
use crate::engine::RunRecord;
use crate::plots::Plots;
use crate::svg::escape;

fn fig(v: &Value) -> String {
    match v {
        Value::Null => "–".into(),
        Value::Number(n) if n.is_f64() => n
            .as_f64()
            .map_or_else(|| n.to_string(), |f| format!("{f:.2}")),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Render the report.
pub fn render(record: &RunRecord, results: &Value, test: &Value, plots: &Plots) -> String {
    let crashed = results.get("crash").is_some();
    let validity = Validity::of(results);
    let (banner, color) = if crashed {
        (console::CRASH_BANNER.to_owned(), "#888")
    } else {
        match validity {
            Validity::Valid => (console::VALID_BANNER.to_owned(), "#2e8b57"),
            Validity::Invalid => (console::INVALID_BANNER.to_owned(), "#FF1E90"),
            Validity::Unknown => (console::UNKNOWN_BANNER.to_owned(), "#FFA400"),
        }
    };
    let workload = record.opts.workload.name();
    let w = &results["workload"];
    let n = &results["net"];
    let s = &results["stats"];
    let mut rows: Vec<(String, String)> = vec![
        ("workload".into(), workload.into()),
        ("valid?".into(), fig(&results["valid?"])),
        ("nodes".into(), record.opts.nodes.len().to_string()),
        (
            "time limit (s)".into(),
            format!("{}", record.opts.time_limit.as_secs_f64()),
        ),
        ("rate (ops/s)".into(), format!("{}", record.opts.rate)),
        (
            "latency (ms)".into(),
            format!(
                "{} ({:?})",
                record.opts.latency_ms, record.opts.latency_dist
            ),
        ),
        (
            "nemesis".into(),
            if record.opts.nemesis.is_empty() {
                "none".into()
            } else {
                record
                    .opts
                    .nemesis
                    .iter()
                    .map(|k| k.name())
                    .collect::<Vec<_>>()
                    .join(",")
            },
        ),
        ("seed".into(), record.opts.seed.to_string()),
        ("ops".into(), fig(&s["count"])),
        (
            "ok / fail / info".into(),
            format!(
                "{} / {} / {}",
                fig(&s["ok-count"]),
                fig(&s["fail-count"]),
                fig(&s["info-count"])
            ),
        ),
        (
            "availability".into(),
            fig(&results["availability"]["ok-fraction"]),
        ),
        ("msgs (all)".into(), fig(&n["all"]["msg-count"])),
        ("msgs-per-op (all)".into(), fig(&n["all"]["msgs-per-op"])),
        (
            "msgs-per-op (servers)".into(),
            fig(&n["servers"]["msgs-per-op"]),
        ),
    ];
    for key in [
        "attempt-count",
        "stable-count",
        "lost-count",
        "never-read-count",
        "stale-count",
    ] {
        if let Some(v) = w.get(key) {
            rows.push((key.into(), fig(v)));
        }
    }
    if let Some(q) = w.get("stable-latencies").and_then(Value::as_object) {
        let parts: Vec<String> = q.iter().map(|(k, v)| format!("{k}: {}", fig(v))).collect();
        rows.push(("stable latency (ms)".into(), parts.join(", ")));
    }
    if let Some(a) = w.get("acceptable") {
        rows.push(("final reads".into(), fig(&w["final-reads"])));
        rows.push(("acceptable".into(), fig(a)));
    }
    if let Some(c) = results.get("crash") {
        rows.push(("crash".into(), fig(&c["reason"])));
    }
    let mut h = String::new();
    let _ = write!(
        h,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{workload} — gossip-harness report</title>
<style>
body {{ font-family: Helvetica, Arial, sans-serif; margin: 24px; color: #222; max-width: 1250px; }}
.verdict {{ font-size: 26px; padding: 14px 18px; color: #fff; background: {color}; border-radius: 6px; }}
table {{ border-collapse: collapse; margin: 16px 0; }}
td {{ padding: 4px 12px; border-bottom: 1px solid #eee; }} td:first-child {{ color: #666; }}
h2 {{ margin-top: 28px; }} pre {{ background: #f6f6f6; padding: 10px; overflow-x: auto; font-size: 12px; }}
.messages {{ max-height: 700px; overflow: auto; border: 1px solid #ddd; }}
</style></head><body>
<div class="verdict">{}</div>
<table>"#,
        escape(&banner)
    );
    for (k, v) in &rows {
        let _ = write!(h, "<tr><td>{}</td><td>{}</td></tr>", escape(k), escape(v));
    }
    h.push_str("</table>");
    if let Some(tail) = results
        .get("crash")
        .and_then(|c| c["stderr-tail"].as_array())
    {
        let lines: Vec<&str> = tail.iter().filter_map(Value::as_str).collect();
        let _ = write!(
            h,
            "<h2>Last stderr lines</h2><pre>{}</pre>",
            escape(&lines.join("\n"))
        );
    }
    for (title, svg) in [
        ("Latency", &plots.latency_raw),
        ("Latency quantiles", &plots.latency_quantiles),
        ("Throughput", &plots.rate),
    ] {
        let _ = write!(h, "<h2>{title}</h2>{svg}");
    }
    let _ = write!(
        h,
        r#"<h2>Messages</h2><div class="messages">{}</div>"#,
        plots.messages
    );
    let _ = writeln!(
        h,
        "<h2>Results</h2><pre>{}</pre><h2>Test</h2><pre>{}</pre></body></html>",
        escape(&serde_json::to_string_pretty(results).unwrap_or_default()),
        escape(&serde_json::to_string_pretty(test).unwrap_or_default())
    );
    h
}
