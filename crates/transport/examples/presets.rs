//! The transport's presets measured in its simulated network (`gossip_transport::testing`):
//! messages per update and delivery times at several cluster sizes, in a steady state and
//! after 30 % of the members leave at once.
//!
//! ```text
//! cargo run --release -p gossip-transport --features testing --example presets
//! cargo run --release -p gossip-transport --features testing --example presets -- \
//!     --members 10,100 --presets lan,scalable --secs 10 --rate 1000 --latency 20 --jitter 10 --seed 1
//! ```
//!
//! Each run: `members` replicas of a grow-only set, updates at members drawn at random
//! (`rate` a second, 1,000 by default) for `secs` of virtual time. Then 30 % of the members
//! (every one whose index ends in 0, 1 or 2, the star's hubs among them) leave in one
//! `set_members`, and the remaining members make updates at the same rate for another `secs`.
//! After each phase of updates the network runs for 5 s more so that every acknowledgement and
//! repair is counted.
//!
//! Messages per update: every packet any replica sent in the phase (from its first update to
//! the end of its quiet period, the departure's own traffic included) over the phase's updates.
//! Delivery time: from an update to the moment each other member still in the cluster holds
//! it.

use std::time::Duration;

use gossip_crdt::GSet;
use gossip_transport::testing::{Faults, Rng, SimNet};
use gossip_transport::{Config, Time};

/// The command line.
#[derive(Debug, Clone)]
struct PresetsArgs {
    /// Cluster sizes.
    members: Vec<u32>,
    /// Presets to run (maelstrom, lan, scalable).
    presets: Vec<String>,
    /// Virtual seconds of updates per phase.
    secs: u64,
    /// Updates per virtual second.
    rate: u64,
    /// One-way latency, milliseconds (every packet).
    latency: u64,
    /// Extra latency, uniform in [0, jitter) milliseconds.
    jitter: u64,
    /// The network's and the replicas' seed.
    seed: u64,
}

impl PresetsArgs {
    fn parse(args: impl Iterator<Item = String>) -> Result<PresetsArgs, String> {
        let mut out = PresetsArgs {
            members: vec![10, 100, 1000],
            presets: vec!["maelstrom".into(), "lan".into(), "scalable".into()],
            secs: 10,
            rate: 1000,
            latency: 20,
            jitter: 10,
            seed: 1,
        };
        let mut args = args;
        while let Some(flag) = args.next() {
            let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let number = |v: &str| v.parse::<u64>().map_err(|e| format!("{flag} {v}: {e}"));
            match flag.as_str() {
                "--members" => {
                    out.members = value
                        .split(',')
                        .map(|v| v.parse::<u32>().map_err(|e| format!("--members {v}: {e}")))
                        .collect::<Result<_, _>>()?;
                }
                "--presets" => out.presets = value.split(',').map(str::to_string).collect(),
                "--secs" => out.secs = number(&value)?,
                "--rate" => out.rate = number(&value)?.max(1),
                "--latency" => out.latency = number(&value)?,
                "--jitter" => out.jitter = number(&value)?,
                "--seed" => out.seed = number(&value)?,
                other => return Err(format!("unknown flag {other}")),
            }
        }
        Ok(out)
    }
}

/// One phase's figures.
#[derive(Debug, Clone, Copy, Default)]
struct Phase {
    updates: u64,
    packets: u64,
    /// Deliveries expected (update, receiver) and seen.
    expected: u64,
    delivered: u64,
    median_ms: u64,
    max_ms: u64,
}

/// Delivery times, by whole milliseconds.
#[derive(Default)]
struct Histogram(Vec<u64>);

impl Histogram {
    fn add(&mut self, ms: u64) {
        let i = usize::try_from(ms).unwrap_or(usize::MAX).min(1 << 20);
        if self.0.len() <= i {
            self.0.resize(i + 1, 0);
        }
        self.0[i] += 1;
    }

    fn count(&self) -> u64 {
        self.0.iter().sum()
    }

    fn quantile(&self, q: f64) -> u64 {
        let total = self.count();
        let rank = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (ms, &n) in self.0.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return ms as u64;
            }
        }
        0
    }

    fn max(&self) -> u64 {
        self.0.iter().rposition(|&n| n > 0).unwrap_or(0) as u64
    }
}

type Net = SimNet<GSet<u64>, u32>;

fn preset(name: &str) -> Option<Config<u32>> {
    match name {
        "maelstrom" => Some(Config::maelstrom()),
        "lan" => Some(Config::lan()),
        "scalable" => Some(Config::scalable()),
        _ => None,
    }
}

/// The quiet period after each phase's updates.
const DRAIN: Duration = Duration::from_secs(5);

/// Runs one phase: `secs` of updates at the live members, then [`DRAIN`].
fn phase(net: &mut Net, args: &PresetsArgs, schedule: &mut Rng, next_value: &mut u64) -> Phase {
    let live = net.live();
    let sent_before = net.net_stats().sent;
    let step = Duration::from_nanos(1_000_000_000 / args.rate.max(1));
    let updates = args.secs * args.rate;
    let mut origin: Vec<Time> = Vec::with_capacity(usize::try_from(updates).unwrap_or(0));
    let first = *next_value;
    let mut times = Histogram::default();
    let mut record = |net: &mut Net, origin: &[Time]| {
        while let Some((at, _, change)) = net.poll_change() {
            for v in change.gained.iter() {
                if let Some(sent) = v.checked_sub(first).and_then(|i| origin.get(i as usize)) {
                    times.add((at - *sent).as_millis() as u64);
                }
            }
        }
    };
    for _ in 0..updates {
        let at = live[schedule.below(live.len() as u64) as usize];
        let delta = net.node(at).state().insert_delta(*next_value);
        origin.push(net.now());
        net.update(at, delta);
        // The update's own change at its origin is not a delivery.
        while net.poll_change().is_some() {}
        *next_value += 1;
        if !net.run_for(step) {
            eprintln!("presets: the step bound was hit (a livelock)");
        }
        record(net, &origin);
    }
    if !net.run_for(DRAIN) {
        eprintln!("presets: the step bound was hit (a livelock)");
    }
    record(net, &origin);
    let delivered = times.count();
    Phase {
        updates,
        packets: net.net_stats().sent - sent_before,
        expected: updates * (live.len() as u64 - 1),
        delivered,
        median_ms: times.quantile(0.5),
        max_ms: times.max(),
    }
}

fn run_one(name: &str, config: Config<u32>, n: u32, args: &PresetsArgs) -> (Phase, Phase) {
    let faults = Faults {
        latency: Duration::from_millis(args.latency),
        jitter: Duration::from_millis(args.jitter),
        ..Faults::default()
    };
    let mut net: Net = SimNet::new((0..n).collect(), config, faults, args.seed);
    net.watch();
    let mut schedule = Rng(args.seed ^ 0x5eed);
    let mut next_value = 0;
    let steady = phase(&mut net, args, &mut schedule, &mut next_value);
    let sent_before = net.net_stats().sent;
    let leaving: Vec<u32> = (0..n).filter(|i| i % 10 < 3).collect();
    net.leave_all(&leaving);
    let leave_packets = net.net_stats().sent - sent_before;
    let mut after = phase(&mut net, args, &mut schedule, &mut next_value);
    after.packets += leave_packets;
    if !net.live_converged() {
        eprintln!("presets: {name} at {n} members did not converge");
    }
    (steady, after)
}

fn row(name: &str, n: u32, when: &str, p: &Phase) -> String {
    let share = if p.expected == 0 {
        100.0
    } else {
        100.0 * p.delivered as f64 / p.expected as f64
    };
    format!(
        "| {name} | {n} | {when} | {:.2} | {} | {} | {share:.1} |",
        p.packets as f64 / p.updates.max(1) as f64,
        p.median_ms,
        p.max_ms
    )
}

fn main() -> std::process::ExitCode {
    match PresetsArgs::parse(std::env::args().skip(1)).and_then(|args| run(&args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("presets: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

/// Runs every preset at every size and prints the table (Markdown).
fn run(args: &PresetsArgs) -> Result<(), String> {
    let mut configs = Vec::new();
    for name in &args.presets {
        let config = preset(name)
            .ok_or_else(|| format!("unknown preset `{name}` (maelstrom, lan, scalable)"))?;
        configs.push((name.clone(), config));
    }
    println!(
        "{} updates/s for {} s per phase, latency {}-{} ms, seed {}",
        args.rate,
        args.secs,
        args.latency,
        args.latency + args.jitter,
        args.seed
    );
    println!();
    println!("| preset | members | phase | msgs/update | median ms | max ms | delivered % |");
    println!("|---|---:|---|---:|---:|---:|---:|");
    for (name, config) in &configs {
        for &n in &args.members {
            let (steady, after) = run_one(name, config.clone(), n, args);
            println!("{}", row(name, n, "steady", &steady));
            println!("{}", row(name, n, "after 30 % left", &after));
        }
    }
    Ok(())
}
