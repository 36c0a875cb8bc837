//! One `gossip-harness test` invocation, end to end, in either mode.
//!
//! Creates the run directory, starts the nodes (OS processes in real time, or with `--sim`
//! our node cores on a virtual clock), drives the engine, analyses the history, writes the
//! store and prints the summary and banner. Returns the exit status. The two modes share
//! everything here but the host.

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use serde_json::{Value, json};

use crate::checker::Validity;
use crate::console::{self, EXIT_BAD_ARGS, EXIT_CRASH, EXIT_INTERRUPTED, ProgressLine};
use crate::driver;
use crate::engine::Engine;
use crate::host::NodeHost;
use crate::options::TestOptions;
use crate::process::{ProcessConfig, ProcessHost};
use crate::results;
use crate::sim::{SimConfig, SimHost};
use crate::store;
use crate::time::Time;

/// Run `opts.test_count`-style repetitions: seeds `seed, seed+1, ...`, stopping at the first
/// run that is not valid. `command(seed)` is the command line that replays one run. Returns
/// the exit status.
pub fn run_tests(opts: &TestOptions, test_count: u32, command: &dyn Fn(u64) -> String) -> i32 {
    for i in 0..test_count {
        let mut o = opts.clone();
        o.seed = opts.seed.wrapping_add(u64::from(i));
        if test_count > 1 {
            println!("Test {} of {test_count} (seed {})", i + 1, o.seed);
        }
        let code = run_once(&o, &command(o.seed));
        if code != 0 {
            return code;
        }
    }
    0
}

/// What can stop a run before any node starts.
#[derive(Debug)]
pub enum RunError {
    /// The store could not be written. Nothing ran.
    Store(store::StoreError),
    /// `--bin` was omitted and this executable's own path is unknown. Nothing ran.
    NoExecutable(std::io::Error),
    /// `--bin` names nothing this harness can run: a mistake in the arguments, found before
    /// anything started or was stored.
    BadProgram {
        /// The path as given.
        path: PathBuf,
        /// What is wrong with it.
        problem: BadProgram,
    },
}

/// What is wrong with a `--bin` program.
#[derive(Debug)]
pub enum BadProgram {
    /// It does not exist (or cannot be looked at).
    Missing(std::io::Error),
    /// It is a directory or some other thing that is not a file.
    NotAFile,
    /// It is a file without execute permission.
    NotExecutable,
}

impl RunError {
    /// The exit status for this error: bad arguments, or a crash.
    pub fn exit_code(&self) -> i32 {
        match self {
            RunError::BadProgram { .. } => EXIT_BAD_ARGS,
            RunError::Store(_) | RunError::NoExecutable(_) => EXIT_CRASH,
        }
    }
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Store(e) => write!(f, "{e}"),
            RunError::NoExecutable(e) => {
                write!(f, "cannot find this executable to run its own node: {e}")
            }
            RunError::BadProgram { path, problem } => {
                write!(f, "--bin {}: ", path.display())?;
                match problem {
                    BadProgram::Missing(e) => write!(f, "{e}"),
                    BadProgram::NotAFile => f.write_str("not a file"),
                    BadProgram::NotExecutable => f.write_str("not executable"),
                }
            }
        }
    }
}

impl std::error::Error for RunError {}

/// How the nodes are launched for `opts`: the given binary (which must be an executable
/// file), or this executable's `node`.
pub fn node_program(opts: &TestOptions) -> Result<(PathBuf, Vec<String>), RunError> {
    match &opts.bin {
        Some(bin) => Ok((executable(bin)?, Vec::new())),
        // Our own node is told the workload, so it never has to infer it.
        None => std::env::current_exe()
            .map(|exe| {
                (
                    exe,
                    vec!["node".to_owned(), opts.workload.name().to_owned()],
                )
            })
            .map_err(RunError::NoExecutable),
    }
}

/// `bin` as an absolute path (nodes run in the temp dir), if it is an executable file. A bare
/// name that is not in the working directory is looked up in `PATH`, as a shell would.
fn executable(bin: &Path) -> Result<PathBuf, RunError> {
    use std::os::unix::fs::PermissionsExt;
    let bad = |problem| RunError::BadProgram {
        path: bin.to_owned(),
        problem,
    };
    let found = match std::fs::canonicalize(bin) {
        Err(e) if bin.components().count() == 1 && !bin.starts_with(".") => {
            std::env::var_os("PATH")
                .and_then(|paths| {
                    std::env::split_paths(&paths)
                        .map(|dir| dir.join(bin))
                        .find(|p| p.is_file())
                })
                .ok_or_else(|| bad(BadProgram::Missing(e)))
        }
        found => found.map_err(|e| bad(BadProgram::Missing(e))),
    }?;
    let meta = std::fs::metadata(&found).map_err(|e| bad(BadProgram::Missing(e)))?;
    if !meta.is_file() {
        return Err(bad(BadProgram::NotAFile));
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(bad(BadProgram::NotExecutable));
    }
    Ok(found)
}

/// Run one test. Returns the exit status.
pub fn run_once(opts: &TestOptions, command: &str) -> i32 {
    let started = Instant::now();
    if opts.sim {
        print_options(opts, command);
        let dir = match store::create_run_dir(&opts.store, opts.workload.name(), SystemTime::now())
        {
            Ok(dir) => dir,
            Err(e) => {
                println!("{}\n{e}", console::CRASH_BANNER);
                return EXIT_CRASH;
            }
        };
        let mut host = SimHost::new(sim_config(opts, Some(dir.join("node-logs"))));
        let code = execute(opts, command, &dir, &mut host, started);
        // The process is about to exit: freeing every simulated node's state one allocation
        // at a time would only add seconds to a big run.
        std::mem::forget(host);
        return code;
    }
    // A mistyped --bin is an argument error, found before anything is printed or stored.
    let (program, leading_args) = match node_program(opts) {
        Ok(p) => p,
        Err(e) if e.exit_code() == EXIT_BAD_ARGS => {
            eprintln!("error: {e}");
            return EXIT_BAD_ARGS;
        }
        Err(e) => {
            println!("{}\n{e}", console::CRASH_BANNER);
            return e.exit_code();
        }
    };
    print_options(opts, command);
    let dir = match store::create_run_dir(&opts.store, opts.workload.name(), SystemTime::now()) {
        Ok(dir) => dir,
        Err(e) => {
            println!("{}\n{e}", console::CRASH_BANNER);
            return EXIT_CRASH;
        }
    };
    let mut host = ProcessHost::new(ProcessConfig {
        program,
        leading_args,
        args: opts.node_args.clone(),
        cwd: std::env::temp_dir(),
        log_dir: dir.join("node-logs"),
        log_stderr: opts.log_stderr,
    });
    execute(opts, command, &dir, &mut host, started)
}

/// The simulation host's configuration for `opts`: our node with the workload named and the
/// trailing arguments as its settings, seeded by the run, and a virtual-time limit well past
/// any run's natural end.
pub fn sim_config(opts: &TestOptions, log_dir: Option<PathBuf>) -> SimConfig {
    let mut node_args = vec![opts.workload.name().to_owned()];
    node_args.extend(opts.node_args.iter().cloned());
    let main = opts.main_length();
    // Init and setup (10 s each at most), the main phase, the last ops' timeouts, recovery,
    // final reads, and a generous margin.
    let end = Time::ZERO
        + std::time::Duration::from_secs(60)
        + main
        + opts.recovery
        + std::time::Duration::from_secs(600);
    SimConfig {
        node_args,
        seed: opts.seed,
        log_dir,
        log_stderr: opts.log_stderr,
        end,
        threads: opts.sim_threads.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        }),
        disk: opts.sim_disk,
    }
}

/// Print the options and the seed, as a run starts.
pub fn print_options(opts: &TestOptions, command: &str) {
    let options_json = serde_json::to_value(opts).unwrap_or(Value::Null);
    println!(
        "Test options:\n{}",
        serde_json::to_string_pretty(&options_json).unwrap_or_default()
    );
    println!("Seed {} (replay: {command})", opts.seed);
}

/// Run a test on any host, with the run directory `dir` already created: drive the engine,
/// analyse, write the store, print the summary and the banner. Returns the exit status.
/// Process mode calls this with a [`ProcessHost`]; simulation mode can call it with its own.
pub fn execute<H: NodeHost + ?Sized>(
    opts: &TestOptions,
    command: &str,
    dir: &Path,
    host: &mut H,
    started: Instant,
) -> i32 {
    let engine = Engine::new(opts.clone());
    let mut progress = ProgressLine::new();
    let (record, interrupted) = driver::drive(engine, host, &mut |p, t| progress.update(p, t));
    progress.finish();
    let results = results::analyze(&record);
    let test = json!({
        "name": opts.workload.name(),
        "command": command,
        "seed": opts.seed,
        "options": serde_json::to_value(opts).unwrap_or(Value::Null),
        "store": dir.display().to_string(),
        "wall-seconds": started.elapsed().as_secs_f64(),
        "harness-version": env!("CARGO_PKG_VERSION"),
    });
    let mut store_error = None;
    if let Err(e) = store::write_run(dir, &record, &results, &test) {
        store_error = Some(e.to_string());
    } else if let Err(e) = store::link_latest(&opts.store, opts.workload.name(), dir) {
        store_error = Some(e.to_string());
    }
    println!();
    print!("{}", console::summary(&results, opts.workload.name()));
    println!("Results in {} (report.html)", dir.display());
    println!("Seed {} (replay: {command})", opts.seed);
    println!();
    if let Some(e) = store_error {
        eprintln!("warning: {e}");
    }
    if interrupted {
        println!("Interrupted; every node was killed.");
        return EXIT_INTERRUPTED;
    }
    if let Some(c) = &record.crash {
        println!("{}", console::CRASH_BANNER);
        println!("{}", c.reason);
        return EXIT_CRASH;
    }
    let (banner, code) = console::verdict(Validity::of(&results));
    println!("{banner}");
    code
}
