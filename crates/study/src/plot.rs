//! The Pareto plot: server messages per operation (log scale) against median and maximum
//! stable latency, one colour per strategy, with the published results for comparison.

use std::fmt::Write;

use crate::grid::FAMILIES;
use crate::published::Published;

/// One plotted point: a family, its setting, and the measured figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Dot {
    /// Strategy family (series).
    pub family: &'static str,
    /// The varying setting, for the tooltip.
    pub setting: String,
    /// Server msgs-per-op.
    pub msgs_per_op: f64,
    /// Median stable latency, ms.
    pub median: f64,
    /// Maximum stable latency, ms.
    pub max: f64,
}

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 600.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 250.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;
const COLOURS: [&str; 6] = [
    "#d62728", "#ff7f0e", "#1f77b4", "#2ca02c", "#9467bd", "#8c564b",
];

struct Axes {
    x_min: f64,
    x_max: f64,
    y_max: f64,
}

impl Axes {
    fn x(&self, msgs: f64) -> f64 {
        let span = self.x_max.log10() - self.x_min.log10();
        LEFT + (msgs.max(self.x_min).log10() - self.x_min.log10()) / span * (WIDTH - LEFT - RIGHT)
    }

    fn y(&self, ms: f64) -> f64 {
        HEIGHT - BOTTOM - ms.min(self.y_max) / self.y_max * (HEIGHT - TOP - BOTTOM)
    }
}

fn colour(family: &str) -> &'static str {
    FAMILIES
        .iter()
        .position(|f| *f == family)
        .map_or("#333333", |i| COLOURS[i % COLOURS.len()])
}

/// Renders the plot as a standalone SVG document.
pub fn render(dots: &[Dot], references: &[Published], title: &str) -> String {
    let finite = |v: f64| v.is_finite() && v > 0.0;
    let all_msgs = dots
        .iter()
        .map(|d| d.msgs_per_op)
        .chain(references.iter().map(|p| p.msgs_per_op))
        .filter(|v| finite(*v));
    let x_max = all_msgs.fold(32.0f64, f64::max) * 1.3;
    let x_min = dots
        .iter()
        .map(|d| d.msgs_per_op)
        .chain(references.iter().map(|p| p.msgs_per_op))
        .filter(|v| finite(*v))
        .fold(0.5f64, f64::min)
        .log2()
        .floor()
        .exp2();
    let y_max = dots
        .iter()
        .map(|d| d.max)
        .chain(references.iter().map(|p| p.max))
        .filter(|v| v.is_finite())
        .fold(1000.0f64, f64::max)
        .min(3000.0);
    let axes = Axes {
        x_min,
        x_max,
        y_max: (y_max / 100.0).ceil() * 100.0,
    };
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = write!(
        svg,
        r#"<text x="{LEFT}" y="22" font-size="15" font-weight="bold">{}</text>"#,
        escape(title)
    );

    // Grid and axes.
    let mut tick = axes.x_min;
    while tick <= axes.x_max {
        let x = axes.x(tick);
        let _ = write!(
            svg,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#eeeeee"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{tick}</text>"##,
            HEIGHT - BOTTOM,
            HEIGHT - BOTTOM + 16.0
        );
        tick *= 2.0;
    }
    let step = if axes.y_max > 1500.0 { 500.0 } else { 100.0 };
    let mut ms = 0.0;
    while ms <= axes.y_max {
        let y = axes.y(ms);
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#eeeeee"/><text x="{:.1}" y="{:.1}" text-anchor="end">{ms}</text>"##,
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0
        );
        ms += step;
    }
    let _ = write!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">server messages per operation (log scale)</text>"##,
        (LEFT + WIDTH - RIGHT) / 2.0,
        HEIGHT - 18.0
    );
    let _ = write!(
        svg,
        r##"<text transform="translate(18 {:.1}) rotate(-90)" text-anchor="middle">stable latency, ms (filled: median, hollow: max)</text>"##,
        (TOP + HEIGHT - BOTTOM) / 2.0
    );

    // The public benchmark's bars: part I (msgs < 30, median < 400, max < 600) and part II.
    for (ms, label) in [
        (400.0, "3d median bar"),
        (600.0, "3d max bar"),
        (1000.0, "3e median bar"),
    ] {
        if ms <= axes.y_max {
            let y = axes.y(ms);
            let _ = write!(
                svg,
                r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#999999" stroke-dasharray="6 4"/><text x="{:.1}" y="{:.1}" fill="#777777" text-anchor="end">{label}</text>"##,
                WIDTH - RIGHT,
                WIDTH - RIGHT - 4.0,
                y - 4.0
            );
        }
    }
    for (msgs, label, dy) in [(20.0, "3e msgs bar", 12.0), (30.0, "3d msgs bar", 28.0)] {
        let x = axes.x(msgs);
        let _ = write!(
            svg,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#999999" stroke-dasharray="6 4"/><text x="{:.1}" y="{:.1}" fill="#777777" text-anchor="end">{label}</text>"##,
            HEIGHT - BOTTOM,
            x - 3.0,
            TOP + dy
        );
    }

    // Our series.
    for family in FAMILIES {
        let mut series: Vec<&Dot> = dots
            .iter()
            .filter(|d| d.family == family && finite(d.msgs_per_op))
            .collect();
        series.sort_by(|a, b| a.msgs_per_op.total_cmp(&b.msgs_per_op));
        if series.is_empty() {
            continue;
        }
        let c = colour(family);
        for (pick, dash) in [(0, ""), (1, r#" stroke-dasharray="4 3""#)] {
            let points: Vec<String> = series
                .iter()
                .map(|d| {
                    let v = if pick == 0 { d.median } else { d.max };
                    format!("{:.1},{:.1}", axes.x(d.msgs_per_op), axes.y(v))
                })
                .collect();
            let _ = write!(
                svg,
                r#"<polyline points="{}" fill="none" stroke="{c}" stroke-width="1.2"{dash}/>"#,
                points.join(" ")
            );
        }
        for d in series {
            let x = axes.x(d.msgs_per_op);
            let tip = format!(
                "{} {}: {:.2} msgs/op, median {:.0} ms, max {:.0} ms",
                d.family, d.setting, d.msgs_per_op, d.median, d.max
            );
            let _ = write!(
                svg,
                r#"<circle cx="{x:.1}" cy="{:.1}" r="4" fill="{c}"><title>{}</title></circle><circle cx="{x:.1}" cy="{:.1}" r="4" fill="white" stroke="{c}" stroke-width="1.5"><title>{}</title></circle>"#,
                axes.y(d.median),
                escape(&tip),
                axes.y(d.max),
                escape(&tip)
            );
        }
    }

    // Published results: black diamonds joined median to max, numbered.
    for (i, p) in references.iter().enumerate() {
        let x = axes.x(p.msgs_per_op);
        let ym = axes.y(p.median);
        let yx = if p.max.is_finite() { axes.y(p.max) } else { ym };
        let _ = write!(
            svg,
            r##"<line x1="{x:.1}" y1="{ym:.1}" x2="{x:.1}" y2="{yx:.1}" stroke="black" stroke-width="0.8"/>{}{}<text x="{:.1}" y="{:.1}" font-weight="bold">P{}</text>"##,
            diamond(x, ym, true),
            if p.max.is_finite() {
                diamond(x, yx, false)
            } else {
                String::new()
            },
            x + 7.0,
            yx + 4.0,
            i + 1
        );
    }

    // Legend.
    let lx = WIDTH - RIGHT + 16.0;
    let mut ly = TOP + 10.0;
    for family in FAMILIES {
        if !dots.iter().any(|d| d.family == family) {
            continue;
        }
        let _ = write!(
            svg,
            r#"<circle cx="{lx}" cy="{ly}" r="5" fill="{}"/><text x="{}" y="{}">{family}</text>"#,
            colour(family),
            lx + 12.0,
            ly + 4.0
        );
        ly += 20.0;
    }
    ly += 10.0;
    let _ = write!(
        svg,
        r#"<text x="{lx}" y="{ly}" font-weight="bold">published</text>"#
    );
    for (i, p) in references.iter().enumerate() {
        ly += 18.0;
        let _ = write!(
            svg,
            r#"<text x="{lx}" y="{ly}" font-size="10">P{}: {}</text>"#,
            i + 1,
            escape(&shorten(p.design, 38))
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn diamond(x: f64, y: f64, filled: bool) -> String {
    let fill = if filled { "black" } else { "white" };
    format!(
        r#"<polygon points="{:.1},{:.1} {:.1},{:.1} {:.1},{:.1} {:.1},{:.1}" fill="{fill}" stroke="black"/>"#,
        x,
        y - 5.0,
        x + 5.0,
        y,
        x,
        y + 5.0,
        x - 5.0,
        y
    )
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let cut: String = s.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::published::{G_SET_REFERENCE, PUBLISHED};

    #[test]
    fn a_reference_without_a_maximum_gets_one_marker() {
        let mut reference = G_SET_REFERENCE;
        reference[0].max = f64::NAN;
        let svg = render(&[], &reference, "g-set");
        assert_eq!(svg.matches("<polygon").count(), 1);
        assert!(!svg.contains("NaN"));
    }

    #[test]
    fn renders_a_well_formed_svg_with_every_series_and_the_published_points() {
        let dots = vec![
            Dot {
                family: "star",
                setting: "relay-flush=200ms".into(),
                msgs_per_op: 1.7,
                median: 260.0,
                max: 300.0,
            },
            Dot {
                family: "star",
                setting: "relay-flush=100ms".into(),
                msgs_per_op: 2.6,
                median: 177.0,
                max: 218.0,
            },
            Dot {
                family: "flood",
                setting: "relay-flush=0ms".into(),
                msgs_per_op: 40.0,
                median: 120.0,
                max: 200.0,
            },
        ];
        let svg = render(&dots, &PUBLISHED, "test");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert_eq!(
            svg.matches("<circle").count(),
            2 * 3 + 2,
            "two markers per dot plus two legend entries"
        );
        assert_eq!(svg.matches("<polygon").count(), 2 * PUBLISHED.len());
        assert!(svg.contains("star relay-flush=200ms: 1.70 msgs/op"));
        assert!(!svg.contains("NaN"));
    }
}
