//! Hand-written SVG plots (no plotting dependency): latency over time with partitions shaded,
//! latency quantiles, throughput, and the messages diagram (who talks to whom, and the first
//! messages as a Lamport diagram).
//!
//! `plot` is a tiny chart kit (axes, ticks, legend, shaded spans); the other modules turn the
//! history or the journal into charts.

pub mod latency;
pub mod messages;
pub mod plot;
pub mod rate;

/// Colours. Series that differ only by marker or dash would be hard to tell apart, so every
/// plot gives each labelled series its own colour (see [`plot::Chart::colour_clashes`]).
pub mod colors {
    use crate::history::OpType;

    /// ok, as Jepsen draws it.
    pub const OK: &str = "#81BFFC";
    /// info, as Jepsen draws it.
    pub const INFO: &str = "#FFA400";
    /// fail, as Jepsen draws it.
    pub const FAIL: &str = "#FF1E90";
    /// Shaded partition spans.
    pub const PARTITION: &str = "#F2D1D1";

    /// Ten distinct colours for categories (the common "tab10" palette).
    pub const CATEGORICAL: [&str; 10] = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
        "#bcbd22", "#17becf",
    ];

    /// The k-th categorical colour, cycling.
    pub fn categorical(k: usize) -> &'static str {
        CATEGORICAL[k % CATEGORICAL.len()]
    }

    /// Per outcome, one colour per function: the first function keeps Jepsen's colours, the
    /// others stay in the same family (cool for ok, amber for info, red-violet for fail) so
    /// the outcome still reads at a glance.
    const OUTCOME: [[&str; 4]; 3] = [
        [OK, "#2ca02c", "#1f3f99", "#17becf"],
        [INFO, "#8c564b", "#bcbd22", "#e6550d"],
        [FAIL, "#d62728", "#9467bd", "#7b4173"],
    ];

    /// The colour of the k-th function's ops with outcome `kind`.
    pub fn outcome(kind: OpType, k: usize) -> &'static str {
        let row = match kind {
            OpType::Fail => 2,
            OpType::Info => 1,
            _ => 0,
        };
        OUTCOME[row][k % 4]
    }

    /// Per quantile one hue (blue, green, orange, red for 0.5, 0.95, 0.99, 1), one shade per
    /// function (dark, light, darker).
    const QUANTILE: [[&str; 3]; 4] = [
        ["#1f77b4", "#9ecae1", "#08306b"],
        ["#2ca02c", "#a1d99b", "#00441b"],
        ["#ff7f0e", "#fdae6b", "#7f2704"],
        ["#d62728", "#fc9272", "#67000d"],
    ];

    /// The colour of quantile number `q` (0 to 3) of the k-th function.
    pub fn quantile(q: usize, k: usize) -> &'static str {
        QUANTILE[q % 4][k % 3]
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn palettes_hold_distinct_colours() {
            let mut all: Vec<&str> = CATEGORICAL.to_vec();
            all.sort_unstable();
            all.dedup();
            assert_eq!(all.len(), CATEGORICAL.len());
            let mut outcomes: Vec<&str> = [OpType::Ok, OpType::Info, OpType::Fail]
                .into_iter()
                .flat_map(|kind| (0..4).map(move |k| outcome(kind, k)))
                .collect();
            outcomes.sort_unstable();
            outcomes.dedup();
            assert_eq!(outcomes.len(), 12);
            let mut quantiles: Vec<&str> = (0..4)
                .flat_map(|q| (0..3).map(move |k| quantile(q, k)))
                .collect();
            quantiles.sort_unstable();
            quantiles.dedup();
            assert_eq!(quantiles.len(), 12);
        }
    }
}

/// Escape text for SVG/HTML.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
