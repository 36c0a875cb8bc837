//! The node core: a sans-IO state machine that turns stdin lines and time into stdout lines.

use std::collections::{BTreeMap, VecDeque};

use gossip_transport::{Start, Time};
use serde_json::Value;

use crate::ack::HeldReplies;
use crate::options::Options;
use crate::protocol::{ErrorCode, GOSSIP, Inbound, NodeId, line_head, line_with_body, parse_line};
use crate::refusals::Throttle;
use crate::replicated::Replication;
use crate::workload::{self, Field, Reply, Setup, Workload};
use crate::workload_kind::WorkloadKind;
use crate::{NodeStats, Refusals, Rejection};

/// How a node comes to life: the randomness that steers its choices, and what makes this
/// life unique.
///
/// `seed` may be the same for every node (Maelstrom passes one command line to all of them):
/// it only steers choices. `life` must differ for every node and every restart (the shell
/// draws it from the operating system's randomness; the simulator mixes the node's index and
/// restart count): the replica id that names the node's deltas and the incarnation its peers
/// know it by are derived from it, so two nodes, or two lives of one node, never hand out the
/// same delta id. See [`Start`](gossip_transport::Start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Birth {
    /// Seeds every random choice.
    pub seed: u64,
    /// Unique per node and per life.
    pub life: u64,
}

/// One Maelstrom node, without IO.
///
/// # Driving contract
///
/// | family | methods |
/// |---|---|
/// | inputs | [`handle_line`](Self::handle_line) (one stdin line), [`handle_timeout`](Self::handle_timeout) |
/// | outputs | [`poll_output`](Self::poll_output) (one stdout line), [`poll_timeout`](Self::poll_timeout) |
/// | getters | [`id`](Self::id), [`workload`](Self::workload), [`stats`](Self::stats), [`refusals`](Self::refusals) |
///
/// After every input, drain [`poll_output`](Self::poll_output) to stdout (each line followed
/// by `\n`), then ask [`poll_timeout`](Self::poll_timeout) when to call
/// [`handle_timeout`](Self::handle_timeout) next. `now` is any monotonic clock (real or
/// simulated) and must not go backwards. The node never reads a clock, never blocks and never
/// panics on input: bad lines are logged (through `tracing`) and, where the sender can be
/// answered, get a Maelstrom error reply. Replication input it must not trust is refused
/// without a reply and counted (see [`Refusals`]).
///
/// ```
/// use gossip_node::{Birth, Node, Options};
/// use gossip_transport::Time;
///
/// let mut node = Node::new(Options::default(), Birth { seed: 1, life: 1 });
/// node.handle_line(Time::ZERO, r#"{"src":"c0","dest":"n0","body":{"type":"init","node_id":"n0","node_ids":["n0"],"msg_id":1}}"#);
/// assert_eq!(
///     node.poll_output().as_deref(),
///     Some(r#"{"src":"n0","dest":"c0","body":{"in_reply_to":1,"msg_id":1,"type":"init_ok"}}"#)
/// );
/// node.handle_line(Time::ZERO, r#"{"src":"c1","dest":"n0","body":{"type":"echo","echo":"hi","msg_id":1}}"#);
/// assert_eq!(
///     node.poll_output().as_deref(),
///     Some(r#"{"src":"n0","dest":"c1","body":{"echo":"hi","in_reply_to":1,"msg_id":2,"type":"echo_ok"}}"#)
/// );
/// ```
pub struct Node {
    options: Options,
    birth: Birth,
    me: Option<NodeId>,
    members: Vec<NodeId>,
    /// The members, sorted and without repeats: the only senders whose gossip is read.
    peers: Vec<NodeId>,
    /// Gossip from non-members dropped (the workload counts its own refusals).
    refused: Refusals,
    non_member_log: Throttle,
    kind: Option<WorkloadKind>,
    app: Option<Box<dyn Workload>>,
    next_msg_id: u64,
    out: VecDeque<String>,
    now: Time,
    /// Write acknowledgements waiting until another node holds the write (`ack=replicated`).
    held: HeldReplies,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("me", &self.me)
            .field("workload", &self.kind)
            .field("members", &self.members.len())
            .finish_non_exhaustive()
    }
}

impl Node {
    /// A node waiting for `init`.
    pub fn new(options: Options, birth: Birth) -> Node {
        Node {
            kind: options.workload,
            options,
            birth,
            me: None,
            members: Vec::new(),
            peers: Vec::new(),
            refused: Refusals::default(),
            non_member_log: Throttle::default(),
            app: None,
            next_msg_id: 1,
            out: VecDeque::new(),
            now: Time::ZERO,
            held: HeldReplies::default(),
        }
    }

    /// Our node id, once initialised.
    pub fn id(&self) -> Option<&NodeId> {
        self.me.as_ref()
    }

    /// The workload, once named or inferred.
    pub fn workload(&self) -> Option<WorkloadKind> {
        self.kind
    }

    /// The replication engine's counters (for replicated workloads once running) and what
    /// the node refused; `None` while there is neither.
    pub fn stats(&self) -> Option<NodeStats<'_>> {
        let replication = self.replication().map(Replication::stats);
        let refused = self.refusals();
        (replication.is_some() || !refused.is_empty()).then_some(NodeStats {
            replication,
            refused,
        })
    }

    /// What the node refused at its door so far.
    pub fn refusals(&self) -> Refusals {
        let mut refused = self.refused;
        if let Some(replication) = self.replication() {
            refused.add(replication.refusals());
        }
        refused
    }

    /// The workload's replication, once running, if it replicates.
    fn replication(&self) -> Option<&dyn Replication> {
        self.app.as_ref().and_then(|a| a.replication())
    }

    /// Handles one line from stdin (without its newline).
    pub fn handle_line(&mut self, now: Time, line: &str) {
        self.now = self.now.max(now);
        let now = self.now;
        if line.trim().is_empty() {
            return;
        }
        let msg = match parse_line(line) {
            Ok(msg) => msg,
            Err(e) => {
                tracing::warn!(
                    "ignoring a line that is not a Maelstrom message ({e}): {}",
                    clip(line)
                );
                return;
            }
        };
        if msg.is_reply() {
            // We send no requests that expect replies; never answer a reply (no loops).
            tracing::debug!(src = %msg.src, kind = %msg.kind, "ignoring an unexpected reply");
            return;
        }
        match msg.kind.as_str() {
            "init" => self.init(now, &msg),
            GOSSIP => self.gossip(now, &msg),
            _ => self.request(now, &msg),
        }
        self.drain();
    }

    /// Does whatever replication has due at `now`.
    pub fn handle_timeout(&mut self, now: Time) {
        self.now = self.now.max(now);
        if let Some(replication) = self.app.as_mut().and_then(|a| a.replication_mut()) {
            replication.handle_timeout(self.now);
        }
        self.drain();
    }

    /// The next line to print on stdout (without its newline).
    pub fn poll_output(&mut self) -> Option<String> {
        self.out.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) is due next, if ever.
    pub fn poll_timeout(&self) -> Option<Time> {
        self.replication().and_then(|r| r.poll_timeout())
    }

    fn init(&mut self, now: Time, msg: &Inbound) {
        let parsed = (|| {
            let me = msg
                .body
                .get("node_id")
                .and_then(Value::as_str)
                .ok_or_else(|| Rejection::malformed("`init` needs a string `node_id`"))?;
            let ids = msg
                .body
                .get("node_ids")
                .and_then(Value::as_array)
                .ok_or_else(|| Rejection::malformed("`init` needs an array `node_ids`"))?;
            let members = ids
                .iter()
                .map(|v| v.as_str().map(NodeId::from))
                .collect::<Option<Vec<NodeId>>>()
                .ok_or_else(|| Rejection::malformed("`node_ids` must hold strings"))?;
            Ok((NodeId::from(me), members))
        })();
        match parsed {
            Err(rejection) => self.reply_error(msg, rejection),
            Ok((me, members)) => {
                let mut peers = members.clone();
                peers.sort_unstable();
                peers.dedup();
                if let Some(current) = &self.me
                    && (*current != me || peers != self.peers)
                {
                    // The replication engine and its overlay were set up for the first
                    // membership.
                    let text = format!(
                        "already initialised as {current} in a cluster of {}: a node's id and membership cannot change",
                        self.peers.len()
                    );
                    self.reply_error(msg, Rejection::new(ErrorCode::NotSupported, text));
                    return;
                }
                if self.me.is_none() {
                    tracing::info!(
                        node = %me,
                        members = members.len(),
                        workload = %self.kind.map_or("unnamed", WorkloadKind::name),
                        "initialised"
                    );
                    self.me = Some(me);
                    self.members = members;
                    self.peers = peers;
                    if let Some(kind) = self.kind {
                        self.start(kind, now, None);
                    }
                }
                self.reply(msg, Reply::ok("init_ok"));
            }
        }
    }

    /// Starts the workload `kind`; `tag` is set when it was inferred.
    fn start(&mut self, kind: WorkloadKind, now: Time, tag: Option<&'static str>) {
        let Some(me) = self.me.clone() else { return };
        let setup = Setup {
            me,
            members: self.members.clone(),
            options: &self.options,
            start: Start::new(now, self.birth.seed, self.birth.life),
            tag,
        };
        self.kind = Some(kind);
        self.app = Some(workload::build(kind, setup));
    }

    /// Starts the workload from `msg` if none was named and `msg` tells which it is.
    fn ensure_started(&mut self, now: Time, msg: &Inbound) {
        if self.app.is_some() || self.me.is_none() {
            return;
        }
        if let Some(kind) = workload::infer(msg) {
            tracing::info!(workload = %kind.name(), from = %msg.kind, "workload inferred");
            self.start(kind, now, Some(kind.name()));
        }
    }

    fn gossip(&mut self, now: Time, msg: &Inbound) {
        if self.peers.binary_search(&msg.src).is_err() {
            // Anyone can write a `src`: keeping state for it (or answering it) would let
            // invented senders cost memory and traffic without bound.
            self.refused.non_member += 1;
            if let Some(held) = self.non_member_log.allow(now) {
                tracing::warn!(
                    from = %msg.src,
                    "dropping gossip from a sender that is not a member ({} dropped so far, {held} unlogged since the last such line)",
                    self.refused.non_member
                );
            }
            return;
        }
        self.ensure_started(now, msg);
        let result = match (&mut self.app, self.kind) {
            (Some(app), Some(kind)) => match app.replication_mut() {
                Some(replication) => replication.gossip(now, &msg.src, &msg.body_text),
                None => Err(Rejection::new(
                    ErrorCode::NotSupported,
                    format!("the {} workload does not replicate", kind.name()),
                )),
            },
            _ => Err(Rejection::new(
                ErrorCode::TemporarilyUnavailable,
                "gossip before the workload is known",
            )),
        };
        if let Err(e) = result {
            tracing::warn!(from = %msg.src, "dropping gossip: {e}");
        }
    }

    fn request(&mut self, now: Time, msg: &Inbound) {
        if self.me.is_none() {
            let rejection = Rejection::new(
                ErrorCode::TemporarilyUnavailable,
                "not initialised yet: send init first",
            );
            self.reply_error(msg, rejection);
            return;
        }
        self.ensure_started(now, msg);
        let result = match &mut self.app {
            Some(app) => app.request(now, msg),
            None => Err(Rejection::new(
                ErrorCode::TemporarilyUnavailable,
                format!(
                    "cannot answer `{}` before the workload is known: start the node with the workload's name (e.g. `gossip-node g-set`)",
                    msg.kind
                ),
            )),
        };
        match result {
            Ok(reply) => self.reply(msg, reply),
            Err(rejection) => self.reply_error(msg, rejection),
        }
    }

    fn take_msg_id(&mut self) -> u64 {
        let id = self.next_msg_id;
        self.next_msg_id += 1;
        id
    }

    /// Our id as a sender: known after init; before it, whatever the sender addressed.
    fn src_for(&self, msg: &Inbound) -> NodeId {
        self.me.clone().unwrap_or_else(|| msg.dest.clone())
    }

    fn reply(&mut self, msg: &Inbound, mut reply: Reply) {
        if let Some(dot) = reply.after.take() {
            self.held.hold(self.now, msg, dot, reply);
            return;
        }
        if msg.msg_id.is_none() {
            // Maelstrom's requests all carry msg_id; without one there is nothing to answer.
            tracing::debug!(src = %msg.src, kind = %msg.kind, "request without msg_id: no reply");
        }
        self.answer(msg, reply.kind, reply.fields);
    }

    fn reply_error(&mut self, msg: &Inbound, rejection: Rejection) {
        tracing::warn!(src = %msg.src, kind = %msg.kind, "{rejection}");
        let fields = vec![
            ("code", Field::Json(Value::from(u32::from(rejection.code)))),
            ("text", Field::Json(Value::String(rejection.text))),
        ];
        self.answer(msg, "error", fields);
    }

    /// Sends a body of type `kind` with `fields` back to `msg`'s sender, addressed as a reply
    /// (with our next `msg_id`); a request without a `msg_id` cannot be answered and gets
    /// nothing.
    fn answer(&mut self, msg: &Inbound, kind: &str, fields: Vec<(&'static str, Field)>) {
        let Some(in_reply_to) = msg.msg_id else {
            return;
        };
        let msg_id = self.take_msg_id();
        // Keys in order, as in every body printed (`serde_json`'s maps are sorted too).
        let mut body: BTreeMap<&str, Field> = BTreeMap::new();
        body.insert("type", Field::Json(Value::from(kind)));
        body.extend(fields);
        body.insert("in_reply_to", Field::Json(Value::from(in_reply_to.0)));
        body.insert("msg_id", Field::Json(Value::from(msg_id)));
        // Written as `serde_json` writes a map, with encoded fields copied in as they are,
        // straight into the line (a read's field can be hundreds of kilobytes).
        let encoded: usize = body
            .values()
            .map(|f| match f {
                Field::Encoded(json) => json.len(),
                Field::Json(_) => 0,
            })
            .sum();
        let mut line = line_head(&self.src_for(msg), &msg.src, encoded + 96);
        for (i, (key, field)) in body.iter().enumerate() {
            line.push(if i == 0 { '{' } else { ',' });
            // Strings and JSON values always serialise.
            line.push_str(&serde_json::to_string(key).unwrap_or_default());
            line.push(':');
            match field {
                Field::Json(value) => line.push_str(&value.to_string()),
                Field::Encoded(json) => line.push_str(json),
            }
        }
        line.push_str("}}");
        self.out.push_back(line);
    }

    /// Answers the held writes another node now holds, then moves the workload's gossip
    /// into the output queue.
    fn drain(&mut self) {
        let replication = self.app.as_ref().and_then(|a| a.replication());
        let released = self.held.release(self.now, |dot| {
            replication.is_none_or(|r| r.is_held_elsewhere(dot))
        });
        for (msg, reply) in released {
            self.reply(&msg, reply);
        }
        let (Some(replication), Some(me)) = (
            self.app.as_mut().and_then(|a| a.replication_mut()),
            &self.me,
        ) else {
            return;
        };
        while let Some((to, body)) = replication.poll_transmit() {
            self.out.push_back(line_with_body(me, &to, &body));
        }
    }
}

/// A line cut short for logs.
fn clip(line: &str) -> String {
    const MAX: usize = 200;
    if line.len() <= MAX {
        return line.to_string();
    }
    let mut end = MAX;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &line[..end], line.len())
}
