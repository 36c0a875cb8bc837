//! `messages.svg` (§7.4): a Lamport diagram of the first 10,000 network events (init excluded).
//!
//! One vertical line per endpoint (clients, then nodes, sorted by prefix and number; services
//! last), one 20 px step per event, an arrow from each message's send to its receive. Pink for
//! errors, light blue when a client is involved, black otherwise; the label is the type plus
//! the rest of the body, cut to 48 characters; hovering shows `src → dest body`.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use super::escape;
use crate::ids::NetId;
use crate::journal::{EventKind, Journal};

const WIDTH: f64 = 1200.0;
const STEP: f64 = 20.0;
const HEADER: f64 = 40.0;
const MARGIN: f64 = 60.0;

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

/// Render the diagram.
pub fn render(journal: &Journal) -> String {
    let events = journal.events();
    let mut endpoints: Vec<String> = Vec::new();
    for e in events {
        if let Some(m) = journal.message(e.id) {
            endpoints.push(m.src.clone());
            endpoints.push(m.dest.clone());
        }
    }
    endpoints.sort_by_key(|e| endpoint_key(e));
    endpoints.dedup();
    let column: HashMap<&str, f64> = endpoints
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let x = if endpoints.len() <= 1 {
                WIDTH / 2.0
            } else {
                MARGIN + i as f64 * (WIDTH - 2.0 * MARGIN) / (endpoints.len() - 1) as f64
            };
            (e.as_str(), x)
        })
        .collect();
    let mut sent: HashMap<NetId, usize> = HashMap::new();
    let mut arrows: BTreeMap<usize, (NetId, usize)> = BTreeMap::new();
    for (step, e) in events.iter().enumerate() {
        match e.kind {
            EventKind::Send => {
                sent.insert(e.id, step);
            }
            EventKind::Recv => {
                if let Some(&from) = sent.get(&e.id) {
                    arrows.insert(from, (e.id, step));
                }
            }
        }
    }
    let height = HEADER + (events.len() as f64 + 2.0) * STEP + 30.0;
    let mut s = String::new();
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
    for (e, x) in endpoints
        .iter()
        .map(|e| (e, column.get(e.as_str()).copied().unwrap_or(0.0)))
    {
        let _ = write!(
            s,
            r##"<text x="{x:.1}" y="20" text-anchor="middle" font-size="12" font-weight="bold">{}</text><line x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{:.1}" stroke="#ccc"/>"##,
            escape(e),
            HEADER - 10.0,
            height - 30.0
        );
    }
    for (from, (id, to)) in &arrows {
        let Some(m) = journal.message(*id) else {
            continue;
        };
        let (Some(&xa), Some(&xb)) = (column.get(m.src.as_str()), column.get(m.dest.as_str()))
        else {
            continue;
        };
        let (ya, yb) = (HEADER + *from as f64 * STEP, HEADER + *to as f64 * STEP);
        let (color, marker) = if m.is_error {
            ("#FF1E90", "pink")
        } else if m.client {
            ("#81BFFC", "blue")
        } else {
            ("#000", "black")
        };
        let _ = write!(
            s,
            r#"<g><title>{} → {} {}</title><line x1="{xa:.1}" y1="{ya:.1}" x2="{xb:.1}" y2="{yb:.1}" stroke="{color}" stroke-width="1.2" marker-end="url(#a-{marker})"/><text x="{:.1}" y="{:.1}" text-anchor="middle" fill="{color}">{}</text></g>"#,
            escape(&m.src),
            escape(&m.dest),
            escape(&m.body),
            (xa + xb) / 2.0,
            (ya + yb) / 2.0 - 3.0,
            escape(&m.label)
        );
    }
    if journal.truncated() {
        let _ = write!(
            s,
            r#"<text x="{}" y="{:.1}" font-size="14">Additional network events not shown</text>"#,
            MARGIN,
            height - 10.0
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ClientId, Endpoint, NodeIndex};
    use crate::message::{BodyHead, Packet, raw_body};
    use crate::time::Time;
    use serde_json::json;

    #[test]
    fn sorts_endpoints_and_draws_arrows() {
        let mut keys = vec!["n10", "lin-kv", "c2", "n2", "c10"];
        keys.sort_by_key(|e| endpoint_key(e));
        assert_eq!(keys, ["c2", "c10", "n2", "n10", "lin-kv"]);
        let mut j = Journal::new();
        let body = raw_body(&json!({"type":"echo","echo":"hi","msg_id":1}));
        let head = BodyHead::parse(&body);
        let p = Packet {
            id: NetId(5),
            src: Endpoint::Client(ClientId(2)),
            dest: Endpoint::Node(NodeIndex(0)),
            body,
            head,
        };
        j.send(Time::ZERO, &p, Some(("c2".into(), "n1".into())));
        j.recv(Time::ZERO, &p);
        let svg = render(&j);
        assert!(
            svg.contains("echo {&quot;echo&quot;:&quot;hi&quot;}"),
            "{svg}"
        );
        assert!(svg.contains("#81BFFC"));
        assert!(!svg.contains("Additional network events"));
    }
}
