//! The SVG plots of a run, rendered from its record: what the store writes as files and
//! `report.html` embeds.

use crate::engine::RunRecord;
use crate::svg;

/// The rendered plots of a run.
pub struct Plots {
    /// Latency scatter.
    pub latency_raw: String,
    /// Latency quantiles.
    pub latency_quantiles: String,
    /// Throughput.
    pub rate: String,
    /// Lamport diagram.
    pub messages: String,
}

impl Plots {
    /// Render every plot of a run.
    pub fn new(record: &RunRecord) -> Plots {
        let samples = svg::latency::samples(&record.history);
        let end_ns = record.history.ops().last().map_or(0, |o| o.time);
        let end = (end_ns as f64 / 1e9)
            .max(record.opts.time_limit.as_secs_f64())
            .max(1.0);
        let spans: Vec<(f64, f64, String)> = record
            .faults
            .iter()
            .map(|p| {
                (
                    p.start as f64 / 1e9,
                    p.end.map_or(end, |e| e as f64 / 1e9),
                    p.label.clone(),
                )
            })
            .collect();
        let range = (0.0, end);
        Plots {
            latency_raw: svg::latency::raw(&samples, &spans, range),
            latency_quantiles: svg::latency::quantiles(&samples, &spans, range),
            rate: svg::rate::rate(&samples, &spans, range),
            messages: svg::messages::render(&record.journal),
        }
    }
}
