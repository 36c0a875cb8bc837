//! Latency plots from the history: every op's latency over time (log scale, coloured by
//! outcome, one marker per function), and latency quantiles per time bucket. Partitions are
//! shaded.

use std::collections::BTreeMap;

use super::colors;
use super::plot::{Chart, Marker, Series};
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

/// The raw latency scatter plot.
pub fn raw(samples: &[Sample], spans: &[(f64, f64, String)], x_range: (f64, f64)) -> String {
    let mut series = Vec::new();
    for (k, f) in functions(samples).iter().enumerate() {
        for (kind, color, name) in [
            (OpType::Ok, colors::OK, "ok"),
            (OpType::Info, colors::INFO, "info"),
            (OpType::Fail, colors::FAIL, "fail"),
        ] {
            // Clamp to 0.01 ms so zero-latency ops still show on the log scale.
            let points: Vec<(f64, f64)> = samples
                .iter()
                .filter(|s| &s.f == f && s.kind == kind)
                .map(|s| (s.t, s.ms.max(0.01)))
                .collect();
            if !points.is_empty() {
                series.push(Series::Points {
                    label: format!("{f} {name}"),
                    color: color.to_owned(),
                    marker: Marker::nth(k),
                    points,
                });
            }
        }
    }
    Chart {
        title: "Latency (raw)".into(),
        x_label: "Time (s)".into(),
        y_label: "Latency (ms)".into(),
        log_y: true,
        spans: spans.to_vec(),
        series,
        x_range: Some(x_range),
    }
    .render()
}

/// Bucket width for time series: about 40 buckets, at least 0.5 s.
pub fn bucket_width(x_range: (f64, f64)) -> f64 {
    ((x_range.1 - x_range.0) / 40.0).max(0.5)
}

/// The latency quantiles plot.
pub fn quantiles(samples: &[Sample], spans: &[(f64, f64, String)], x_range: (f64, f64)) -> String {
    let dt = bucket_width(x_range);
    let qs = [
        (0.5, "0.5", "#1f77b4"),
        (0.95, "0.95", "#2ca02c"),
        (0.99, "0.99", "#ff7f0e"),
        (1.0, "1", "#d62728"),
    ];
    let dashes = ["", "6 3", "2 2", "8 3 2 3"];
    let mut series = Vec::new();
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
        for (p, name, color) in qs {
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
                series.push(Series::Line {
                    label: format!("{f} {name}"),
                    color: color.to_owned(),
                    dash: dashes[k % dashes.len()].to_owned(),
                    points,
                });
            }
        }
    }
    Chart {
        title: "Latency quantiles (ok ops)".into(),
        x_label: "Time (s)".into(),
        y_label: "Latency (ms)".into(),
        log_y: true,
        spans: spans.to_vec(),
        series,
        x_range: Some(x_range),
    }
    .render()
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
}
