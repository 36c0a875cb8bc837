//! What a member fetches to catch up, in the transport's simulated network
//! (`gossip_transport::testing`), in the bytes `gossip-net` would send (postcard, as
//! [`PostcardWeigh`] weighs a packet; sealing and the envelope add a fixed amount per datagram,
//! counted separately).
//!
//! ```text
//! cargo run --release -p gossip-net --example catchup -- join --members 3 --elements 100000
//! cargo run --release -p gossip-net --example catchup -- rejoin --members 3 --rate 1000 --down 60
//! ```
//!
//! - `join`: a cluster of `members` replicas of a grow-only set of `u64` builds a set of
//!   `elements` values (1,000 single-value updates a second at members in turn), waits
//!   `settle` seconds (past the 30 s a delta is retained, so peers hold the state compacted),
//!   then a new, empty member joins. Reported: the bytes of every packet sent to it until it
//!   holds the whole set, against the set's own postcard size, and the virtual time it took.
//! - `rejoin`: the same cluster makes `rate` updates a second throughout, at members other than
//!   the victim. After 20 s the victim shuts down cleanly (its state, the ids it holds and its
//!   last counter are kept, as `gossip-store` keeps them) and stays down for `down` seconds;
//!   after 10 s of that the others drop it from their member lists, as the membership layer
//!   would. Then it comes back through `Replicator::resume` and is put back on every member
//!   list. Reported: the bytes sent to it from its return until it holds every update made
//!   before its return, against the encoded size of the updates it missed, and the time.
//!
//! Configuration: `Config::lan()` (the star, hub batching every 50 ms), one-way latency
//! `latency` ms on every packet, nothing lost.

use std::time::Duration;

use gossip_crdt::GSet;
use gossip_net::PostcardWeigh;
use gossip_transport::testing::{Faults, SimNet};
use gossip_transport::{Config, Replicator, Start, Time, Weigh};

type Set = GSet<u64>;
type Net = SimNet<Set, u32>;

#[derive(Debug, Clone)]
struct CatchupArgs {
    mode: String,
    members: u32,
    elements: u64,
    settle: u64,
    rate: u64,
    down: u64,
    latency: u64,
    seed: u64,
}

impl CatchupArgs {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<CatchupArgs, String> {
        let mode = args.next().ok_or("give a mode: join or rejoin")?;
        if mode != "join" && mode != "rejoin" {
            return Err(format!("unknown mode {mode} (join, rejoin)"));
        }
        let mut out = CatchupArgs {
            mode,
            members: 3,
            elements: 100_000,
            settle: 40,
            rate: 1000,
            down: 60,
            latency: 10,
            seed: 1,
        };
        while let Some(flag) = args.next() {
            let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let n = value
                .parse::<u64>()
                .map_err(|e| format!("{flag} {value}: {e}"))?;
            match flag.as_str() {
                "--members" => out.members = u32::try_from(n.max(2)).unwrap_or(u32::MAX),
                "--elements" => out.elements = n,
                "--settle" => out.settle = n,
                "--rate" => out.rate = n.max(1),
                "--down" => out.down = n,
                "--latency" => out.latency = n,
                "--seed" => out.seed = n,
                other => return Err(format!("unknown flag {other}")),
            }
        }
        Ok(out)
    }
}

fn encoded<T: serde::Serialize>(value: &T) -> u64 {
    postcard::experimental::serialized_size(value).map_or(0, |n| n as u64)
}

/// Packets and postcard bytes sent to `to` since the log was last taken.
fn take_traffic(net: &mut Net, to: u32) -> (u64, u64) {
    let mut packets = 0;
    let mut bytes = 0;
    for (_, _, dest, packet) in net.sent_log.drain(..) {
        if dest == to {
            packets += 1;
            bytes += Weigh::<Set>::packet(&PostcardWeigh, &packet) as u64;
        }
    }
    (packets, bytes)
}

fn network(args: &CatchupArgs) -> Net {
    let faults = Faults {
        latency: Duration::from_millis(args.latency),
        ..Faults::default()
    };
    SimNet::new(
        (0..args.members).collect(),
        Config::lan(),
        faults,
        args.seed,
    )
}

/// One update of a fresh value at `at`, then `step` of virtual time.
fn update(net: &mut Net, at: u32, value: u64, step: Duration) {
    let delta = net.node(at).state().insert_delta(value);
    net.update(at, delta);
    if !net.run_for(step) {
        eprintln!("catchup: the step bound was hit (a livelock)");
    }
}

/// Steps of 10 ms until `done`, at most `limit`; the traffic sent to `to` meanwhile and the
/// time it took (`None` if `limit` passed first).
fn run_until_caught_up(
    net: &mut Net,
    to: u32,
    limit: Duration,
    mut between: impl FnMut(&mut Net),
    done: impl Fn(&Net) -> bool,
) -> (u64, u64, Option<Duration>) {
    let start = net.now();
    let (mut packets, mut bytes) = (0, 0);
    while net.now() - start < limit {
        between(net);
        let (p, b) = take_traffic(net, to);
        packets += p;
        bytes += b;
        if done(net) {
            return (packets, bytes, Some(net.now() - start));
        }
    }
    (packets, bytes, None)
}

fn join(args: &CatchupArgs) {
    let mut net = network(args);
    let step = Duration::from_millis(1);
    for v in 0..args.elements {
        update(&mut net, (v % u64::from(args.members)) as u32, v, step);
    }
    if !net.run_for(Duration::from_secs(args.settle)) {
        eprintln!("catchup: the step bound was hit while settling");
    }
    let state_bytes = encoded(net.node(0).state());
    let log_len: usize = net.nodes.iter().map(Replicator::log_len).sum();
    let newcomer = args.members;
    net.record = true;
    net.sent_log.clear();
    net.join(newcomer);
    let elements = args.elements as usize;
    let (packets, bytes, took) = run_until_caught_up(
        &mut net,
        newcomer,
        Duration::from_secs(120),
        |net| {
            net.run_for(Duration::from_millis(10));
        },
        |net| net.node(newcomer).state().len() >= elements,
    );
    println!(
        "join | members {} | set of {} elements, {} bytes encoded | deltas still logged at the members {} | to the newcomer: {} packets, {} bytes ({:.3} x the state) | caught up in {}",
        args.members,
        args.elements,
        state_bytes,
        log_len,
        packets,
        bytes,
        bytes as f64 / state_bytes.max(1) as f64,
        took.map_or("not within 120 s".to_string(), |d| format!(
            "{} ms (virtual)",
            d.as_millis()
        )),
    );
}

fn rejoin(args: &CatchupArgs) {
    let mut net = network(args);
    let victim = args.members - 1;
    let writers: Vec<u32> = (0..args.members).filter(|m| *m != victim).collect();
    let all: Vec<u32> = (0..args.members).collect();
    let step = Duration::from_nanos(1_000_000_000 / args.rate);
    let mut next = 0u64;
    let mut writer = 0usize;
    let mut write = |net: &mut Net, next: &mut u64, with_victim: bool| {
        let at = if with_victim && next.is_multiple_of(10) {
            victim
        } else {
            writer = (writer + 1) % writers.len();
            writers[writer]
        };
        update(net, at, *next, step);
        *next += 1;
    };
    // 20 s of updates, the victim making a tenth of them, so that its own id is in play.
    let before = args.rate * 20;
    while next < before {
        write(&mut net, &mut next, true);
    }
    // A clean shutdown: what `gossip-store` keeps.
    let saved_state = net.node(victim).state().clone();
    let saved_seen = net.node(victim).seen().clone();
    let saved_issued = net.node(victim).issued();
    let saved_bytes = encoded(&saved_state);
    net.crash(victim);
    let down_at = net.now();
    let first_missed = next;
    let mut dropped = false;
    while net.now() - down_at < Duration::from_secs(args.down) {
        if !dropped && net.now() - down_at >= Duration::from_secs(10) {
            let now = net.now();
            for &m in &writers {
                net.node_mut(m).set_members(now, writers.clone());
            }
            dropped = true;
        }
        write(&mut net, &mut next, false);
    }
    let missed: Vec<u64> = (first_missed..next).collect();
    let missed_bytes: u64 = missed
        .iter()
        .map(|v| encoded(&Set::default().insert_delta(*v)))
        .sum();
    let back_at: Time = net.now();
    let resumed = {
        let mut r = Replicator::resume(
            victim,
            all.clone(),
            Config::lan(),
            Start::resume(
                back_at,
                args.seed ^ 0xbac,
                0xbac ^ args.seed,
                saved_issued.replica,
            ),
            saved_state,
            saved_seen,
            saved_issued.counter.saturating_add(1),
        );
        r.watch();
        r
    };
    net.recover(victim);
    net.record = true;
    net.sent_log.clear();
    *net.node_mut(victim) = resumed;
    for &m in &writers {
        net.node_mut(m).set_members(back_at, all.clone());
    }
    let (packets, bytes, took) = run_until_caught_up(
        &mut net,
        victim,
        Duration::from_secs(120),
        |net| {
            // The cluster keeps writing while the victim catches up.
            for _ in 0..10 {
                write(net, &mut next, false);
            }
        },
        |net| {
            let state = net.node(victim).state();
            missed.iter().rev().all(|v| state.contains(v))
        },
    );
    let updates_meanwhile = took.map_or(0, |d| (d.as_secs_f64() * args.rate as f64).round() as u64);
    let state_bytes = encoded(net.node(0).state());
    println!(
        "rejoin | members {} | {} updates/s | down {} s | saved state {} bytes | missed {} updates, {} bytes encoded as deltas | state now {} bytes | to the victim until caught up: {} packets, {} bytes ({:.3} x the missed deltas; about {} updates made meanwhile) | caught up in {}",
        args.members,
        args.rate,
        args.down,
        saved_bytes,
        missed.len(),
        missed_bytes,
        state_bytes,
        packets,
        bytes,
        bytes as f64 / missed_bytes.max(1) as f64,
        updates_meanwhile,
        took.map_or("not within 120 s".to_string(), |d| format!(
            "{} ms (virtual)",
            d.as_millis()
        )),
    );
}

fn main() -> std::process::ExitCode {
    match CatchupArgs::parse(std::env::args().skip(1)) {
        Ok(args) if args.mode == "join" => join(&args),
        Ok(args) => rejoin(&args),
        Err(e) => {
            eprintln!("catchup: {e}");
            return std::process::ExitCode::from(2);
        }
    }
    std::process::ExitCode::SUCCESS
}
