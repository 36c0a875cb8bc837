//! The `gossip-harness` binary: parse the command line, set up logging, hand over to the
//! library. See the crate docs of `gossip_harness` for usage.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use gossip_harness::cli::{Cli, Command, replay_command};
use gossip_harness::console::EXIT_BAD_ARGS;
use gossip_harness::{agents, analyze, node_cmd, run, scenario};

/// Simulations of many nodes are allocation-bound (see `docs/benchmarks.md`, "Simulation").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_BAD_ARGS } else { 0 };
            let _ = e.print();
            return exit(code);
        }
    };
    match cli.command {
        Command::Node { args } => node_cmd::run(args),
        Command::Analyze { test } => exit(analyze::run(&test)),
        Command::Agents(args) => {
            init_logging(std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned()));
            let seed = args.seed.unwrap_or_else(random_seed);
            let argv: Vec<String> = std::env::args().collect();
            let command = replay_command(&argv, seed);
            exit(agents::main(*args, seed, &command))
        }
        Command::Scenario(args) => {
            // A sweep prints its own report; a replay logs like `test`.
            let level = if args.seed.is_some() { "info" } else { "off" };
            init_logging(std::env::var("RUST_LOG").unwrap_or_else(|_| level.to_owned()));
            exit(scenario::main(&args))
        }
        Command::Test(args) => {
            let mut filter = String::from("info");
            if args.log_net_send || args.log_net_recv {
                filter.push_str(",gossip_harness::net=debug");
            }
            init_logging(std::env::var("RUST_LOG").unwrap_or(filter));
            let seed = args.seed.unwrap_or_else(random_seed);
            let test_count = args.test_count;
            let opts = match args.into_options(seed) {
                Ok(o) => o,
                Err(e) => {
                    eprintln!("error: {e}");
                    return exit(EXIT_BAD_ARGS);
                }
            };
            let argv: Vec<String> = std::env::args().collect();
            let command = |seed| replay_command(&argv, seed);
            exit(run::run_tests(&opts, test_count, &command))
        }
    }
}

fn init_logging(filter: String) {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(gossip_harness::console::LogWriter)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

fn exit(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(255))
}

fn random_seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (t.as_nanos() as u64) ^ (u64::from(std::process::id()) << 32)
}
