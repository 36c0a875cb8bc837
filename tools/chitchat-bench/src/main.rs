//! The `chitchat` crate on loopback, measured the way `gossip-net`'s `net_bench` example is:
//! every node a set of tasks in this one process, each bound to its own UDP socket on
//! 127.0.0.1.
//!
//! ```text
//! cargo run --release -- --nodes 10 --rate 1000 --secs 10 --gossip-ms 50
//! ```
//!
//! Each update sets one fresh key (`u<id>`, value `<id>`) in the writing node's own key
//! space, at `--rate` updates per second in total, on the nodes in turn. An update is
//! delivered when every other node's key-change listener has seen it; the figures are
//! quantiles of that time. Bytes count every datagram every node sent during the run (the
//! UDP payload: digests, deltas and heartbeats included), taken from chitchat's own
//! transport, wrapped. CPU is this process's user plus system time over the run.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use async_trait::async_trait;
use chitchat::transport::{RecvOutcome, SendOutcome, Socket, Transport, UdpTransport};
use chitchat::{
    ChitchatConfig, ChitchatEnvelope, ChitchatHandle, ChitchatId, FailureDetectorConfig,
    ListenerHandle, ProtocolVersion, spawn_chitchat,
};

struct Args {
    nodes: usize,
    rate: u64,
    secs: u64,
    gossip: Duration,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        nodes: 3,
        rate: 1000,
        secs: 10,
        gossip: Duration::from_millis(50),
    };
    let v: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < v.len() {
        let val = v
            .get(i + 1)
            .with_context(|| format!("{} needs a value", v[i]))?;
        let n: u64 = val
            .parse()
            .with_context(|| format!("{val:?} is not a number"))?;
        match v[i].as_str() {
            "--nodes" => a.nodes = n.max(2) as usize,
            "--rate" => a.rate = n.max(1),
            "--secs" => a.secs = n.max(1),
            "--gossip-ms" => a.gossip = Duration::from_millis(n.max(1)),
            other => bail!("unknown option {other}"),
        }
        i += 2;
    }
    Ok(a)
}

/// Chitchat's UDP transport, counting what every socket it opens sends.
struct Counting {
    bytes: Arc<AtomicU64>,
    datagrams: Arc<AtomicU64>,
}

struct CountingSocket {
    inner: Box<dyn Socket>,
    bytes: Arc<AtomicU64>,
    datagrams: Arc<AtomicU64>,
}

#[async_trait]
impl Transport for Counting {
    async fn open(&self, listen_addr: SocketAddr) -> anyhow::Result<Box<dyn Socket>> {
        Ok(Box::new(CountingSocket {
            inner: UdpTransport.open(listen_addr).await?,
            bytes: self.bytes.clone(),
            datagrams: self.datagrams.clone(),
        }))
    }
}

#[async_trait]
impl Socket for CountingSocket {
    fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        self.inner.local_addr()
    }

    async fn send(
        &mut self,
        to: SocketAddr,
        envelope: ChitchatEnvelope,
    ) -> anyhow::Result<SendOutcome> {
        let out = self.inner.send(to, envelope).await?;
        self.bytes
            .fetch_add(out.num_bytes_sent as u64, Ordering::Relaxed);
        self.datagrams.fetch_add(1, Ordering::Relaxed);
        Ok(out)
    }

    async fn recv(&mut self) -> anyhow::Result<RecvOutcome> {
        self.inner.recv().await
    }
}

/// User plus system CPU time of this process, from `/proc/self/stat` (Linux).
fn cpu_time() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

struct Pending {
    sent: Instant,
    left: usize,
}

/// A free port on loopback: chitchat advertises the address it is given, so it must be the
/// real one before the node starts.
fn free_port() -> anyhow::Result<SocketAddr> {
    let s = std::net::UdpSocket::bind("127.0.0.1:0")?;
    Ok(s.local_addr()?)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = args()?;
    let bytes = Arc::new(AtomicU64::new(0));
    let datagrams = Arc::new(AtomicU64::new(0));
    let transport = Counting {
        bytes: bytes.clone(),
        datagrams: datagrams.clone(),
    };
    let mut handles: Vec<ChitchatHandle> = Vec::new();
    let mut seed = None;
    for i in 0..a.nodes {
        let addr = free_port()?;
        let seed_addr = *seed.get_or_insert(addr);
        let config = ChitchatConfig {
            chitchat_id: ChitchatId::new(format!("node-{i}"), 0, addr),
            cluster_id: "bench".to_string(),
            gossip_interval: a.gossip,
            listen_addr: addr,
            seed_nodes: vec![seed_addr.to_string()],
            failure_detector_config: FailureDetectorConfig::default(),
            marked_for_deletion_grace_period: Duration::from_secs(3600),
            catchup_callback: None,
            extra_liveness_predicate: None,
            // Every node runs the same version, so the newer, compressed format is safe.
            protocol_version: ProtocolVersion::V1,
        };
        handles.push(spawn_chitchat(config, Vec::new(), &transport).await?);
    }
    let warm = Instant::now();
    loop {
        let mut formed = true;
        for h in &handles {
            let live = h.with_chitchat(|c| c.live_nodes().count()).await;
            formed &= live == a.nodes;
        }
        if formed {
            break;
        }
        if warm.elapsed() > Duration::from_secs(60) {
            bail!("the cluster did not form within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let pending: Arc<Mutex<HashMap<u64, Pending>>> = Arc::default();
    let latencies: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let mut listeners: Vec<ListenerHandle> = Vec::new();
    for h in &handles {
        let me = h.chitchat_id().clone();
        let pending = pending.clone();
        let latencies = latencies.clone();
        let listener = h
            .with_chitchat(|c| {
                let me = me.clone();
                let pending = pending.clone();
                let latencies = latencies.clone();
                c.subscribe_event("u", move |event| {
                    if *event.node == me {
                        return;
                    }
                    let Ok(id) = event.key.parse::<u64>() else {
                        return;
                    };
                    let now = Instant::now();
                    let mut p = pending.lock().unwrap_or_else(|p| p.into_inner());
                    if let Some(entry) = p.get_mut(&id) {
                        entry.left -= 1;
                        if entry.left == 0 {
                            let sent = entry.sent;
                            p.remove(&id);
                            latencies
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .push(now - sent);
                        }
                    }
                })
            })
            .await;
        listeners.push(listener);
    }

    let bytes0 = bytes.load(Ordering::Relaxed);
    let datagrams0 = datagrams.load(Ordering::Relaxed);
    let cpu0 = cpu_time();
    let start = Instant::now();
    let total = a.rate * a.secs;
    let mut tick = tokio::time::interval(Duration::from_secs(1) / a.rate as u32);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for id in 0..total {
        tick.tick().await;
        let h = &handles[(id as usize) % handles.len()];
        pending.lock().unwrap_or_else(|p| p.into_inner()).insert(
            id,
            Pending {
                sent: Instant::now(),
                left: a.nodes - 1,
            },
        );
        h.with_chitchat(|c| c.self_node_state().set(format!("u{id}"), id))
            .await;
    }
    let sent_for = start.elapsed();
    let drain = Instant::now();
    let mut undelivered = 0;
    loop {
        let left = pending.lock().unwrap_or_else(|p| p.into_inner()).len();
        if left == 0 {
            break;
        }
        if drain.elapsed() > Duration::from_secs(60) {
            undelivered = left;
            eprintln!("{left} updates were not delivered to every node within 60 s");
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let cpu = cpu_time().saturating_sub(cpu0);
    let sent_bytes = bytes.load(Ordering::Relaxed) - bytes0;
    let sent_datagrams = datagrams.load(Ordering::Relaxed) - datagrams0;
    let mut l = latencies.lock().unwrap_or_else(|p| p.into_inner()).clone();
    l.sort();
    let q = |p: f64| {
        l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "chitchat gossip {} ms | nodes {} | updates {} in {:.1} s ({:.0}/s) | delivered to all {} (not {undelivered}) | p50 {:.1} ms | p99 {:.1} ms | max {:.1} ms",
        a.gossip.as_millis(),
        a.nodes,
        total,
        sent_for.as_secs_f64(),
        total as f64 / sent_for.as_secs_f64(),
        l.len(),
        q(0.50).as_secs_f64() * 1e3,
        q(0.99).as_secs_f64() * 1e3,
        l.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
    println!(
        "wire bytes per update {:.0} (all nodes) | per update per receiving node {:.0} | datagrams per update {:.2} | CPU {:.0} ms per 1,000 updates (whole cluster)",
        sent_bytes as f64 / total as f64,
        sent_bytes as f64 / total as f64 / (a.nodes - 1) as f64,
        sent_datagrams as f64 / total as f64,
        cpu.as_secs_f64() * 1e3 / total as f64 * 1000.0,
    );
    drop(listeners);
    for h in handles {
        let _ = h.shutdown().await;
    }
    Ok(())
}
