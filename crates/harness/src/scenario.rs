//! Scenarios as data: a named test configuration plus a script of faults and checks, run by
//! one interpreter (the engine's script mode) while the workload runs as usual.
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
//! | `restart [WHO]`, `resume [WHO]`, `fast [WHO]` | undo; no argument: every node it applies to |
//! | `loss P`, `dup P`, `reorder MS` | change the network's loss and duplication probabilities and extra delay |
//! | `converged within D` | stop issuing ops, then read every node until all reads agree; fail after `D` |
//!
//! The main phase ends with the script; every fault still on is then undone (heal, restart,
//! resume, fast, the command line's loss/dup/reorder), and the run goes on as usual: recovery,
//! final reads, checkers. A scenario passes when the run is valid and every `converged` check
//! held. Whatever drew random numbers (targets, shapes, latencies, the workload) derives from
//! the run's seed, so `gossip-harness scenario NAME --seed S` replays a run exactly.

use std::fmt;
use std::time::Duration;

use clap::Parser;
use serde::Serialize;

use crate::cli::{Cli, Command};
use crate::ids::{NodeId, NodeIndex};
use crate::nemesis::{NemesisAction, Target};
use crate::options::TestOptions;
use crate::partition::PartitionSpec;

/// The scenario suite this crate ships (and CI sweeps over many seeds).
pub const SUITE: &str = include_str!("../scenarios/suite.scn");

/// One step of a script.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Let the workload run.
    Wait(Duration),
    /// A fault or its end, as the nemesis applies it (`partition`, `isolate`, `heal`, `kill`,
    /// `restart`, `pause`, `resume`, `slow`, `fast`).
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
    /// list is known (see [`Scenario::options`]).
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

/// Parse a duration: `2s`, `1.5s`, `500ms`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let (n, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else {
        return None;
    };
    let x: f64 = n.parse().ok()?;
    (x.is_finite() && x >= 0.0).then(|| Duration::from_secs_f64(x * scale))
}

impl Scenario {
    /// The test options of one run of this scenario: its flags, `seed`, and the script.
    /// `sim` adds `--sim`.
    pub fn options(&self, seed: u64, sim: bool) -> Result<TestOptions, String> {
        let mut argv: Vec<String> = vec!["gossip-harness".into(), "test".into()];
        // Harness flags go before a `--`; what follows it belongs to the nodes.
        let split = self
            .flags
            .iter()
            .position(|f| f == "--")
            .unwrap_or(self.flags.len());
        let (ours, nodes_args) = self.flags.split_at(split);
        argv.extend(ours.iter().cloned());
        if sim && !ours.iter().any(|f| f == "--sim") {
            argv.push("--sim".into());
        }
        argv.extend(nodes_args.iter().cloned());
        let cli = Cli::try_parse_from(&argv).map_err(|e| e.to_string())?;
        let Command::Test(args) = cli.command else {
            return Err("not a test command".into());
        };
        let mut opts = args.into_options(seed)?;
        opts.seed = seed;
        let nodes = opts.nodes.clone();
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
        opts.script = Some(Script {
            name: self.name.clone(),
            steps,
            nodes,
        });
        Ok(opts)
    }

    /// The command that replays run `seed` of this scenario.
    pub fn replay_command(&self, seed: u64) -> String {
        format!("gossip-harness scenario {} --seed {seed}", self.name)
    }
}

/// Parse a scenario file. Each scenario's options are checked too (with a stand-in seed).
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
    for sc in &out {
        if sc.flags.is_empty() {
            return Err(ParseError {
                line: 0,
                message: format!("scenario {} has no `test` line", sc.name),
            });
        }
        sc.options(0, true)
            .map_err(|message| ParseError { line: 0, message })?;
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
    let duration = |s: &str| parse_duration(s).ok_or_else(|| format!("bad duration {s:?}"));
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

// ---- running scenarios -----------------------------------------------------------------------

/// One run of a scenario in simulation.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The seed.
    pub seed: u64,
    /// The results map (as `results.json` would hold it).
    pub results: serde_json::Value,
    /// Its verdict.
    pub validity: crate::checker::Validity,
    /// Virtual time at the end.
    pub end: crate::time::Time,
    /// Events the host handed to the engine.
    pub events: u64,
}

impl Outcome {
    /// Whether the scenario passed: a valid run (its `converged` checks included).
    pub fn passed(&self) -> bool {
        self.validity == crate::checker::Validity::Valid
    }
}

/// Run one seed of `scenario` in simulation, quietly: no store, no console output.
pub fn run_sim(scenario: &Scenario, seed: u64) -> Result<Outcome, String> {
    let opts = scenario.options(seed, true)?;
    // Scenario sweeps already run one seed per core.
    let config = crate::sim::SimConfig {
        threads: 1,
        ..crate::run::sim_config(&opts, None)
    };
    let mut host = crate::sim::SimHost::new(config);
    let engine = crate::engine::Engine::new(opts);
    let (record, _) = crate::driver::drive(engine, &mut host, &mut |_, _| {});
    let results = crate::results::analyze(&record);
    Ok(Outcome {
        seed,
        validity: crate::checker::Validity::of(&results),
        results,
        end: record.end,
        events: host.stats().events,
    })
}

/// What went wrong in a run, in a few lines: every checker that is not valid, briefly.
pub fn describe_failure(results: &serde_json::Value) -> String {
    use crate::checker::Validity;
    let mut out = Vec::new();
    if let Some(c) = results.get("crash") {
        out.push(format!(
            "crashed: {}",
            c["reason"].as_str().unwrap_or_default()
        ));
    }
    for (key, v) in results.as_object().into_iter().flatten() {
        if key == "valid?" || key == "crash" || Validity::of(v) == Validity::Valid {
            continue;
        }
        let brief = match key.as_str() {
            "scenario" => v["failures"]
                .as_array()
                .map(|f| {
                    f.iter()
                        .filter_map(serde_json::Value::as_str)
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_default(),
            "workload" if v.get("lost").is_some() => format!(
                "lost {} of {} elements: {}",
                v["lost-count"], v["attempt-count"], v["lost"]
            ),
            _ => v.to_string(),
        };
        let brief: String = brief.chars().take(600).collect();
        out.push(format!("{key}: {brief}"));
    }
    out.join("\n")
}

/// A failure report: the scenario, its seed, what failed, and the replay command.
pub fn failure_report(scenario: &Scenario, outcome: &Outcome, file: Option<&str>) -> String {
    let steps: Vec<String> = scenario.steps.iter().map(|(_, w)| w.join(" ")).collect();
    let mut replay = scenario.replay_command(outcome.seed);
    if let Some(f) = file {
        replay.push_str(&format!(" --file {f}"));
    }
    format!(
        "scenario {} failed with seed {}\n  test {}\n  steps: {}\n{}\n  replay: {replay}",
        scenario.name,
        outcome.seed,
        scenario.flags.join(" "),
        steps.join("; "),
        describe_failure(&outcome.results)
            .lines()
            .map(|l| format!("  {l}"))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// The result of sweeping one scenario over seeds.
#[derive(Debug, Clone)]
pub struct Sweep {
    /// The scenario's name.
    pub name: String,
    /// Runs made.
    pub runs: u64,
    /// The failed runs, as reports (see [`failure_report`]).
    pub failures: Vec<String>,
}

/// Run `scenario` for seeds `first..first + count` on `threads` threads (results do not
/// depend on the number of threads).
pub fn sweep(
    scenario: &Scenario,
    first: u64,
    count: u64,
    threads: usize,
    file: Option<&str>,
) -> Sweep {
    let next = std::sync::atomic::AtomicU64::new(first);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| {
                loop {
                    let seed = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if seed >= first + count {
                        return;
                    }
                    let report = match run_sim(scenario, seed) {
                        Ok(o) if o.passed() => continue,
                        Ok(o) => failure_report(scenario, &o, file),
                        Err(e) => format!("scenario {} seed {seed}: {e}", scenario.name),
                    };
                    if let Ok(mut f) = failures.lock() {
                        f.push((seed, report));
                    }
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap_or_default();
    failures.sort();
    Sweep {
        name: scenario.name.clone(),
        runs: count,
        failures: failures.into_iter().map(|(_, r)| r).collect(),
    }
}

/// The `scenario` subcommand. Returns the exit status: 0 when every run passed, 1 when one
/// failed, 254 for bad arguments; a replayed run exits as `test` does.
pub fn main(args: &crate::cli::ScenarioArgs) -> i32 {
    use crate::console::EXIT_BAD_ARGS;
    let (text, file) = match &args.file {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(t) => (t, Some(path.display().to_string())),
            Err(e) => {
                eprintln!("error: {}: {e}", path.display());
                return EXIT_BAD_ARGS;
            }
        },
        None => (SUITE.to_owned(), None),
    };
    let all = match parse(&text) {
        Ok(all) => all,
        Err(e) => {
            eprintln!(
                "error: {}: {e}",
                file.as_deref().unwrap_or("built-in suite")
            );
            return EXIT_BAD_ARGS;
        }
    };
    if args.list {
        for sc in &all {
            println!("{:<28} {}", sc.name, sc.about);
        }
        return 0;
    }
    let mut chosen = Vec::new();
    for name in &args.names {
        match all.iter().find(|s| &s.name == name) {
            Some(s) => chosen.push(s),
            None => {
                eprintln!("error: no scenario named {name:?} (--list shows them)");
                return EXIT_BAD_ARGS;
            }
        }
    }
    if chosen.is_empty() {
        chosen = all.iter().collect();
    }
    if let Some(seed) = args.seed {
        let [sc] = chosen[..] else {
            eprintln!("error: --seed replays one scenario; name it");
            return EXIT_BAD_ARGS;
        };
        let mut opts = match sc.options(seed, !args.process) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_BAD_ARGS;
            }
        };
        opts.store = args.store.clone();
        let mut command = sc.replay_command(seed);
        if let Some(f) = &file {
            command.push_str(&format!(" --file {f}"));
        }
        if args.process {
            command.push_str(" --process");
        }
        return crate::run::run_once(&opts, &command);
    }
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let mut failed = 0usize;
    let mut runs = 0u64;
    for sc in chosen {
        let started = std::time::Instant::now();
        let result = sweep(sc, args.first_seed, args.seeds, threads, file.as_deref());
        runs += result.runs;
        println!(
            "{:<28} {} seeds: {} passed, {} failed ({:.1} s)",
            sc.name,
            result.runs,
            result.runs - result.failures.len() as u64,
            result.failures.len(),
            started.elapsed().as_secs_f64()
        );
        for f in &result.failures {
            println!("{f}");
        }
        failed += result.failures.len();
    }
    println!("{runs} runs, {failed} failed");
    i32::from(failed > 0)
}
