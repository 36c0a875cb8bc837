//! Faults: the nemesis's actions applied to the run (partitions, kills and restarts, pauses,
//! latency spikes), recorded as nemesis ops in the history and as spans for the plots, and
//! the final heal.

use serde_json::{Map, Value, json};

use super::record::FaultSpan;
use super::routing::NetFaults;
use super::{Command, Engine};
use crate::client::INIT_TIMEOUT;
use crate::history::{Op, OpType, Process};
use crate::host::Control;
use crate::ids::NodeIndex;
use crate::nemesis::{FaultKind, NemesisAction, Target};
use crate::partition::{self, Grudge};

fn show_nodes(names: &[String]) -> String {
    if names.is_empty() {
        "no node".to_owned()
    } else {
        names.join(" ")
    }
}

impl Engine {
    pub(super) fn nemesis_op(&mut self, action: NemesisAction) {
        let time = self.rel();
        let op = |f: &str, value: Value| Op {
            index: 0,
            kind: OpType::Info,
            f: f.to_owned(),
            value: value.into(),
            process: Process::NEMESIS,
            time,
            is_final: false,
            error: None,
            exception: None,
        };
        match action {
            NemesisAction::Start(spec) => {
                self.history.push(op("start-partition", json!(spec.name())));
                let grudge = partition::grudge(spec, self.names.len(), &mut self.rng_nemesis);
                self.partition(&grudge, spec.name().to_owned(), time, &op);
            }
            NemesisAction::Cut(groups) => {
                let label = groups
                    .iter()
                    .map(|g| self.names_of(g).join(" "))
                    .collect::<Vec<_>>()
                    .join(" | ");
                self.history.push(op("start-partition", json!(label)));
                let grudge = partition::grudge_of_groups(&groups, self.names.len());
                self.partition(&grudge, label, time, &op);
            }
            NemesisAction::Stop => {
                self.history.push(op("stop-partition", Value::Null));
                self.net.partitions.heal();
                tracing::info!("nemesis: network healed");
                self.history
                    .push(op("stop-partition", json!("network-healed")));
                self.close_spans(FaultKind::Partition, None, time);
            }
            NemesisAction::Kill(ref target) | NemesisAction::Crash(ref target) => {
                let (f, verb, control, kind) = match &action {
                    NemesisAction::Crash(_) => {
                        ("crash", "crashed", Control::Crash, FaultKind::Crash)
                    }
                    _ => ("kill", "killed", Control::Kill, FaultKind::Kill),
                };
                let hit = self.pick_nodes(f, target, |e, i| e.alive[i], &op);
                for &n in &hit {
                    self.alive[n.0] = false;
                    self.paused[n.0] = false;
                    if let Some(r) = self.rejoin[n.0].take() {
                        self.clients.remove(&r.rpc.conn.id);
                    }
                    self.outbox.push_back(Command::Control(n, control));
                    self.open_span(kind, format!("{f} {}", self.node_name(n)), time);
                }
                self.record_hit(f, verb, &hit, &op);
            }
            NemesisAction::Restart(target) => {
                let hit = self.pick_nodes("start", &target, |e, i| !e.alive[i], &op);
                for &n in &hit {
                    self.alive[n.0] = true;
                    self.outbox.push_back(Command::Control(n, Control::Restart));
                    let node_ids: Vec<Value> = self.names.iter().map(|n| json!(n.0)).collect();
                    let body =
                        json!({"type": "init", "node_id": self.names[n.0].0, "node_ids": node_ids});
                    self.rejoin_rpc(n.0, body, false, INIT_TIMEOUT);
                    self.close_spans(FaultKind::Kill, Some(n), time);
                    self.close_spans(FaultKind::Crash, Some(n), time);
                }
                self.record_hit("start", "restarted", &hit, &op);
            }
            NemesisAction::Pause(target) => {
                let eligible = |e: &Engine, i: usize| e.alive[i] && !e.paused[i];
                let hit = self.pick_nodes("pause", &target, eligible, &op);
                for &n in &hit {
                    self.paused[n.0] = true;
                    self.outbox.push_back(Command::Control(n, Control::Pause));
                    self.open_span(
                        FaultKind::Pause,
                        format!("pause {}", self.node_name(n)),
                        time,
                    );
                }
                self.record_hit("pause", "paused", &hit, &op);
            }
            NemesisAction::Resume(target) => {
                let eligible = |e: &Engine, i: usize| e.alive[i] && e.paused[i];
                let hit = self.pick_nodes("resume", &target, eligible, &op);
                for &n in &hit {
                    self.paused[n.0] = false;
                    self.outbox.push_back(Command::Control(n, Control::Resume));
                    // A pending rejoin waited for nothing while the node was stopped.
                    let deadline = self.now + INIT_TIMEOUT;
                    if let Some(r) = self.rejoin[n.0].as_mut() {
                        r.rpc.deadline = deadline;
                    }
                    self.close_spans(FaultKind::Pause, Some(n), time);
                }
                self.record_hit("resume", "resumed", &hit, &op);
            }
            NemesisAction::Slow(target) => {
                let hit = self.pick_nodes("slow", &target, |e, i| !e.slow[i], &op);
                for &n in &hit {
                    self.slow[n.0] = true;
                    self.open_span(FaultKind::Slow, format!("slow {}", self.node_name(n)), time);
                }
                self.record_hit("slow", "slowed", &hit, &op);
            }
            NemesisAction::Fast(target) => {
                let hit = self.pick_nodes("fast", &target, |e, i| e.slow[i], &op);
                for &n in &hit {
                    self.slow[n.0] = false;
                    self.close_spans(FaultKind::Slow, Some(n), time);
                }
                self.record_hit("fast", "sped up", &hit, &op);
            }
        }
    }

    pub(super) fn partition(
        &mut self,
        grudge: &Grudge,
        label: String,
        time: u64,
        op: &dyn Fn(&str, Value) -> Op,
    ) {
        self.net.partitions.apply(grudge);
        let value = json!(["isolated", self.grudge_json(grudge)]);
        tracing::info!("nemesis: start-partition {label} {}", value[1]);
        self.history.push(op("start-partition", value));
        self.open_span(FaultKind::Partition, label, time);
    }

    /// Records the invocation of the node fault `f` and picks its nodes among the `eligible`.
    pub(super) fn pick_nodes(
        &mut self,
        f: &str,
        target: &Target,
        eligible: impl Fn(&Engine, usize) -> bool,
        op: &dyn Fn(&str, Value) -> Op,
    ) -> Vec<NodeIndex> {
        self.history.push(op(f, json!(target.name())));
        let candidates: Vec<NodeIndex> = (0..self.names.len())
            .filter(|&i| eligible(self, i))
            .map(NodeIndex)
            .collect();
        target.pick(&candidates, &mut self.rng_faults)
    }

    /// Logs and records the nodes the node fault `f` hit.
    pub(super) fn record_hit(
        &mut self,
        f: &str,
        verb: &str,
        hit: &[NodeIndex],
        op: &dyn Fn(&str, Value) -> Op,
    ) {
        let names = self.names_of(hit);
        tracing::info!("nemesis: {verb} {}", show_nodes(&names));
        self.history.push(op(f, json!(names)));
    }

    pub(super) fn names_of(&self, nodes: &[NodeIndex]) -> Vec<String> {
        nodes.iter().map(|n| self.node_name(*n)).collect()
    }

    pub(super) fn open_span(&mut self, kind: FaultKind, label: String, time: u64) {
        self.faults.push(FaultSpan {
            start: time,
            end: None,
            kind,
            label,
        });
    }

    /// Close the open spans of `kind` (only `node`'s, if given).
    pub(super) fn close_spans(&mut self, kind: FaultKind, node: Option<NodeIndex>, time: u64) {
        let suffix = node.map(|n| format!(" {}", self.node_name(n)));
        for span in self
            .faults
            .iter_mut()
            .filter(|f| f.kind == kind && f.end.is_none())
        {
            if suffix
                .as_ref()
                .is_none_or(|s| span.label.ends_with(s.as_str()))
            {
                span.end = Some(time);
            }
        }
    }

    pub(super) fn grudge_json(&self, g: &Grudge) -> Value {
        let mut m = Map::new();
        for (dest, srcs) in g {
            m.insert(
                self.node_name(*dest),
                srcs.iter().map(|s| json!(self.node_name(*s))).collect(),
            );
        }
        Value::Object(m)
    }

    /// The final generator's nemesis ops: undo every fault, as Jepsen's final phase does.
    /// With a random nemesis each enabled fault gets its stop op (a partition nemesis always
    /// heals, as in Maelstrom); after a script, only what is still on is undone.
    pub(super) fn heal_everything(&mut self) {
        if self.script.is_some() {
            if self.net.partitions.is_active() {
                self.nemesis_op(NemesisAction::Stop);
            }
            if self.alive.iter().any(|a| !a) {
                self.nemesis_op(NemesisAction::Restart(Target::All));
            }
            if self.paused.iter().any(|p| *p) {
                self.nemesis_op(NemesisAction::Resume(Target::All));
            }
            if self.slow.iter().any(|s| *s) {
                self.nemesis_op(NemesisAction::Fast(Target::All));
            }
            self.net_faults = NetFaults::of(&self.opts);
            return;
        }
        let kinds = self.opts.nemesis.clone();
        for kind in FaultKind::ALL {
            if kinds.contains(&kind) {
                self.nemesis_op(NemesisAction::stop(kind));
            }
        }
    }
}
