//! Delivery latency, bytes on the wire and CPU of a loopback cluster, all nodes as tasks of
//! this one process.
//!
//! ```text
//! cargo run -p gossip-net --example net_bench -- --nodes 3 --rate 1000 --secs 10
//! cargo run -p gossip-net --example net_bench -- --nodes 10 --idle 30
//! cargo run -p gossip-net --example net_bench -- --nodes 3 --secs 5 --sweep 1000,2000,5000,10000
//! ```
//!
//! With `--idle SECS` no update is made: once every replica knows every member and a few
//! seconds have passed, it counts what the cluster sends in `SECS` seconds of quiet (the
//! membership's own traffic) and reports it per member.
//!
//! Each update inserts one fresh `u64` into a G-Set replica that every node hosts, made at
//! `--rate` updates per second in total, on the nodes in turn. An update is delivered when
//! every other node's subscription has seen it; the figures are quantiles of that time. Bytes
//! count every datagram and frame every node sent during the run (sealed: headers, nonces,
//! tags, acknowledgements, digests and membership pings included). CPU is this process's user
//! plus system time over the run, for the whole cluster.
//!
//! `--sweep R1,R2,...`: every update is made at one node (the first), for `--secs` at each
//! rate in turn on the same cluster; each rate prints its line, and the last line names the
//! highest rate that was sustained (made at 95 % of the asked rate or more, every update
//! delivered) with a p99 at most twice the first rate's. `--writer hub` or `--writer leaf`
//! makes them at the star's hub or at a leaf instead (the first node started is either). With
//! `--trace`, each node's counters (datagrams and frames, refusals, queues, the transport's
//! packets by kind) are printed every second. `--flush MS` sets every node's leaf batching
//! interval ([`NodeBuilder::flush`]; the Lan preset's is 15 ms), `--relay-flush MS` its hub
//! batching interval ([`NodeBuilder::relay_flush`]; 10 ms).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gossip_crdt::GSet;
use gossip_net::{Event, Keyring, Node, NodeBuilder, Preset, Replica};

struct Args {
    nodes: usize,
    rate: u64,
    secs: u64,
    idle: Option<u64>,
    sweep: Vec<u64>,
    trace: bool,
    /// Sweeps only: write at the star's hub (`Some(true)`), at a leaf (`Some(false)`), or at
    /// the first node started, whichever it is (`None`).
    at_hub: Option<bool>,
    /// Every node's leaf batching interval, when not the preset's.
    flush: Option<Duration>,
    /// Every node's hub batching interval, when not the preset's.
    relay_flush: Option<Duration>,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        nodes: 3,
        rate: 1000,
        secs: 10,
        idle: None,
        sweep: Vec::new(),
        trace: false,
        at_hub: None,
        flush: None,
        relay_flush: None,
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < v.len() {
        if v[i] == "--trace" {
            a.trace = true;
            i += 1;
            continue;
        }
        let val = v.get(i + 1).ok_or(format!("{} needs a value", v[i]))?;
        if v[i] == "--writer" {
            a.at_hub = match val.as_str() {
                "hub" => Some(true),
                "leaf" => Some(false),
                _ => return Err(format!("--writer takes hub or leaf, not {val:?}")),
            };
            i += 2;
            continue;
        }
        if v[i] == "--sweep" {
            a.sweep = val
                .split(',')
                .map(|r| r.parse::<u64>().map(|r| r.max(1)))
                .collect::<Result<_, _>>()
                .map_err(|_| format!("{val:?} is not a list of rates"))?;
            i += 2;
            continue;
        }
        let n: u64 = val
            .parse()
            .map_err(|_| format!("{val:?} is not a number"))?;
        match v[i].as_str() {
            "--nodes" => a.nodes = n.max(2) as usize,
            "--rate" => a.rate = n.max(1),
            "--secs" => a.secs = n.max(1),
            "--idle" => a.idle = Some(n.max(1)),
            "--flush" => a.flush = Some(Duration::from_millis(n)),
            "--relay-flush" => a.relay_flush = Some(Duration::from_millis(n)),
            other => return Err(format!("unknown option {other}")),
        }
        i += 2;
    }
    Ok(a)
}

/// User plus system CPU time of this process, from `/proc/self/stat` (Linux).
fn cpu_time() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name and state.
    let total = ticks(11) + ticks(12);
    Duration::from_millis(total * 10) // 100 ticks per second on Linux
}

fn wire_bytes(nodes: &[Node]) -> u64 {
    nodes
        .iter()
        .map(|n| {
            let m = n.metrics();
            m.udp_sent_bytes + m.tcp_sent_bytes
        })
        .sum()
}

/// Counts what an idle cluster sends in `secs` seconds, after a settling time.
async fn idle(nodes: &[Node], secs: u64) -> Result<(), Box<dyn std::error::Error>> {
    // Let the joins' own traffic (greetings, first state exchanges) pass.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let sent = |nodes: &[Node]| -> (u64, u64) {
        nodes.iter().fold((0, 0), |(b, d), n| {
            let m = n.metrics();
            (
                b + m.udp_sent_bytes + m.tcp_sent_bytes,
                d + m.udp_sent + m.tcp_sent,
            )
        })
    };
    let (bytes0, msgs0) = sent(nodes);
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let (bytes1, msgs1) = sent(nodes);
    let per_member = |x: u64| x as f64 / secs as f64 / nodes.len() as f64;
    println!(
        "nodes {} | idle {} s | sent per member {:.0} bytes/s, {:.2} messages/s (sealed, UDP and TCP)",
        nodes.len(),
        secs,
        per_member(bytes1 - bytes0),
        per_member(msgs1 - msgs0),
    );
    for n in nodes {
        let _ = n.shutdown().await;
    }
    Ok(())
}

/// UDP datagrams the system dropped for a full receive buffer (all sockets), from
/// `/proc/net/snmp` (Linux).
fn rcvbuf_errors() -> u64 {
    let Ok(snmp) = std::fs::read_to_string("/proc/net/snmp") else {
        return 0;
    };
    let udp: Vec<Vec<&str>> = snmp
        .lines()
        .filter(|l| l.starts_with("Udp:"))
        .map(|l| l.split_whitespace().collect())
        .collect();
    let (Some(names), Some(values)) = (udp.first(), udp.get(1)) else {
        return 0;
    };
    names
        .iter()
        .position(|n| *n == "RcvbufErrors")
        .and_then(|i| values.get(i))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// One line per node of what its link and transport did: for `--trace`.
fn trace(nodes: &[Node], sets: &[Replica<GSet<u64>>], label: &str) {
    let hub = nodes.iter().map(Node::id).min();
    println!(
        "-- {label} (system UDP receive-buffer drops so far {})",
        rcvbuf_errors()
    );
    for (i, (n, s)) in nodes.iter().zip(sets).enumerate() {
        let m = n.metrics();
        let st = s.stats();
        let kinds: Vec<String> = st
            .sent
            .iter()
            .map(|(k, c)| format!("{} {}/{}/{}", k.name(), c.packets, c.deltas, c.bytes))
            .collect();
        println!(
            "  node {i}{} udp {}/{} tcp {}/{} recv udp {} tcp {} | refused inv {} nm {} | qfull {} udperr {} | tcpq {} | queued {} lag {} {}ms | held {} | {} | refused far {} | recv new {} dup {}",
            if Some(n.id()) == hub { " (hub)" } else { "" },
            m.udp_sent,
            m.udp_sent_bytes,
            m.tcp_sent,
            m.tcp_sent_bytes,
            m.udp_received,
            m.tcp_received,
            m.refused_invalid,
            m.refused_not_member,
            m.dropped_queue_full,
            m.udp_send_errors,
            m.tcp_queued_bytes,
            m.replica_queued_deltas,
            m.replication_lag_deltas,
            m.replication_lag_ms,
            s.read(|st| st.len()),
            kinds.join(", "),
            st.refused.too_far_ahead,
            st.received_new,
            st.received_duplicate,
        );
    }
}

struct Pending {
    sent: Instant,
    /// The nodes that have not seen it yet, by index, and how many they are.
    missing: Vec<bool>,
    left: usize,
}

/// Node `node` has seen update `id`: records the delivery time once every node has.
fn seen(
    pending: &mut HashMap<u64, Pending>,
    latencies: &Mutex<Vec<Duration>>,
    id: u64,
    node: usize,
    now: Instant,
) {
    let Some(entry) = pending.get_mut(&id) else {
        return;
    };
    if !entry.missing.get(node).copied().unwrap_or(false) {
        return;
    }
    entry.missing[node] = false;
    entry.left -= 1;
    if entry.left == 0 {
        let sent = entry.sent;
        pending.remove(&id);
        latencies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(now - sent);
    }
}

/// A formed cluster, its subscriptions feeding `pending` and `latencies`.
struct Bench<'a> {
    nodes: &'a [Node],
    sets: &'a [Replica<GSet<u64>>],
    pending: Arc<Mutex<HashMap<u64, Pending>>>,
    latencies: Arc<Mutex<Vec<Duration>>>,
    /// How often a subscription fell behind (and the state was read instead).
    lagged: Arc<std::sync::atomic::AtomicU64>,
    trace: bool,
}

/// One run's figures.
struct Measured {
    achieved: f64,
    undelivered: usize,
    p99: Duration,
}

impl Bench<'_> {
    /// `rate` updates a second for `secs`, at `writer` or at the nodes in turn, numbered from
    /// `first_id`; prints the run's lines.
    async fn measure(
        &self,
        rate: u64,
        secs: u64,
        writer: Option<usize>,
        first_id: u64,
    ) -> Result<Measured, Box<dyn std::error::Error>> {
        let n = self.nodes.len();
        self.latencies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        let bytes0 = wire_bytes(self.nodes);
        let lagged0 = self.lagged.load(std::sync::atomic::Ordering::Relaxed);
        let cpu0 = cpu_time();
        let start = Instant::now();
        let total = rate * secs;
        let mut tick = tokio::time::interval(Duration::from_secs(1) / rate as u32);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut delta_bytes = 0usize;
        for id in first_id..first_id + total {
            tick.tick().await;
            if self.trace && id > first_id && (id - first_id).is_multiple_of(rate) {
                trace(
                    self.nodes,
                    self.sets,
                    &format!("{rate}/s, {} s in", (id - first_id) / rate),
                );
            }
            let at = writer.unwrap_or((id as usize) % n);
            let s = &self.sets[at];
            let mut missing = vec![true; n];
            missing[at] = false;
            self.pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(
                    id,
                    Pending {
                        sent: Instant::now(),
                        missing,
                        left: n - 1,
                    },
                );
            let delta = s.read(|st| st.insert_delta(id));
            delta_bytes += postcard::to_allocvec(&delta).map_or(0, |v| v.len());
            s.update(move |_, _| Some(delta)).await?;
        }
        let sent_for = start.elapsed();
        if self.trace {
            trace(self.nodes, self.sets, &format!("{rate}/s made"));
        }
        let drain = Instant::now();
        let mut next_trace = drain;
        let mut undelivered = 0;
        loop {
            let left = self.pending.lock().unwrap_or_else(|p| p.into_inner()).len();
            if left == 0 {
                break;
            }
            if self.trace && Instant::now() >= next_trace {
                next_trace += Duration::from_secs(1);
                trace(
                    self.nodes,
                    self.sets,
                    &format!(
                        "draining {:.0} s, {left} left",
                        drain.elapsed().as_secs_f64()
                    ),
                );
            }
            if drain.elapsed() > Duration::from_secs(60) {
                eprintln!("{left} updates were not delivered within 60 s");
                undelivered = left;
                self.pending
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clear();
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let cpu = cpu_time().saturating_sub(cpu0);
        let bytes = wire_bytes(self.nodes) - bytes0;
        let mut l = self
            .latencies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        l.sort();
        let q = |p: f64| {
            l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        let achieved = total as f64 / sent_for.as_secs_f64();
        println!(
            "nodes {} | updates {} in {:.1} s ({:.0}/s{}) | delivered to all {} | p50 {:.1} ms | p99 {:.1} ms | max {:.1} ms",
            n,
            total,
            sent_for.as_secs_f64(),
            achieved,
            if writer.is_some() {
                ", at one node"
            } else {
                ""
            },
            l.len(),
            q(0.50).as_secs_f64() * 1e3,
            q(0.99).as_secs_f64() * 1e3,
            l.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        );
        let lagged = self.lagged.load(std::sync::atomic::Ordering::Relaxed) - lagged0;
        if lagged > 0 {
            println!(
                "subscriptions fell behind {lagged} times: the updates they missed were found in the state, and count as delivered then"
            );
        }
        println!(
            "wire bytes per update {:.0} (all nodes) | per update per receiving node {:.0} | encoded delta {:.1} bytes | CPU {:.0} ms per 1,000 updates (whole cluster)",
            bytes as f64 / total as f64,
            bytes as f64 / total as f64 / (n - 1) as f64,
            delta_bytes as f64 / total as f64,
            cpu.as_secs_f64() * 1e3 / total as f64 * 1000.0,
        );
        Ok(Measured {
            achieved,
            undelivered,
            p99: q(0.99),
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = args()?;
    let key = Keyring::generate();
    let any: SocketAddr = "127.0.0.1:0".parse()?;
    let builder = |seeds: Vec<SocketAddr>| {
        let b = NodeBuilder::new(any)
            .keyring(key.clone())
            .preset(Preset::Lan)
            .seeds(seeds);
        let b = match a.flush {
            Some(flush) => b.flush(flush),
            None => b,
        };
        match a.relay_flush {
            Some(flush) => b.relay_flush(flush),
            None => b,
        }
    };
    let first = builder(vec![]).start().await?;
    let seed = first.local_addr();
    let mut nodes = vec![first];
    for _ in 1..a.nodes {
        nodes.push(builder(vec![seed]).start().await?);
    }
    let sets: Vec<Replica<GSet<u64>>> = nodes
        .iter()
        .map(|n| n.open("bench"))
        .collect::<Result<_, _>>()?;
    let warm = Instant::now();
    while !sets.iter().all(|s| s.members().len() == a.nodes - 1) {
        if warm.elapsed() > Duration::from_secs(60) {
            return Err("the cluster did not form within 60 s".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if let Some(secs) = a.idle {
        return idle(&nodes, secs).await;
    }

    let pending: Arc<Mutex<HashMap<u64, Pending>>> = Arc::default();
    let latencies: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let lagged = Arc::new(std::sync::atomic::AtomicU64::new(0));
    for (node, s) in sets.iter().enumerate() {
        let mut sub = s.subscribe();
        let set = s.clone();
        let pending = pending.clone();
        let latencies = latencies.clone();
        let lagged = lagged.clone();
        tokio::spawn(async move {
            while let Some(e) = sub.next().await {
                let now = Instant::now();
                match e {
                    Event::Changed {
                        gained,
                        from: Some(_),
                    } => {
                        let mut p = pending.lock().unwrap_or_else(|p| p.into_inner());
                        for id in gained.iter() {
                            seen(&mut p, &latencies, *id, node, now);
                        }
                    }
                    Event::Lagged { .. } => {
                        // Events were dropped: what they carried is in the state. Such
                        // updates count as delivered now (later than they were).
                        lagged.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let mut p = pending.lock().unwrap_or_else(|p| p.into_inner());
                        let ids: Vec<u64> = p
                            .iter()
                            .filter(|(_, e)| e.missing.get(node).copied().unwrap_or(false))
                            .map(|(id, _)| *id)
                            .collect();
                        let held: Vec<u64> =
                            set.read(|st| ids.into_iter().filter(|id| st.contains(id)).collect());
                        for id in held {
                            seen(&mut p, &latencies, id, node, now);
                        }
                    }
                    _ => {}
                }
            }
        });
    }

    let bench = Bench {
        nodes: &nodes,
        sets: &sets,
        pending,
        latencies,
        lagged,
        trace: a.trace,
    };
    if a.sweep.is_empty() {
        bench.measure(a.rate, a.secs, None, 0).await?;
    } else {
        let mut first_p99 = None;
        let mut best = None;
        let mut next_id = 0;
        // The star's hub is the member with the lowest id.
        let hub = nodes
            .iter()
            .enumerate()
            .min_by_key(|(_, n)| n.id())
            .map_or(0, |(i, _)| i);
        let writer = match a.at_hub {
            None => 0,
            Some(true) => hub,
            Some(false) => usize::from(hub == 0),
        };
        println!(
            "writing at node {writer}, {}",
            if writer == hub { "the hub" } else { "a leaf" }
        );
        for &rate in &a.sweep {
            let m = bench.measure(rate, a.secs, Some(writer), next_id).await?;
            next_id += rate * a.secs;
            let base = *first_p99.get_or_insert(m.p99);
            let sustained = m.achieved >= 0.95 * rate as f64 && m.undelivered == 0;
            if !sustained || m.p99 > base * 2 {
                break;
            }
            best = Some(rate);
        }
        match best {
            Some(rate) => println!(
                "highest rate sustained at one node with p99 within twice the first rate's: {rate}/s"
            ),
            None => println!("no rate of the sweep was sustained"),
        }
    }
    for n in &nodes {
        let _ = n.shutdown().await;
    }
    Ok(())
}
