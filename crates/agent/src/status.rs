//! The status page (`GET /`) and Prometheus text (`GET /metrics`).
//!
//! The page is rendered on the server, so it shows members, names and recent changes with
//! no script at all; a small script then follows `/v1/watch` and polls `/v1/members` to keep
//! it live.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use gossip_net::MemberState;
use gossip_transport::PacketKind;

use crate::agent::Shared;
use crate::keyspace::Kind;

/// The most names per kind the page lists.
const PAGE_NAMES: usize = 200;

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
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

fn state_name(state: &MemberState) -> &'static str {
    match state {
        MemberState::Alive => "alive",
        MemberState::Suspect => "suspect",
        MemberState::Down => "down",
        MemberState::Left => "left",
    }
}

/// `GET /`.
pub(crate) async fn page(State(shared): State<Arc<Shared>>) -> Response {
    let id = shared.node.id().to_string();
    let mut members = String::new();
    for m in shared.node.members() {
        let _ = write!(
            members,
            "<tr><td>{}</td><td>{}</td><td class=\"{s}\">{s}</td><td>{}</td></tr>",
            escape(&m.id.to_string()),
            escape(&m.addr.to_string()),
            m.incarnation,
            s = state_name(&m.state),
        );
    }
    let mut names = String::new();
    for kind in Kind::ALL {
        let all = shared.names(kind);
        let _ = write!(
            names,
            "<h3>{kind} ({})</h3><ul id=\"names-{kind}\">",
            all.len()
        );
        for name in all.iter().take(PAGE_NAMES) {
            let _ = write!(names, "<li>{}</li>", escape(name));
        }
        names.push_str("</ul>");
    }
    let mut recent = String::new();
    for change in shared.recent() {
        let _ = write!(
            recent,
            "<li><b>{}/{}</b> = <code>{}</code> <small>from {}</small></li>",
            change.kind,
            escape(&change.name),
            escape(&change.value.to_string()),
            escape(&change.from)
        );
    }
    let body = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gossip-agent {id}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; max-width: 60em; }}
table {{ border-collapse: collapse; }} td, th {{ padding: .2em .8em; border-bottom: 1px solid #ddd; text-align: left; }}
.alive {{ color: #070; }} .suspect {{ color: #a60; }} .down, .left {{ color: #a00; }}
code {{ background: #f4f4f4; }} #live {{ color: #777; }}
</style></head>
<body>
<h1>gossip-agent <small>{id}</small></h1>
<p id="live">static view</p>
<h2>Members</h2>
<table><thead><tr><th>id</th><th>address</th><th>state</th><th>incarnation</th></tr></thead>
<tbody id="members">{members}</tbody></table>
<h2>Names</h2>
{names}
<h2>Recent changes</h2>
<ul id="changes">{recent}</ul>
<script>
const esc = s => String(s).replace(/[&<>"']/g, c => ({{'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}})[c]);
async function members() {{
  try {{
    const r = await fetch('/v1/members');
    const j = await r.json();
    document.getElementById('members').innerHTML = j.members.map(m =>
      `<tr><td>${{esc(m.id)}}</td><td>${{esc(m.addr)}}</td><td class="${{esc(m.state)}}">${{esc(m.state)}}</td><td>${{m.incarnation}}</td></tr>`).join('');
  }} catch (e) {{}}
}}
setInterval(members, 2000);
const source = new EventSource('/v1/watch');
source.addEventListener('ready', () => {{ document.getElementById('live').textContent = 'live'; }});
source.addEventListener('change', ev => {{
  const c = JSON.parse(ev.data);
  const li = document.createElement('li');
  li.innerHTML = `<b>${{esc(c.kind)}}/${{esc(c.name)}}</b> = <code>${{esc(JSON.stringify(c.value))}}</code> <small>from ${{esc(c.from)}}</small>`;
  const list = document.getElementById('changes');
  list.prepend(li);
  while (list.children.length > 50) list.lastChild.remove();
  const names = document.getElementById('names-' + c.kind);
  const present = [...names.children].find(n => n.textContent === c.name);
  if (c.value === null && present) present.remove();
  if (c.value !== null && !present) {{ const n = document.createElement('li'); n.textContent = c.name; names.append(n); }}
}});
source.addEventListener('lagged', () => location.reload());
source.onerror = () => {{ document.getElementById('live').textContent = 'reconnecting'; }};
</script>
</body></html>
"#
    );
    Html(body).into_response()
}

/// `GET /metrics`: the network shell's figures, then the agent's own.
pub(crate) async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let mut out = shared.node.metrics().to_prometheus();
    if !out.ends_with('\n') && !out.is_empty() {
        out.push('\n');
    }
    out.push_str(
        "# HELP gossip_agent_members Members this agent knows, by state.\n\
         # TYPE gossip_agent_members gauge\n",
    );
    let members = shared.node.members();
    for state in [
        MemberState::Alive,
        MemberState::Suspect,
        MemberState::Down,
        MemberState::Left,
    ] {
        let n = members
            .iter()
            .filter(|m| state_name(&m.state) == state_name(&state))
            .count();
        let _ = writeln!(
            out,
            "gossip_agent_members{{state=\"{}\"}} {n}",
            state_name(&state)
        );
    }
    replica_metrics(&shared, &mut out);
    out.push_str(
        "# HELP gossip_agent_names Names present, by kind.\n# TYPE gossip_agent_names gauge\n",
    );
    for kind in Kind::ALL {
        let _ = writeln!(
            out,
            "gossip_agent_names{{kind=\"{kind}\"}} {}",
            shared.names(kind).len()
        );
    }
    out.push_str(
        "# HELP gossip_agent_http_responses_total HTTP answers, by status class.\n\
         # TYPE gossip_agent_http_responses_total counter\n",
    );
    for (i, class) in ["2xx", "3xx", "4xx", "5xx"].iter().enumerate() {
        let _ = writeln!(
            out,
            "gossip_agent_http_responses_total{{class=\"{class}\"}} {}",
            shared.http.by_class[i].load(Ordering::Relaxed)
        );
    }
    let _ = writeln!(
        out,
        "# HELP gossip_agent_watchers Watch streams open now.\n\
         # TYPE gossip_agent_watchers gauge\ngossip_agent_watchers {}",
        shared.http.watchers.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        out,
        "# HELP gossip_agent_watch_lagged_total Changes watchers missed by falling behind.\n\
         # TYPE gossip_agent_watch_lagged_total counter\ngossip_agent_watch_lagged_total {}",
        shared.http.watch_lagged.load(Ordering::Relaxed)
    );
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

/// Each replica's transport figures: packets and bytes sent by kind, deltas received (new or
/// duplicate), local updates, refused input by reason.
fn replica_metrics(shared: &Shared, out: &mut String) {
    let stats = [
        (Kind::Sets, shared.sets.stats()),
        (Kind::Counters, shared.counters.stats()),
        (Kind::Registers, shared.registers.stats()),
    ];
    let families: [(&str, &str); 2] = [
        ("packets", "Transport packets sent, by replica and kind."),
        (
            "bytes",
            "Bytes of transport packets sent (JSON-encoded size), by replica and kind.",
        ),
    ];
    for (family, help) in families {
        let _ = writeln!(
            out,
            "# HELP gossip_agent_sent_{family}_total {help}\n\
             # TYPE gossip_agent_sent_{family}_total counter"
        );
        for (kind, stats) in &stats {
            for packet in PacketKind::ALL {
                let counter = stats.sent.get(&packet).copied().unwrap_or_default();
                let value = if family == "packets" {
                    counter.packets
                } else {
                    counter.bytes
                };
                let _ = writeln!(
                    out,
                    "gossip_agent_sent_{family}_total{{replica=\"{kind}\",kind=\"{}\"}} {value}",
                    packet.name()
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "# HELP gossip_agent_deltas_received_total Deltas received, new here or duplicate.\n\
         # TYPE gossip_agent_deltas_received_total counter"
    );
    for (kind, stats) in &stats {
        for (which, n) in [
            ("new", stats.received_new),
            ("duplicate", stats.received_duplicate),
        ] {
            let _ = writeln!(
                out,
                "gossip_agent_deltas_received_total{{replica=\"{kind}\",which=\"{which}\"}} {n}"
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP gossip_agent_local_updates_total Updates made through this agent.\n\
         # TYPE gossip_agent_local_updates_total counter"
    );
    for (kind, stats) in &stats {
        let _ = writeln!(
            out,
            "gossip_agent_local_updates_total{{replica=\"{kind}\"}} {}",
            stats.local_updates
        );
    }
    let _ = writeln!(
        out,
        "# HELP gossip_agent_refused_total Transport input refused from peers, by reason.\n\
         # TYPE gossip_agent_refused_total counter"
    );
    for (kind, stats) in &stats {
        let r = &stats.refused;
        for (reason, n) in [
            ("not_member", r.not_member),
            ("own_id", r.own_id),
            ("too_far_ahead", r.too_far_ahead),
            ("malformed", r.malformed),
        ] {
            let _ = writeln!(
                out,
                "gossip_agent_refused_total{{replica=\"{kind}\",reason=\"{reason}\"}} {n}"
            );
        }
    }
}
