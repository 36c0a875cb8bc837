//! The tokio shell: stdin lines and timers in, stdout lines out, around one [`Node`].
//!
//! One task owns the node. Each turn of the loop waits for one [`Input`] (a stdin line, the
//! node's deadline, end of input, or SIGTERM), hands it to the node, writes every line the
//! node has for stdout through one buffer flushed once per turn, and re-arms the single timer.
//! Logs go to stderr, which Maelstrom keeps as the node's log; the last line is the node's
//! summary ([`Node::stats`]), written whether stdin closed or the node was asked to stop.
//!
//! With `--data-dir`, the shell opens the store there and hands the node's commits to a
//! [`Committer`] thread, one at a time: writes that arrive while a commit runs go into the
//! next, so one fsync covers them all. A finished commit is one more [`Input`]. At the end
//! the shell waits for the commit in flight and writes the node's clean-shutdown batch.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use gossip_store::{Committer, Durability, RedbStore, StoreError, Ticket};
use gossip_transport::Time;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::time::Instant;

use crate::options::{Options, USAGE};
use crate::{Birth, Node};

/// What woke the loop.
enum Input {
    /// One line from stdin, newline removed (invalid UTF-8 replaced, so the node can log it).
    Line(String),
    /// The node's deadline passed.
    Deadline,
    /// stdin closed: Maelstrom is done with us.
    Eof,
    /// SIGTERM: whoever started us wants us gone.
    Terminate,
    /// The commit with this number is over.
    Committed(u64, Result<(), StoreError>),
}

/// Runs the node on stdin/stdout with the given arguments (those after the program name);
/// returns when stdin closes or on SIGTERM. Bad arguments print the usage and exit with
/// status 2; `--help` prints it and `--version` the version, on stdout, and exit with 0.
pub fn run_stdio<S: AsRef<str>>(args: &[S]) -> ExitCode {
    if let Some(text) = asked_for(args) {
        return match std::io::stdout().write_all(text.as_bytes()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE,
        };
    }
    init_logging();
    let options = match Options::parse(args) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("gossip-node: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // The life is random, never the seed or the clock: every node of a run may be given the
    // same `seed=`, and a clock may step back across a restart.
    let life = uuid::Uuid::new_v4().as_u64_pair().0;
    let birth = Birth {
        seed: options.seed.unwrap_or(life),
        life,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gossip-node: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (node, committer) = match &options.data_dir {
        None => (Node::new(options, birth), None),
        Some(dir) => {
            let store = match RedbStore::open(dir) {
                Ok(store) => Arc::new(store),
                Err(e) => {
                    eprintln!(
                        "gossip-node: cannot open the data directory {}: {e}",
                        dir.display()
                    );
                    return ExitCode::FAILURE;
                }
            };
            let committer = match Committer::start(Arc::clone(&store)) {
                Ok(committer) => committer,
                Err(e) => {
                    eprintln!("gossip-node: {e}");
                    return ExitCode::FAILURE;
                }
            };
            tracing::info!(dir = %dir.display(), "keeping the replica on disk");
            (
                Node::with_store(options, birth, Box::new(store)),
                Some(committer),
            )
        }
    };
    let served = runtime.block_on(serve(node, committer.as_ref()));
    // Stopped by a signal, the node leaves a thread blocked reading stdin, which a plain drop
    // of the runtime would wait for.
    runtime.shutdown_background();
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("stdio failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The text to print instead of running, for `--help` (`-h`) or `--version` (`-V`).
fn asked_for<S: AsRef<str>>(args: &[S]) -> Option<String> {
    args.iter().find_map(|arg| match arg.as_ref() {
        "--help" | "-h" => Some(USAGE.to_string()),
        "--version" | "-V" => Some(format!("gossip-node {}\n", env!("CARGO_PKG_VERSION"))),
        _ => None,
    })
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A second initialisation (tests) is harmless: keep the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .with_env_filter(filter)
        .try_init();
}

async fn serve(mut node: Node, committer: Option<&Committer>) -> std::io::Result<()> {
    let origin = Instant::now();
    let mut stdin = BufReader::new(tokio::io::stdin());
    let mut stdout = BufWriter::new(tokio::io::stdout());
    let mut buffer = Vec::new();
    let mut deadline: Option<Instant> = None;
    let mut terminate = Terminate::listen();
    let mut commit: Option<(u64, Ticket)> = None;
    loop {
        let input = tokio::select! {
            read = stdin.read_until(b'\n', &mut buffer) => match read? {
                0 => Input::Eof,
                _ => {
                    let line = String::from_utf8_lossy(&buffer).trim_end_matches(['\n', '\r']).to_string();
                    buffer.clear();
                    Input::Line(line)
                }
            },
            () = sleep_until(deadline) => Input::Deadline,
            () = terminate.recv() => Input::Terminate,
            (number, result) = committed(&mut commit) => Input::Committed(number, result),
        };
        let now = Time::from_duration(origin.elapsed());
        match input {
            Input::Line(line) => node.handle_line(now, &line),
            Input::Deadline => node.handle_timeout(now),
            Input::Committed(number, result) => {
                commit = None;
                node.handle_committed(now, number, result);
            }
            Input::Eof | Input::Terminate => {
                if let Input::Eof = input {
                    tracing::info!("stdin closed; exiting");
                } else {
                    tracing::info!("terminated (SIGTERM); exiting");
                }
                if let Some(committer) = committer {
                    close(&mut node, committer, commit.take(), now).await;
                    while let Some(line) = node.poll_output() {
                        stdout.write_all(line.as_bytes()).await?;
                        stdout.write_all(b"\n").await?;
                    }
                }
                stdout.flush().await?;
                if let Some(stats) = node.stats() {
                    tracing::info!("replication: {stats}");
                }
                return Ok(());
            }
        }
        if let Some(committer) = committer
            && commit.is_none()
            && let Some(next) = node.poll_commit()
        {
            commit = Some((
                next.number,
                committer.submit(next.batch, Durability::Immediate),
            ));
        }
        while let Some(line) = node.poll_output() {
            stdout.write_all(line.as_bytes()).await?;
            stdout.write_all(b"\n").await?;
        }
        stdout.flush().await?;
        deadline = node.poll_timeout().map(|t| origin + t.since_origin());
    }
}

/// The end of the commit in flight; never, without one.
async fn committed(commit: &mut Option<(u64, Ticket)>) -> (u64, Result<(), StoreError>) {
    match commit {
        Some((number, ticket)) => (*number, ticket.await),
        None => std::future::pending().await,
    }
}

/// A clean shutdown with a disk: the commit in flight, then the node's last batch (what is
/// pending, a checkpoint, the lease trimmed), so the next start keeps the replica id.
async fn close(node: &mut Node, committer: &Committer, commit: Option<(u64, Ticket)>, now: Time) {
    if let Some((number, ticket)) = commit {
        node.handle_committed(now, number, ticket.await);
    }
    match node.close() {
        Ok(None) => {}
        Ok(Some(last)) => {
            let result = committer.submit(last.batch, Durability::Immediate).await;
            match &result {
                Ok(()) => tracing::info!("replica saved: the next start resumes it"),
                Err(e) => tracing::error!("cannot save the replica at shutdown: {e}"),
            }
            node.handle_committed(now, last.number, result);
        }
        Err(e) => tracing::error!("cannot save the replica at shutdown: {e}"),
    }
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// SIGTERM, as a future the loop can wait on.
struct Terminate {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Terminate {
    /// Starts listening; without a listener (not Unix, or the handler could not be installed)
    /// SIGTERM keeps its default action.
    fn listen() -> Terminate {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let signal = signal(SignalKind::terminate())
                .inspect_err(|e| tracing::warn!("cannot listen for SIGTERM: {e}"))
                .ok();
            Terminate { signal }
        }
        #[cfg(not(unix))]
        Terminate {}
    }

    /// Completes when SIGTERM arrives; never, without a listener.
    async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some(signal) = &mut self.signal {
            if signal.recv().await.is_some() {
                return;
            }
            // The signal driver is gone: nothing more will come.
            self.signal = None;
        }
        std::future::pending().await
    }
}
