//! The node core: a sans-IO state machine that turns stdin lines and time into stdout lines.

use std::collections::{BTreeMap, VecDeque};

use gossip_store::{Batch, Lease, Store, StoreError};
use gossip_transport::Time;
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
/// | inputs | [`handle_line`](Self::handle_line) (one stdin line), [`handle_timeout`](Self::handle_timeout), [`handle_committed`](Self::handle_committed) (with a store) |
/// | outputs | [`poll_output`](Self::poll_output) (one stdout line), [`poll_timeout`](Self::poll_timeout), [`poll_commit`](Self::poll_commit) (with a store) |
/// | mutators | [`close`](Self::close) (a clean shutdown, with a store) |
/// | getters | [`id`](Self::id), [`workload`](Self::workload), [`stats`](Self::stats), [`refusals`](Self::refusals) |
///
/// After every input, drain [`poll_output`](Self::poll_output) to stdout (each line followed
/// by `\n`), then ask [`poll_timeout`](Self::poll_timeout) when to call
/// [`handle_timeout`](Self::handle_timeout) next. A node made
/// [`with_store`](Self::with_store) also hands out commits: after every input, take
/// [`poll_commit`](Self::poll_commit) if no commit is in flight, commit it, and report it with
/// [`handle_committed`](Self::handle_committed) (an input like the others). `now` is any monotonic clock (real or
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
    /// The node's disk, if it has one.
    disk: Option<Disk>,
}

/// A batch the node asks its shell to commit, durably (`Durability::Immediate`), and to report
/// with [`Node::handle_committed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// Its number, to report it by.
    pub number: u64,
    /// What to commit.
    pub batch: Batch,
}

/// The commit handed to the shell and not yet reported.
#[derive(Debug)]
struct InFlight {
    number: u64,
    /// A copy, to commit again if it fails.
    batch: Batch,
    lease: Option<Lease>,
}

/// What the node keeps on its disk, and the replies waiting for a commit.
struct Disk {
    /// Read once, when the workload starts; every write goes through [`Commit`]s.
    store: Box<dyn Store>,
    /// Ops for the next commit.
    pending: Batch,
    /// The lease among them, if one.
    pending_lease: Option<Lease>,
    in_flight: Option<InFlight>,
    /// The number of the next commit.
    next: u64,
    /// Replies held until a commit is durable: its number, and the line.
    waiting: VecDeque<(u64, String)>,
    /// A commit failed: the next is tried after the next input, not at once.
    stalled: bool,
    /// Why the replica could not be read from the disk, if it could not.
    broken: Option<String>,
}

impl Disk {
    /// The commit a reply made now must wait for: the one that will hold the pending ops, or
    /// the one in flight; `None` if everything applied is durable.
    fn barrier(&self) -> Option<u64> {
        if !self.pending.is_empty() {
            Some(self.next)
        } else {
            self.in_flight.as_ref().map(|f| f.number)
        }
    }

    /// Takes the replica's new ops, and the lease it needs if none is on its way.
    fn collect(&mut self, replication: &mut dyn Replication) {
        replication.take_ops(&mut self.pending);
        let lease_on_its_way = self.pending_lease.is_some()
            || self.in_flight.as_ref().is_some_and(|f| f.lease.is_some());
        if !lease_on_its_way && let Some(lease) = replication.lease() {
            self.pending.push(lease.op());
            self.pending_lease = Some(lease);
        }
    }
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
            disk: None,
        }
    }

    /// A node that keeps its replica on `store`: it resumes from what the store holds when
    /// its workload starts, answers a write (and any reply after it) only once a commit
    /// holding the write is durable, and commits a lease before sending a delta id the
    /// store's lease does not cover (see `docs/durability.md`). The shell commits what
    /// [`poll_commit`](Self::poll_commit) hands out.
    pub fn with_store(options: Options, birth: Birth, store: Box<dyn Store>) -> Node {
        let mut node = Node::new(options, birth);
        node.disk = Some(Disk {
            store,
            pending: Batch::new(),
            pending_lease: None,
            in_flight: None,
            next: 1,
            waiting: VecDeque::new(),
            stalled: false,
            broken: None,
        });
        node
    }

    /// The next batch to commit, if one is due and none is in flight. Commit it durably
    /// (`Immediate`), then report it with [`handle_committed`](Self::handle_committed); what
    /// the node holds back until then (replies, packets under a new lease) leaves after that.
    /// Always `None` without a store.
    pub fn poll_commit(&mut self) -> Option<Commit> {
        let disk = self.disk.as_mut()?;
        if disk.in_flight.is_some() || disk.pending.is_empty() || disk.stalled {
            return None;
        }
        let batch = std::mem::take(&mut disk.pending);
        let number = disk.next;
        disk.next += 1;
        disk.in_flight = Some(InFlight {
            number,
            batch: batch.clone(),
            lease: disk.pending_lease.take(),
        });
        Some(Commit { number, batch })
    }

    /// Reports how the commit `number` went. On success, the replies and packets waiting for
    /// it are released; on failure they wait, and the commit is tried again (with whatever
    /// came since) after the next input.
    pub fn handle_committed(&mut self, now: Time, number: u64, result: Result<(), StoreError>) {
        self.now = self.now.max(now);
        let Some(disk) = self.disk.as_mut() else {
            return;
        };
        let Some(flight) = disk.in_flight.take_if(|f| f.number == number) else {
            tracing::warn!(number, "a commit reported that is not in flight: ignored");
            return;
        };
        match result {
            Ok(()) => {
                if let (Some(lease), Some(replication)) = (
                    &flight.lease,
                    self.app.as_mut().and_then(|a| a.replication_mut()),
                ) {
                    replication.confirm(lease);
                }
                while disk.waiting.front().is_some_and(|(n, _)| *n <= number) {
                    if let Some((_, line)) = disk.waiting.pop_front() {
                        self.out.push_back(line);
                    }
                }
            }
            Err(e) => {
                tracing::error!("commit failed, held replies and packets wait: {e}");
                let mut batch = flight.batch;
                batch.extend(std::mem::take(&mut disk.pending).ops);
                disk.pending = batch;
                if flight.lease.is_some() {
                    disk.pending_lease = flight.lease;
                }
                // What waited for this commit now waits for the retry, which takes its number.
                disk.next = number;
                disk.stalled = true;
            }
        }
        self.drain();
    }

    /// The last commit, for a clean shutdown: everything pending, a checkpoint, and the lease
    /// trimmed to the last delta id given out, so the next life keeps the replica id and
    /// numbers on without a gap. Commit it and report it like any other (the replies waiting
    /// for it leave then). `Ok(None)` without a store or a replicated workload, or while a
    /// commit is in flight: report that one first.
    pub fn close(&mut self) -> Result<Option<Commit>, StoreError> {
        let (Some(disk), Some(replication)) = (
            self.disk.as_mut(),
            self.app.as_mut().and_then(|a| a.replication_mut()),
        ) else {
            return Ok(None);
        };
        if disk.in_flight.is_some() {
            tracing::warn!("not closing the replica while a commit is in flight");
            return Ok(None);
        }
        let Some(close) = replication.close() else {
            return Ok(None);
        };
        let close = close?;
        disk.collect(replication);
        let mut batch = std::mem::take(&mut disk.pending);
        batch.extend(close.ops);
        let number = disk.next;
        disk.next += 1;
        disk.in_flight = Some(InFlight {
            number,
            batch: batch.clone(),
            lease: None,
        });
        disk.pending_lease = None;
        Ok(Some(Commit { number, batch }))
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
        self.unstall();
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
        self.unstall();
        if let Some(replication) = self.app.as_mut().and_then(|a| a.replication_mut()) {
            replication.handle_timeout(self.now);
        }
        self.drain();
    }

    fn unstall(&mut self) {
        if let Some(disk) = self.disk.as_mut() {
            disk.stalled = false;
        }
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
            now,
            seed: self.birth.seed,
            life: self.birth.life,
            tag,
            disk: self.disk.as_ref().map(|d| (&*d.store, kind.name())),
        };
        let built = workload::build(kind, setup);
        self.kind = Some(kind);
        match built {
            Ok(app) => self.app = Some(app),
            Err(e) => {
                let why = format!(
                    "the {} replica cannot be read from the disk: {e}",
                    kind.name()
                );
                tracing::error!("{why}");
                if let Some(disk) = self.disk.as_mut() {
                    disk.broken = Some(why);
                }
            }
        }
    }

    /// Starts the workload from `msg` if none was named and `msg` tells which it is.
    fn ensure_started(&mut self, now: Time, msg: &Inbound) {
        if self.app.is_some() || self.me.is_none() || self.broken().is_some() {
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
        let broken = self.broken().map(str::to_owned);
        let result = match (&mut self.app, broken) {
            (Some(app), _) => app.request(now, msg),
            (None, Some(why)) => Err(Rejection::new(ErrorCode::Crash, why)),
            (None, None) => Err(Rejection::new(
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

    /// Why the workload could not start from the disk, if it could not.
    fn broken(&self) -> Option<&str> {
        self.disk.as_ref().and_then(|d| d.broken.as_deref())
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
        if let Some(disk) = self.disk.as_mut() {
            // A reply never shows a write (its own or an earlier one) before it is durable.
            if let Some(replication) = self.app.as_mut().and_then(|a| a.replication_mut()) {
                disk.collect(replication);
            }
            if let Some(number) = disk.barrier() {
                disk.waiting.push_back((number, line));
                return;
            }
        }
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
        if let Some(disk) = self.disk.as_mut() {
            disk.collect(replication);
            // The lease rule: no delta id leaves before a durable lease covers it.
            if replication.lease().is_some() {
                return;
            }
        }
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
