//! Throughput plot: completed client ops per second per time bucket, by function and outcome
//! (the raw latency plot's colours, one dash per function).

use std::collections::BTreeMap;

use super::colors;
use super::latency::{DASHES, Sample, bucket_width, spans};
use super::plot::{Axis, Chart, Series};
use crate::history::OpType;

/// The rate plot, as a chart.
pub fn rate_chart(
    samples: &[Sample],
    partitions: &[(f64, f64, String)],
    x_range: (f64, f64),
) -> Chart {
    let dt = bucket_width(x_range);
    let nb = ((x_range.1 - x_range.0) / dt).ceil().max(1.0) as i64;
    let mut fs: Vec<&str> = samples.iter().map(|s| s.f.as_str()).collect();
    fs.sort_unstable();
    fs.dedup();
    let mut chart = Chart::new(
        "Throughput",
        Axis::linear("Time (s)").range(x_range.0, x_range.1),
        Axis::linear("Completions per second"),
    );
    chart.spans = spans(partitions);
    for (k, f) in fs.iter().enumerate() {
        for (kind, name) in [
            (OpType::Ok, "ok"),
            (OpType::Info, "info"),
            (OpType::Fail, "fail"),
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
            chart.series.push(Series::line(
                &format!("{f} {name}"),
                colors::outcome(kind, k),
                DASHES[k % DASHES.len()],
                points,
            ));
        }
    }
    chart
}

/// The rate plot.
pub fn rate(samples: &[Sample], spans: &[(f64, f64, String)], x_range: (f64, f64)) -> String {
    rate_chart(samples, spans, x_range).render()
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
        // Broadcast and read ok lines used to share a colour and differ only by dash.
        let mut both = s.clone();
        both.extend(s.iter().map(|x| Sample {
            f: "broadcast".into(),
            ..x.clone()
        }));
        let chart = rate_chart(&both, &[], (0.0, 10.0));
        assert_eq!(chart.series.len(), 2);
        assert!(
            chart.colour_clashes().is_empty(),
            "{:?}",
            chart.colour_clashes()
        );
    }
}
