//! The scenario interpreter: a script's steps, run in order during the main phase while the
//! workload goes on (see [`crate::script`] for the language).

use serde_json::{Value, json};

use super::Engine;
use super::probe::Probe;
use crate::checker::Validity;
use crate::script::{Script, Step};
use crate::time::Time;

/// The script of a scenario, being run.
#[derive(Debug, Clone)]
pub(super) struct ScriptRun {
    pub(super) script: Script,
    pub(super) pc: usize,
    pub(super) wait_until: Option<Time>,
    pub(super) probe: Option<Probe>,
    pub(super) failures: Vec<String>,
    pub(super) checks: Vec<Value>,
    pub(super) done: bool,
}

impl ScriptRun {
    /// `script`, not started.
    pub(super) fn new(script: Script) -> ScriptRun {
        ScriptRun {
            script,
            pc: 0,
            wait_until: None,
            probe: None,
            failures: Vec::new(),
            checks: Vec::new(),
            done: false,
        }
    }

    /// The script's report: its checks and failures.
    pub(super) fn report(self) -> Value {
        let valid = if self.failures.is_empty() {
            Validity::Valid
        } else {
            Validity::Invalid
        };
        json!({
            "valid?": valid.to_json(),
            "name": self.script.name,
            "steps": (0..self.script.steps.len()).map(|i| self.script.show(i)).collect::<Vec<_>>(),
            "completed-steps": self.pc,
            "checks": self.checks,
            "failures": self.failures,
        })
    }
}

impl Engine {
    /// Run the script's steps that are due. Returns whether anything happened.
    pub(super) fn step_script(&mut self) -> bool {
        let now = self.now;
        let mut any = false;
        loop {
            let Some(run) = self.script.as_mut() else {
                return any;
            };
            if run.done {
                return any;
            }
            let Some(step) = run.script.steps.get(run.pc).cloned() else {
                run.done = true;
                tracing::info!("scenario {}: script done", run.script.name);
                if let Some(s) = self.stagger.as_mut() {
                    s.end_at(now);
                }
                return true;
            };
            match step {
                Step::Wait(d) => {
                    let until = *run.wait_until.get_or_insert(now + d);
                    if now < until {
                        return any;
                    }
                    run.wait_until = None;
                }
                Step::Converged(within) => {
                    if !self.step_probe(within) {
                        return any;
                    }
                }
                Step::Fault(action) => self.nemesis_op(action),
                Step::Loss(p) => self.net_faults.p_loss = p,
                Step::Dup(p) => self.net_faults.p_dup = p,
                Step::Reorder(ms) => self.net_faults.reorder_ms = ms,
            }
            if let Some(run) = self.script.as_mut() {
                tracing::info!(
                    "scenario {}: step {} done: {}",
                    run.script.name,
                    run.pc + 1,
                    run.script.show(run.pc)
                );
                run.pc += 1;
            }
            any = true;
        }
    }
}
