//! `report.html`: one self-contained page per run with the verdict, the key figures and the
//! plots inline, so a run can be read (or screenshotted) without any other file.
//!
//! The results and the test's options are printed as JSON, but a list longer than
//! [`FOLD_AT`] items (every stale id of a run, say) is folded into a `<details>` element that
//! names its length and, opened, shows the items on wrapped lines rather than one per line.

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

/// Lists longer than this are folded.
pub const FOLD_AT: usize = 12;

/// `v` as indented JSON in HTML (escaped), long lists folded.
pub fn json_html(v: &Value) -> String {
    let mut out = String::new();
    write_json(&mut out, v, 0);
    out
}

fn write_json(out: &mut String, v: &Value, depth: usize) {
    match v {
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Array(items) if items.len() > FOLD_AT => {
            let scalars = items.iter().all(|i| !i.is_array() && !i.is_object());
            let _ = write!(out, "<details><summary>[{} items]</summary>", items.len());
            if scalars {
                // Scalars flow on wrapped lines.
                let text: Vec<String> = items.iter().map(Value::to_string).collect();
                let _ = write!(
                    out,
                    r#"<div class="flow">{}</div>"#,
                    escape(&text.join(", "))
                );
            } else {
                write_array(out, items, depth);
            }
            out.push_str("</details>");
        }
        Value::Array(items) => write_array(out, items, depth),
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                out.push('\n');
                out.push_str(&pad(depth + 1));
                out.push_str(&escape(&Value::String(k.clone()).to_string()));
                out.push_str(": ");
                write_json(out, item, depth + 1);
                if i + 1 < map.len() {
                    out.push(',');
                }
            }
            out.push('\n');
            out.push_str(&pad(depth));
            out.push('}');
        }
        scalar => out.push_str(&escape(&scalar.to_string())),
    }
}

/// Indentation for nesting `depth`.
fn pad(depth: usize) -> String {
    "  ".repeat(depth)
}

/// A JSON array, one item per line, indented at `depth`.
fn write_array(out: &mut String, items: &[Value], depth: usize) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        out.push('\n');
        out.push_str(&pad(depth + 1));
        write_json(out, item, depth + 1);
        if i + 1 < items.len() {
            out.push(',');
        }
    }
    out.push('\n');
    out.push_str(&pad(depth));
    out.push(']');
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
    // Runs against agents name their own workload (the register has no harness kind).
    let workload = test["name"]
        .as_str()
        .unwrap_or_else(|| record.opts.workload.name());
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
                "{} ({})",
                record.opts.latency_ms,
                record.opts.latency_dist.name()
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
    if let Some(mode) = results["rig"]["mode"].as_str() {
        // A run against real agents: where they ran, and their traffic per op.
        rows.push(("agents ran in".into(), format!("{mode} mode")));
        rows.push(("ack level".into(), fig(&results["ack"])));
        rows.push(("bytes-per-op (agents)".into(), fig(&n["bytes-per-op"])));
        if let Some(d) = results.get("delivery") {
            rows.push(("delivery to all (ms)".into(), fig(&d["ms"])));
        }
        if let Some(c) = results.get("convergence") {
            rows.push(("faults in force at the heal".into(), fig(&c["healed"])));
            rows.push((
                "every agent agreed after healing (ms)".into(),
                fig(&c["agreed-after-ms"]),
            ));
        }
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
.messages {{ max-height: 900px; overflow: auto; border: 1px solid #ddd; }}
details {{ display: inline; }} summary {{ display: inline; cursor: pointer; color: #1f4e99; }}
details[open] summary {{ display: block; }}
.flow {{ white-space: normal; max-width: 1100px; padding-left: 2em; }}
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
        json_html(results),
        json_html(test)
    );
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn long_lists_are_folded_with_their_length() {
        let stale: Vec<u64> = (0..500).collect();
        let v = json!({"workload": {"stale": stale, "stale-count": 500, "lost": [1, 2]},
                       "nodes": [{"id": "n<1>"}]});
        let html = json_html(&v);
        assert!(
            html.contains("<details><summary>[500 items]</summary>"),
            "{html}"
        );
        // Folded scalars flow on one wrapped line, not one line each.
        assert!(html.contains("0, 1, 2, 3"));
        assert!(html.lines().count() < 30, "{} lines", html.lines().count());
        // Short lists stay as they were; keys and strings are escaped.
        assert!(
            html.contains("&quot;lost&quot;: [\n      1,\n      2\n    ]"),
            "{html}"
        );
        assert!(html.contains("&quot;n&lt;1&gt;&quot;"));
        assert_eq!(html.matches("<details>").count(), 1);
    }

    #[test]
    fn short_documents_print_as_pretty_json() {
        let v = json!({"a": [1, 2, {"b": null}], "c": {}, "d": [], "e": "x"});
        let expected = escape(&serde_json::to_string_pretty(&v).unwrap_or_default());
        assert_eq!(json_html(&v), expected);
    }
}
