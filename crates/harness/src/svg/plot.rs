//! A minimal chart kit: a frame with linear or log axes, tick labels, shaded x spans, point and
//! line series, and a legend. Just enough for the run's plots, written by hand to keep the
//! harness free of plotting dependencies.

use std::fmt::Write as _;

use super::escape;

/// Marker shapes, one per op function.
#[derive(Debug, Clone, Copy)]
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

/// A series to draw.
#[derive(Debug, Clone)]
pub enum Series {
    /// Scattered points.
    Points {
        /// Legend label.
        label: String,
        /// Colour.
        color: String,
        /// Shape.
        marker: Marker,
        /// (x, y) data.
        points: Vec<(f64, f64)>,
    },
    /// A polyline.
    Line {
        /// Legend label.
        label: String,
        /// Colour.
        color: String,
        /// SVG dash pattern, empty for solid.
        dash: String,
        /// (x, y) data, in x order; a non-finite y leaves a gap.
        points: Vec<(f64, f64)>,
    },
}

/// A chart.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Title.
    pub title: String,
    /// X axis label.
    pub x_label: String,
    /// Y axis label.
    pub y_label: String,
    /// Logarithmic y axis.
    pub log_y: bool,
    /// Shaded x spans (start, end, label).
    pub spans: Vec<(f64, f64, String)>,
    /// The data.
    pub series: Vec<Series>,
    /// X range; computed from the data when `None`.
    pub x_range: Option<(f64, f64)>,
}

const W: f64 = 900.0;
const H: f64 = 420.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 190.0;
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
    fn data(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.series.iter().flat_map(|s| match s {
            Series::Points { points, .. } | Series::Line { points, .. } => points.iter().copied(),
        })
    }

    /// Render to a standalone SVG document.
    pub fn render(&self) -> String {
        let (mut x0, mut x1) = self.x_range.unwrap_or_else(|| {
            self.data()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), (x, _)| {
                    (a.min(x), b.max(x))
                })
        });
        if !x0.is_finite() || !x1.is_finite() {
            (x0, x1) = (0.0, 1.0);
        }
        if x1 <= x0 {
            x1 = x0 + 1.0;
        }
        let ys: Vec<f64> = self
            .data()
            .map(|(_, y)| y)
            .filter(|y| y.is_finite() && (!self.log_y || *y > 0.0))
            .collect();
        let (mut y0, mut y1) = ys
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &y| {
                (a.min(y), b.max(y))
            });
        if self.log_y {
            if !y0.is_finite() {
                (y0, y1) = (1.0, 10.0);
            }
            y0 = 10f64.powf(y0.max(1e-3).log10().floor());
            y1 = 10f64.powf(y1.max(y0 * 10.0).log10().ceil());
        } else {
            if !y0.is_finite() {
                (y0, y1) = (0.0, 1.0);
            }
            y0 = y0.min(0.0);
            if y1 <= y0 {
                y1 = y0 + 1.0;
            }
            y1 *= 1.05;
        }
        let pw = W - LEFT - RIGHT;
        let ph = H - TOP - BOTTOM;
        let sx = |x: f64| LEFT + (x - x0) / (x1 - x0) * pw;
        let sy = |y: f64| {
            let f = if self.log_y {
                (y.max(y0).log10() - y0.log10()) / (y1.log10() - y0.log10())
            } else {
                (y - y0) / (y1 - y0)
            };
            TOP + ph - f.clamp(0.0, 1.0) * ph
        };
        let mut s = String::new();
        let _ = write!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="Helvetica, Arial, sans-serif" font-size="12">"#
        );
        let _ = write!(
            s,
            r##"<rect x="0" y="0" width="{W}" height="{H}" fill="#fff"/>"##
        );
        let _ = write!(
            s,
            r#"<text x="{}" y="22" font-size="15" font-weight="bold">{}</text>"#,
            LEFT,
            escape(&self.title)
        );
        // Shaded spans.
        for (a, b, label) in &self.spans {
            let (xa, xb) = (sx(a.max(x0)), sx(b.min(x1)));
            if xb > xa {
                let _ = write!(
                    s,
                    r#"<rect x="{xa:.1}" y="{TOP}" width="{:.1}" height="{ph}" fill="{}" opacity="0.6"><title>{}</title></rect>"#,
                    xb - xa,
                    super::colors::PARTITION,
                    escape(label)
                );
            }
        }
        // Axes and ticks.
        let _ = write!(
            s,
            r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>"##
        );
        let step = nice_step(x1 - x0, 10);
        let mut x = (x0 / step).ceil() * step;
        while x <= x1 + 1e-9 {
            let px = sx(x);
            let _ = write!(
                s,
                r##"<line x1="{px:.1}" y1="{}" x2="{px:.1}" y2="{}" stroke="#444"/><text x="{px:.1}" y="{}" text-anchor="middle">{}</text>"##,
                TOP + ph,
                TOP + ph + 5.0,
                TOP + ph + 18.0,
                fmt_num(x)
            );
            x += step;
        }
        let mut ticks = Vec::new();
        if self.log_y {
            let mut t = y0;
            while t <= y1 * 1.0001 {
                ticks.push(t);
                t *= 10.0;
            }
        } else {
            let step = nice_step(y1 - y0, 8);
            let mut t = (y0 / step).ceil() * step;
            while t <= y1 + 1e-9 {
                ticks.push(t);
                t += step;
            }
        }
        for t in ticks {
            let py = sy(t);
            let _ = write!(
                s,
                r##"<line x1="{}" y1="{py:.1}" x2="{}" y2="{py:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
                LEFT,
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
            H - 10.0,
            escape(&self.x_label)
        );
        let _ = write!(
            s,
            r#"<text x="16" y="{:.1}" text-anchor="middle" transform="rotate(-90 16 {:.1})">{}</text>"#,
            TOP + ph / 2.0,
            TOP + ph / 2.0,
            escape(&self.y_label)
        );
        // Data.
        let _ = write!(s, r#"<g clip-path="none">"#);
        for series in &self.series {
            match series {
                Series::Points {
                    color,
                    marker,
                    points,
                    ..
                } => {
                    for &(x, y) in points {
                        if self.log_y && y <= 0.0 {
                            continue;
                        }
                        marker_svg(&mut s, *marker, sx(x), sy(y), color);
                    }
                }
                Series::Line {
                    color,
                    dash,
                    points,
                    ..
                } => {
                    // A non-finite y breaks the line (a gap in the data).
                    for run in points.split(|(_, y)| !y.is_finite()) {
                        let pts: Vec<String> = run
                            .iter()
                            .filter(|(_, y)| !self.log_y || *y > 0.0)
                            .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
                            .collect();
                        if !pts.is_empty() {
                            let _ = write!(
                                s,
                                r#"<polyline fill="none" stroke="{color}" stroke-width="1.5" stroke-dasharray="{dash}" points="{}"/>"#,
                                pts.join(" ")
                            );
                        }
                    }
                }
            }
        }
        s.push_str("</g>");
        // Legend.
        let lx = LEFT + pw + 15.0;
        let mut ly = TOP + 10.0;
        for series in &self.series {
            match series {
                Series::Points {
                    label,
                    color,
                    marker,
                    ..
                } => {
                    marker_svg(&mut s, *marker, lx + 6.0, ly - 4.0, color);
                    let _ = write!(
                        s,
                        r#"<text x="{:.1}" y="{ly:.1}">{}</text>"#,
                        lx + 16.0,
                        escape(label)
                    );
                }
                Series::Line {
                    label, color, dash, ..
                } => {
                    let _ = write!(
                        s,
                        r#"<line x1="{lx:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{color}" stroke-width="2" stroke-dasharray="{dash}"/><text x="{:.1}" y="{ly:.1}">{}</text>"#,
                        ly - 4.0,
                        lx + 12.0,
                        ly - 4.0,
                        lx + 16.0,
                        escape(label)
                    );
                }
            }
            ly += 16.0;
        }
        if !self.spans.is_empty() {
            let _ = write!(
                s,
                r#"<rect x="{lx:.1}" y="{:.1}" width="12" height="10" fill="{}"/><text x="{:.1}" y="{ly:.1}">partition</text>"#,
                ly - 9.0,
                super::colors::PARTITION,
                lx + 16.0
            );
        }
        s.push_str("</svg>\n");
        s
    }
}

fn marker_svg(s: &mut String, m: Marker, x: f64, y: f64, color: &str) {
    let r = 3.0;
    let _ = match m {
        Marker::Circle => write!(
            s,
            r#"<circle cx="{x:.1}" cy="{y:.1}" r="{r}" fill="{color}" fill-opacity="0.7"/>"#
        ),
        Marker::Square => write!(
            s,
            r#"<rect x="{:.1}" y="{:.1}" width="{}" height="{}" fill="{color}" fill-opacity="0.7"/>"#,
            x - r,
            y - r,
            2.0 * r,
            2.0 * r
        ),
        Marker::Triangle => write!(
            s,
            r#"<polygon points="{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}" fill="{color}" fill-opacity="0.7"/>"#,
            x,
            y - r,
            x - r,
            y + r,
            x + r,
            y + r
        ),
        Marker::Diamond => write!(
            s,
            r#"<polygon points="{:.1},{:.1} {:.1},{:.1} {:.1},{:.1} {:.1},{:.1}" fill="{color}" fill-opacity="0.7"/>"#,
            x,
            y - r,
            x - r,
            y,
            x,
            y + r,
            x + r,
            y
        ),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_well_formed_document() {
        let c = Chart {
            title: "t <&>".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            log_y: true,
            spans: vec![(1.0, 2.0, "majority".into())],
            series: vec![
                Series::Points {
                    label: "ok".into(),
                    color: "#000".into(),
                    marker: Marker::Circle,
                    points: vec![(0.5, 3.0), (2.5, 300.0)],
                },
                Series::Line {
                    label: "p50".into(),
                    color: "#f00".into(),
                    dash: String::new(),
                    points: vec![(0.0, 1.0), (3.0, 10.0)],
                },
            ],
            x_range: None,
        };
        let s = c.render();
        assert!(s.starts_with("<svg"));
        assert!(s.ends_with("</svg>\n"));
        assert!(s.contains("t &lt;&amp;&gt;"));
        assert!(s.contains("<polyline"));
        assert!(s.contains("partition"));
        assert_eq!(nice_step(10.0, 10), 1.0);
        assert_eq!(nice_step(95.0, 10), 10.0);
    }
}
