//! A minimal chart kit: a frame with linear or logarithmic axes, tick labels, shaded x spans,
//! dashed reference rules, series drawn as points, lines or both (with optional tooltips per
//! point), text annotations, and a legend. Written by hand to keep the harness free of
//! plotting dependencies; the run's plots and the study's Pareto plot both use it.

use std::fmt::Write as _;

use super::escape;

/// Marker shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// A circle.
    Circle,
    /// A square.
    Square,
    /// A triangle.
    Triangle,
    /// A diamond.
    Diamond,
}

impl Marker {
    /// The k-th marker, cycling.
    pub fn nth(k: usize) -> Marker {
        [
            Marker::Circle,
            Marker::Square,
            Marker::Triangle,
            Marker::Diamond,
        ][k % 4]
    }
}

/// How an axis maps values to positions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scale {
    /// Linear, with "nice" ticks (1, 2 or 5 times a power of ten).
    Linear,
    /// Logarithmic, with a tick at every power of `base` (10 for latencies, 2 for message
    /// counts whose interesting range spans a few doublings).
    Log {
        /// The tick base.
        base: f64,
    },
}

/// One axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// The label under (or beside) the axis.
    pub label: String,
    /// Linear or logarithmic.
    pub scale: Scale,
    /// The shown range; computed from the data when `None`. Values outside it are drawn at
    /// its edge.
    pub range: Option<(f64, f64)>,
}

impl Axis {
    /// A linear axis fitted to the data.
    pub fn linear(label: &str) -> Axis {
        Axis {
            label: label.to_owned(),
            scale: Scale::Linear,
            range: None,
        }
    }

    /// A logarithmic axis fitted to the data, ticks at powers of `base`.
    pub fn log(label: &str, base: f64) -> Axis {
        Axis {
            label: label.to_owned(),
            scale: Scale::Log { base },
            range: None,
        }
    }

    /// The same axis with a fixed range.
    pub fn range(mut self, lo: f64, hi: f64) -> Axis {
        self.range = Some((lo, hi));
        self
    }

    fn is_log(&self) -> bool {
        matches!(self.scale, Scale::Log { .. })
    }

    /// The shown range for these data values.
    fn fit(&self, values: impl Iterator<Item = f64>) -> (f64, f64) {
        let log = self.is_log();
        if let Some((lo, hi)) = self.range {
            let lo = if log && lo <= 0.0 { 1e-3 } else { lo };
            return (lo, if hi > lo { hi } else { lo + 1.0 });
        }
        let (lo, hi) = values
            .filter(|v| v.is_finite() && (!log || *v > 0.0))
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
        match self.scale {
            Scale::Log { base } => {
                let (lo, hi) = if lo.is_finite() {
                    (lo, hi)
                } else {
                    (1.0, base)
                };
                let lo = base.powf(lo.max(1e-3).log(base).floor());
                let hi = base.powf(hi.max(lo * base).log(base).ceil());
                (lo, hi)
            }
            Scale::Linear => {
                let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
                let lo = lo.min(0.0);
                let hi = if hi <= lo { lo + 1.0 } else { hi };
                (lo, hi * 1.05)
            }
        }
    }

    /// Where `v` falls in `range`, from 0 to 1 (clamped).
    fn fraction(&self, v: f64, (lo, hi): (f64, f64)) -> f64 {
        let f = if self.is_log() {
            (v.max(lo).ln() - lo.ln()) / (hi.ln() - lo.ln())
        } else {
            (v - lo) / (hi - lo)
        };
        f.clamp(0.0, 1.0)
    }

    fn ticks(&self, (lo, hi): (f64, f64), target: usize) -> Vec<f64> {
        let mut ticks = Vec::new();
        match self.scale {
            Scale::Log { base } => {
                // Exact powers, so labels read 0.5, 1, 2 rather than 0.4999.
                let mut k = (lo.log(base) - 1e-9).ceil();
                while base.powf(k) <= hi * 1.0001 && ticks.len() < 64 {
                    ticks.push(base.powf(k));
                    k += 1.0;
                }
            }
            Scale::Linear => {
                let step = nice_step(hi - lo, target);
                let mut t = (lo / step).ceil() * step;
                while t <= hi + 1e-9 && ticks.len() < 64 {
                    ticks.push(t);
                    t += step;
                }
            }
        }
        ticks
    }
}

/// A series to draw: its points as markers, joined by a line, or both.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend label; an empty label keeps the series out of the legend.
    pub label: String,
    /// Colour.
    pub color: String,
    /// The line's SVG dash pattern (empty for solid); `None` draws no line.
    pub line: Option<String>,
    /// The marker at each point; `None` draws none.
    pub marker: Option<Marker>,
    /// Markers drawn as outlines rather than filled.
    pub hollow: bool,
    /// (x, y) data; for a line, in drawing order; a non-finite y leaves a gap.
    pub points: Vec<(f64, f64)>,
    /// Hover text per point (empty, or one per point).
    pub tips: Vec<String>,
}

impl Series {
    /// Scattered points.
    pub fn points(label: &str, color: &str, marker: Marker, points: Vec<(f64, f64)>) -> Series {
        Series {
            label: label.to_owned(),
            color: color.to_owned(),
            line: None,
            marker: Some(marker),
            hollow: false,
            points,
            tips: Vec::new(),
        }
    }

    /// A polyline with dash pattern `dash` (empty for solid).
    pub fn line(label: &str, color: &str, dash: &str, points: Vec<(f64, f64)>) -> Series {
        Series {
            label: label.to_owned(),
            color: color.to_owned(),
            line: Some(dash.to_owned()),
            marker: None,
            hollow: false,
            points,
            tips: Vec::new(),
        }
    }

    /// The same series with `marker` at every point.
    pub fn with_marker(mut self, marker: Marker) -> Series {
        self.marker = Some(marker);
        self
    }

    /// The same series with outlined markers.
    pub fn hollow(mut self) -> Series {
        self.hollow = true;
        self
    }

    /// The same series with a hover text per point.
    pub fn with_tips(mut self, tips: Vec<String>) -> Series {
        self.tips = tips;
        self
    }
}

/// A shaded x span.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// Start.
    pub from: f64,
    /// End.
    pub to: f64,
    /// Hover text.
    pub label: String,
}

/// A dashed reference rule across the plot.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// A vertical rule at this x.
    X(f64, String),
    /// A horizontal rule at this y.
    Y(f64, String),
}

/// A chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Title.
    pub title: String,
    /// The x axis.
    pub x: Axis,
    /// The y axis.
    pub y: Axis,
    /// Shaded x spans (partitions); the legend names them `span_label`.
    pub spans: Vec<Span>,
    /// Legend entry for the spans.
    pub span_label: String,
    /// Dashed reference rules.
    pub rules: Vec<Rule>,
    /// The data, drawn in order.
    pub series: Vec<Series>,
    /// Bold text beside a data point: (x, y, text).
    pub annotations: Vec<(f64, f64, String)>,
    /// Lines of text under the legend's entries.
    pub notes: Vec<String>,
    /// Width and height in pixels.
    pub size: (f64, f64),
    /// Room on the right for the legend, in pixels.
    pub legend_width: f64,
}

const LEFT: f64 = 70.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;

fn nice_step(range: f64, target: usize) -> f64 {
    let raw = range / target.max(1) as f64;
    if raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let nice = if norm < 1.5 {
        1.0
    } else if norm < 3.5 {
        2.0
    } else if norm < 7.5 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

fn fmt_num(v: f64) -> String {
    if v.abs() >= 1000.0 || v.fract().abs() < 1e-9 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_owned()
    }
}

impl Chart {
    /// An empty 900 x 420 chart.
    pub fn new(title: &str, x: Axis, y: Axis) -> Chart {
        Chart {
            title: title.to_owned(),
            x,
            y,
            spans: Vec::new(),
            span_label: "partition".into(),
            rules: Vec::new(),
            series: Vec::new(),
            annotations: Vec::new(),
            notes: Vec::new(),
            size: (900.0, 420.0),
            legend_width: 190.0,
        }
    }

    fn data(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.series.iter().flat_map(|s| s.points.iter().copied())
    }

    /// Pairs of labelled series drawn in the same colour: a reader tells series apart by
    /// colour first, so every plot keeps this empty.
    pub fn colour_clashes(&self) -> Vec<(String, String)> {
        let labelled: Vec<&Series> = self.series.iter().filter(|s| !s.label.is_empty()).collect();
        let mut clashes = Vec::new();
        for (i, a) in labelled.iter().enumerate() {
            for b in &labelled[i + 1..] {
                if a.color.eq_ignore_ascii_case(&b.color) {
                    clashes.push((a.label.clone(), b.label.clone()));
                }
            }
        }
        clashes
    }

    /// Render to a standalone SVG document.
    pub fn render(&self) -> String {
        let (w, h) = self.size;
        let xr = self.x.fit(self.data().map(|(x, _)| x));
        let yr = self.y.fit(self.data().map(|(_, y)| y));
        let pw = w - LEFT - self.legend_width;
        let ph = h - TOP - BOTTOM;
        let sx = |x: f64| LEFT + self.x.fraction(x, xr) * pw;
        let sy = |y: f64| TOP + ph - self.y.fraction(y, yr) * ph;
        let drawable = |(x, y): (f64, f64)| {
            x.is_finite()
                && y.is_finite()
                && (!self.x.is_log() || x > 0.0)
                && (!self.y.is_log() || y > 0.0)
        };
        let mut s = String::new();
        let _ = write!(
            s,
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="Helvetica, Arial, sans-serif" font-size="12"><rect x="0" y="0" width="{w}" height="{h}" fill="#fff"/>"##
        );
        let _ = write!(
            s,
            r#"<text x="{LEFT}" y="22" font-size="15" font-weight="bold">{}</text>"#,
            escape(&self.title)
        );
        for span in &self.spans {
            let (xa, xb) = (sx(span.from.max(xr.0)), sx(span.to.min(xr.1)));
            if xb > xa {
                let _ = write!(
                    s,
                    r#"<rect x="{xa:.1}" y="{TOP}" width="{:.1}" height="{ph}" fill="{}" opacity="0.6"><title>{}</title></rect>"#,
                    xb - xa,
                    super::colors::PARTITION,
                    escape(&span.label)
                );
            }
        }
        // Frame, grid and tick labels.
        let _ = write!(
            s,
            r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>"##
        );
        for t in self.x.ticks(xr, 10) {
            let px = sx(t);
            let _ = write!(
                s,
                r##"<line x1="{px:.1}" y1="{TOP}" x2="{px:.1}" y2="{:.1}" stroke="#eee"/><line x1="{px:.1}" y1="{:.1}" x2="{px:.1}" y2="{:.1}" stroke="#444"/><text x="{px:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                TOP + ph,
                TOP + ph,
                TOP + ph + 5.0,
                TOP + ph + 18.0,
                fmt_num(t)
            );
        }
        for t in self.y.ticks(yr, 8) {
            let py = sy(t);
            let _ = write!(
                s,
                r##"<line x1="{LEFT}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                LEFT + pw,
                LEFT - 6.0,
                py + 4.0,
                fmt_num(t)
            );
        }
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            LEFT + pw / 2.0,
            h - 10.0,
            escape(&self.x.label)
        );
        let _ = write!(
            s,
            r#"<text x="16" y="{:.1}" text-anchor="middle" transform="rotate(-90 16 {:.1})">{}</text>"#,
            TOP + ph / 2.0,
            TOP + ph / 2.0,
            escape(&self.y.label)
        );
        // Reference rules; labels of vertical rules are staggered so neighbours stay legible.
        let mut vertical = 0;
        for rule in &self.rules {
            match rule {
                Rule::Y(v, label) => {
                    let py = sy(*v);
                    let _ = write!(
                        s,
                        r##"<line x1="{LEFT}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#999" stroke-dasharray="6 4"/><text x="{:.1}" y="{:.1}" fill="#777" text-anchor="end">{}</text>"##,
                        LEFT + pw,
                        LEFT + pw - 4.0,
                        py - 4.0,
                        escape(label)
                    );
                }
                Rule::X(v, label) => {
                    let px = sx(*v);
                    let _ = write!(
                        s,
                        r##"<line x1="{px:.1}" y1="{TOP}" x2="{px:.1}" y2="{:.1}" stroke="#999" stroke-dasharray="6 4"/><text x="{:.1}" y="{:.1}" fill="#777" text-anchor="end">{}</text>"##,
                        TOP + ph,
                        px - 3.0,
                        TOP + 12.0 + 16.0 * f64::from(vertical % 3),
                        escape(label)
                    );
                    vertical += 1;
                }
            }
        }
        // Data: every line first, then every marker on top.
        for series in &self.series {
            let Some(dash) = &series.line else { continue };
            // A non-finite y breaks the line (a gap in the data).
            for run in series.points.split(|(_, y)| !y.is_finite()) {
                let pts: Vec<String> = run
                    .iter()
                    .filter(|p| drawable(**p))
                    .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
                    .collect();
                if !pts.is_empty() {
                    let _ = write!(
                        s,
                        r#"<polyline fill="none" stroke="{}" stroke-width="1.5" stroke-dasharray="{dash}" points="{}"/>"#,
                        series.color,
                        pts.join(" ")
                    );
                }
            }
        }
        for series in &self.series {
            let Some(marker) = series.marker else {
                continue;
            };
            for (i, &p) in series.points.iter().enumerate() {
                if !drawable(p) {
                    continue;
                }
                let tip = series.tips.get(i).map(String::as_str);
                marker_svg(
                    &mut s,
                    marker,
                    (sx(p.0), sy(p.1)),
                    &series.color,
                    series.hollow,
                    tip,
                );
            }
        }
        for (x, y, text) in &self.annotations {
            if drawable((*x, *y)) {
                let _ = write!(
                    s,
                    r#"<text x="{:.1}" y="{:.1}" font-weight="bold">{}</text>"#,
                    sx(*x) + 7.0,
                    sy(*y) + 4.0,
                    escape(text)
                );
            }
        }
        self.legend(&mut s, LEFT + pw + 15.0);
        s.push_str("</svg>\n");
        s
    }

    fn legend(&self, s: &mut String, lx: f64) {
        let mut ly = TOP + 10.0;
        for series in self.series.iter().filter(|s| !s.label.is_empty()) {
            if let Some(dash) = &series.line {
                let _ = write!(
                    s,
                    r#"<line x1="{lx:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{}" stroke-width="2" stroke-dasharray="{dash}"/>"#,
                    ly - 4.0,
                    lx + 12.0,
                    ly - 4.0,
                    series.color
                );
            }
            if let Some(marker) = series.marker {
                marker_svg(
                    s,
                    marker,
                    (lx + 6.0, ly - 4.0),
                    &series.color,
                    series.hollow,
                    None,
                );
            }
            let _ = write!(
                s,
                r#"<text x="{:.1}" y="{ly:.1}">{}</text>"#,
                lx + 16.0,
                escape(&series.label)
            );
            ly += 16.0;
        }
        if !self.spans.is_empty() {
            let _ = write!(
                s,
                r#"<rect x="{lx:.1}" y="{:.1}" width="12" height="10" fill="{}"/><text x="{:.1}" y="{ly:.1}">{}</text>"#,
                ly - 9.0,
                super::colors::PARTITION,
                lx + 16.0,
                escape(&self.span_label)
            );
            ly += 16.0;
        }
        if !self.notes.is_empty() {
            ly += 8.0;
        }
        for note in &self.notes {
            let _ = write!(
                s,
                r#"<text x="{lx:.1}" y="{ly:.1}" font-size="10">{}</text>"#,
                escape(note)
            );
            ly += 14.0;
        }
    }
}

fn marker_svg(
    s: &mut String,
    m: Marker,
    (x, y): (f64, f64),
    color: &str,
    hollow: bool,
    tip: Option<&str>,
) {
    let r = if tip.is_some() { 4.0 } else { 3.0 };
    let paint = if hollow {
        format!(r##"fill="#fff" stroke="{color}" stroke-width="1.5""##)
    } else {
        format!(r#"fill="{color}" fill-opacity="0.75""#)
    };
    let (open, close) = match tip {
        Some(t) => (
            format!("<g><title>{}</title>", escape(t)),
            "</g>".to_owned(),
        ),
        None => (String::new(), String::new()),
    };
    s.push_str(&open);
    let _ = match m {
        Marker::Circle => write!(s, r#"<circle cx="{x:.1}" cy="{y:.1}" r="{r}" {paint}/>"#),
        Marker::Square => write!(
            s,
            r#"<rect x="{:.1}" y="{:.1}" width="{}" height="{}" {paint}/>"#,
            x - r,
            y - r,
            2.0 * r,
            2.0 * r
        ),
        Marker::Triangle => write!(
            s,
            r#"<polygon points="{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}" {paint}/>"#,
            x,
            y - r,
            x - r,
            y + r,
            x + r,
            y + r
        ),
        Marker::Diamond => write!(
            s,
            r#"<polygon points="{:.1},{:.1} {:.1},{:.1} {:.1},{:.1} {:.1},{:.1}" {paint}/>"#,
            x,
            y - r - 1.0,
            x - r - 1.0,
            y,
            x,
            y + r + 1.0,
            x + r + 1.0,
            y
        ),
    };
    s.push_str(&close);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart() -> Chart {
        let mut c = Chart::new("t <&>", Axis::linear("x"), Axis::log("y", 10.0));
        c.spans.push(Span {
            from: 1.0,
            to: 2.0,
            label: "majority".into(),
        });
        c.series = vec![
            Series::points("ok", "#000", Marker::Circle, vec![(0.5, 3.0), (2.5, 300.0)]),
            Series::line("p50", "#f00", "", vec![(0.0, 1.0), (3.0, 10.0)]),
        ];
        c
    }

    #[test]
    fn renders_a_well_formed_document() {
        let s = chart().render();
        assert!(s.starts_with("<svg"));
        assert!(s.ends_with("</svg>\n"));
        assert!(s.contains("t &lt;&amp;&gt;"));
        assert!(s.contains("<polyline"));
        assert!(s.contains("partition"));
        assert!(!s.contains("NaN"));
        assert_eq!(nice_step(10.0, 10), 1.0);
        assert_eq!(nice_step(95.0, 10), 10.0);
    }

    #[test]
    fn log_ticks_fall_on_powers_of_the_base() {
        let axis = Axis::log("msgs", 2.0).range(0.25, 40.0);
        let ticks: Vec<String> = axis
            .ticks((0.25, 40.0), 10)
            .into_iter()
            .map(fmt_num)
            .collect();
        assert_eq!(ticks, ["0.25", "0.5", "1", "2", "4", "8", "16", "32"]);
        let decades = Axis::log("ms", 10.0).fit([0.3, 450.0].into_iter());
        assert_eq!(decades, (0.1, 1000.0));
    }

    #[test]
    fn rules_tips_hollow_markers_and_unlabelled_series() {
        let mut c = chart();
        c.rules = vec![Rule::Y(100.0, "bar".into()), Rule::X(2.0, "cut".into())];
        c.series.push(
            Series::line("", "#0a0", "4 3", vec![(1.0, 5.0), (2.0, 50.0)])
                .with_marker(Marker::Diamond)
                .hollow()
                .with_tips(vec!["first".into(), "second".into()]),
        );
        c.annotations.push((1.0, 5.0, "P1".into()));
        c.notes.push("a note".into());
        let s = c.render();
        assert_eq!(s.matches("stroke-dasharray=\"6 4\"").count(), 2);
        assert!(s.contains("<title>first</title>") && s.contains("<title>second</title>"));
        assert!(s.contains(r##"fill="#fff" stroke="#0a0""##));
        assert!(s.contains(">P1</text>") && s.contains(">a note</text>"));
        // The unlabelled series adds no (empty) legend entry.
        assert!(!s.contains("\"></text>"));
    }

    #[test]
    fn colour_clashes_name_labelled_series_sharing_a_colour() {
        let mut c = chart();
        assert!(c.colour_clashes().is_empty());
        c.series.push(Series::line("p99", "#F00", "2 2", vec![]));
        c.series.push(Series::line("", "#000", "", vec![]));
        assert_eq!(c.colour_clashes(), [("p50".to_owned(), "p99".to_owned())]);
    }
}
