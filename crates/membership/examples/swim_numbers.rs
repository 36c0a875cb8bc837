//! SWIM's figures in the simulated network: how long until every live member declares a
//! crashed member down (virtual time, against what the configuration predicts), and how much
//! membership traffic an idle cluster sends per member per second.
//!
//! `cargo run --release -p gossip-membership --example swim_numbers [crashes]`

#[path = "../tests/all/sim.rs"]
mod sim;

use std::collections::BTreeMap;
use std::time::Duration;

use gossip_membership::{Config, Identity, MemberEvent};
use gossip_transport::Time;
use rand::RngExt;
use sim::{Net, addr, fresh_id};

fn boot(net: &mut Net, n: u32) {
    for i in 0..n {
        let id = fresh_id(&mut net.rng);
        let mut seeds = vec![addr(0)];
        if i > 1 {
            seeds.push(addr(net.rng.random_range(1..i)));
        }
        net.start(Identity::new(id, addr(i), 1), &seeds);
        net.run_for(Duration::from_millis(20));
    }
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i]
}

/// Crashes one member at a time and measures, per live member, the time from the crash to its
/// `Down` event for that member; restarts the crashed member under a new id afterwards.
fn detection(n: u32, crashes: u32) {
    let config = Config::lan_sized(n);
    let mut net = Net::new(42, config.clone(), false);
    boot(&mut net, n);
    net.run_for(Duration::from_secs(30));
    let mut first = Vec::new();
    let mut everyone = Vec::new();
    let mut all = Vec::new();
    let mut missed = 0;
    for c in 0..crashes {
        // A random phase, so the crash is not in step with the probe timers.
        let phase = Duration::from_millis(net.rng.random_range(0..1000));
        net.run_for(phase);
        let victim = addr(net.rng.random_range(0..n));
        let Some(node) = net.crash(victim) else {
            continue;
        };
        let gone = *node.membership.me();
        let crashed_at = net.now;
        let from = net.events.len();
        net.run_for(Duration::from_secs(40));
        let mut at: BTreeMap<_, Time> = BTreeMap::new();
        for seen in &net.events[from..] {
            if let MemberEvent::Down(id) = &seen.event
                && *id == gone
            {
                at.entry(seen.node).or_insert(seen.at);
            }
        }
        let live = net.nodes.len();
        missed += live - at.len();
        let mut times: Vec<f64> = at
            .values()
            .map(|t| (*t - crashed_at).as_secs_f64())
            .collect();
        times.sort_by(f64::total_cmp);
        if let (Some(f), Some(l)) = (times.first(), times.last()) {
            first.push(*f);
            everyone.push(*l);
        }
        all.extend(times);
        let id = fresh_id(&mut net.rng);
        net.start(Identity::new(id, victim, u64::from(c) + 2), &[addr(0)]);
        net.run_for(Duration::from_secs(20));
    }
    for v in [&mut first, &mut everyone, &mut all] {
        v.sort_by(f64::total_cmp);
    }
    let swim = &config.swim;
    // Probes of the victim arrive at about one per period (n - 1 probers, each picking it with
    // probability 1 / (n - 1)), so the wait W for the first one is exponential with a mean of
    // one period: p50 = ln 2, p99 = ln 100 periods. Then one period to suspect, and the
    // suspicion timeout.
    let base = config.detection_after_first_probe().as_secs_f64();
    let period = swim.probe_period.as_secs_f64();
    println!(
        "n={n}: probe period {:?}, suspicion {:?}; predicted at the first detector p50 {:.2}s p99 {:.2}s",
        swim.probe_period,
        swim.suspect_to_down_after,
        base + period * 2f64.ln(),
        base + period * 100f64.ln(),
    );
    println!(
        "  {crashes} crashes; first detector p50 {:.2}s p99 {:.2}s; every member p50 {:.2}s p99 {:.2}s; last member per crash p50 {:.2}s p99 {:.2}s; members that never saw Down: {missed}",
        quantile(&first, 0.5),
        quantile(&first, 0.99),
        quantile(&all, 0.5),
        quantile(&all, 0.99),
        quantile(&everyone, 0.5),
        quantile(&everyone, 0.99),
    );
}

/// Boots `n` members, lets them settle, then counts what they send in a quiet minute.
fn idle_traffic(n: u32) {
    let config = Config::lan_sized(n);
    let mut net = Net::new(7, config, false);
    boot(&mut net, n);
    net.run_for(Duration::from_secs(120));
    let full = n as usize - net.disagreeing().len();
    let (b0, p0) = net.traffic();
    let window = Duration::from_secs(60);
    net.run_for(window);
    let (b1, p1) = net.traffic();
    let per = f64::from(n) * window.as_secs_f64();
    println!(
        "n={n}: idle {:.0} B/s and {:.2} packets/s per member ({:.0} B per packet); members with the full view: {full}/{n}",
        (b1 - b0) as f64 / per,
        (p1 - p0) as f64 / per,
        (b1 - b0) as f64 / (p1 - p0).max(1) as f64,
    );
}

fn main() {
    let crashes: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(40);
    for n in [10, 50] {
        detection(n, crashes);
    }
    for n in [10, 100, 1000] {
        idle_traffic(n);
    }
}
