//! The `gossip-harness` binary: parse the command line, set up logging, hand over to the
//! library. See the crate docs of `gossip_harness` for usage.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use gossip_harness::cli::{Cli, Command};
use gossip_harness::console::EXIT_BAD_ARGS;
use gossip_harness::{analyze, node_cmd, run};

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
        Command::Test(args) => {
            let mut filter = String::from("info");
            if args.log_net_send || args.log_net_recv {
                filter.push_str(",gossip_harness::net=debug");
            }
            let filter = std::env::var("RUST_LOG").unwrap_or(filter);
            tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_writer(std::io::stderr)
                .with_target(false)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .init();
            let seed = args.seed.unwrap_or_else(random_seed);
            let test_count = args.test_count;
            let opts = match args.into_options(seed) {
                Ok(o) => o,
                Err(e) => {
                    eprintln!("error: {e}");
                    return exit(EXIT_BAD_ARGS);
                }
            };
            let command = replay_command(opts.seed);
            exit(run::run_tests(&opts, test_count, &command))
        }
    }
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

/// This invocation's command line with `--seed` pinned, so the run can be replayed.
fn replay_command(seed: u64) -> String {
    let mut args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--seed") {
        args.drain(i..(i + 2).min(args.len()));
    }
    args.retain(|a| !a.starts_with("--seed="));
    let at = args
        .iter()
        .position(|a| a == "test")
        .map_or(args.len(), |i| i + 1);
    args.insert(at, seed.to_string());
    args.insert(at, "--seed".to_owned());
    args.iter()
        .map(|a| {
            if a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./=:,".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
