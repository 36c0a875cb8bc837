//! `gossip-agent`: the command line. `keygen`, `run` one agent, or try a `local` cluster.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use gossip_agent::{Agent, AgentConfig, AgentError, Security};
use gossip_net::{Keyring, Preset};

#[derive(Parser)]
#[command(
    name = "gossip-agent",
    version,
    about = "A replicated store of sets, counters and registers: run it on a few machines, \
             write to any of them over HTTP, and watch the changes spread"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print a new cluster key (one line); give the same key to every agent.
    Keygen,
    /// Run one agent.
    Run(RunArgs),
    /// Start N agents on 127.0.0.1 in this process, to try things out; Ctrl-C stops them.
    Local {
        /// How many agents.
        #[arg(long, default_value_t = 3)]
        nodes: u16,
        /// Gossip ports are P, P+1, ...; HTTP ports P+1000, P+1001, ...
        #[arg(long, default_value_t = 7000)]
        base_port: u16,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// Gossip address (UDP and TCP), HOST:PORT.
    #[arg(long)]
    listen: SocketAddr,
    /// HTTP API address, HOST:PORT.
    #[arg(long)]
    http: SocketAddr,
    /// Members to join, HOST:PORT,...; without it this agent starts a new cluster.
    #[arg(long, value_delimiter = ',')]
    join: Vec<String>,
    /// Keep state in this directory; without it everything is in memory.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// File holding the cluster key (from `gossip-agent keygen`).
    #[arg(long, conflicts_with = "insecure")]
    key_file: Option<PathBuf>,
    /// Run without encryption or authentication: only on a network you trust.
    #[arg(long)]
    insecure: bool,
    /// Timing preset of the network layer.
    #[arg(long, value_enum, default_value_t = PresetArg::Lan)]
    preset: PresetArg,
    /// A testing aid, never for production: loss, duplication and delay on everything this
    /// agent sends (`loss=0.05,duplicate=0.01,delay=20ms,seed=7`, or `none`), and the
    /// `PUT /v1/test/blocked` endpoint that cuts it off from chosen peers.
    #[arg(long, hide = true, value_parser = parse_faults)]
    test_faults: Option<gossip_net::Faults>,
}

fn parse_faults(spec: &str) -> Result<gossip_net::Faults, String> {
    gossip_agent::parse_test_faults(spec).map_err(|e| e.to_string())
}

#[derive(Clone, Copy, ValueEnum)]
enum PresetArg {
    /// One data centre: short timeouts, fast failure detection.
    Lan,
    /// Across regions: longer timeouts.
    Wan,
    /// Many members: fewer messages per member.
    Scalable,
}

impl From<PresetArg> for Preset {
    fn from(p: PresetArg) -> Preset {
        match p {
            PresetArg::Lan => Preset::Lan,
            PresetArg::Wan => Preset::Wan,
            PresetArg::Scalable => Preset::Scalable,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Keygen = cli.command {
        println!("{}", Keyring::generate().to_hex());
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("gossip-agent: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Keygen => Ok(()),
            Command::Run(args) => run(args).await,
            Command::Local { nodes, base_port } => local(nodes, base_port).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gossip-agent: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: RunArgs) -> Result<(), AgentError> {
    let stop = Stop::listen();
    let security = match (&args.key_file, args.insecure) {
        (Some(path), _) => Security::Key(gossip_agent::read_key_file(path)?),
        (None, true) => Security::Insecure,
        (None, false) => return Err(AgentError::NoKey),
    };
    let seeds = gossip_agent::resolve_all(&args.join).await?;
    let agent = Agent::start(AgentConfig {
        listen: args.listen,
        http: args.http,
        seeds,
        data_dir: args.data_dir,
        security,
        preset: args.preset.into(),
        test_faults: args.test_faults,
    })
    .await?;
    eprintln!(
        "gossip-agent {}: gossip on {}, HTTP on http://{}",
        agent.node().id(),
        agent.node().local_addr(),
        agent.http_addr()
    );
    stop.wait().await;
    eprintln!("gossip-agent: stopping");
    agent.shutdown().await
}

async fn local(nodes: u16, base_port: u16) -> Result<(), AgentError> {
    let stop = Stop::listen();
    let key = Keyring::generate();
    let mut agents = Vec::new();
    let addr = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    for i in 0..nodes {
        let (Some(gossip), Some(http)) = (
            base_port.checked_add(i),
            base_port.checked_add(1000).and_then(|p| p.checked_add(i)),
        ) else {
            eprintln!("gossip-agent: --base-port {base_port} leaves no room for {nodes} nodes");
            break;
        };
        let config = AgentConfig {
            listen: addr(gossip),
            http: addr(http),
            seeds: if i == 0 {
                vec![]
            } else {
                vec![addr(base_port)]
            },
            data_dir: None,
            security: Security::Key(key.clone()),
            preset: Preset::Lan,
            test_faults: None,
        };
        match Agent::start(config).await {
            Ok(agent) => agents.push(agent),
            Err(e) => {
                for agent in agents {
                    let _ = agent.shutdown().await;
                }
                return Err(e);
            }
        }
    }
    println!("{} agents running (Ctrl-C stops them all):", agents.len());
    for (i, agent) in agents.iter().enumerate() {
        println!(
            "  node {}  http://{}  gossip {}  id {}",
            i + 1,
            agent.http_addr(),
            agent.node().local_addr(),
            agent.node().id()
        );
    }
    if let Some(first) = agents.first() {
        let a = first.http_addr();
        let b = agents.last().map_or(a, |x| x.http_addr());
        println!("Try:");
        println!(
            "  curl -s -XPOST http://{a}/v1/sets/fruit -d '{{\"add\": [\"apple\", \"pear\"]}}'"
        );
        println!("  curl -s http://{b}/v1/sets/fruit");
        println!("  curl -s -XPOST http://{b}/v1/counters/visits -d '{{\"increment\": 1}}'");
        println!("  curl -s -XPUT http://{a}/v1/registers/title -d '{{\"value\": \"Draft\"}}'");
        println!("  curl -sN http://{b}/v1/watch");
        println!("  curl -s http://{a}/v1/members");
        println!("  open http://{a}/ for the status page");
    }
    stop.wait().await;
    println!("stopping");
    for agent in agents {
        if let Err(e) = agent.shutdown().await {
            eprintln!("gossip-agent: {e}");
        }
    }
    Ok(())
}

/// Ctrl-C and SIGTERM (how service managers stop a process), listened for from the start so
/// that a signal arriving while the agents start is not lost.
struct Stop {
    #[cfg(unix)]
    signals: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Stop {
    fn listen() -> Stop {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let signals = match (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) {
                (Ok(int), Ok(term)) => Some((int, term)),
                _ => None,
            };
            Stop { signals }
        }
        #[cfg(not(unix))]
        Stop {}
    }

    /// Returns once a stop signal arrives.
    async fn wait(self) {
        #[cfg(unix)]
        if let Some((mut int, mut term)) = self.signals {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            return;
        }
        if let Err(e) = tokio::signal::ctrl_c().await {
            eprintln!("gossip-agent: cannot listen for Ctrl-C ({e}); stopping");
        }
    }
}
