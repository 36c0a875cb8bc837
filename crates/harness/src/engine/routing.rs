//! Routing: reading what nodes print into packets, the network's faults on node-to-node
//! messages (loss, duplication, reordering, latency spikes), delivery when a packet's time
//! has come, and the built-in services' replies.

use std::time::Duration;

use rand::RngExt;
use serde_json::{Value, json};

use super::{Command, Engine};
use crate::checker::protocol::NodeProtocol;
use crate::ids::{Endpoint, NetId, NodeIndex, Service, parse_client_id};
use crate::message::{BodyHead, LineError, Packet, format_line, raw_body};
use crate::network::Delivery;
use crate::options::TestOptions;
use crate::schema::Body;

/// A latency spike multiplies the drawn latency by this...
pub const SLOW_FACTOR: u32 = 10;
/// ...and adds this, so that a spike is felt even at `--latency 0`.
pub const SLOW_EXTRA: Duration = Duration::from_millis(100);

/// The network's fault settings for node-to-node messages.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct NetFaults {
    pub(super) p_loss: f64,
    pub(super) p_dup: f64,
    pub(super) reorder_ms: u64,
}

impl NetFaults {
    /// The settings the command line asked for.
    pub(super) fn of(opts: &TestOptions) -> NetFaults {
        NetFaults {
            p_loss: opts.p_loss,
            p_dup: opts.p_dup,
            reorder_ms: opts.reorder_ms,
        }
    }
}

impl Engine {
    pub(super) fn resolve(&self, field: &'static str, s: &str) -> Result<Endpoint, LineError> {
        if let Some(n) = self.lookup.get(s) {
            return Ok(Endpoint::Node(*n));
        }
        if let Some(svc) = Service::parse(s) {
            return Ok(Endpoint::Service(svc));
        }
        if let Some(c) = parse_client_id(s) {
            if self.clients.contains_key(&c) {
                return Ok(Endpoint::Client(c));
            }
            return Err(LineError::UnknownEndpoint {
                field,
                value: s.to_owned(),
                closed_client: c.0 < self.next_client,
            });
        }
        Err(LineError::UnknownEndpoint {
            field,
            value: s.to_owned(),
            closed_client: false,
        })
    }

    pub(super) fn bad_line(&mut self, node: NodeIndex, line: &str, e: &LineError) {
        let name = self.node_name(node);
        let strict = self.opts.strict;
        let Some(p) = self.protocol.get_mut(node.0) else {
            return;
        };
        match e {
            LineError::NotJson(_) => p.not_json += 1,
            LineError::Schema(_) | LineError::Echoed { .. } => p.bad_envelope += 1,
            LineError::UnknownEndpoint {
                closed_client: true,
                ..
            } => p.closed_client += 1,
            LineError::UnknownEndpoint { .. } => p.unknown_endpoint += 1,
        }
        let shown: String = line.chars().take(200).collect();
        if p.examples.len() < NodeProtocol::EXAMPLES {
            p.examples.push(format!("{e}: {shown}"));
        }
        if strict {
            p.stdout_dead = true;
            tracing::error!(
                "Error! Node {name} {e}: {shown}. As Maelstrom would, ignoring everything it prints from now on (--strict)."
            );
        } else {
            // A node that floods its stdout with bad lines must not flood the console too.
            let seen = p.not_json + p.bad_envelope + p.unknown_endpoint + p.closed_client;
            let shown_at_most = NodeProtocol::EXAMPLES as u64;
            if seen <= shown_at_most {
                tracing::warn!("node {name} {e}: {shown} (dropped)");
            }
            if seen == shown_at_most {
                tracing::warn!(
                    "node {name}: its further bad lines are dropped and counted (results.json, protocol), not logged"
                );
            }
        }
    }

    pub(super) fn next_id(&mut self) -> NetId {
        let id = NetId(self.next_net_id);
        self.next_net_id += 1;
        id
    }

    pub(super) fn route(&mut self, p: Packet) {
        self.route_parsed(p, None);
    }

    /// Route `p`; `fields` is its body already parsed, if it was.
    pub(super) fn route_parsed(&mut self, p: Packet, fields: Option<Body>) {
        let now = self.now;
        let names = self.journal.wants_detail(&p).then(|| {
            (
                self.name(p.src).into_owned(),
                self.name(p.dest).into_owned(),
            )
        });
        self.journal.send(now, &p, names);
        if tracing::enabled!(target: "gossip_harness::net", tracing::Level::DEBUG) {
            tracing::debug!(target: "gossip_harness::net", "send {} {} -> {} {}", p.id.0, self.name(p.src), self.name(p.dest), p.body.get());
        }
        if let Endpoint::Client(c) = p.dest {
            self.journal.recv(now, &p);
            self.client_receive(c, &p, fields);
            return;
        }
        let latency = if p.src.is_client() {
            Duration::ZERO
        } else {
            self.latency.draw(&mut self.rng_latency)
        };
        let (Endpoint::Node(src), Endpoint::Node(dest)) = (p.src, p.dest) else {
            self.net.enqueue(now, now + latency, p);
            return;
        };
        // Node-to-node faults: loss, duplication, reordering, latency spikes. Each draw is
        // made only when its fault is on, so a run without faults draws what it always did.
        let f = self.net_faults;
        if f.p_loss > 0.0 && self.rng_net.random_bool(f.p_loss.min(1.0)) {
            // Journaled as sent, never received.
            return;
        }
        let copy = (f.p_dup > 0.0 && self.rng_net.random_bool(f.p_dup.min(1.0))).then(|| {
            let again = self.latency.draw(&mut self.rng_net);
            (again, p.clone())
        });
        let first = self.fault_delay(src, dest, latency);
        self.net.enqueue(now, now + first, p);
        if let Some((again, dup)) = copy {
            let again = self.fault_delay(src, dest, again);
            self.net.enqueue(now, now + again, dup);
        }
    }

    /// A node-to-node latency with the reordering delay and any spike applied.
    pub(super) fn fault_delay(
        &mut self,
        src: NodeIndex,
        dest: NodeIndex,
        latency: Duration,
    ) -> Duration {
        let mut d = latency;
        if self.net_faults.reorder_ms > 0 {
            d += Duration::from_millis(self.rng_net.random_range(0..self.net_faults.reorder_ms));
        }
        if self.slow.get(src.0).copied().unwrap_or(false)
            || self.slow.get(dest.0).copied().unwrap_or(false)
        {
            d = d * SLOW_FACTOR + SLOW_EXTRA;
        }
        d
    }

    pub(super) fn deliver_due(&mut self) -> bool {
        let mut out = std::mem::take(&mut self.scratch);
        self.net.poll(self.now, &mut out);
        let any = !out.is_empty();
        for d in out.drain(..) {
            match d {
                Delivery::Node(n, _) if !self.is_alive(n) => {
                    // A killed node hears nothing: dropped like a partitioned message.
                }
                Delivery::Node(n, p) => {
                    self.journal.recv(self.now, &p);
                    if tracing::enabled!(target: "gossip_harness::net", tracing::Level::DEBUG) {
                        tracing::debug!(target: "gossip_harness::net", "recv {} {} -> {} {}", p.id.0, self.name(p.src), self.name(p.dest), p.body.get());
                    }
                    let line = format_line(p.id, &self.name(p.src), &self.name(p.dest), &p.body);
                    self.outbox.push_back(Command::Deliver(n, line));
                }
                Delivery::Service(svc, p) => {
                    self.journal.recv(self.now, &p);
                    self.service_request(svc, &p);
                }
                Delivery::Dropped => {}
            }
        }
        self.scratch = out;
        any
    }

    pub(super) fn service_request(&mut self, svc: Service, p: &Packet) {
        let caller = self.name(p.src).into_owned();
        let body: Value = serde_json::from_str(p.body.get()).unwrap_or(Value::Null);
        match self.services.handle(svc, &caller, &body) {
            Ok(mut reply) => {
                if let (Some(m), Some(id)) = (reply.as_object_mut(), p.head.msg_id) {
                    m.insert("in_reply_to".into(), json!(id.0));
                }
                let id = self.next_id();
                let body = raw_body(&reply);
                let head = BodyHead::parse(&body);
                self.route(Packet {
                    id,
                    src: Endpoint::Service(svc),
                    dest: p.src,
                    body,
                    head,
                });
            }
            Err(why) => tracing::warn!(
                "service {} got a request it cannot handle from {caller}: {why}",
                svc.as_str()
            ),
        }
    }
}
