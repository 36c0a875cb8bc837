//! The scenario language: a named test configuration plus a script of faults and checks, read
//! from text. The engine interprets a [`Script`]; [`crate::scenario`] runs scenarios.
//!
//! A scenario file holds any number of scenarios:
//!
//! ```text
//! # The hub dies with everything it held; its restart must catch up from the leaves.
//! scenario kill-hub
//!   about the first member (our star's hub) is killed, then restarted empty
//!   test -w broadcast --node-count 5 --rate 20 --latency 10 --recovery 3
//!   wait 2s
//!   kill n0
//!   wait 3s
//!   restart n0
//!   converged within 8s
//! ```
//!
//! `test` takes `gossip-harness test` flags (`--seed` is added per run; `--sim` is implied when
//! a scenario runs in simulation). The steps:
//!
//! | step | meaning |
//! |---|---|
//! | `wait D` | let the workload run for `D` (`2s`, `500ms`) |
//! | `partition SHAPE` | `one`, `minority-third`, `majority`, `majorities-ring` (random, seeded) |
//! | `partition n0 n1 \| n2 n3` | explicit components |
//! | `isolate n3` | cut `n3` off from every other node |
//! | `heal` | heal every partition |
//! | `kill WHO`, `pause WHO`, `slow WHO` | `WHO`: node ids, `one`, `minority` or `all` (random ones seeded) |
//! | `crash WHO` | kill, keeping the disk: needs `--sim-disk` in simulation; the restart resumes from what was committed |
//! | `restart [WHO]`, `resume [WHO]`, `fast [WHO]` | undo; no argument: every node it applies to |
//! | `loss P`, `dup P`, `reorder MS` | change the network's loss and duplication probabilities and extra delay |
//! | `converged within D` | stop issuing ops, then read every node until all reads agree; fail after `D` |
//!
//! The main phase ends with the script; every fault still on is then undone (heal, restart,
//! resume, fast, the command line's loss/dup/reorder), and the run goes on as usual: recovery,
//! final reads, checkers. A scenario passes when the run is valid and every `converged` check
//! held. Whatever drew random numbers (targets, shapes, latencies, the workload) derives from
//! the run's seed, so `gossip-harness scenario NAME --seed S` replays a run exactly.
//!
//! This module knows the syntax and resolves node ids; binding a scenario's `test` flags to
//! options takes the command line, which sits above it, in [`crate::scenario`].

use std::fmt;
use std::time::Duration;

use gossip_node::parse_duration;
use serde::Serialize;

use crate::ids::{NodeId, NodeIndex};
use crate::nemesis::{NemesisAction, Target};
use crate::partition::PartitionSpec;

/// One step of a script.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Let the workload run.
    Wait(Duration),
    /// A fault or its end, as the nemesis applies it (`partition`, `isolate`, `heal`, `kill`,
    /// `crash`, `restart`, `pause`, `resume`, `slow`, `fast`).
    Fault(NemesisAction),
    /// Set the loss probability of node-to-node messages.
    Loss(f64),
    /// Set the duplication probability of node-to-node messages.
    Dup(f64),
    /// Set the extra random delay of node-to-node messages, in ms.
    Reorder(u64),
    /// Stop the workload and read every node until the reads agree, within this long.
    Converged(Duration),
}

/// A script: what a scenario does, step by step, with the node names to print them.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    /// The scenario's name.
    pub name: String,
    /// The steps.
    pub steps: Vec<Step>,
    /// The node ids (to print steps).
    pub nodes: Vec<NodeId>,
}

impl Script {
    /// Whether a step crashes nodes (which keeps their disks).
    pub fn crashes(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s, Step::Fault(NemesisAction::Crash(_))))
    }

    /// The longest the script runs: its waits plus every convergence check's limit.
    pub fn length(&self) -> Duration {
        self.steps
            .iter()
            .map(|s| match s {
                Step::Wait(d) | Step::Converged(d) => *d,
                _ => Duration::ZERO,
            })
            .sum()
    }

    /// Step `i` as text.
    pub fn show(&self, i: usize) -> String {
        self.steps
            .get(i)
            .map(|s| ShowStep(s, &self.nodes).to_string())
            .unwrap_or_default()
    }
}

impl Serialize for Script {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let steps: Vec<String> = (0..self.steps.len()).map(|i| self.show(i)).collect();
        (&self.name, steps).serialize(s)
    }
}

struct ShowStep<'a>(&'a Step, &'a [NodeId]);

fn show_target(t: &Target, nodes: &[NodeId]) -> String {
    match t {
        Target::Nodes(list) => list
            .iter()
            .map(|n| nodes.get(n.0).map_or("?", NodeId::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        other => other.name().to_owned(),
    }
}

fn show_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

impl fmt::Display for ShowStep<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nodes = self.1;
        match self.0 {
            Step::Wait(d) => write!(f, "wait {}", show_duration(*d)),
            Step::Fault(NemesisAction::Start(spec)) => write!(f, "partition {}", spec.name()),
            Step::Fault(NemesisAction::Cut(groups)) => {
                let gs: Vec<String> = groups
                    .iter()
                    .map(|g| show_target(&Target::Nodes(g.clone()), nodes))
                    .collect();
                write!(f, "partition {}", gs.join(" | "))
            }
            Step::Fault(NemesisAction::Stop) => f.write_str("heal"),
            Step::Fault(NemesisAction::Kill(t)) => write!(f, "kill {}", show_target(t, nodes)),
            Step::Fault(NemesisAction::Crash(t)) => write!(f, "crash {}", show_target(t, nodes)),
            Step::Fault(NemesisAction::Restart(t)) => {
                write!(f, "restart {}", show_target(t, nodes))
            }
            Step::Fault(NemesisAction::Pause(t)) => write!(f, "pause {}", show_target(t, nodes)),
            Step::Fault(NemesisAction::Resume(t)) => {
                write!(f, "resume {}", show_target(t, nodes))
            }
            Step::Fault(NemesisAction::Slow(t)) => write!(f, "slow {}", show_target(t, nodes)),
            Step::Fault(NemesisAction::Fast(t)) => write!(f, "fast {}", show_target(t, nodes)),
            Step::Loss(p) => write!(f, "loss {p}"),
            Step::Dup(p) => write!(f, "dup {p}"),
            Step::Reorder(ms) => write!(f, "reorder {ms}"),
            Step::Converged(d) => write!(f, "converged within {}", show_duration(*d)),
        }
    }
}

/// A named scenario: options (from its `test` line) and a script.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Its name.
    pub name: String,
    /// What it shows.
    pub about: String,
    /// The `test` flags as written.
    pub flags: Vec<String>,
    /// The steps as written, with their line numbers; node ids are resolved once the node
    /// list is known (see [`Scenario::script`]).
    pub steps: Vec<(usize, Vec<String>)>,
}

/// A scenario file that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number (0: the scenario as a whole).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

impl Scenario {
    /// The script of a run on `nodes`: the steps with their node ids resolved.
    pub fn script(&self, nodes: Vec<NodeId>) -> Result<Script, String> {
        let lookup = |name: &str| {
            nodes
                .iter()
                .position(|n| n.0 == name)
                .map(NodeIndex)
                .ok_or_else(|| format!("no node {name:?} in this test"))
        };
        let mut steps = Vec::new();
        for (line, words) in &self.steps {
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            let step = parse_step(&words, &lookup, nodes.len())
                .map_err(|e| format!("scenario {} line {line}: {e}", self.name))?;
            steps.push(step);
        }
        Ok(Script {
            name: self.name.clone(),
            steps,
            nodes,
        })
    }
}

/// Read a scenario file's syntax: every step is checked, node ids only once a run's node list
/// is known ([`Scenario::script`]), and `test` flags not at all (see [`crate::scenario::parse`]).
pub fn parse(text: &str) -> Result<Vec<Scenario>, ParseError> {
    let mut out: Vec<Scenario> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let err = |message: String| ParseError { line, message };
        let content = raw.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        let words: Vec<&str> = content.split_whitespace().collect();
        if words[0] == "scenario" {
            let [_, name] = words[..] else {
                return Err(err("expected `scenario NAME`".into()));
            };
            if out.iter().any(|s| s.name == name) {
                return Err(err(format!("scenario {name} is defined twice")));
            }
            out.push(Scenario {
                name: name.to_owned(),
                about: String::new(),
                flags: Vec::new(),
                steps: Vec::new(),
            });
            continue;
        }
        let Some(sc) = out.last_mut() else {
            return Err(err("expected `scenario NAME` first".into()));
        };
        match words[0] {
            "about" => sc.about = content["about".len()..].trim().to_owned(),
            "test" => sc.flags = words[1..].iter().map(|w| (*w).to_owned()).collect(),
            _ => {
                // Syntax now; node ids once the node list is known.
                parse_step(&words, &|_| Ok(NodeIndex(0)), 1).map_err(err)?;
                sc.steps
                    .push((line, words.iter().map(|w| (*w).to_owned()).collect()));
            }
        }
    }
    Ok(out)
}

type Lookup<'a> = dyn Fn(&str) -> Result<NodeIndex, String> + 'a;

fn parse_step(words: &[&str], lookup: &Lookup<'_>, n: usize) -> Result<Step, String> {
    let args = &words[1..];
    let one_arg = || -> Result<&str, String> {
        match args {
            [a] => Ok(a),
            _ => Err(format!("`{}` takes one argument", words[0])),
        }
    };
    let duration = |s: &str| parse_duration(s).map_err(|e| format!("bad duration: {e}"));
    let prob = |s: &str| match s.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("bad probability {s:?}")),
    };
    let named = |args: &[&str]| -> Result<Vec<NodeIndex>, String> {
        if args.is_empty() {
            return Err("expected node ids".into());
        }
        args.iter().map(|a| lookup(a)).collect()
    };
    let target = |args: &[&str], all_by_default: bool| -> Result<Target, String> {
        Ok(match args {
            [] if all_by_default => Target::All,
            ["one"] => Target::One,
            ["minority"] => Target::Minority,
            ["all"] => Target::All,
            _ => Target::Nodes(named(args)?),
        })
    };
    Ok(match words[0] {
        "wait" => Step::Wait(duration(one_arg()?)?),
        "heal" if args.is_empty() => Step::Fault(NemesisAction::Stop),
        "partition" => match args {
            [spec] => Step::Fault(NemesisAction::Start(
                PartitionSpec::parse(spec).ok_or_else(|| format!("unknown shape {spec:?}"))?,
            )),
            _ => {
                let groups: Vec<Vec<NodeIndex>> = args
                    .split(|a| *a == "|")
                    .map(&named)
                    .collect::<Result<_, _>>()?;
                if groups.len() < 2 {
                    return Err("a partition needs groups separated by |".into());
                }
                Step::Fault(NemesisAction::Cut(groups))
            }
        },
        "isolate" => {
            let alone = named(args)?;
            let rest: Vec<NodeIndex> = (0..n)
                .map(NodeIndex)
                .filter(|i| !alone.contains(i))
                .collect();
            Step::Fault(NemesisAction::Cut(vec![alone, rest]))
        }
        "kill" => Step::Fault(NemesisAction::Kill(target(args, false)?)),
        "crash" => Step::Fault(NemesisAction::Crash(target(args, false)?)),
        "pause" => Step::Fault(NemesisAction::Pause(target(args, false)?)),
        "slow" => Step::Fault(NemesisAction::Slow(target(args, false)?)),
        "restart" => Step::Fault(NemesisAction::Restart(target(args, true)?)),
        "resume" => Step::Fault(NemesisAction::Resume(target(args, true)?)),
        "fast" => Step::Fault(NemesisAction::Fast(target(args, true)?)),
        "loss" => Step::Loss(prob(one_arg()?)?),
        "dup" => Step::Dup(prob(one_arg()?)?),
        "reorder" => Step::Reorder(
            one_arg()?
                .parse()
                .map_err(|_| "`reorder` takes whole milliseconds".to_owned())?,
        ),
        "converged" => match args {
            ["within", d] | [d] => Step::Converged(duration(d)?),
            _ => return Err("expected `converged within D`".into()),
        },
        other => return Err(format!("unknown step {other:?}")),
    })
}
