//! The engine's clients: the setup handshakes (init, then the workload's setup request, also
//! for a node restarted by the nemesis) and the workers' requests, from invocation to the
//! history's completion.

use std::time::Duration;

use serde_json::{Value, json};

use super::Engine;
use crate::client::{Completion, Conn, InFlight, OpSpec, RPC_TIMEOUT};
use crate::history::{Op, OpType, Process};
use crate::ids::{ClientId, Endpoint, MsgId, NodeIndex};
use crate::message::{BodyHead, Packet, raw_body};
use crate::schema::{Body, Reply, ResponseSchema, interpret_body, parse_body};
use crate::time::Time;
use crate::value::OpValue;

/// A pending setup RPC (init or topology) to one node.
#[derive(Debug, Clone)]
pub(super) struct SetupRpc {
    pub(super) conn: Conn,
    pub(super) msg_id: MsgId,
    pub(super) deadline: Time,
    pub(super) done: bool,
}

/// Who owns an open client connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Owner {
    Init(usize),
    Setup(usize),
    Worker(usize),
    /// The init (then setup) of a restarted node.
    Rejoin(usize),
}

/// A restarted node's handshake: init, then the workload's setup request.
#[derive(Debug, Clone)]
pub(super) struct Rejoin {
    pub(super) rpc: SetupRpc,
    pub(super) init_done: bool,
}

impl Engine {
    pub(super) fn open_client(&mut self, owner: Owner) -> Conn {
        let id = ClientId(self.next_client);
        self.next_client += 1;
        self.clients.insert(id, owner);
        Conn::new(id)
    }

    pub(super) fn client_send(&mut self, from: ClientId, node: NodeIndex, body: Value) {
        let id = self.next_id();
        let body = raw_body(&body);
        let head = BodyHead::parse(&body);
        self.route(Packet {
            id,
            src: Endpoint::Client(from),
            dest: Endpoint::Node(node),
            body,
            head,
        });
    }

    pub(super) fn setup_rpc(
        &mut self,
        node: usize,
        owner: Owner,
        mut body: Value,
        timeout: Duration,
    ) {
        let mut conn = self.open_client(owner);
        let msg_id = conn.next_msg_id();
        if let Some(m) = body.as_object_mut() {
            m.insert("msg_id".into(), json!(msg_id.0));
        }
        let from = conn.id;
        self.setup[node] = Some(SetupRpc {
            conn,
            msg_id,
            deadline: self.now + timeout,
            done: false,
        });
        self.client_send(from, NodeIndex(node), body);
    }

    pub(super) fn client_receive(&mut self, c: ClientId, p: &Packet, fields: Option<Body>) {
        let Some(owner) = self.clients.get(&c).copied() else {
            return;
        };
        let Some(reply_to) = p.head.in_reply_to else {
            return;
        };
        match owner {
            Owner::Init(i) | Owner::Setup(i) => {
                let matches = self.setup[i]
                    .as_ref()
                    .is_some_and(|r| !r.done && r.conn.id == c && r.msg_id == reply_to);
                if matches {
                    let body = fields.or_else(|| parse_body(p.body.get()));
                    self.setup_reply(i, owner, &body.unwrap_or_default());
                }
            }
            Owner::Rejoin(i) => {
                let matches = self.rejoin[i]
                    .as_ref()
                    .is_some_and(|r| r.rpc.conn.id == c && r.rpc.msg_id == reply_to);
                if matches {
                    let body = fields.or_else(|| parse_body(p.body.get()));
                    self.rejoin_reply(i, body.unwrap_or_default());
                }
            }
            Owner::Worker(t) => {
                let Some(w) = self.workers.get(t) else { return };
                let current = w.conn.as_ref().is_some_and(|k| k.id == c);
                let Some(f) = w
                    .in_flight
                    .as_ref()
                    .filter(|f| current && f.msg_id == reply_to)
                else {
                    // A stale reply: discarded (its receive is already journaled).
                    return;
                };
                let completion = match fields {
                    Some(fields) => self.workload.complete_fields(&f.op, fields, p.body.get()),
                    None => self.workload.complete_reply(&f.op, p.body.get()),
                };
                self.complete(t, completion);
            }
        }
    }

    pub(super) fn setup_reply(&mut self, i: usize, owner: Owner, body: &Body) {
        let name = self.node_name(NodeIndex(i));
        let field = |k: &str| body.get(k).and_then(OpValue::as_json);
        let kind = field("type").and_then(Value::as_str).unwrap_or("");
        match owner {
            Owner::Init(_) => {
                if kind == "error" {
                    let code = field("code").cloned().unwrap_or(Value::Null);
                    let text = field("text").and_then(Value::as_str).unwrap_or("");
                    return self.fail(
                        Some(NodeIndex(i)),
                        format!("Node {name} answered init with error {code}: {text}"),
                    );
                }
                if kind != "init_ok" {
                    return self.fail(
                        Some(NodeIndex(i)),
                        format!("Node {name} answered init with type {kind:?}; expected \"init_ok\" (init-failed)"),
                    );
                }
            }
            Owner::Setup(_) => {
                let schema = ResponseSchema {
                    kind: "topology_ok",
                    fields: &[],
                };
                match interpret_body(&schema, body.clone()) {
                    Reply::Ok(_) => {}
                    Reply::Error(e) => {
                        return self.fail(
                            Some(NodeIndex(i)),
                            format!(
                                "Node {name} answered topology with error {} ({})",
                                e.code.code, e.code.name
                            ),
                        );
                    }
                    Reply::Malformed(why) => {
                        return self.fail(Some(NodeIndex(i)), format!("Node {name}: {why}"));
                    }
                }
            }
            Owner::Worker(_) | Owner::Rejoin(_) => {}
        }
        if let Some(r) = self.setup[i].as_mut() {
            r.done = true;
        }
    }

    /// A restarted node answered its init (or its setup request). Anything but success
    /// crashes the run, as a failed init does at the start.
    pub(super) fn rejoin_reply(&mut self, i: usize, body: Body) {
        let name = self.node_name(NodeIndex(i));
        let Some(r) = self.rejoin[i].take() else {
            return;
        };
        self.clients.remove(&r.rpc.conn.id);
        let kind = body
            .get("type")
            .and_then(OpValue::as_json)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let expected = if r.init_done {
            "topology_ok"
        } else {
            "init_ok"
        };
        if kind != expected {
            let what = if r.init_done { "topology" } else { "init" };
            return self.fail(
                Some(NodeIndex(i)),
                format!("Node {name} answered {what} after its restart with {kind:?}; expected {expected:?}"),
            );
        }
        if r.init_done {
            return;
        }
        tracing::info!("nemesis: {name} restarted and initialised");
        if let Some(body) = self.workload.setup_request(&self.names[i]) {
            self.rejoin_rpc(i, body, true, RPC_TIMEOUT);
        }
    }

    pub(super) fn rejoin_rpc(
        &mut self,
        node: usize,
        mut body: Value,
        init_done: bool,
        timeout: Duration,
    ) {
        let mut conn = self.open_client(Owner::Rejoin(node));
        let msg_id = conn.next_msg_id();
        if let Some(m) = body.as_object_mut() {
            m.insert("msg_id".into(), json!(msg_id.0));
        }
        let from = conn.id;
        self.rejoin[node] = Some(Rejoin {
            rpc: SetupRpc {
                conn,
                msg_id,
                deadline: self.now + timeout,
                done: false,
            },
            init_done,
        });
        self.client_send(from, NodeIndex(node), body);
    }

    pub(super) fn invoke(&mut self, t: usize, op: OpSpec) {
        let now = self.now;
        let time = self.rel();
        let Some(w) = self.workers.get(t) else { return };
        let node = w.node;
        let process = w.process;
        if w.conn.is_none() {
            let conn = self.open_client(Owner::Worker(t));
            if let Some(w) = self.workers.get_mut(t) {
                w.conn = Some(conn);
            }
        }
        let Some(w) = self.workers.get_mut(t) else {
            return;
        };
        let Some(conn) = w.conn.as_mut() else { return };
        let msg_id = conn.next_msg_id();
        let from = conn.id;
        let mut body = self.workload.request(&op);
        if let Some(m) = body.as_object_mut() {
            m.insert("msg_id".into(), json!(msg_id.0));
        }
        self.history.push(Op {
            index: 0,
            kind: OpType::Invoke,
            f: op.f.to_owned(),
            value: op.value.clone().into(),
            process: Process::Worker(process),
            time,
            is_final: op.is_final,
            error: None,
            exception: None,
        });
        tracing::debug!("{process}\t:invoke\t:{}\t{}", op.f, op.value);
        w.in_flight = Some(InFlight {
            op,
            msg_id,
            deadline: now + RPC_TIMEOUT,
        });
        self.deadlines.insert((now + RPC_TIMEOUT, t));
        self.client_send(from, node, body);
    }

    pub(super) fn complete(&mut self, t: usize, c: Completion) {
        let time = self.rel();
        let concurrency = self.workers.len() as u64;
        let Some(w) = self.workers.get_mut(t) else {
            return;
        };
        let Some(f) = w.in_flight.take() else { return };
        self.deadlines.remove(&(f.deadline, t));
        let process = w.process;
        tracing::debug!("{process}\t{}\t:{}\t{}", c.kind.keyword(), f.op.f, c.value);
        self.history.push(Op {
            index: 0,
            kind: c.kind,
            f: f.op.f.to_owned(),
            value: c.value,
            process: Process::Worker(process),
            time,
            is_final: f.op.is_final,
            error: c.error,
            exception: c.exception,
        });
        self.ops_done += 1;
        if let Some(slot) = self
            .script
            .as_mut()
            .and_then(|r| r.probe.as_mut())
            .and_then(|p| p.round.iter_mut().find(|(w, r)| *w == t && r.is_none()))
        {
            slot.1 = Some(match (&self.history.ops().last(), c.kind) {
                (Some(op), OpType::Ok) => Ok(op.value.clone()),
                (Some(op), _) => Err(op
                    .error
                    .as_ref()
                    .map_or_else(|| "failed".to_owned(), Value::to_string)),
                (None, _) => Err("failed".to_owned()),
            });
        }
        let Some(w) = self.workers.get_mut(t) else {
            return;
        };
        if c.kind == OpType::Info {
            // The worker's process "crashed": a new process id, and a new connection next time.
            w.process += concurrency;
            if let Some(conn) = w.conn.take() {
                self.clients.remove(&conn.id);
            }
        }
    }
}
