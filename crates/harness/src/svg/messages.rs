//! `messages.svg`: who talks to whom, and the first messages as a Lamport diagram.
//!
//! A Lamport diagram of every kept event (up to 10,000) is unreadable past a handful of nodes:
//! 25 nodes and their clients make 75 columns 14 px apart and a picture 200,000 px tall. So
//! the page has two parts, both drawn from the journal's kept events (init excluded):
//!
//! - a per-pair summary: a matrix of message counts, sender by recipient, shaded on a log
//!   scale, with the count per message type on hover, and the totals per type beside it;
//! - the first [`WINDOW`] messages as a Lamport diagram: one vertical line per endpoint
//!   (clients, then nodes, sorted by prefix and number; services last), one step per event,
//!   the time on the left, an arrow from each send to its receive. Pink for errors, light
//!   blue when a client is involved, black otherwise. A label (type and the rest of the body,
//!   cut to 48 characters) is drawn only where it overlaps no other label; hovering any arrow
//!   shows `src → dest body`.
//!
//! Past [`MAX_COLUMNS`] endpoints the clients share one column (and one matrix row), since
//! each client talks to one node and its column would stay almost empty.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use super::escape;
use crate::ids::NetId;
use crate::journal::{EventKind, Journal, VizEvent};

/// Messages drawn in the Lamport diagram: the start of the run, where the setup and the first
/// operations show the protocol's pattern.
pub const WINDOW: usize = 60;
/// Past this many endpoints, clients share one column.
pub const MAX_COLUMNS: usize = 16;
/// The name of the shared client column.
pub const CLIENTS: &str = "clients";

const WIDTH: f64 = 1200.0;
const STEP: f64 = 16.0;
const MARGIN_LEFT: f64 = 80.0;
const MARGIN_RIGHT: f64 = 40.0;
/// Average glyph width at font size 10, for placing labels without overlap.
const CHAR_WIDTH: f64 = 5.6;
const LABEL_HEIGHT: f64 = 11.0;

/// Sort key: alphabetic prefix, then numeric suffix; ids without digits go last.
fn endpoint_key(id: &str) -> (u8, String, u64, String) {
    let digits_at = id.find(|c: char| c.is_ascii_digit());
    match digits_at {
        Some(i) if id[i..].bytes().all(|b| b.is_ascii_digit()) => (
            0,
            id[..i].to_owned(),
            id[i..].parse().unwrap_or(u64::MAX),
            String::new(),
        ),
        _ => (1, String::new(), 0, id.to_owned()),
    }
}

/// Maps wire ids to columns, collapsing clients when there are too many endpoints.
struct Columns {
    names: Vec<String>,
    collapse_clients: bool,
}

impl Columns {
    fn new(journal: &Journal) -> Columns {
        let mut ids: Vec<String> = Vec::new();
        let mut clients: Vec<String> = Vec::new();
        for e in journal.events() {
            if let Some(m) = journal.message(e.id) {
                for id in [&m.src, &m.dest] {
                    ids.push(id.clone());
                    if is_client_id(id) {
                        clients.push(id.clone());
                    }
                }
            }
        }
        ids.sort_by_key(|e| endpoint_key(e));
        ids.dedup();
        clients.sort();
        clients.dedup();
        let collapse_clients = ids.len() > MAX_COLUMNS && !clients.is_empty();
        let names = if collapse_clients {
            let mut names = vec![CLIENTS.to_owned()];
            names.extend(
                ids.into_iter()
                    .filter(|id| clients.binary_search(id).is_err()),
            );
            names
        } else {
            ids
        };
        Columns {
            names,
            collapse_clients,
        }
    }

    /// The column of endpoint `id`: its own, or the shared client column.
    fn of(&self, id: &str) -> Option<usize> {
        if self.collapse_clients && is_client_id(id) {
            return Some(0);
        }
        self.names.iter().position(|n| n == id)
    }
}

/// Maelstrom's rule: an id is a client iff it starts with `c`.
fn is_client_id(id: &str) -> bool {
    id.starts_with('c')
}

/// A label's box: centre x, centre y, width. Greedy placement keeps a label only where it
/// overlaps none already placed; returns which were kept.
fn place_labels(boxes: &[(f64, f64, f64)]) -> Vec<bool> {
    let mut placed: Vec<(f64, f64, f64)> = Vec::new();
    boxes
        .iter()
        .map(|&(x, y, w)| {
            let clear = placed.iter().all(|&(px, py, pw)| {
                (x - px).abs() * 2.0 >= w + pw || (y - py).abs() >= LABEL_HEIGHT
            });
            if clear {
                placed.push((x, y, w));
            }
            clear
        })
        .collect()
}

/// The events of the diagram: everything up to the `WINDOW + 1`-th send, then the later
/// receives of the messages sent in it (so no arrow is left hanging).
fn window(events: &[VizEvent]) -> (Vec<VizEvent>, usize) {
    let mut kept = Vec::new();
    let mut sent: Vec<NetId> = Vec::new();
    let mut rest = events.len();
    for (i, e) in events.iter().enumerate() {
        if e.kind == EventKind::Send {
            if sent.len() == WINDOW {
                rest = i;
                break;
            }
            sent.push(e.id);
        }
        kept.push(*e);
    }
    sent.sort_unstable();
    kept.extend(
        events[rest..]
            .iter()
            .filter(|e| e.kind == EventKind::Recv && sent.binary_search(&e.id).is_ok()),
    );
    (kept, sent.len())
}

/// Render the page.
pub fn render(journal: &Journal) -> String {
    let events = journal.events();
    let columns = Columns::new(journal);
    let sends = events.iter().filter(|e| e.kind == EventKind::Send).count();
    let mut s = String::new();
    let mut body = String::new();
    let mut y = 28.0;
    let span = match (events.first(), events.last()) {
        (Some(a), Some(b)) => format!(
            "{:.3} to {:.3} s",
            a.time.as_secs_f64(),
            b.time.as_secs_f64()
        ),
        _ => "no events".into(),
    };
    let _ = write!(
        body,
        r#"<text x="20" y="{y}" font-size="15" font-weight="bold">Messages</text><text x="110" y="{y}" font-size="12">{} messages in the run ({} between servers); this page draws the first {} ({span}{})</text>"#,
        journal.all.msg_count,
        journal.servers.msg_count,
        sends,
        if journal.truncated() {
            "; the rest were not kept"
        } else {
            ""
        }
    );
    y += 20.0;
    y = matrix(&mut body, journal, &columns, y);
    y = lamport(&mut body, journal, &columns, y + 30.0);
    let height = y + 20.0;
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="Helvetica, Arial, sans-serif" font-size="10"><rect width="100%" height="100%" fill="#fff"/>"##
    );
    s.push_str("<defs>");
    for (name, color) in [("black", "#000"), ("blue", "#81BFFC"), ("pink", "#FF1E90")] {
        let _ = write!(
            s,
            r#"<marker id="a-{name}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{color}"/></marker>"#
        );
    }
    s.push_str("</defs>");
    s.push_str(&body);
    s.push_str("</svg>\n");
    s
}

/// The message type: the label's first word.
fn kind(label: &str) -> &str {
    label.split(' ').next().unwrap_or_default()
}

/// The per-pair matrix and the totals per type, from `y` down; returns the bottom.
fn matrix(s: &mut String, journal: &Journal, columns: &Columns, top: f64) -> f64 {
    let n = columns.names.len();
    let mut counts: HashMap<(usize, usize), BTreeMap<&str, u64>> = HashMap::new();
    let mut per_type: BTreeMap<&str, u64> = BTreeMap::new();
    for e in journal.events() {
        if e.kind != EventKind::Send {
            continue;
        }
        let Some(m) = journal.message(e.id) else {
            continue;
        };
        let (Some(a), Some(b)) = (columns.of(&m.src), columns.of(&m.dest)) else {
            continue;
        };
        *counts
            .entry((a, b))
            .or_default()
            .entry(kind(&m.label))
            .or_default() += 1;
        *per_type.entry(kind(&m.label)).or_default() += 1;
    }
    let _ = write!(
        s,
        r##"<text x="20" y="{:.1}" font-size="13" font-weight="bold">Who sends to whom</text><text x="160" y="{:.1}" font-size="11" fill="#555">rows send, columns receive; darker is more (log scale); hover a cell for its types</text>"##,
        top + 16.0,
        top + 16.0
    );
    if n == 0 {
        return top + 30.0;
    }
    let cell = (560.0 / n as f64).clamp(12.0, 36.0);
    let (x0, y0) = (MARGIN_LEFT, top + 80.0);
    let max = counts
        .values()
        .map(|t| t.values().sum::<u64>())
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    for (i, name) in columns.names.iter().enumerate() {
        let cx = x0 + (i as f64 + 0.5) * cell;
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end" dominant-baseline="middle">{}</text><text transform="translate({cx:.1} {:.1}) rotate(-60)">{}</text>"#,
            x0 - 4.0,
            y0 + (i as f64 + 0.5) * cell,
            escape(name),
            y0 - 4.0,
            escape(name)
        );
    }
    for a in 0..n {
        for b in 0..n {
            let (x, y) = (x0 + b as f64 * cell, y0 + a as f64 * cell);
            let Some(types) = counts.get(&(a, b)) else {
                let _ = write!(
                    s,
                    r##"<rect x="{x:.1}" y="{y:.1}" width="{cell:.1}" height="{cell:.1}" fill="#fafafa" stroke="#eee"/>"##
                );
                continue;
            };
            let total: u64 = types.values().sum();
            // Log shading so that one message and a thousand both show.
            let f = ((total as f64).ln_1p() / max.ln_1p()).clamp(0.0, 1.0);
            let shade = |lo: f64, hi: f64| (lo + (hi - lo) * f).round() as u8;
            let fill = format!(
                "#{:02x}{:02x}{:02x}",
                shade(222.0, 8.0),
                shade(235.0, 48.0),
                shade(247.0, 107.0)
            );
            let detail: Vec<String> = types.iter().map(|(k, c)| format!("{k} {c}")).collect();
            let _ = write!(
                s,
                r##"<g><title>{} → {}: {total} ({})</title><rect x="{x:.1}" y="{y:.1}" width="{cell:.1}" height="{cell:.1}" fill="{fill}" stroke="#fff"/>"##,
                escape(&columns.names[a]),
                escape(&columns.names[b]),
                escape(&detail.join(", "))
            );
            if cell >= 24.0 {
                let _ = write!(
                    s,
                    r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" dominant-baseline="middle" font-size="8" fill="{}">{total}</text>"##,
                    x + cell / 2.0,
                    y + cell / 2.0,
                    if f > 0.5 { "#fff" } else { "#000" }
                );
            }
            s.push_str("</g>");
        }
    }
    // Totals per type, most frequent first.
    let tx = x0 + n as f64 * cell + 40.0;
    let mut types: Vec<(&str, u64)> = per_type.into_iter().collect();
    types.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let _ = write!(
        s,
        r#"<text x="{tx:.1}" y="{y0:.1}" font-size="12" font-weight="bold">messages by type</text>"#
    );
    for (i, (k, c)) in types.iter().take(20).enumerate() {
        let ty = y0 + 18.0 + i as f64 * 15.0;
        let _ = write!(
            s,
            r#"<text x="{tx:.1}" y="{ty:.1}">{}</text><text x="{:.1}" y="{ty:.1}" text-anchor="end">{c}</text>"#,
            escape(if k.is_empty() { "(no type)" } else { k }),
            tx + 200.0
        );
    }
    let listed = y0 + 18.0 + types.len().min(20) as f64 * 15.0;
    (y0 + n as f64 * cell).max(listed)
}

/// The Lamport diagram of the first [`WINDOW`] messages, from `top` down; returns the bottom.
fn lamport(s: &mut String, journal: &Journal, columns: &Columns, top: f64) -> f64 {
    let (events, drawn) = window(journal.events());
    let total = journal
        .events()
        .iter()
        .filter(|e| e.kind == EventKind::Send)
        .count();
    let _ = write!(
        s,
        r##"<text x="20" y="{top:.1}" font-size="13" font-weight="bold">The first {drawn} messages</text><text x="200" y="{top:.1}" font-size="11" fill="#555">of {total} drawn above; one step per event, time on the left; hover an arrow for its body</text>"##
    );
    let n = columns.names.len();
    let header = top + 30.0;
    let first_row = header + 20.0;
    let bottom = first_row + events.len() as f64 * STEP;
    let x_of = |i: usize| {
        if n <= 1 {
            WIDTH / 2.0
        } else {
            MARGIN_LEFT + i as f64 * (WIDTH - MARGIN_LEFT - MARGIN_RIGHT) / (n - 1) as f64
        }
    };
    for (i, name) in columns.names.iter().enumerate() {
        let x = x_of(i);
        let _ = write!(
            s,
            r##"<text x="{x:.1}" y="{header:.1}" text-anchor="middle" font-size="11" font-weight="bold">{}</text><line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{bottom:.1}" stroke="#ccc"/>"##,
            escape(name),
            header + 6.0
        );
    }
    // Time on the left, where it changes and there is room.
    let mut last_label = f64::NEG_INFINITY;
    let mut last_time = None;
    for (step, e) in events.iter().enumerate() {
        let y = first_row + step as f64 * STEP;
        if last_time != Some(e.time) && y - last_label >= 12.0 {
            let _ = write!(
                s,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#777">{:.3} s</text>"##,
                MARGIN_LEFT - 24.0,
                y + 3.0,
                e.time.as_secs_f64()
            );
            last_label = y;
        }
        last_time = Some(e.time);
    }
    let mut sent: HashMap<NetId, usize> = HashMap::new();
    let mut arrows: Vec<(usize, NetId, usize)> = Vec::new();
    for (step, e) in events.iter().enumerate() {
        match e.kind {
            EventKind::Send => {
                sent.insert(e.id, step);
            }
            EventKind::Recv => {
                if let Some(&from) = sent.get(&e.id) {
                    arrows.push((from, e.id, step));
                }
            }
        }
    }
    arrows.sort_unstable();
    let mut drawn_arrows = Vec::new();
    for (from, id, to) in arrows {
        let Some(m) = journal.message(id) else {
            continue;
        };
        let (Some(a), Some(b)) = (columns.of(&m.src), columns.of(&m.dest)) else {
            continue;
        };
        let (xa, xb) = (x_of(a), x_of(b));
        let (ya, yb) = (first_row + from as f64 * STEP, first_row + to as f64 * STEP);
        drawn_arrows.push((m, xa, ya, xb, yb));
    }
    // Label boxes at each arrow's middle, moved inside the picture where they would stick out.
    let boxes: Vec<(f64, f64, f64)> = drawn_arrows
        .iter()
        .map(|(m, xa, ya, xb, yb)| {
            let w = m.label.chars().count() as f64 * CHAR_WIDTH;
            let x = ((xa + xb) / 2.0).clamp(w / 2.0 + 2.0, (WIDTH - w / 2.0 - 2.0).max(w / 2.0));
            (x, (ya + yb) / 2.0 - 6.0, w)
        })
        .collect();
    let show = place_labels(&boxes);
    for (((m, xa, ya, xb, yb), show), (lx, ly, _)) in drawn_arrows.into_iter().zip(show).zip(boxes)
    {
        let (color, marker) = if m.is_error {
            ("#FF1E90", "pink")
        } else if m.client {
            ("#81BFFC", "blue")
        } else {
            ("#000", "black")
        };
        let _ = write!(
            s,
            r#"<g><title>{} → {} {}</title><line x1="{xa:.1}" y1="{ya:.1}" x2="{xb:.1}" y2="{yb:.1}" stroke="{color}" stroke-width="1.2" marker-end="url(#a-{marker})"/>"#,
            escape(&m.src),
            escape(&m.dest),
            escape(&m.body),
        );
        if show {
            // A white halo keeps the label legible where it crosses other arrows.
            let _ = write!(
                s,
                r##"<text x="{lx:.1}" y="{:.1}" text-anchor="middle" fill="{color}" stroke="#fff" stroke-width="3" paint-order="stroke">{}</text>"##,
                ly + 3.0,
                escape(&m.label)
            );
        }
        s.push_str("</g>");
    }
    bottom
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ClientId, Endpoint, NodeIndex};
    use crate::message::{BodyHead, Packet, raw_body};
    use crate::time::Time;
    use serde_json::json;

    fn packet(id: u64, src: Endpoint, dest: Endpoint, body: serde_json::Value) -> Packet {
        let body = raw_body(&body);
        let head = BodyHead::parse(&body);
        Packet {
            id: NetId(id),
            src,
            dest,
            body,
            head,
        }
    }

    fn name(e: Endpoint) -> String {
        match e {
            Endpoint::Node(NodeIndex(i)) => format!("n{i}"),
            Endpoint::Client(ClientId(i)) => format!("c{i}"),
            other => format!("{other:?}"),
        }
    }

    /// Sends and receives `p` at `ms`.
    fn deliver(j: &mut Journal, ms: u64, p: &Packet) {
        let names = Some((name(p.src), name(p.dest)));
        j.send(Time::from_millis(ms), p, names);
        j.recv(Time::from_millis(ms + 1), p);
    }

    /// A 25-node broadcast-like journal: each client asks its node, each node gossips to
    /// every other, until the journal stops keeping events.
    fn busy_journal() -> Journal {
        let mut j = Journal::new();
        let mut id = 0;
        let mut ms = 0;
        while !j.truncated() {
            for n in 0..25u32 {
                id += 1;
                let c = Endpoint::Client(ClientId(25 + n as u64));
                let node = Endpoint::Node(NodeIndex(n as usize));
                deliver(
                    &mut j,
                    ms,
                    &packet(
                        id,
                        c,
                        node,
                        json!({"type": "broadcast", "message": id, "msg_id": id}),
                    ),
                );
                for m in 0..25u32 {
                    if m != n {
                        id += 1;
                        let peer = Endpoint::Node(NodeIndex(m as usize));
                        deliver(
                            &mut j,
                            ms,
                            &packet(id, node, peer, json!({"type": "gossip", "values": [id]})),
                        );
                    }
                }
                ms += 10;
            }
        }
        j
    }

    #[test]
    fn sorts_endpoints_and_draws_arrows() {
        let mut keys = vec!["n10", "lin-kv", "c2", "n2", "c10"];
        keys.sort_by_key(|e| endpoint_key(e));
        assert_eq!(keys, ["c2", "c10", "n2", "n10", "lin-kv"]);
        let mut j = Journal::new();
        let p = packet(
            5,
            Endpoint::Client(ClientId(2)),
            Endpoint::Node(NodeIndex(0)),
            json!({"type":"echo","echo":"hi","msg_id":1}),
        );
        deliver(&mut j, 0, &p);
        let svg = render(&j);
        assert!(
            svg.contains("echo {&quot;echo&quot;:&quot;hi&quot;}"),
            "{svg}"
        );
        assert!(svg.contains("#81BFFC"));
        assert!(svg.contains("c2 → n0: 1 (echo 1)"), "{svg}");
        assert!(
            !svg.contains(CLIENTS),
            "two endpoints keep their own columns"
        );
    }

    /// The run the page was too big for: 25 nodes, 10,000 kept events. The page stays small
    /// and draws only the window's arrows, with clients in one column.
    #[test]
    fn a_busy_run_gets_a_summary_and_a_window() {
        let j = busy_journal();
        assert!(j.events().len() >= crate::journal::VIZ_LIMIT);
        let svg = render(&j);
        assert!(svg.len() < 250_000, "{} bytes", svg.len());
        assert_eq!(svg.matches("marker-end=").count(), WINDOW);
        assert!(svg.contains(&format!(">{CLIENTS}</text>")));
        assert!(!svg.contains(">c30</text>"));
        // The matrix counts every kept message: n0 gossips to n1 once per round.
        let rounds = j
            .events()
            .iter()
            .filter(|e| e.kind == EventKind::Send)
            .filter_map(|e| j.message(e.id))
            .filter(|m| m.src == "n0" && m.dest == "n1")
            .count();
        assert!(rounds > 1);
        assert!(svg.contains(&format!("n0 → n1: {rounds} (gossip {rounds})")));
        assert!(svg.contains(&format!("{CLIENTS} → n3: ")));
        let height: f64 = svg
            .split("height=\"")
            .nth(1)
            .and_then(|h| h.split('"').next())
            .and_then(|h| h.parse().ok())
            .unwrap_or(f64::INFINITY);
        assert!(height < 3_000.0, "height {height}");
    }

    #[test]
    fn the_window_keeps_late_receives_of_its_messages() {
        let mut j = Journal::new();
        let (a, b) = (Endpoint::Node(NodeIndex(0)), Endpoint::Node(NodeIndex(1)));
        let first = packet(1, a, b, json!({"type": "slow"}));
        j.send(Time::ZERO, &first, Some(("n0".into(), "n1".into())));
        for i in 0..WINDOW as u64 + 10 {
            deliver(&mut j, 1 + i, &packet(2 + i, b, a, json!({"type": "fast"})));
        }
        j.recv(Time::from_millis(500), &first);
        let (events, drawn) = window(j.events());
        assert_eq!(drawn, WINDOW);
        let sends = events.iter().filter(|e| e.kind == EventKind::Send).count();
        assert_eq!(sends, WINDOW);
        assert_eq!(
            events.last().map(|e| (e.kind, e.id)),
            Some((EventKind::Recv, NetId(1)))
        );
    }

    #[test]
    fn labels_are_placed_only_where_they_overlap_none() {
        let boxes = [
            (100.0, 50.0, 40.0),
            (120.0, 52.0, 40.0), // overlaps the first
            (200.0, 50.0, 40.0), // beside it
            (100.0, 70.0, 40.0), // below it
        ];
        assert_eq!(place_labels(&boxes), [true, false, true, true]);
    }
}
