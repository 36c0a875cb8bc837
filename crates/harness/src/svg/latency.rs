//! Latency plots from the history: every op's latency over time (log scale, one marker and one
//! colour per function and outcome), and latency quantiles per time bucket (one hue per
//! quantile, one shade and dash per function). Partitions are shaded.

use std::collections::BTreeMap;

use super::colors;
use super::plot::{Axis, Chart, Marker, Series, Span};
use crate::checker::quantile;
use crate::history::{History, OpType};

/// One completed client op: function, outcome, invocation time (s), latency (ms).
#[derive(Debug, Clone)]
pub struct Sample {
    /// The function.
    pub f: String,
    /// Its outcome.
    pub kind: OpType,
    /// Invocation time, seconds since the main phase began.
    pub t: f64,
    /// Latency in milliseconds.
    pub ms: f64,
}

/// Pair invocations and completions.
pub fn samples(history: &History) -> Vec<Sample> {
    history
        .pairs()
        .into_iter()
        .filter_map(|(inv, done)| {
            let done = done?;
            Some(Sample {
                f: inv.f.clone(),
                kind: done.kind,
                t: inv.time as f64 / 1e9,
                ms: done.time.saturating_sub(inv.time) as f64 / 1e6,
            })
        })
        .collect()
}

fn functions(samples: &[Sample]) -> Vec<String> {
    let mut fs: Vec<String> = samples.iter().map(|s| s.f.clone()).collect();
    fs.sort();
    fs.dedup();
    fs
}

/// Shaded spans from (start, end, label) triples.
pub fn spans(spans: &[(f64, f64, String)]) -> Vec<Span> {
    spans
        .iter()
        .map(|(from, to, label)| Span {
            from: *from,
            to: *to,
            label: label.clone(),
        })
        .collect()
}

const OUTCOMES: [(OpType, &str); 3] = [
    (OpType::Ok, "ok"),
    (OpType::Info, "info"),
    (OpType::Fail, "fail"),
];

/// The raw latency scatter plot, as a chart.
pub fn raw_chart(
    samples: &[Sample],
    partitions: &[(f64, f64, String)],
    x_range: (f64, f64),
) -> Chart {
    let mut chart = Chart::new(
        "Latency (raw)",
        Axis::linear("Time (s)").range(x_range.0, x_range.1),
        Axis::log("Latency (ms)", 10.0),
    );
    chart.spans = spans(partitions);
    for (k, f) in functions(samples).iter().enumerate() {
        for (kind, name) in OUTCOMES {
            // Clamp to 0.01 ms so zero-latency ops still show on the log scale.
            let points: Vec<(f64, f64)> = samples
                .iter()
                .filter(|s| &s.f == f && s.kind == kind)
                .map(|s| (s.t, s.ms.max(0.01)))
                .collect();
            if !points.is_empty() {
                chart.series.push(Series::points(
                    &format!("{f} {name}"),
                    colors::outcome(kind, k),
                    Marker::nth(k),
                    points,
                ));
            }
        }
    }
    chart
}

/// The raw latency scatter plot.
pub fn raw(samples: &[Sample], spans: &[(f64, f64, String)], x_range: (f64, f64)) -> String {
    raw_chart(samples, spans, x_range).render()
}

/// Bucket width for time series: about 40 buckets, at least 0.5 s.
pub fn bucket_width(x_range: (f64, f64)) -> f64 {
    ((x_range.1 - x_range.0) / 40.0).max(0.5)
}

/// Dash patterns, one per function.
pub const DASHES: [&str; 4] = ["", "6 3", "2 2", "8 3 2 3"];

/// The latency quantiles plot, as a chart.
pub fn quantiles_chart(
    samples: &[Sample],
    partitions: &[(f64, f64, String)],
    x_range: (f64, f64),
) -> Chart {
    let dt = bucket_width(x_range);
    let qs = [(0.5, "0.5"), (0.95, "0.95"), (0.99, "0.99"), (1.0, "1")];
    let mut chart = Chart::new(
        "Latency quantiles (ok ops)",
        Axis::linear("Time (s)").range(x_range.0, x_range.1),
        Axis::log("Latency (ms)", 10.0),
    );
    chart.spans = spans(partitions);
    for (k, f) in functions(samples).iter().enumerate() {
        let mut buckets: BTreeMap<i64, Vec<u64>> = BTreeMap::new();
        for s in samples.iter().filter(|s| &s.f == f && s.kind == OpType::Ok) {
            buckets
                .entry((s.t / dt).floor() as i64)
                .or_default()
                .push((s.ms * 1000.0) as u64);
        }
        for v in buckets.values_mut() {
            v.sort_unstable();
        }
        for (q, (p, name)) in qs.into_iter().enumerate() {
            let mut points: Vec<(f64, f64)> = Vec::new();
            let mut last: Option<i64> = None;
            for (b, v) in &buckets {
                if last.is_some_and(|l| *b > l + 1) {
                    // No ok op in the buckets between: leave a gap rather than a bridge.
                    points.push((*b as f64 * dt, f64::NAN));
                }
                last = Some(*b);
                if let Some(us) = quantile(v, p) {
                    points.push(((*b as f64 + 0.5) * dt, (us as f64 / 1000.0).max(0.01)));
                }
            }
            if !points.is_empty() {
                chart.series.push(Series::line(
                    &format!("{f} {name}"),
                    colors::quantile(q, k),
                    DASHES[k % DASHES.len()],
                    points,
                ));
            }
        }
    }
    chart
}

/// The latency quantiles plot.
pub fn quantiles(samples: &[Sample], spans: &[(f64, f64, String)], x_range: (f64, f64)) -> String {
    quantiles_chart(samples, spans, x_range).render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::build::op;
    use serde_json::{Value, json};

    #[test]
    fn samples_and_plots() {
        let h = History::from_ops([
            op(0, OpType::Invoke, "read", Value::Null, 1000),
            op(0, OpType::Ok, "read", json!([]), 1012),
            op(1, OpType::Invoke, "broadcast", json!(1), 1500),
            op(1, OpType::Info, "broadcast", json!(1), 6500),
        ]);
        let s = samples(&h);
        assert_eq!(s.len(), 2);
        assert!((s[0].ms - 12.0).abs() < 1e-9);
        assert!((s[0].t - 1.0).abs() < 1e-9);
        let svg = raw(&s, &[(0.0, 1.0, "one".into())], (0.0, 10.0));
        assert!(svg.contains("read ok") && svg.contains("broadcast info"));
        let q = quantiles(&s, &[], (0.0, 10.0));
        assert!(q.contains("read 0.5"));
    }

    /// Two functions with every outcome: each series gets its own colour (ok ops of different
    /// functions used to share Jepsen's blue, and quantile lines differed only by dash).
    #[test]
    fn every_series_has_its_own_colour() {
        let mut ops = Vec::new();
        for (i, f) in ["broadcast", "read"].into_iter().enumerate() {
            for (j, kind) in [OpType::Ok, OpType::Info, OpType::Fail]
                .into_iter()
                .enumerate()
            {
                let p = (i * 3 + j) as u64;
                let t = 1000 + 100 * p;
                ops.push(op(p, OpType::Invoke, f, Value::Null, t));
                ops.push(op(p, kind, f, Value::Null, t + 20));
            }
        }
        let s = samples(&History::from_ops(ops));
        let raw = raw_chart(&s, &[], (0.0, 10.0));
        assert_eq!(raw.series.len(), 6);
        assert_eq!(raw.colour_clashes(), Vec::<(String, String)>::new());
        let q = quantiles_chart(&s, &[], (0.0, 10.0));
        assert_eq!(q.series.len(), 8);
        assert_eq!(q.colour_clashes(), Vec::<(String, String)>::new());
    }
}
