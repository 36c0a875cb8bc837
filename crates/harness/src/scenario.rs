//! Running scenarios: binding a scenario's `test` flags to options, one seeded run in
//! simulation, sweeps over seeds on several threads, failure reports with their replay
//! command, and the `scenario` subcommand. The language itself (syntax, [`Step`],
//! [`Script`]) is [`crate::script`]; the engine interprets scripts.
//!
//! [`Step`]: crate::script::Step
//! [`Script`]: crate::script::Script

use clap::Parser;

use crate::checker::Validity;
use crate::cli::{Cli, Command, ScenarioArgs};
use crate::console::EXIT_BAD_ARGS;
use crate::driver;
use crate::engine::Engine;
use crate::options::TestOptions;
use crate::results;
use crate::run;
use crate::sim::{SimConfig, SimHost};
use crate::time::Time;

pub use crate::script::{ParseError, Scenario};

/// The scenario suite this crate ships (and CI sweeps over many seeds).
pub const SUITE: &str = include_str!("../scenarios/suite.scn");

/// The test options of one run of `scenario`: its flags, `seed`, and the script. `sim` adds
/// `--sim`.
pub fn options(scenario: &Scenario, seed: u64, sim: bool) -> Result<TestOptions, String> {
    let mut argv: Vec<String> = vec!["gossip-harness".into(), "test".into()];
    // Harness flags go before a `--`; what follows it belongs to the nodes.
    let split = scenario
        .flags
        .iter()
        .position(|f| f == "--")
        .unwrap_or(scenario.flags.len());
    let (ours, nodes_args) = scenario.flags.split_at(split);
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
    let script = scenario.script(opts.nodes.clone())?;
    if opts.sim && opts.sim_disk.is_none() && script.crashes() {
        return Err(format!(
            "scenario {}: `crash` keeps a node's disk, and simulated nodes have none: add --sim-disk durable (or lying)",
            scenario.name
        ));
    }
    opts.script = Some(script);
    Ok(opts)
}

/// The command that replays run `seed` of `scenario`.
pub fn replay_command(scenario: &Scenario, seed: u64) -> String {
    format!("gossip-harness scenario {} --seed {seed}", scenario.name)
}

/// Parse a scenario file. Each scenario's options are checked too (with a stand-in seed).
pub fn parse(text: &str) -> Result<Vec<Scenario>, ParseError> {
    let out = crate::script::parse(text)?;
    for sc in &out {
        if sc.flags.is_empty() {
            return Err(ParseError {
                line: 0,
                message: format!("scenario {} has no `test` line", sc.name),
            });
        }
        options(sc, 0, true).map_err(|message| ParseError { line: 0, message })?;
    }
    Ok(out)
}

/// One run of a scenario in simulation.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The seed.
    pub seed: u64,
    /// The results map (as `results.json` would hold it).
    pub results: serde_json::Value,
    /// Its verdict.
    pub validity: Validity,
    /// Virtual time at the end.
    pub end: Time,
    /// Events the host handed to the engine.
    pub events: u64,
}

impl Outcome {
    /// Whether the scenario passed: a valid run (its `converged` checks included).
    pub fn passed(&self) -> bool {
        self.validity == Validity::Valid
    }
}

/// Run one seed of `scenario` in simulation, quietly: no store, no console output.
pub fn run_sim(scenario: &Scenario, seed: u64) -> Result<Outcome, String> {
    let opts = options(scenario, seed, true)?;
    // Scenario sweeps already run one seed per core.
    let config = SimConfig {
        threads: 1,
        ..run::sim_config(&opts, None)
    };
    let mut host = SimHost::new(config);
    let engine = Engine::new(opts);
    let (record, _) = driver::drive(engine, &mut host, &mut |_, _| {});
    let results = results::analyze(&record);
    Ok(Outcome {
        seed,
        validity: Validity::of(&results),
        results,
        end: record.end,
        events: host.stats().events,
    })
}

/// What went wrong in a run, in a few lines: every checker that is not valid, briefly.
pub fn describe_failure(results: &serde_json::Value) -> String {
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
    let mut replay = replay_command(scenario, outcome.seed);
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
pub fn main(args: &ScenarioArgs) -> i32 {
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
    // Names padded to the longest, so the columns after them line up.
    let width = all.iter().map(|s| s.name.len()).max().unwrap_or(0);
    if args.list {
        for sc in &all {
            println!("{:<width$}  {}", sc.name, sc.about);
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
        let mut opts = match options(sc, seed, !args.process) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_BAD_ARGS;
            }
        };
        opts.store = args.store.clone();
        let mut command = replay_command(sc, seed);
        if let Some(f) = &file {
            command.push_str(&format!(" --file {f}"));
        }
        if args.process {
            command.push_str(" --process");
        }
        return run::run_once(&opts, &command);
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
            "{:<width$}  {} seeds: {} passed, {} failed ({:.1} s)",
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
