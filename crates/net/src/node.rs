//! The node: its builder, its handle, and the driver task that owns the clock. Socket I/O is
//! in `io`, the membership glue in `members`.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gossip_membership::{Membership, NodeIdentity};
use gossip_transport::Time;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{ENVELOPE_ROOM, MIN_UNAUTHENTICATED_FRAME, Timing};
use crate::context::{Crdt, Ctx};
use crate::io::{Link, Replay, bind, listen};
use crate::keys::Sealer;
use crate::members::{
    MemberEvents, Swim, random_id, random_u64, resolve, resolve_later, swim_room, unix_millis,
    well_formed,
};
use crate::metrics::Counters;
use crate::replica::{AnyReplica, Shared};
use crate::sync::lock;
use crate::wire::Body;
use crate::{Keyring, Limits, MemberInfo, Metrics, NetError, NodeId, Preset, Replica};

/// Configures and starts a [`Node`].
#[derive(Clone)]
pub struct NodeBuilder {
    bind: SocketAddr,
    advertise: Option<SocketAddr>,
    seeds: Vec<SocketAddr>,
    seed_hosts: Vec<String>,
    keyring: Option<Keyring>,
    insecure: bool,
    preset: Preset,
    cluster_size: Option<u32>,
    label: String,
    data_dir: Option<PathBuf>,
    store: Option<Arc<dyn gossip_store::Store>>,
    limits: Limits,
    subscriber_buffer: usize,
    flush: Option<Duration>,
    relay_flush: Option<Duration>,
    #[cfg(feature = "testing")]
    faults: Option<crate::faults::Faults>,
}

impl std::fmt::Debug for NodeBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeBuilder")
            .field("bind", &self.bind)
            .field("seeds", &self.seeds)
            .field("preset", &self.preset)
            .field("label", &self.label)
            .field("data_dir", &self.data_dir)
            .field("store", &self.store.as_ref().map(|s| s.node_id()))
            .finish_non_exhaustive()
    }
}

impl NodeBuilder {
    /// A node that will bind `bind` (UDP and TCP on the same port; port 0 picks a free one).
    pub fn new(bind: SocketAddr) -> NodeBuilder {
        NodeBuilder {
            bind,
            advertise: None,
            seeds: Vec::new(),
            seed_hosts: Vec::new(),
            keyring: None,
            insecure: false,
            preset: Preset::Lan,
            cluster_size: None,
            label: "default".to_string(),
            data_dir: None,
            store: None,
            limits: Limits::default(),
            subscriber_buffer: 1024,
            flush: None,
            relay_flush: None,
            #[cfg(feature = "testing")]
            faults: None,
        }
    }

    /// The address peers reach this node at (default: the bound address).
    pub fn advertise(mut self, addr: SocketAddr) -> Self {
        self.advertise = Some(addr);
        self
    }

    /// Addresses of members to join through; empty (and no [`seed_hosts`](Self::seed_hosts))
    /// starts a new cluster. Any one member will do: the others are learnt by gossip. While
    /// the node knows no live member it asks its seeds again.
    pub fn seeds(mut self, seeds: Vec<SocketAddr>) -> Self {
        self.seeds = seeds;
        self
    }

    /// Seeds as `host:port` text (`"node1.internal:7000"`, `"10.0.0.1:7000"`), resolved with
    /// the system resolver when the node starts; every address a name resolves to is a seed.
    /// Text that is not `host:port` makes [`start`](Self::start) fail with
    /// [`NetError::BadSeed`]; a name that does not resolve (yet) is logged and resolved again
    /// while the node is alone. Adds to [`seeds`](Self::seeds).
    pub fn seed_hosts<S: Into<String>>(mut self, hosts: impl IntoIterator<Item = S>) -> Self {
        self.seed_hosts = hosts.into_iter().map(Into::into).collect();
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

    /// About how many members the cluster will have: sizes SWIM's suspicion timeout and
    /// retransmissions ([`Preset::membership`]). Default: 64 (256 for [`Preset::Scalable`]).
    pub fn cluster_size(mut self, members: u32) -> Self {
        self.cluster_size = Some(members);
        self
    }

    /// The cluster label (default `"default"`): nodes of different labels ignore each other,
    /// even with the same key.
    pub fn label(mut self, label: &str) -> Self {
        self.label = label.to_string();
        self
    }

    /// Where the node keeps its files: its id (`node-id`) and its store (`gossip.redb`), which
    /// keeps every replica so that a restart resumes it, and makes [`AckLevel::Durable`]
    /// possible. The directory is made if absent; one process holds it at a time.
    ///
    /// [`AckLevel::Durable`]: crate::AckLevel::Durable
    pub fn data_dir(mut self, path: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(path.into());
        self
    }

    /// Keeps the replicas in `store` instead of a file in the data directory (an in-memory
    /// [`MemStore`](gossip_store::MemStore) for tests and simulations); the node takes the
    /// store's id.
    pub fn store(mut self, store: Arc<dyn gossip_store::Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// Sizes and bounds (default [`Limits::default`]).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// How long a node with one eager target (a leaf of the star or tree) gathers its own
    /// updates before pushing them in one packet (default: the preset's, 15 ms for
    /// [`Preset::Lan`]; zero pushes each update at once). A longer interval sends fewer bytes
    /// per update and delays each by up to the interval.
    pub fn flush(mut self, interval: Duration) -> Self {
        self.flush = Some(interval);
        self
    }

    /// How long a node with several eager targets (a hub of the star, an inner node of the
    /// tree) gathers what it relays and makes before pushing it to each in one packet
    /// (default: the preset's, 10 ms for [`Preset::Lan`]). As [`flush`](Self::flush), a
    /// longer interval sends fewer bytes per update and delays each by up to the interval.
    pub fn relay_flush(mut self, interval: Duration) -> Self {
        self.relay_flush = Some(interval);
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
        for seed in &self.seed_hosts {
            if !well_formed(seed) {
                return Err(NetError::BadSeed { seed: seed.clone() });
            }
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
        if limits.max_unauthenticated_frame_bytes < MIN_UNAUTHENTICATED_FRAME
            || limits.max_unauthenticated_frame_bytes > limits.max_frame_bytes
        {
            return Err(NetError::BadLimits(
                "max_unauthenticated_frame_bytes must be at least 512 and at most max_frame_bytes",
            ));
        }
        if limits.unauthenticated_timeout.is_zero() {
            return Err(NetError::BadLimits(
                "unauthenticated_timeout must not be zero",
            ));
        }
        let (udp, tcp, local_addr) = bind(self.bind).await?;
        // Durability: the node id and the store kept in the data directory (or a store
        // handed in); `disk.rs` opens it, `durable.rs` keeps the replicas in it.
        let (identity, disk) = match (self.store, &self.data_dir) {
            (Some(store), _) => (
                NodeIdentity::ephemeral(store.node_id(), unix_millis()),
                Some(store),
            ),
            (None, Some(dir)) => {
                let identity = NodeIdentity::load_or_create(dir).map_err(NetError::Identity)?;
                let (identity, store) = crate::disk::open_dir(dir, identity)?;
                (
                    identity,
                    Some(Arc::new(store) as Arc<dyn gossip_store::Store>),
                )
            }
            (None, None) => (NodeIdentity::ephemeral(random_id()?, unix_millis()), None),
        };
        let disk = disk
            .map(|store| crate::disk::Disk::new(store).map(Arc::new))
            .transpose()?;
        let me = identity.id;
        let advertise = self.advertise.unwrap_or(local_addr);
        // The replicas' life: 64 random bits, never the SWIM generation, so that no two lives
        // share replica ids even when their clocks and start numbers agree.
        let life = random_u64()?;
        let mut swim_config = self.preset.membership(self.cluster_size);
        let room = swim_room(&sealer, me);
        let fit = limits.max_datagram_bytes.saturating_sub(room);
        if let Some(fit) =
            std::num::NonZeroUsize::new(fit.min(swim_config.swim.max_packet_size.get()))
        {
            swim_config.swim.max_packet_size = fit;
        }
        let engine = Membership::new(identity.identity(advertise), swim_config, random_u64()?);
        let max_payload = limits.max_frame_bytes - sealer.overhead() - ENVELOPE_ROOM;
        let ctx = Arc::new(Ctx {
            me,
            start: Instant::now(),
            wake: tokio::sync::Notify::new(),
            counters: Counters::default(),
            max_delta: max_payload,
            max_runs: limits.max_runs_per_packet,
            durable: disk.is_some(),
            disk: crate::disk::DiskSlot::new(disk),
            subscriber_buffer: self.subscriber_buffer,
            config: {
                let mut config = self.preset.transport(max_payload);
                if let Some(flush) = self.flush {
                    config.flush = flush;
                }
                if let Some(flush) = self.relay_flush {
                    config.relay_flush = flush;
                }
                config
            },
        });
        // Frames read but not yet handled: bounded, so a flood of frames stalls its readers
        // (TCP pushes back) instead of growing memory.
        let (inbound_tx, inbound_rx) = mpsc::channel(64);
        let inner = Arc::new(Inner {
            swim: Mutex::new(Swim::new(engine, self.subscriber_buffer)),
            ctx,
            life,
            label: self.label,
            sealer,
            limits,
            timing: self.preset.timing(),
            advertise,
            local_addr,
            udp: Arc::new(udp),
            replicas: Mutex::new(BTreeMap::new()),
            links: Mutex::new(HashMap::new()),
            connections: Mutex::new(HashMap::new()),
            replay: Mutex::new(Replay::default()),
            cancel: CancellationToken::new(),
            data_dir: self.data_dir,
            #[cfg(feature = "testing")]
            faults: self.faults.map(crate::faults::FaultState::new),
            #[cfg(feature = "testing")]
            silenced: AtomicBool::new(false),
            announce: AtomicBool::new(false),
        });
        tracing::info!(node = %me, addr = %local_addr, label = %inner.label,
            incarnation = identity.identity(advertise).generation,
            kept_id = !identity.fresh, sealed = !matches!(inner.sealer, Sealer::Plain { .. }),
            "node started");
        let (seeds, unresolved) = resolve(self.seeds, &self.seed_hosts).await;
        inner.join(&seeds);
        let driver = tokio::spawn(drive(inner.clone(), inbound_rx));
        let listener = tokio::spawn(listen(inner.clone(), tcp, inbound_tx));
        let mut tasks = vec![driver, listener];
        if !unresolved.is_empty() {
            tasks.push(tokio::spawn(resolve_later(inner.clone(), unresolved)));
        }
        Ok(Node {
            handle: Arc::new(Handle {
                inner,
                tasks: Mutex::new(tasks),
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

    /// This life's incarnation: the generation of the node's SWIM identity, higher at every
    /// start of a node that keeps its data directory (and renewed if the node was declared
    /// down and came back). Others see it as [`MemberInfo::incarnation`].
    pub fn incarnation(&self) -> u64 {
        lock(&self.handle.inner.swim).engine.me().generation
    }

    /// The members this node knows (itself excluded): alive, suspect, and down or left until
    /// SWIM forgets them.
    pub fn members(&self) -> Vec<MemberInfo> {
        self.handle.inner.member_list()
    }

    /// Membership changes from now on: a member up, down, left, or renamed (a new life at
    /// its address), this node connected or isolated (see [`MemberEvent`]).
    ///
    /// [`MemberEvent`]: crate::MemberEvent
    pub fn member_events(&self) -> MemberEvents {
        self.handle.inner.member_events()
    }

    /// The SWIM configuration the node runs (its preset's, with the packet size fitted to a
    /// datagram): for instance to compute how long a crash takes to be detected.
    pub fn membership_config(&self) -> gossip_membership::Config {
        lock(&self.handle.inner.swim).engine.config().clone()
    }

    /// Drops everything the node sends while `on` (it still receives): to the others it
    /// looks cut off. Tests only.
    #[cfg(feature = "testing")]
    pub fn silence(&self, on: bool) {
        self.handle.inner.silenced.store(on, Ordering::Relaxed);
    }

    /// The node's counters.
    pub fn metrics(&self) -> Metrics {
        let ctx = &self.handle.inner.ctx;
        let c = &ctx.counters;
        if let Some(disk) = ctx.disk.get() {
            Counters::set(&c.store_commits, disk.stats().commits);
        }
        let (queued, fullest) = self.handle.inner.queue_depths();
        Counters::set(&c.tcp_queued_bytes, queued as u64);
        Counters::set(&c.tcp_queued_bytes_max, fullest as u64);
        let (mut lag, mut oldest, mut deltas_queued) = (0u64, None::<Time>, 0usize);
        for replica in lock(&self.handle.inner.replicas).values() {
            let (l, q) = replica.gauges();
            lag += l.deltas;
            oldest = match (oldest, l.oldest) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            deltas_queued += q;
        }
        Counters::set(&c.replica_queued_deltas, deltas_queued as u64);
        Counters::set(&c.replication_lag_deltas, lag);
        let age = oldest.map_or(0, |t| {
            let now = ctx.now().since_origin();
            now.saturating_sub(t.since_origin()).as_millis()
        });
        Counters::set(
            &c.replication_lag_ms,
            u64::try_from(age).unwrap_or(u64::MAX),
        );
        c.snapshot()
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
        let seed = inner.life ^ inner.ctx.me.as_u64_pair().0;
        // Durability: what the store keeps of the replica, to resume from.
        let opened = crate::durable::open_replica::<L>(&inner.ctx, name)?;
        let shared = Arc::new(Shared::<L>::new(
            name.to_string(),
            inner.ctx.clone(),
            inner.life,
            seed,
            opened,
        ));
        let members = inner.hosting(name);
        shared.set_members(inner.ctx.now(), members);
        replicas.insert(name.to_string(), shared.clone());
        drop(replicas);
        // Tell the others at once that this node hosts the name.
        inner.announce.store(true, Ordering::Relaxed);
        inner.ctx.wake.notify_one();
        Ok(Replica { shared })
    }

    /// Sends what is queued, announces the departure (the members mark this node `Left`,
    /// not `Down`), waits at most a few seconds for TCP queues to drain, and stops the node's
    /// tasks. With a store, it then writes a checkpoint of every replica and closes the store
    /// (releasing the data directory), so the next start resumes each replica under its id; an
    /// error doing so is returned after the node has stopped.
    pub async fn shutdown(&self) -> Result<(), NetError> {
        let inner = &self.handle.inner;
        if inner.cancel.is_cancelled() {
            return Err(NetError::Stopped);
        }
        inner.pump(inner.ctx.now());
        inner.leave();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        while inner.queued_bytes() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        inner.cancel.cancel();
        let tasks: Vec<JoinHandle<()>> = lock(&self.handle.tasks).drain(..).collect();
        for t in tasks {
            let _ = t.await;
        }
        // Durability: close every replica's journal, then the store.
        let closing: Vec<_> = lock(&inner.replicas)
            .values()
            .filter_map(|r| r.close())
            .collect();
        crate::durable::close(&inner.ctx, closing)
    }
}

pub(crate) struct Inner {
    pub(crate) ctx: Arc<Ctx>,
    /// This life of the replicas (random): their replica ids derive from it.
    pub(crate) life: u64,
    pub(crate) label: String,
    pub(crate) sealer: Sealer,
    pub(crate) limits: Limits,
    pub(crate) timing: Timing,
    pub(crate) advertise: SocketAddr,
    pub(crate) local_addr: SocketAddr,
    pub(crate) udp: Arc<UdpSocket>,
    pub(crate) replicas: Mutex<BTreeMap<String, Arc<dyn AnyReplica>>>,
    pub(crate) swim: Mutex<Swim>,
    pub(crate) links: Mutex<HashMap<SocketAddr, Link>>,
    pub(crate) connections: Mutex<HashMap<IpAddr, usize>>,
    pub(crate) replay: Mutex<Replay>,
    pub(crate) cancel: CancellationToken,
    data_dir: Option<PathBuf>,
    #[cfg(feature = "testing")]
    pub(crate) faults: Option<crate::faults::FaultState>,
    /// Drops everything the node sends (tests only).
    #[cfg(feature = "testing")]
    pub(crate) silenced: AtomicBool,
    /// Set when a replica was opened: the members are told at the next turn of the driver.
    announce: AtomicBool,
}

impl Inner {
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
            .chain(self.swim_deadline())
            .min()
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
                        addr: self.advertise,
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

    /// Handles one message from the network: any bytes at all.
    fn incoming(self: &Arc<Self>, bytes: &[u8]) {
        let Some(env) = self.open_envelope(bytes) else {
            return;
        };
        let c = &self.ctx.counters;
        match env.body {
            Body::Swim(bytes) => self.swim_input(&bytes),
            Body::Hosts {
                addr,
                life,
                version,
                knows,
                replicas,
            } => self.hosts_input(env.from, addr, (life, version, knows), replicas),
            Body::Packet { replica, bytes } => {
                let r = lock(&self.replicas).get(&replica).cloned();
                match r {
                    Some(r) => {
                        if self.hosts_seen(env.from, &replica) {
                            self.refresh_replica_members();
                        }
                        let member = self.hosting(&replica).contains(&env.from);
                        if !r.handle(self.ctx.now(), env.from, &bytes) {
                            // A sender SWIM has not reported here yet (views differ for a
                            // moment while a member joins) is not a misbehaving one.
                            let counter = if member {
                                &c.refused_invalid
                            } else {
                                &c.refused_not_member
                            };
                            Counters::add(counter, 1);
                        }
                    }
                    None => Counters::add(&c.unknown_replica, 1),
                }
            }
            Body::Query {
                addr,
                replica,
                dots,
            } => {
                let r = lock(&self.replicas).get(&replica).cloned();
                if let Some(r) = r {
                    let dots: Vec<(u64, u64)> = dots.into_iter().take(4096).collect();
                    let held = r.held(&dots);
                    if !held.is_empty() {
                        let sealed = self.envelope(Body::Held {
                            replica,
                            dots: held,
                        });
                        self.send(addr, sealed);
                    }
                }
            }
            Body::Held { replica, dots } => {
                let r = lock(&self.replicas).get(&replica).cloned();
                if let Some(r) = r {
                    r.record_held(env.from, &dots);
                }
            }
            // A connection's reader consumes its hello; a later one says nothing new.
            Body::Hello => {}
        }
    }
}

/// How many more datagrams, and frames, the driver reads at most in one turn once one input
/// woke it: enough to empty a receive buffer of acknowledgements, few enough that timers and
/// local updates still get their turn.
const DRAIN_PER_TURN: usize = 256;

/// The driver: owns the UDP socket's receiving side and the clock; everything else is
/// handed to it through the inbound channel and the wake-up.
async fn drive(inner: Arc<Inner>, mut inbound: mpsc::Receiver<Vec<u8>>) {
    let mut buf = vec![0u8; 65_536];
    let mut next_hosts = tokio::time::Instant::now();
    let mut next_query = tokio::time::Instant::now();
    loop {
        let deadline = inner
            .next_deadline()
            .map(|t| tokio::time::Instant::from_std(inner.ctx.start + t.since_origin()))
            .unwrap_or(next_hosts)
            .min(next_hosts);
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
        // Whatever else has arrived is read before the replicas run: a turn that sends much
        // (a hub's batches, a large retransmission) takes long, and acknowledgements left
        // unread meanwhile would make the next turn resend everything again.
        for _ in 0..DRAIN_PER_TURN {
            match inner.udp.try_recv_from(&mut buf) {
                Ok((n, _from)) => {
                    let c = &inner.ctx.counters;
                    Counters::add(&c.udp_received, 1);
                    Counters::add(&c.udp_received_bytes, n as u64);
                    inner.incoming(buf.get(..n).unwrap_or_default());
                }
                Err(_) => break,
            }
        }
        for _ in 0..DRAIN_PER_TURN {
            match inbound.try_recv() {
                Ok(frame) => inner.incoming(&frame),
                Err(_) => break,
            }
        }
        let now = tokio::time::Instant::now();
        if inner.announce.swap(false, Ordering::Relaxed) {
            inner.hosts_changed();
        }
        if now >= next_hosts {
            inner.hosts_tick();
            next_hosts = now + inner.timing.hosts;
        }
        if now >= next_query {
            if inner.has_queries() {
                inner.send_queries();
            }
            next_query = now + inner.timing.query;
        }
        let t = inner.ctx.now();
        inner.swim_timeout(t);
        inner.pump(t);
    }
    tracing::debug!(node = %inner.ctx.me, "driver stopped");
}
