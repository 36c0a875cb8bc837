//! Throughput plot: completed client ops per second per time bucket, by function and outcome.

use std::collections::BTreeMap;

use super::colors;
use super::latency::{Sample, bucket_width};
use super::plot::{Chart, Series};
use crate::history::OpType;

/// The rate plot.
pub fn rate(samples: &[Sample], spans: &[(f64, f64, String)], x_range: (f64, f64)) -> String {
    let dt = bucket_width(x_range);
    let nb = ((x_range.1 - x_range.0) / dt).ceil().max(1.0) as i64;
    let mut fs: Vec<&str> = samples.iter().map(|s| s.f.as_str()).collect();
    fs.sort_unstable();
    fs.dedup();
    let dashes = ["", "6 3", "2 2", "8 3 2 3"];
    let mut series = Vec::new();
    for (k, f) in fs.iter().enumerate() {
        for (kind, color, name) in [
            (OpType::Ok, colors::OK, "ok"),
            (OpType::Info, colors::INFO, "info"),
            (OpType::Fail, colors::FAIL, "fail"),
        ] {
            let mut counts: BTreeMap<i64, u64> = BTreeMap::new();
            for s in samples.iter().filter(|s| s.f == *f && s.kind == kind) {
                *counts.entry((s.t / dt).floor() as i64).or_default() += 1;
            }
            if counts.is_empty() {
                continue;
            }
            let points = (0..nb)
                .map(|b| {
                    (
                        (b as f64 + 0.5) * dt,
                        *counts.get(&b).unwrap_or(&0) as f64 / dt,
                    )
                })
                .collect::<Vec<_>>();
            series.push(Series::Line {
                label: format!("{f} {name}"),
                color: color.to_owned(),
                dash: dashes[k % dashes.len()].to_owned(),
                points,
            });
        }
    }
    Chart {
        title: "Throughput".into(),
        x_label: "Time (s)".into(),
        y_label: "Completions per second".into(),
        log_y: false,
        spans: spans.to_vec(),
        series,
        x_range: Some(x_range),
    }
    .render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_counts_completions() {
        let s: Vec<Sample> = (0..20)
            .map(|i| Sample {
                f: "read".into(),
                kind: OpType::Ok,
                t: f64::from(i) * 0.5,
                ms: 1.0,
            })
            .collect();
        let svg = rate(&s, &[], (0.0, 10.0));
        assert!(svg.contains("read ok"));
        assert!(svg.contains("<polyline"));
    }
}
