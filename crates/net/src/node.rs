//! The node: its builder, its handle, and the driver task that owns the sockets and the clock.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec};
use tokio_util::sync::CancellationToken;

use crate::config::{ENVELOPE_ROOM, Timing};
use crate::keys::{OpenError, Sealer};
use crate::members::{MemberState, Members, live};
use crate::metrics::Counters;
use crate::replica::{AnyReplica, Crdt, Ctx, Shared};
use crate::wire::{Body, Envelope, decode_envelope, encode_envelope};
use crate::{Keyring, Limits, MemberInfo, Metrics, NetError, NodeId, Preset, Replica};

/// Configures and starts a [`Node`].
#[derive(Debug, Clone)]
pub struct NodeBuilder {
    bind: SocketAddr,
    advertise: Option<SocketAddr>,
    seeds: Vec<SocketAddr>,
    keyring: Option<Keyring>,
    insecure: bool,
    preset: Preset,
    label: String,
    data_dir: Option<PathBuf>,
    limits: Limits,
    subscriber_buffer: usize,
    #[cfg(feature = "testing")]
    faults: Option<crate::faults::Faults>,
}

impl NodeBuilder {
    /// A node that will bind `bind` (UDP and TCP on the same port; port 0 picks a free one).
    pub fn new(bind: SocketAddr) -> NodeBuilder {
        NodeBuilder {
            bind,
            advertise: None,
            seeds: Vec::new(),
            keyring: None,
            insecure: false,
            preset: Preset::Lan,
            label: "default".to_string(),
            data_dir: None,
            limits: Limits::default(),
            subscriber_buffer: 1024,
            #[cfg(feature = "testing")]
            faults: None,
        }
    }

    /// The address peers reach this node at (default: the bound address).
    pub fn advertise(mut self, addr: SocketAddr) -> Self {
        self.advertise = Some(addr);
        self
    }

    /// Addresses of members to join through; empty starts a new cluster.
    pub fn seeds(mut self, seeds: Vec<SocketAddr>) -> Self {
        self.seeds = seeds;
        self
    }

    /// The cluster secrets: every message is sealed with the first and opened with any.
    pub fn keyring(mut self, keyring: Keyring) -> Self {
        self.keyring = Some(keyring);
        self.insecure = false;
        self
    }

    /// Sends and accepts plaintext: anyone who can reach the port can read and write. For
    /// trying things on one machine only.
    pub fn insecure(mut self) -> Self {
        self.insecure = true;
        self.keyring = None;
        self
    }

    /// Timings for a kind of network (default [`Preset::Lan`]).
    pub fn preset(mut self, preset: Preset) -> Self {
        self.preset = preset;
        self
    }

    /// The cluster label (default `"default"`): nodes of different labels ignore each other,
    /// even with the same key.
    pub fn label(mut self, label: &str) -> Self {
        self.label = label.to_string();
        self
    }

    /// Where the node may keep its files (used by durability).
    pub fn data_dir(mut self, path: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(path.into());
        self
    }

    /// Sizes and bounds (default [`Limits::default`]).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// How many events a subscriber may fall behind before it gets [`Event::Lagged`]
    /// (default 1,024).
    ///
    /// [`Event::Lagged`]: crate::Event::Lagged
    pub fn subscriber_buffer(mut self, events: usize) -> Self {
        self.subscriber_buffer = events.max(1);
        self
    }

    /// Injects loss, duplication and delay into everything this node sends (tests only).
    #[cfg(feature = "testing")]
    pub fn faults(mut self, faults: crate::faults::Faults) -> Self {
        self.faults = Some(faults);
        self
    }

    /// Binds the sockets and starts the node's tasks. Must run inside a tokio runtime.
    pub async fn start(self) -> Result<Node, NetError> {
        if self.keyring.is_none() && !self.insecure {
            return Err(NetError::NoKey);
        }
        if self.label.is_empty() || self.label.len() > 255 {
            return Err(NetError::BadLabel);
        }
        let limits = self.limits;
        let sealer = Sealer::new(self.keyring.as_ref(), &self.label);
        if limits.max_datagram_bytes < 256 {
            return Err(NetError::BadLimits(
                "max_datagram_bytes must be at least 256",
            ));
        }
        if limits.max_frame_bytes < limits.max_datagram_bytes
            || limits.max_frame_bytes < 2 * ENVELOPE_ROOM
            || limits.max_frame_bytes > u32::MAX as usize
        {
            return Err(NetError::BadLimits(
                "max_frame_bytes must be at least max_datagram_bytes and 2 KiB, and below 4 GiB",
            ));
        }
        let udp = UdpSocket::bind(self.bind)
            .await
            .map_err(|source| NetError::Bind {
                addr: self.bind,
                source,
            })?;
        let local_addr = udp.local_addr().map_err(|source| NetError::Bind {
            addr: self.bind,
            source,
        })?;
        // TCP on the same port as UDP, so that one address names a node.
        let tcp = TcpListener::bind(local_addr)
            .await
            .map_err(|source| NetError::Bind {
                addr: local_addr,
                source,
            })?;
        let mut life_bytes = [0u8; 8];
        getrandom::fill(&mut life_bytes).map_err(|_| NetError::Random)?;
        let life = u64::from_le_bytes(life_bytes);
        let me = NodeId::random();
        let max_payload = limits.max_frame_bytes - sealer.overhead() - ENVELOPE_ROOM;
        let ctx = Arc::new(Ctx {
            me,
            start: Instant::now(),
            wake: tokio::sync::Notify::new(),
            counters: Counters::default(),
            max_delta: max_payload,
            max_runs: limits.max_runs_per_packet,
            durable: false,
            subscriber_buffer: self.subscriber_buffer,
            config: self.preset.transport(max_payload),
        });
        let advertise = self.advertise.unwrap_or(local_addr);
        // Frames read but not yet handled: bounded, so a flood of frames stalls its readers
        // (TCP pushes back) instead of growing memory.
        let (inbound_tx, inbound_rx) = mpsc::channel(64);
        let inner = Arc::new(Inner {
            ctx,
            life,
            label: self.label,
            sealer,
            limits,
            timing: self.preset.timing(),
            advertise,
            local_addr,
            seeds: self.seeds,
            udp: Arc::new(udp),
            replicas: Mutex::new(BTreeMap::new()),
            members: Mutex::new(Members::default()),
            links: Mutex::new(HashMap::new()),
            connections: Mutex::new(HashMap::new()),
            replay: Mutex::new(Replay::default()),
            cancel: CancellationToken::new(),
            data_dir: self.data_dir,
            #[cfg(feature = "testing")]
            faults: self.faults.map(crate::faults::FaultState::new),
            announce: AtomicUsize::new(0),
            rounds: std::sync::atomic::AtomicU64::new(0),
            members_dirty: AtomicUsize::new(0),
        });
        tracing::info!(node = %me, addr = %local_addr, label = %inner.label,
            sealed = !matches!(inner.sealer, Sealer::Plain), "node started");
        let driver = tokio::spawn(drive(inner.clone(), inbound_rx));
        let listener = tokio::spawn(listen(inner.clone(), tcp, inbound_tx));
        Ok(Node {
            handle: Arc::new(Handle {
                inner,
                tasks: Mutex::new(vec![driver, listener]),
            }),
        })
    }
}

/// A running node. Cloning is cheap (every clone is the same node); dropping the last clone
/// stops its tasks without flushing (use [`shutdown`](Self::shutdown) to flush).
#[derive(Clone)]
pub struct Node {
    handle: Arc<Handle>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("id", &self.id())
            .field("addr", &self.local_addr())
            .finish()
    }
}

struct Handle {
    inner: Arc<Inner>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.inner.cancel.cancel();
        for t in lock(&self.tasks).drain(..) {
            t.abort();
        }
    }
}

impl Node {
    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.handle.inner.ctx.me
    }

    /// Drops every message this node sends to `peers` (gossip addresses) from now on, in
    /// place of the previous set; an empty set heals. Returns false, changing nothing, when
    /// the node was built without [`NodeBuilder::faults`]. For tests only: partitions made
    /// inside the process.
    #[cfg(feature = "testing")]
    pub fn set_blocked(&self, peers: std::collections::BTreeSet<SocketAddr>) -> bool {
        match &self.handle.inner.faults {
            Some(f) => {
                f.set_blocked(peers);
                true
            }
            None => false,
        }
    }

    /// The gossip addresses [`set_blocked`](Self::set_blocked) cut off (tests only).
    #[cfg(feature = "testing")]
    pub fn blocked(&self) -> std::collections::BTreeSet<SocketAddr> {
        self.handle
            .inner
            .faults
            .as_ref()
            .map(|f| f.blocked())
            .unwrap_or_default()
    }

    /// The address the sockets are bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.handle.inner.local_addr
    }

    /// The address peers are told to use.
    pub fn advertised_addr(&self) -> SocketAddr {
        self.handle.inner.advertise
    }

    /// The data directory, if one was given.
    pub fn data_dir(&self) -> Option<&std::path::Path> {
        self.handle.inner.data_dir.as_deref()
    }

    /// The members this node knows (itself excluded).
    pub fn members(&self) -> Vec<MemberInfo> {
        lock(&self.handle.inner.members).info()
    }

    /// The node's counters.
    pub fn metrics(&self) -> Metrics {
        self.handle.inner.ctx.counters.snapshot()
    }

    /// The replica called `name`, made empty if this node does not host it yet. Opening a
    /// name again gives a handle to the same replica; with another type it is
    /// [`NetError::TypeMismatch`].
    pub fn open<L: Crdt>(&self, name: &str) -> Result<Replica<L>, NetError> {
        if name.is_empty() || name.len() > 255 {
            return Err(NetError::BadName(name.to_string()));
        }
        let inner = &self.handle.inner;
        let mut replicas = lock(&inner.replicas);
        if let Some(existing) = replicas.get(name) {
            let existing_type = existing.type_name();
            return match existing.clone().as_any().downcast::<Shared<L>>() {
                Ok(shared) => Ok(Replica { shared }),
                Err(_) => Err(NetError::TypeMismatch {
                    name: name.to_string(),
                    existing: existing_type,
                    requested: std::any::type_name::<L>(),
                }),
            };
        }
        let seed = inner.life ^ inner.ctx.me.0.as_u64_pair().0;
        let shared = Arc::new(Shared::<L>::new(
            name.to_string(),
            inner.ctx.clone(),
            inner.life,
            seed,
        ));
        let members = lock(&inner.members).hosting(name);
        shared.set_members(inner.ctx.now(), members);
        replicas.insert(name.to_string(), shared.clone());
        drop(replicas);
        // Tell the others at once that this node hosts the name.
        inner.announce.store(1, Ordering::Relaxed);
        inner.ctx.wake.notify_one();
        Ok(Replica { shared })
    }

    /// Says goodbye to the members, sends what is queued (waiting at most a few seconds for
    /// TCP queues to drain), and stops the node's tasks.
    pub async fn shutdown(&self) -> Result<(), NetError> {
        let inner = &self.handle.inner;
        if inner.cancel.is_cancelled() {
            return Err(NetError::Stopped);
        }
        inner.pump(inner.ctx.now());
        inner.broadcast_body(Body::Leave);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        while inner.queued_bytes() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        inner.cancel.cancel();
        let tasks: Vec<JoinHandle<()>> = lock(&self.handle.tasks).drain(..).collect();
        for t in tasks {
            let _ = t.await;
        }
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Nonces seen recently: a replayed message is dropped before it reaches a replica.
#[derive(Default)]
struct Replay {
    set: HashSet<[u8; 24]>,
    order: VecDeque<[u8; 24]>,
}

/// How many nonces are remembered. Older replays still change nothing (the transport drops
/// what it holds), they are only not counted as replays.
const REPLAY_WINDOW: usize = 1 << 16;

impl Replay {
    fn seen(&mut self, nonce: [u8; 24]) -> bool {
        if !self.set.insert(nonce) {
            return true;
        }
        self.order.push_back(nonce);
        if self.order.len() > REPLAY_WINDOW
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        false
    }
}

/// The outbound TCP queue to one address.
struct Link {
    tx: mpsc::UnboundedSender<Bytes>,
    queued: Arc<AtomicUsize>,
}

pub(crate) struct Inner {
    ctx: Arc<Ctx>,
    life: u64,
    label: String,
    sealer: Sealer,
    limits: Limits,
    timing: Timing,
    advertise: SocketAddr,
    local_addr: SocketAddr,
    seeds: Vec<SocketAddr>,
    udp: Arc<UdpSocket>,
    replicas: Mutex<BTreeMap<String, Arc<dyn AnyReplica>>>,
    members: Mutex<Members>,
    links: Mutex<HashMap<SocketAddr, Link>>,
    connections: Mutex<HashMap<IpAddr, usize>>,
    replay: Mutex<Replay>,
    cancel: CancellationToken,
    data_dir: Option<PathBuf>,
    #[cfg(feature = "testing")]
    faults: Option<crate::faults::FaultState>,
    announce: AtomicUsize,
    /// Membership rounds so far.
    rounds: std::sync::atomic::AtomicU64,
    /// 1 when the live member set changed since the last round: the next ping carries it.
    members_dirty: AtomicUsize,
}

/// One membership round in this many carries the member list even when nothing changed, so
/// that a member that missed a change learns it.
const FULL_PING_EVERY: u64 = 10;

/// After this many membership rounds, seeds that never answered are named in a warning.
const SEED_PATIENCE_ROUNDS: u64 = 20;

impl Inner {
    fn envelope(&self, body: Body) -> Vec<u8> {
        let env = Envelope {
            label: self.label.clone(),
            from: self.ctx.me,
            life: self.life,
            addr: self.advertise,
            body,
        };
        self.sealer.seal(&encode_envelope(&env))
    }

    fn queued_bytes(&self) -> usize {
        lock(&self.links)
            .values()
            .map(|l| l.queued.load(Ordering::Relaxed))
            .sum()
    }

    /// Sends sealed bytes: a datagram if it fits, else a frame on the peer's TCP link.
    fn send(self: &Arc<Self>, to: SocketAddr, sealed: Vec<u8>) {
        #[cfg(feature = "testing")]
        if let Some(f) = &self.faults {
            for delay in f.decide(to) {
                if delay.is_zero() {
                    self.send_now(to, sealed.clone());
                } else {
                    let me = self.clone();
                    let bytes = sealed.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        me.send_now(to, bytes);
                    });
                }
            }
            return;
        }
        self.send_now(to, sealed);
    }

    fn send_now(self: &Arc<Self>, to: SocketAddr, sealed: Vec<u8>) {
        let c = &self.ctx.counters;
        if sealed.is_empty() {
            return;
        }
        if sealed.len() <= self.limits.max_datagram_bytes {
            match self.udp.try_send_to(&sealed, to) {
                Ok(n) => {
                    Counters::add(&c.udp_sent, 1);
                    Counters::add(&c.udp_sent_bytes, n as u64);
                }
                Err(e) => {
                    Counters::add(&c.udp_send_errors, 1);
                    tracing::debug!(%to, error = %e, "datagram not sent");
                }
            }
            return;
        }
        if sealed.len() > self.limits.max_frame_bytes {
            Counters::add(&c.dropped_too_large, 1);
            tracing::warn!(%to, bytes = sealed.len(), "message larger than a frame, dropped");
            return;
        }
        let mut links = lock(&self.links);
        let link = links.entry(to).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            let queued = Arc::new(AtomicUsize::new(0));
            tokio::spawn(write_link(self.clone(), to, rx, queued.clone()));
            Link { tx, queued }
        });
        let len = sealed.len();
        if link.queued.load(Ordering::Relaxed) + len > self.limits.max_queued_bytes_per_peer {
            Counters::add(&c.dropped_queue_full, 1);
            return;
        }
        link.queued.fetch_add(len, Ordering::Relaxed);
        if link.tx.send(Bytes::from(sealed)).is_err() {
            link.queued.fetch_sub(len, Ordering::Relaxed);
            links.remove(&to);
        }
    }

    fn addr_of(&self, id: &NodeId) -> Option<SocketAddr> {
        lock(&self.members).known.get(id).map(|m| m.addr)
    }

    /// Runs what the replicas have due and sends what they produce.
    fn pump(self: &Arc<Self>, now: gossip_transport::Time) {
        let replicas: Vec<(String, Arc<dyn AnyReplica>)> = lock(&self.replicas)
            .iter()
            .map(|(n, r)| (n.clone(), r.clone()))
            .collect();
        let mut out = Vec::new();
        for (name, r) in replicas {
            r.timeout(now);
            r.drain(&mut out);
            for (to, bytes) in out.drain(..) {
                let Some(addr) = self.addr_of(&to) else {
                    continue;
                };
                let sealed = self.envelope(Body::Packet {
                    replica: name.clone(),
                    bytes,
                });
                self.send(addr, sealed);
            }
        }
    }

    fn next_deadline(&self) -> Option<gossip_transport::Time> {
        lock(&self.replicas)
            .values()
            .filter_map(|r| r.poll_timeout())
            .min()
    }

    fn broadcast_body(self: &Arc<Self>, body: Body) {
        let addrs: Vec<SocketAddr> = lock(&self.members)
            .known
            .values()
            .filter(|m| m.state != MemberState::Left)
            .map(|m| m.addr)
            .collect();
        let sealed = self.envelope(body);
        for a in addrs {
            self.send(a, sealed.clone());
        }
    }

    /// A ping; with the member list if `full` (pings go to every member every round, so the
    /// list, whose size grows with the cluster, rides along only now and then).
    fn ping_body(&self, reply: bool, full: bool) -> Body {
        let members = if full {
            lock(&self.members)
                .known
                .iter()
                .filter(|(_, m)| live(m.state))
                .take(self.limits.max_members)
                .map(|(id, m)| (*id, m.addr))
                .collect()
        } else {
            Vec::new()
        };
        let replicas = lock(&self.replicas).keys().cloned().collect();
        Body::Ping {
            members,
            replicas,
            reply,
        }
    }

    /// Pings every member, every seed not yet met and every candidate; ages the members.
    fn gossip_members(self: &Arc<Self>, now: Instant) {
        let changed = lock(&self.members).age(now, &self.timing);
        if changed {
            self.refresh_replica_members();
        }
        let round = self.rounds.fetch_add(1, Ordering::Relaxed);
        let full = round.is_multiple_of(FULL_PING_EVERY)
            || self.members_dirty.swap(0, Ordering::Relaxed) == 1;
        let sealed = self.envelope(self.ping_body(false, full));
        let (mut targets, counts) = {
            let m = lock(&self.members);
            let known: Vec<SocketAddr> = m
                .known
                .values()
                .filter(|x| x.state != MemberState::Left)
                .map(|x| x.addr)
                .collect();
            let counts = [MemberState::Alive, MemberState::Suspect, MemberState::Down]
                .map(|s| m.known.values().filter(|x| x.state == s).count() as u64);
            let mut targets = known.clone();
            for seed in &self.seeds {
                let met = m.known.values().any(|x| x.addr == *seed && live(x.state));
                if !met && *seed != self.advertise && *seed != self.local_addr {
                    targets.push(*seed);
                }
            }
            targets.extend(m.candidates.values().copied());
            if round == SEED_PATIENCE_ROUNDS {
                for seed in &self.seeds {
                    if !m.known.values().any(|x| x.addr == *seed) {
                        tracing::warn!(%seed, "seed has not answered; is it up, and does it have our key and label?");
                    }
                }
            }
            (targets, counts)
        };
        let c = &self.ctx.counters;
        Counters::set(&c.members_alive, counts[0]);
        Counters::set(&c.members_suspect, counts[1]);
        Counters::set(&c.members_down, counts[2]);
        targets.sort();
        targets.dedup();
        for t in targets {
            self.send(t, sealed.clone());
        }
    }

    /// Asks members whether they hold the updates someone waits on.
    fn send_queries(self: &Arc<Self>) {
        let replicas: Vec<(String, Arc<dyn AnyReplica>)> = lock(&self.replicas)
            .iter()
            .map(|(n, r)| (n.clone(), r.clone()))
            .collect();
        for (name, r) in replicas {
            for (to, dots) in r.queries() {
                if let Some(addr) = self.addr_of(&to) {
                    let sealed = self.envelope(Body::Query {
                        replica: name.clone(),
                        dots,
                    });
                    self.send(addr, sealed);
                }
            }
        }
    }

    fn has_queries(&self) -> bool {
        lock(&self.replicas)
            .values()
            .any(|r| !r.queries().is_empty())
    }

    fn refresh_replica_members(&self) {
        let now = self.ctx.now();
        let replicas: Vec<(String, Arc<dyn AnyReplica>)> = lock(&self.replicas)
            .iter()
            .map(|(n, r)| (n.clone(), r.clone()))
            .collect();
        for (name, r) in replicas {
            let hosting = lock(&self.members).hosting(&name);
            r.set_members(now, hosting);
        }
    }

    /// Handles one message from the network: any bytes at all.
    fn incoming(self: &Arc<Self>, bytes: &[u8]) {
        let c = &self.ctx.counters;
        let (plain, nonce) = match self.sealer.open(bytes) {
            Ok(x) => x,
            Err(OpenError::Unauthentic) => {
                let n = c.refused_unsealed.fetch_add(1, Ordering::Relaxed);
                if n.is_multiple_of(1000) {
                    tracing::warn!(
                        refused = n + 1,
                        "messages that no key opens (another cluster or label, or a wrong key)"
                    );
                }
                return;
            }
            Err(e @ (OpenError::Malformed | OpenError::WrongMode)) => {
                let n = c.refused_malformed.fetch_add(1, Ordering::Relaxed);
                if n.is_multiple_of(1000) {
                    tracing::warn!(refused = n + 1, kind = ?e,
                        "malformed messages, or plaintext and sealed nodes mixed");
                }
                return;
            }
        };
        if let Some(n) = nonce
            && lock(&self.replay).seen(n)
        {
            Counters::add(&c.replayed, 1);
            return;
        }
        let Some(env) = decode_envelope(&plain) else {
            Counters::add(&c.refused_invalid, 1);
            return;
        };
        if env.label != self.label {
            Counters::add(&c.refused_label, 1);
            return;
        }
        if env.from == self.ctx.me {
            return;
        }
        let now = Instant::now();
        let mut changed = lock(&self.members).heard(env.from, env.life, env.addr, now);
        if changed {
            self.members_dirty.store(1, Ordering::Relaxed);
        }
        match env.body {
            Body::Ping {
                members,
                replicas,
                reply,
            } => {
                {
                    let mut m = lock(&self.members);
                    if let Some(member) = m.known.get_mut(&env.from) {
                        let set: std::collections::BTreeSet<String> =
                            replicas.into_iter().take(self.limits.max_members).collect();
                        if member.replicas != set {
                            member.replicas = set;
                            changed = true;
                        }
                    }
                    for (id, addr) in members.into_iter().take(self.limits.max_members) {
                        if id != self.ctx.me
                            && !m.known.contains_key(&id)
                            && m.candidates.len() < self.limits.max_members
                        {
                            m.candidates.insert(id, addr);
                        }
                    }
                }
                if !reply && changed {
                    // A newcomer: answer at once so that it learns of us and our replicas.
                    let sealed = self.envelope(self.ping_body(true, true));
                    self.send(env.addr, sealed);
                }
            }
            Body::Leave => {
                let mut m = lock(&self.members);
                if let Some(member) = m.known.get_mut(&env.from) {
                    member.state = MemberState::Left;
                    changed = true;
                    tracing::info!(member = %env.from, "member left");
                }
            }
            Body::Packet { replica, bytes } => {
                let r = lock(&self.replicas).get(&replica).cloned();
                match r {
                    Some(r) => {
                        // The sender hosts the replica, whether or not its ping said so yet.
                        if let Some(m) = lock(&self.members).known.get_mut(&env.from)
                            && !m.replicas.contains(&replica)
                            && m.replicas.len() < self.limits.max_members
                        {
                            m.replicas.insert(replica.clone());
                            changed = true;
                        }
                        if changed {
                            self.refresh_replica_members();
                            changed = false;
                        }
                        if !r.handle(self.ctx.now(), env.from, &bytes) {
                            Counters::add(&c.refused_invalid, 1);
                        }
                    }
                    None => Counters::add(&c.unknown_replica, 1),
                }
            }
            Body::Query { replica, dots } => {
                let r = lock(&self.replicas).get(&replica).cloned();
                if let Some(r) = r {
                    let dots: Vec<(u64, u64)> = dots.into_iter().take(4096).collect();
                    let held = r.held(&dots);
                    if !held.is_empty() {
                        let sealed = self.envelope(Body::Held {
                            replica,
                            dots: held,
                        });
                        self.send(env.addr, sealed);
                    }
                }
            }
            Body::Held { replica, dots } => {
                let r = lock(&self.replicas).get(&replica).cloned();
                if let Some(r) = r {
                    r.record_held(env.from, &dots);
                }
            }
        }
        if changed {
            self.refresh_replica_members();
        }
    }
}

/// The driver: owns the UDP socket's receiving side and the clock; everything else is
/// handed to it through the inbound channel and the wake-up.
async fn drive(inner: Arc<Inner>, mut inbound: mpsc::Receiver<Vec<u8>>) {
    let mut buf = vec![0u8; 65_536];
    let mut next_ping = tokio::time::Instant::now();
    let mut next_query = tokio::time::Instant::now();
    loop {
        let deadline = inner
            .next_deadline()
            .map(|t| tokio::time::Instant::from_std(inner.ctx.start + t.since_origin()))
            .unwrap_or(next_ping)
            .min(next_ping);
        tokio::select! {
            _ = inner.cancel.cancelled() => break,
            r = inner.udp.recv_from(&mut buf) => match r {
                Ok((n, _from)) => {
                    let c = &inner.ctx.counters;
                    Counters::add(&c.udp_received, 1);
                    Counters::add(&c.udp_received_bytes, n as u64);
                    let bytes = buf.get(..n).unwrap_or_default();
                    inner.incoming(bytes);
                }
                Err(e) => {
                    // ICMP "port unreachable" from an earlier send surfaces here on some
                    // systems: not fatal.
                    tracing::debug!(error = %e, "udp receive failed");
                }
            },
            Some(frame) = inbound.recv() => inner.incoming(&frame),
            _ = inner.ctx.wake.notified() => {}
            _ = tokio::time::sleep_until(deadline) => {}
        }
        let now = tokio::time::Instant::now();
        if now >= next_ping || inner.announce.swap(0, Ordering::Relaxed) == 1 {
            inner.gossip_members(now.into_std());
            next_ping = now + inner.timing.ping;
        }
        if now >= next_query {
            if inner.has_queries() {
                inner.send_queries();
            }
            next_query = now + inner.timing.query;
        }
        inner.pump(inner.ctx.now());
    }
    tracing::debug!(node = %inner.ctx.me, "driver stopped");
}

/// Accepts TCP connections and spawns a reader for each.
async fn listen(inner: Arc<Inner>, listener: TcpListener, inbound: mpsc::Sender<Vec<u8>>) {
    loop {
        let accepted = tokio::select! {
            _ = inner.cancel.cancelled() => break,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        {
            let mut conns = lock(&inner.connections);
            let n = conns.entry(peer.ip()).or_insert(0);
            if *n >= inner.limits.max_connections_per_ip {
                Counters::add(&inner.ctx.counters.refused_connections, 1);
                continue;
            }
            *n += 1;
        }
        tokio::spawn(read_link(inner.clone(), stream, peer, inbound.clone()));
    }
}

/// Counts a connection down when its reader ends.
struct ConnGuard(Arc<Inner>, IpAddr);

impl Drop for ConnGuard {
    fn drop(&mut self) {
        let mut conns = lock(&self.0.connections);
        if let Some(n) = conns.get_mut(&self.1) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                conns.remove(&self.1);
            }
        }
    }
}

async fn read_link(
    inner: Arc<Inner>,
    mut stream: TcpStream,
    peer: SocketAddr,
    inbound: mpsc::Sender<Vec<u8>>,
) {
    let _guard = ConnGuard(inner.clone(), peer.ip());
    let mut codec = LengthDelimitedCodec::builder()
        .max_frame_length(inner.limits.max_frame_bytes)
        .new_codec();
    let mut buf = BytesMut::with_capacity(8192);
    loop {
        // Decode every complete frame buffered before reading more.
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(frame)) => {
                    let c = &inner.ctx.counters;
                    Counters::add(&c.tcp_received, 1);
                    Counters::add(&c.tcp_received_bytes, frame.len() as u64 + 4);
                    if inbound.send(frame.to_vec()).await.is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    // The only decoding error is a frame announced over the limit.
                    Counters::add(&inner.ctx.counters.refused_frame_too_large, 1);
                    tracing::warn!(%peer, "frame over the size limit, connection closed");
                    return;
                }
            }
        }
        let read = tokio::select! {
            _ = inner.cancel.cancelled() => return,
            r = stream.read_buf(&mut buf) => r,
        };
        match read {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Sends one peer's frames over TCP, connecting (and reconnecting with backoff) as needed.
async fn write_link(
    inner: Arc<Inner>,
    to: SocketAddr,
    mut rx: mpsc::UnboundedReceiver<Bytes>,
    queued: Arc<AtomicUsize>,
) {
    let mut codec = LengthDelimitedCodec::builder()
        .max_frame_length(inner.limits.max_frame_bytes)
        .new_codec();
    let mut backoff = Duration::from_millis(50);
    let mut stream: Option<TcpStream> = None;
    let mut out = BytesMut::new();
    loop {
        let frame = tokio::select! {
            _ = inner.cancel.cancelled() => return,
            f = rx.recv() => match f { Some(f) => f, None => return },
        };
        let len = frame.len();
        out.clear();
        if codec.encode(frame, &mut out).is_err() {
            queued.fetch_sub(len, Ordering::Relaxed);
            continue;
        }
        // Try to deliver this frame, reconnecting as needed; give up on it (anti-entropy
        // repairs) once the peer has been unreachable for a while.
        let mut attempts = 0;
        loop {
            if stream.is_none() {
                let connect = tokio::select! {
                    _ = inner.cancel.cancelled() => return,
                    c = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(to)) => c,
                };
                match connect {
                    Ok(Ok(s)) => {
                        let _ = s.set_nodelay(true);
                        Counters::add(&inner.ctx.counters.tcp_connects, 1);
                        stream = Some(s);
                        backoff = Duration::from_millis(50);
                    }
                    _ => {
                        Counters::add(&inner.ctx.counters.tcp_connect_errors, 1);
                        if attempts == 0 {
                            tracing::debug!(%to, "cannot connect; retrying with backoff");
                        }
                    }
                }
            }
            if let Some(s) = stream.as_mut() {
                match s.write_all(&out).await {
                    Ok(()) => {
                        let c = &inner.ctx.counters;
                        Counters::add(&c.tcp_sent, 1);
                        Counters::add(&c.tcp_sent_bytes, out.len() as u64);
                        break;
                    }
                    Err(_) => stream = None,
                }
            }
            attempts += 1;
            if attempts >= 4 {
                break;
            }
            tokio::select! {
                _ = inner.cancel.cancelled() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
        queued.fetch_sub(len, Ordering::Relaxed);
    }
}
