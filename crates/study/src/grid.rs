//! The sweep: which strategies, at which flush intervals, with which node arguments.

/// One point of the sweep: a strategy at one setting.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The strategy family, e.g. `star`; one series in the plot.
    pub family: &'static str,
    /// The setting that varies within the family, e.g. `relay-flush=200ms`.
    pub setting: String,
    /// Arguments for `gossip-node` (after the workload name).
    pub node_args: Vec<String>,
}

/// A point whose setting is also a node argument when it reads as one `key=value`.
fn point(family: &'static str, setting: String, args: &[&str]) -> Point {
    let mut node_args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    if setting.matches('=').count() == 1 {
        node_args.push(setting.clone());
    }
    Point {
        family,
        setting,
        node_args,
    }
}

/// The families, in plot order.
pub const FAMILIES: [&str; 7] = [
    "flood",
    "tree4",
    "star",
    "star-batched",
    "gossip",
    "push-pull",
    "hybrid",
];

/// The full sweep (`quick` keeps two or three settings per family).
pub fn sweep(quick: bool) -> Vec<Point> {
    let pick =
        |all: &[u32], few: &[u32]| -> Vec<u32> { if quick { few.to_vec() } else { all.to_vec() } };
    let mut points = Vec::new();
    for ms in pick(&[0, 50, 100, 200, 400], &[0, 200]) {
        points.push(point(
            "flood",
            format!("relay-flush={ms}ms"),
            &[
                "strategy=flood",
                "overlay=maelstrom",
                &format!("flush={ms}ms"),
            ],
        ));
    }
    for ms in pick(&[0, 50, 100, 200, 400], &[0, 200]) {
        points.push(point(
            "tree4",
            format!("relay-flush={ms}ms"),
            &["strategy=tree", "overlay=kary", "k=4", "flush=0ms"],
        ));
    }
    for ms in pick(
        &[0, 25, 50, 100, 150, 200, 210, 250, 300, 400, 500],
        &[25, 200, 300],
    ) {
        points.push(point(
            "star",
            format!("relay-flush={ms}ms"),
            &["strategy=tree", "overlay=star", "hubs=3", "flush=0ms"],
        ));
    }
    // Leaves batch too: the low-message end of the curve.
    for ms in pick(
        &[50, 100, 200, 300, 500, 1000, 2000, 3000, 5000],
        &[300, 1000, 5000],
    ) {
        points.push(point(
            "star-batched",
            format!("flush = relay-flush = {ms}ms"),
            &[
                "strategy=tree",
                "overlay=star",
                "hubs=3",
                &format!("flush={ms}ms"),
                &format!("relay-flush={ms}ms"),
            ],
        ));
    }
    for ms in pick(&[50, 100, 200, 400], &[100, 400]) {
        points.push(point(
            "gossip",
            format!("interval={ms}ms"),
            &["strategy=gossip", "fanout=3"],
        ));
    }
    for ms in pick(&[50, 100, 200, 400], &[100, 400]) {
        points.push(point(
            "push-pull",
            format!("interval={ms}ms"),
            &["strategy=push-pull"],
        ));
    }
    for ms in pick(&[25, 100, 200, 300], &[25, 300]) {
        points.push(point(
            "hybrid",
            format!("relay-flush={ms}ms"),
            &[
                "strategy=hybrid",
                "overlay=star",
                "hubs=3",
                "flush=0ms",
                "lazy-interval=1s",
                "graft-delay=600ms",
            ],
        ));
    }
    points
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_arguments_are_key_value_words() {
        for p in sweep(false) {
            for arg in &p.node_args {
                assert_eq!(arg.matches('=').count(), 1, "{arg} in {p:?}");
            }
        }
    }

    #[test]
    fn every_family_is_swept_and_settings_are_unique() {
        for quick in [true, false] {
            let points = sweep(quick);
            for family in FAMILIES {
                assert!(
                    points.iter().any(|p| p.family == family),
                    "{family} missing"
                );
            }
            for (i, a) in points.iter().enumerate() {
                for b in &points[i + 1..] {
                    assert!(
                        a.family != b.family || a.setting != b.setting,
                        "duplicate point {a:?}"
                    );
                }
            }
        }
    }
}
