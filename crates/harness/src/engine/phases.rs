//! The phases of a run: init, setup, the main phase (generator and nemesis), recovery and the
//! final reads, and the timeouts that end a request or crash the run.

use std::time::Duration;

use super::Engine;
use super::clients::Owner;
use crate::client::{INIT_TIMEOUT, RPC_TIMEOUT};
use crate::generator::Stagger;
use crate::ids::NodeIndex;
use crate::nemesis::NemesisSchedule;
use crate::progress::Phase;

impl Engine {
    pub(super) fn expire(&mut self) -> bool {
        let now = self.now;
        let mut any = false;
        if matches!(self.phase, Phase::Init | Phase::Setup) {
            let late = self
                .setup
                .iter()
                .position(|r| r.as_ref().is_some_and(|r| !r.done && r.deadline <= now));
            if let Some(i) = late {
                let name = self.node_name(NodeIndex(i));
                let mut what = if self.phase == Phase::Init {
                    format!(
                        "Node {name} did not answer init within {} s (init-failed)",
                        INIT_TIMEOUT.as_secs()
                    )
                } else {
                    format!(
                        "Node {name} did not answer topology within {} s",
                        RPC_TIMEOUT.as_secs()
                    )
                };
                if let Some(first) = self.protocol.get(i).and_then(|p| p.examples.first()) {
                    what.push_str(&format!("; it {first}"));
                }
                self.fail(Some(NodeIndex(i)), what);
                return true;
            }
        }
        let late = self
            .rejoin
            .iter()
            .position(|r| r.as_ref().is_some_and(|r| r.rpc.deadline <= now));
        if let Some(i) = late {
            let name = self.node_name(NodeIndex(i));
            let what = if self.rejoin[i].as_ref().is_some_and(|r| r.init_done) {
                "topology"
            } else {
                "init"
            };
            self.fail(
                Some(NodeIndex(i)),
                format!("Node {name} did not answer {what} after its restart"),
            );
            return true;
        }
        while let Some(&(deadline, t)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            let Some(op) = self.workers[t].in_flight.as_ref().map(|f| f.op.clone()) else {
                self.deadlines.pop_first();
                continue;
            };
            let c = self.workload.complete_timeout(&op);
            self.complete(t, c);
            any = true;
        }
        any
    }

    pub(super) fn all_idle(&self) -> bool {
        self.deadlines.is_empty()
    }

    pub(super) fn step_phase(&mut self) -> bool {
        let now = self.now;
        match self.phase {
            Phase::Created | Phase::Done => false,
            Phase::Init => {
                if self
                    .setup
                    .iter()
                    .all(|r| r.as_ref().is_some_and(|r| r.done))
                {
                    // Close the init clients, open one setup client per node.
                    for r in self.setup.iter_mut().filter_map(Option::take) {
                        self.clients.remove(&r.conn.id);
                    }
                    self.phase = Phase::Setup;
                    for i in 0..self.names.len() {
                        match self.workload.setup_request(&self.names[i]) {
                            Some(body) => {
                                self.setup_rpc(i, Owner::Setup(i), body, RPC_TIMEOUT);
                            }
                            None => {
                                let conn = self.open_client(Owner::Setup(i));
                                self.setup_conns[i] = Some(conn);
                            }
                        }
                    }
                    true
                } else {
                    false
                }
            }
            Phase::Setup => {
                if self.setup.iter().all(|r| r.as_ref().is_none_or(|r| r.done)) {
                    for i in 0..self.setup.len() {
                        if let Some(r) = self.setup[i].take() {
                            self.setup_conns[i] = Some(r.conn);
                        }
                    }
                    self.origin = now;
                    self.phase = Phase::Main;
                    // A script decides when the main phase ends.
                    let limit = if self.script.is_some() {
                        Duration::MAX
                    } else {
                        self.opts.time_limit
                    };
                    self.stagger = Some(Stagger::new(now, self.opts.rate, limit));
                    if !self.opts.nemesis.is_empty() && self.script.is_none() {
                        self.nemesis = Some(NemesisSchedule::new(
                            now,
                            self.opts.nemesis_interval,
                            &self.opts.nemesis,
                        ));
                    }
                    match &self.script {
                        Some(run) => tracing::info!(
                            "main phase: scenario {} ({} steps) at {} ops/s",
                            run.script.name,
                            run.script.steps.len(),
                            self.opts.rate
                        ),
                        None => tracing::info!(
                            "main phase: {} s at {} ops/s",
                            self.opts.time_limit.as_secs_f64(),
                            self.opts.rate
                        ),
                    }
                    true
                } else {
                    false
                }
            }
            Phase::Main => self.step_main(),
            Phase::Recovery { until } => {
                if now < until {
                    return false;
                }
                self.phase = Phase::Final;
                let op = self.workload.final_op();
                for t in 0..self.workers.len() {
                    self.invoke(t, op.clone());
                }
                true
            }
            Phase::Final => {
                if self.all_idle() {
                    self.phase = Phase::Done;
                    true
                } else {
                    false
                }
            }
        }
    }

    pub(super) fn step_main(&mut self) -> bool {
        let now = self.now;
        let mut any = self.step_script();
        let Some(cutoff) = self.stagger.as_ref().map(Stagger::cutoff) else {
            return any;
        };
        if let Some(action) = self
            .nemesis
            .as_mut()
            .filter(|n| n.next_at() <= now && n.next_at() < cutoff)
            .map(|n| n.take(&mut self.rng_nemesis, &mut self.rng_faults))
        {
            self.nemesis_op(action);
            any = true;
        }
        let probing = self.script.as_ref().is_some_and(|r| r.probe.is_some());
        while let Some(next) = self.stagger.as_ref().and_then(Stagger::next_at) {
            if next > now || probing {
                break;
            }
            let n = self.workers.len();
            let Some(t) = (0..n)
                .map(|k| (self.next_thread + k) % n)
                .find(|&t| self.workers[t].is_idle())
            else {
                break;
            };
            self.next_thread = (t + 1) % n.max(1);
            let op = self.workload.next_op(&mut self.rng_ops);
            if let Some(s) = self.stagger.as_mut() {
                s.emitted(now, &mut self.rng_ops);
            }
            self.invoke(t, op);
            any = true;
        }
        if now >= cutoff && self.all_idle() {
            if self.workload.has_final_phase() {
                self.heal_everything();
                tracing::info!("Waiting for recovery...");
                self.phase = Phase::Recovery {
                    until: now + self.opts.recovery,
                };
            } else {
                self.phase = Phase::Done;
            }
            any = true;
        }
        any
    }
}
