//! The network journal: a send event for every message the network accepts and a recv
//! event for every message handed to its recipient.
//!
//! Counts are kept for every event in three groups (all, clients, servers). Full events, with
//! a short label of each message, are kept only for the first [`VIZ_LIMIT`] events other than
//! init/init_ok: that is all `messages.svg` draws, and it bounds memory on long runs.

use std::collections::HashMap;

use serde_json::Value;

use crate::ids::NetId;
use crate::message::Packet;
use crate::time::Time;

/// How many events the Lamport diagram shows.
pub const VIZ_LIMIT: usize = 10_000;

/// Send or receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// Accepted by the network.
    Send,
    /// Handed to the recipient.
    Recv,
}

/// A journaled event kept for the diagram.
#[derive(Debug, Clone, Copy)]
pub struct VizEvent {
    /// Send or receive.
    pub kind: EventKind,
    /// Which message.
    pub id: NetId,
    /// When (engine time).
    pub time: Time,
}

/// What the diagram needs to know about a message.
#[derive(Debug, Clone)]
pub struct VizMessage {
    /// Sender's wire id.
    pub src: String,
    /// Recipient's wire id.
    pub dest: String,
    /// The body's type plus a short rendering of the rest (48 characters at most).
    pub label: String,
    /// The full body, for the hover text.
    pub body: String,
    /// An error body.
    pub is_error: bool,
    /// A client is involved.
    pub client: bool,
}

/// Per-group event counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCounts {
    /// Send events.
    pub send_count: u64,
    /// Recv events.
    pub recv_count: u64,
    /// Distinct messages (every received message was sent, so this equals the sends).
    pub msg_count: u64,
}

/// The network journal.
#[derive(Debug, Default)]
pub struct Journal {
    /// Every event.
    pub all: GroupCounts,
    /// Events of messages with a client at either end.
    pub clients: GroupCounts,
    /// Everything else: node↔node and node↔service.
    pub servers: GroupCounts,
    events: Vec<VizEvent>,
    messages: HashMap<NetId, VizMessage>,
    truncated: bool,
}

fn is_init(p: &Packet) -> bool {
    matches!(p.head.kind.as_deref(), Some("init" | "init_ok"))
}

/// Bodies longer than this are labelled from their text, not parsed (a label shows 48
/// characters; a topology or a big read is tens of kilobytes).
const LABEL_PARSE_LIMIT: usize = 2048;

fn label(p: &Packet) -> String {
    let kind = p.head.kind.clone().unwrap_or_default();
    let raw = p.body.get();
    if raw.len() > LABEL_PARSE_LIMIT {
        let full = format!("{kind} {}", raw.trim_start_matches('{'));
        return full.chars().take(48).collect();
    }
    let rest = match serde_json::from_str::<Value>(raw) {
        Ok(Value::Object(mut m)) => {
            if p.head.is_error() {
                m.get("text")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            } else {
                for k in ["type", "msg_id", "in_reply_to"] {
                    m.remove(k);
                }
                if m.is_empty() {
                    String::new()
                } else {
                    Value::Object(m).to_string()
                }
            }
        }
        Ok(v) => v.to_string(),
        Err(_) => String::new(),
    };
    let full = if rest.is_empty() {
        kind
    } else {
        format!("{kind} {rest}")
    };
    full.chars().take(48).collect()
}

impl Journal {
    /// An empty journal.
    pub fn new() -> Journal {
        Journal::default()
    }

    fn group(&mut self, p: &Packet) -> &mut GroupCounts {
        if p.src.is_client() || p.dest.is_client() {
            &mut self.clients
        } else {
            &mut self.servers
        }
    }

    fn keep(&mut self, p: &Packet) -> bool {
        if is_init(p) {
            return false;
        }
        if self.events.len() >= VIZ_LIMIT {
            self.truncated = true;
            return false;
        }
        true
    }

    /// Whether [`Journal::send`] will keep details of `p` (and so needs the endpoint names).
    pub fn wants_detail(&self, p: &Packet) -> bool {
        !is_init(p) && self.events.len() < VIZ_LIMIT
    }

    /// Record a send. `names` gives the wire ids of src and dest; pass them when
    /// [`Journal::wants_detail`] says so.
    pub fn send(&mut self, now: Time, p: &Packet, names: Option<(String, String)>) {
        self.all.send_count += 1;
        self.all.msg_count += 1;
        let g = self.group(p);
        g.send_count += 1;
        g.msg_count += 1;
        if self.keep(p) {
            let (src, dest) = names.unwrap_or_default();
            self.messages.insert(
                p.id,
                VizMessage {
                    src,
                    dest,
                    label: label(p),
                    body: p.body.get().chars().take(400).collect(),
                    is_error: p.head.is_error(),
                    client: p.src.is_client() || p.dest.is_client(),
                },
            );
            self.events.push(VizEvent {
                kind: EventKind::Send,
                id: p.id,
                time: now,
            });
        }
    }

    /// Record a receive.
    pub fn recv(&mut self, now: Time, p: &Packet) {
        self.all.recv_count += 1;
        self.group(p).recv_count += 1;
        if self.keep(p) {
            self.events.push(VizEvent {
                kind: EventKind::Recv,
                id: p.id,
                time: now,
            });
        }
    }

    /// The kept events, in order.
    pub fn events(&self) -> &[VizEvent] {
        &self.events
    }

    /// The kept message descriptions.
    pub fn message(&self, id: NetId) -> Option<&VizMessage> {
        self.messages.get(&id)
    }

    /// Whether events were left out of the diagram.
    pub fn truncated(&self) -> bool {
        self.truncated
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ClientId, Endpoint, NodeIndex};
    use crate::message::{BodyHead, raw_body};
    use serde_json::json;

    fn packet(id: u64, src: Endpoint, dest: Endpoint, body: Value) -> Packet {
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

    #[test]
    fn groups_and_labels() {
        let mut j = Journal::new();
        let n = |i| Endpoint::Node(NodeIndex(i));
        let c = Endpoint::Client(ClientId(0));
        let init = packet(0, c, n(0), json!({"type":"init","msg_id":1}));
        j.send(Time::ZERO, &init, Some(("c0".into(), "n0".into())));
        j.recv(Time::ZERO, &init);
        let gossip = packet(
            1,
            n(0),
            n(1),
            json!({"type":"gossip","msg_id":3,"values":[1,2]}),
        );
        j.send(Time::ZERO, &gossip, Some(("n0".into(), "n1".into())));
        assert_eq!(
            j.all,
            GroupCounts {
                send_count: 2,
                recv_count: 1,
                msg_count: 2
            }
        );
        assert_eq!(
            j.clients,
            GroupCounts {
                send_count: 1,
                recv_count: 1,
                msg_count: 1
            }
        );
        assert_eq!(
            j.servers,
            GroupCounts {
                send_count: 1,
                recv_count: 0,
                msg_count: 1
            }
        );
        // init is counted but not drawn.
        assert_eq!(j.events().len(), 1);
        assert_eq!(
            j.message(NetId(1)).map(|m| m.label.as_str()),
            Some(r#"gossip {"values":[1,2]}"#)
        );
    }
}
