//! The Pareto plot, drawn with the harness's chart kit: server messages per operation (log
//! scale) against median (filled markers, solid line) and maximum (hollow, dashed) stable
//! latency, one colour per strategy family, with the published results as black diamonds and
//! the public benchmark's bars as dashed rules.

use gossip_harness::svg::colors;
use gossip_harness::svg::plot::{Axis, Chart, Marker, Rule, Series};

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

/// Latencies above this are drawn at the top edge, so the slow end of a sweep does not
/// squash the interesting range.
const Y_CAP: f64 = 3000.0;

/// The family's colour: its own entry of the kit's categorical palette.
pub fn colour(family: &str) -> &'static str {
    FAMILIES
        .iter()
        .position(|f| *f == family)
        .map_or("#333333", colors::categorical)
}

/// The plot as a chart.
pub fn chart(dots: &[Dot], references: &[Published], title: &str) -> Chart {
    let positive = |v: f64| v.is_finite() && v > 0.0;
    let msgs = || {
        dots.iter()
            .map(|d| d.msgs_per_op)
            .chain(references.iter().map(|p| p.msgs_per_op))
            .filter(|v| positive(*v))
    };
    let x_max = msgs().fold(32.0f64, f64::max) * 1.3;
    let x_min = msgs().fold(0.5f64, f64::min).log2().floor().exp2();
    let y_max = dots
        .iter()
        .map(|d| d.max)
        .chain(references.iter().map(|p| p.max))
        .filter(|v| v.is_finite())
        .fold(1000.0f64, f64::max)
        .min(Y_CAP);
    let y_max = (y_max / 100.0).ceil() * 100.0;
    let mut chart = Chart::new(
        title,
        Axis::log("server messages per operation (log scale)", 2.0).range(x_min, x_max),
        Axis::linear("stable latency, ms (filled: median, hollow: max)").range(0.0, y_max),
    );
    chart.size = (960.0, 600.0);
    chart.legend_width = 250.0;
    // The public benchmark's bars: part I (msgs < 30, median < 400, max < 600) and part II.
    for (ms, label) in [
        (400.0, "3d median bar"),
        (600.0, "3d max bar"),
        (1000.0, "3e median bar"),
    ] {
        if ms <= y_max {
            chart.rules.push(Rule::Y(ms, label.into()));
        }
    }
    chart.rules.push(Rule::X(20.0, "3e msgs bar".into()));
    chart.rules.push(Rule::X(30.0, "3d msgs bar".into()));

    for family in FAMILIES {
        let mut series: Vec<&Dot> = dots
            .iter()
            .filter(|d| d.family == family && positive(d.msgs_per_op))
            .collect();
        series.sort_by(|a, b| a.msgs_per_op.total_cmp(&b.msgs_per_op));
        if series.is_empty() {
            continue;
        }
        let c = colour(family);
        let tips: Vec<String> = series
            .iter()
            .map(|d| {
                format!(
                    "{} {}: {:.2} msgs/op, median {:.0} ms, max {:.0} ms",
                    d.family, d.setting, d.msgs_per_op, d.median, d.max
                )
            })
            .collect();
        let at = |pick: fn(&Dot) -> f64| -> Vec<(f64, f64)> {
            series.iter().map(|d| (d.msgs_per_op, pick(d))).collect()
        };
        chart.series.push(
            Series::line(family, c, "", at(|d| d.median))
                .with_marker(Marker::Circle)
                .with_tips(tips.clone()),
        );
        // The maximum shares the family's colour and legend entry: it is the same series'
        // other figure, told apart by fill and dash as the axis label says.
        chart.series.push(
            Series::line("", c, "4 3", at(|d| d.max))
                .with_marker(Marker::Circle)
                .hollow()
                .with_tips(tips),
        );
    }

    // Published results: black diamonds joined median to max, numbered.
    if !references.is_empty() {
        chart.notes.push("published (black diamonds):".into());
    }
    for (i, p) in references.iter().enumerate() {
        let tag = format!("P{}", i + 1);
        let top = if p.max.is_finite() { p.max } else { p.median };
        if p.max.is_finite() {
            chart.series.push(Series::line(
                "",
                "#000",
                "",
                vec![(p.msgs_per_op, p.median), (p.msgs_per_op, p.max)],
            ));
            chart.series.push(
                Series::points("", "#000", Marker::Diamond, vec![(p.msgs_per_op, p.max)]).hollow(),
            );
        }
        chart.series.push(Series::points(
            "",
            "#000",
            Marker::Diamond,
            vec![(p.msgs_per_op, p.median)],
        ));
        chart.annotations.push((p.msgs_per_op, top, tag.clone()));
        chart
            .notes
            .push(format!("{tag}: {}", shorten(p.design, 44)));
    }
    chart
}

/// Renders the plot as a standalone SVG document.
pub fn render(dots: &[Dot], references: &[Published], title: &str) -> String {
    chart(dots, references, title).render()
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let cut: String = s.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::published::{G_SET_REFERENCE, PUBLISHED};

    fn dot(family: &'static str, msgs_per_op: f64, median: f64, max: f64) -> Dot {
        Dot {
            family,
            setting: "relay-flush=200ms".into(),
            msgs_per_op,
            median,
            max,
        }
    }

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
            dot("star", 1.7, 260.0, 300.0),
            dot("star", 2.6, 177.0, 218.0),
            dot("flood", 40.0, 120.0, 200.0),
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
        assert!(svg.contains(">P5</text>"));
        assert!(!svg.contains("NaN"));
    }

    /// Seven families used to share six colours: hybrid was drawn in flood's red.
    #[test]
    fn every_family_has_its_own_colour() {
        let dots: Vec<Dot> = FAMILIES
            .iter()
            .enumerate()
            .map(|(i, f)| dot(f, 1.0 + i as f64, 100.0, 200.0))
            .collect();
        let chart = chart(&dots, &PUBLISHED, "all");
        let labelled = chart.series.iter().filter(|s| !s.label.is_empty()).count();
        assert_eq!(labelled, FAMILIES.len());
        assert_eq!(chart.colour_clashes(), Vec::<(String, String)>::new());
        assert_ne!(colour("hybrid"), colour("flood"));
    }
}
