//! Hand-written SVG plots (no plotting dependency): latency over time with partitions shaded,
//! latency quantiles, throughput, and the Lamport diagram of messages.
//!
//! `plot` is a tiny chart kit (axes, ticks, legend, shaded spans); the other modules turn the
//! history or the journal into charts.

pub mod latency;
pub mod messages;
pub mod plot;
pub mod rate;

/// Colours Jepsen uses for op outcomes.
pub mod colors {
    /// ok.
    pub const OK: &str = "#81BFFC";
    /// info.
    pub const INFO: &str = "#FFA400";
    /// fail.
    pub const FAIL: &str = "#FF1E90";
    /// Shaded partition spans.
    pub const PARTITION: &str = "#F2D1D1";
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
