//! `Config::scalable()` at thousands of simulated members (`gossip_transport::testing`):
//! delivery time to all members, hop counts, redundancy, and delivery after half the members
//! crash at once.
//!
//! ```text
//! cargo run --release -p gossip-transport --features testing --example scale -- \
//!     --members 1000,10000 --probes 40 --interval-ms 500 --latency 20 --jitter 10 --seed 1
//! ```
//!
//! Each size runs three phases on one network of grow-only-set replicas:
//!
//! 1. **steady**: after 5 s of greetings, `probes` updates, one every `interval-ms`, each at a
//!    member drawn at random, then 5 s of quiet. Isolated updates, so that each packet's
//!    deltas belong to one update.
//! 2. **crashed, unnoticed**: half the members (drawn at random) crash at once; nobody tells
//!    the survivors. Survivors make `probes` updates as above, then 10 s of quiet; the engine
//!    has only its own repair (lazy digests, grafts, and routing around the tree neighbours
//!    that stopped acknowledging).
//! 3. **crashed, noticed**: the membership layer removes the crashed members from every
//!    survivor's member list (one `set_members` each), 5 s pass, then `probes` updates.
//!
//! A last row takes the updates of phase 2 again at the end: how many survivors got them
//! once the crashed members were removed.
//!
//! Per phase: delivery ratio (pairs of update and live member that got it, over all such
//! pairs), the time until an update is at every live member (p50, p99, max over updates), the
//! per-member delivery time p50/p99, the largest hop count (hops of the packet that first
//! brought the update to a member), Plumtree's relative message redundancy (deltas received
//! over updates, divided by the members each update had to reach, minus one), and every packet
//! sent over updates and members (acknowledgements and digests included).

use std::collections::HashMap;
use std::time::Duration;

use gossip_crdt::GSet;
use gossip_transport::testing::{Faults, Rng, SimNet};
use gossip_transport::{Config, Source, Time};

#[derive(Debug, Clone)]
struct ScaleArgs {
    members: Vec<u32>,
    probes: u64,
    interval: Duration,
    latency: u64,
    jitter: u64,
    seed: u64,
}

impl ScaleArgs {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<ScaleArgs, String> {
        let mut out = ScaleArgs {
            members: vec![1000],
            probes: 40,
            interval: Duration::from_millis(500),
            latency: 20,
            jitter: 10,
            seed: 1,
        };
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
                "--probes" => out.probes = number(&value)?.max(1),
                "--interval-ms" => out.interval = Duration::from_millis(number(&value)?.max(1)),
                "--latency" => out.latency = number(&value)?,
                "--jitter" => out.jitter = number(&value)?,
                "--seed" => out.seed = number(&value)?,
                other => return Err(format!("unknown flag {other}")),
            }
        }
        Ok(out)
    }
}

type Net = SimNet<GSet<u64>, u32>;

/// One update being followed.
struct Probe {
    at: Time,
    /// Hops to each member that has it (`u32::MAX`: not yet).
    hops: Vec<u32>,
    /// When each member got it.
    times: Vec<Option<Duration>>,
}

/// Updates followed in a phase, by value.
#[derive(Default)]
struct Probes {
    by_value: HashMap<u64, Probe>,
}

impl Probes {
    fn take_changes(&mut self, net: &mut Net) {
        while let Some((at, member, change)) = net.poll_change() {
            let m = member as usize;
            for v in change.gained.iter() {
                let Some(p) = self.by_value.get_mut(v) else {
                    continue;
                };
                let hop = match &change.source {
                    Source::Local => 0,
                    Source::Peer(from) => p.hops[*from as usize].saturating_add(1),
                };
                if p.times[m].is_none() {
                    p.times[m] = Some(at - p.at);
                    p.hops[m] = hop;
                }
            }
        }
    }
}

/// A phase's figures.
struct Figures {
    updates: u64,
    live: usize,
    delivered_pairs: u64,
    expected_pairs: u64,
    complete_updates: u64,
    all_p50: Duration,
    all_p99: Duration,
    all_max: Duration,
    each_p50: Duration,
    each_p99: Duration,
    max_hops: u32,
    rmr: f64,
    packets_per_update_member: f64,
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The members in the cluster that run.
fn running(net: &Net) -> Vec<u32> {
    net.live().into_iter().filter(|m| !net.is_down(m)).collect()
}

/// Runs `probes` isolated updates at random live, running members, then `quiet`; the
/// updates' values are the returned range.
fn phase(
    net: &mut Net,
    probes: &mut Probes,
    args: &ScaleArgs,
    rng: &mut Rng,
    next: &mut u64,
    quiet: Duration,
) -> Figures {
    let n = net.nodes.len();
    let live = running(net);
    let before = net.stats();
    let sent_before = net.net_stats().sent;
    let first = *next;
    for _ in 0..args.probes {
        let origin = live[rng.below(live.len() as u64) as usize];
        let value = *next;
        *next += 1;
        probes.by_value.insert(
            value,
            Probe {
                at: net.now(),
                hops: vec![u32::MAX; n],
                times: vec![None; n],
            },
        );
        let delta = net.node(origin).state().insert_delta(value);
        net.update(origin, delta);
        probes.take_changes(net);
        if !net.run_for(args.interval) {
            eprintln!("scale: the step bound was hit (a livelock)");
        }
        probes.take_changes(net);
    }
    if !net.run_for(quiet) {
        eprintln!("scale: the step bound was hit (a livelock)");
    }
    probes.take_changes(net);
    let after = net.stats();
    let received = (after.received_new + after.received_duplicate)
        - (before.received_new + before.received_duplicate);
    let packets = net.net_stats().sent - sent_before;
    let others = (live.len() as u64).saturating_sub(1).max(1);
    Figures {
        rmr: received as f64 / args.probes as f64 / others as f64 - 1.0,
        packets_per_update_member: packets as f64 / args.probes as f64 / others as f64,
        ..figures(probes, first..*next, &live)
    }
}

/// Delivery figures of the updates of `values` among the members `live`.
fn figures(probes: &Probes, values: std::ops::Range<u64>, live: &[u32]) -> Figures {
    let updates = values.end - values.start;
    let mut all = Vec::new();
    let mut each = Vec::new();
    let mut delivered_pairs = 0;
    let mut complete_updates = 0;
    let mut max_hops = 0;
    for p in values.filter_map(|v| probes.by_value.get(&v)) {
        let mut got = 0;
        let mut last = Duration::ZERO;
        for &m in live {
            if let Some(t) = p.times[m as usize] {
                got += 1;
                last = last.max(t);
                if p.hops[m as usize] != u32::MAX {
                    max_hops = max_hops.max(p.hops[m as usize]);
                }
                if p.hops[m as usize] > 0 {
                    each.push(t);
                }
            }
        }
        delivered_pairs += got;
        if got == live.len() as u64 {
            complete_updates += 1;
            all.push(last);
        }
    }
    all.sort();
    each.sort();
    Figures {
        updates,
        live: live.len(),
        delivered_pairs,
        expected_pairs: updates * live.len() as u64,
        complete_updates,
        all_p50: quantile(&all, 0.5),
        all_p99: quantile(&all, 0.99),
        all_max: all.last().copied().unwrap_or_default(),
        each_p50: quantile(&each, 0.5),
        each_p99: quantile(&each, 0.99),
        max_hops,
        rmr: f64::NAN,
        packets_per_update_member: f64::NAN,
    }
}

fn row(n: u32, name: &str, f: &Figures) {
    let ms = |d: Duration| d.as_millis().to_string();
    let all_ms = |d: Duration| {
        if f.complete_updates == 0 {
            "-".to_string()
        } else {
            ms(d)
        }
    };
    println!(
        "| {n} | {name} | {} | {:.2} % | {}/{} | {} | {} | {} | {} | {} | {} | {} | {} |",
        f.live,
        100.0 * f.delivered_pairs as f64 / f.expected_pairs.max(1) as f64,
        f.complete_updates,
        f.updates,
        all_ms(f.all_p50),
        all_ms(f.all_p99),
        all_ms(f.all_max),
        ms(f.each_p50),
        ms(f.each_p99),
        f.max_hops,
        figure(f.rmr, 3),
        figure(f.packets_per_update_member, 2),
    );
}

/// `x` to `digits` places, or a dash where there is no figure.
fn figure(x: f64, digits: usize) -> String {
    if x.is_finite() {
        format!("{x:.digits$}")
    } else {
        "-".to_string()
    }
}

fn run_size(n: u32, args: &ScaleArgs) {
    let faults = Faults {
        latency: Duration::from_millis(args.latency),
        jitter: Duration::from_millis(args.jitter),
        ..Faults::default()
    };
    let mut net: Net = SimNet::new((0..n).collect(), Config::scalable(), faults, args.seed);
    net.watch();
    let mut rng = Rng(args.seed ^ 0x5ca1e);
    let mut next = 0;
    if !net.run_for(Duration::from_secs(5)) {
        eprintln!("scale: the step bound was hit during greetings");
    }
    while net.poll_change().is_some() {}

    let mut probes = Probes::default();
    let steady = phase(
        &mut net,
        &mut probes,
        args,
        &mut rng,
        &mut next,
        Duration::from_secs(5),
    );
    row(n, "steady", &steady);

    let mut crashed = Vec::new();
    for m in 0..n {
        if rng.chance(0.5) {
            net.crash(m);
            crashed.push(m);
        }
    }
    let unnoticed_values = next..next + args.probes;
    let unnoticed = phase(
        &mut net,
        &mut probes,
        args,
        &mut rng,
        &mut next,
        Duration::from_secs(10),
    );
    row(n, "50 % crashed, unnoticed", &unnoticed);

    net.leave_all(&crashed);
    if !net.run_for(Duration::from_secs(5)) {
        eprintln!("scale: the step bound was hit after the departure");
    }
    probes.take_changes(&mut net);
    let noticed = phase(
        &mut net,
        &mut probes,
        args,
        &mut rng,
        &mut next,
        Duration::from_secs(5),
    );
    row(n, "50 % crashed, removed", &noticed);
    // The updates made while the crash went unnoticed, once the crashed members are removed.
    let late = figures(&probes, unnoticed_values, &running(&net));
    row(n, "the unnoticed phase's updates, at the end", &late);
    if !net.live_converged() {
        eprintln!("scale: the survivors did not converge");
    }
}

fn main() -> std::process::ExitCode {
    let args = match ScaleArgs::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("scale: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    println!(
        "Config::scalable(), {} isolated updates per phase every {} ms, latency {}-{} ms, seed {}",
        args.probes,
        args.interval.as_millis(),
        args.latency,
        args.latency + args.jitter,
        args.seed
    );
    println!();
    println!(
        "| members | phase | live | delivered | complete | all p50 ms | all p99 ms | all max ms | each p50 ms | each p99 ms | max hops | RMR | packets/update/member |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &n in &args.members {
        run_size(n, &args);
    }
    std::process::ExitCode::SUCCESS
}
