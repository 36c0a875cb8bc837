//! Convergence probes: a script's `converged within` step stops the workload and reads every
//! node, round after round, until the reads agree or time is up.

use std::time::Duration;

use serde_json::json;

use super::Engine;
use crate::ids::NodeIndex;
use crate::options::WorkloadKind;
use crate::time::Time;
use crate::value::OpValue;

/// How often a `converged` check reads every node while they disagree.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(100);

/// A `converged` check in progress.
#[derive(Debug, Clone)]
pub(super) struct Probe {
    pub(super) started: Time,
    pub(super) deadline: Time,
    pub(super) next_round: Time,
    /// Worker → slot, for the reads of the current round.
    pub(super) round: Vec<(usize, Option<Result<OpValue, String>>)>,
    pub(super) rounds: u32,
}

impl Engine {
    /// One turn of a `converged within` check. Returns whether the step is over (passed or
    /// failed).
    pub(super) fn step_probe(&mut self, within: Duration) -> bool {
        let now = self.now;
        let echo = self.workload.kind() == WorkloadKind::Echo;
        let Some(run) = self.script.as_mut() else {
            return true;
        };
        let pc = run.pc;
        let probe = run.probe.get_or_insert_with(|| Probe {
            started: now,
            deadline: now + within,
            next_round: now,
            round: Vec::new(),
            rounds: 0,
        });
        if echo {
            // Nothing replicated, nothing to compare.
            run.probe = None;
            return true;
        }
        let round_done = !probe.round.is_empty() && probe.round.iter().all(|(_, r)| r.is_some());
        if round_done {
            let results: Vec<(usize, Result<OpValue, String>)> = std::mem::take(&mut probe.round)
                .into_iter()
                .filter_map(|(w, r)| r.map(|r| (w, r)))
                .collect();
            probe.rounds += 1;
            let agree = results.iter().all(|(_, r)| r.is_ok())
                && results
                    .windows(2)
                    .all(|w| matches!((&w[0].1, &w[1].1), (Ok(a), Ok(b)) if a == b));
            let started = probe.started;
            let rounds = probe.rounds;
            if agree {
                let ms = (now - started).as_millis() as u64;
                run.checks.push(json!({
                    "step": pc + 1,
                    "converged": true,
                    "after-ms": ms,
                    "rounds": rounds,
                }));
                run.probe = None;
                if let Some(s) = self.stagger.as_mut() {
                    s.resume_at(now);
                }
                return true;
            }
            if now >= probe.deadline {
                let detail = self.describe_reads(&results);
                let Some(run) = self.script.as_mut() else {
                    return true;
                };
                let msg = format!(
                    "step {} ({}): the nodes did not converge within {} ms: {detail}",
                    pc + 1,
                    run.script.show(pc),
                    within.as_millis()
                );
                tracing::warn!("scenario {}: {msg}", run.script.name);
                run.checks
                    .push(json!({"step": pc + 1, "converged": false, "rounds": rounds}));
                run.failures.push(msg);
                run.probe = None;
                if let Some(s) = self.stagger.as_mut() {
                    s.resume_at(now);
                }
                return true;
            }
            probe.next_round = now + PROBE_INTERVAL;
            return false;
        }
        if !probe.round.is_empty() || now < probe.next_round || !self.all_idle() {
            return false;
        }
        // A new round: one read per node, each from the first worker bound to it.
        let mut round = Vec::new();
        for i in 0..self.names.len() {
            if let Some(t) = self.workers.iter().position(|w| w.node == NodeIndex(i)) {
                round.push((t, None));
            }
        }
        let mut op = self.workload.final_op();
        op.is_final = false;
        let workers: Vec<usize> = round.iter().map(|(t, _)| *t).collect();
        if let Some(p) = self.script.as_mut().and_then(|r| r.probe.as_mut()) {
            p.round = round;
        }
        for t in workers {
            self.invoke(t, op.clone());
        }
        false
    }

    pub(super) fn describe_reads(&self, results: &[(usize, Result<OpValue, String>)]) -> String {
        let largest = results
            .iter()
            .filter_map(|(_, r)| r.as_ref().ok())
            .filter_map(OpValue::as_ints)
            .max_by_key(|s| s.len());
        results
            .iter()
            .map(|(t, r)| {
                let node = self
                    .workers
                    .get(*t)
                    .map_or_else(|| "?".to_owned(), |w| self.node_name(w.node));
                match r {
                    Err(e) => format!("{node} read failed ({e})"),
                    Ok(OpValue::Ints(set)) => {
                        let missing: Vec<i64> = largest
                            .map(|l| l.iter().filter(|v| !set.contains(*v)).take(5).collect())
                            .unwrap_or_default();
                        if missing.is_empty() {
                            format!("{node} has {} elements", set.len())
                        } else {
                            format!(
                                "{node} has {} elements, lacking e.g. {missing:?}",
                                set.len()
                            )
                        }
                    }
                    Ok(v) => format!("{node} read {v}"),
                }
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}
