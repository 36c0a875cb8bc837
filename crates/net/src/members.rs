//! The membership glue: the node's SWIM engine ([`gossip_membership::Membership`]) on the
//! node's socket, which replicas each member hosts, and the events users watch.
//!
//! SWIM packets travel as [`Body::Swim`] in the node's sealed envelope, so only holders of the
//! cluster key are ever heard. After every input the driver drains the engine: its packets are
//! sealed and sent, its events update every replica's member list (the active members that
//! host a replica of the same name) and reach [`MemberEvents`] subscribers.
//!
//! Which replicas a member hosts is not SWIM's business: members tell each other with
//! [`Body::Hosts`], a list with a version number, and each says which version of the other's
//! list it knows, so the lists are resent (every `hosts` tick) only until both sides know the
//! other's latest. An idle cluster sends none.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;

use gossip_membership::{MemberEvent, MemberInfo, MemberState, Membership, NodeId};
use tokio::sync::broadcast;

use std::time::{SystemTime, UNIX_EPOCH};

use crate::NetError;
use crate::keys::Sealer;
use crate::metrics::Counters;
use crate::node::Inner;
use crate::sync::lock;
use crate::wire::{Body, Envelope, encode_envelope};

/// A stream of membership events (see [`MemberEvent`]), from the moment it was made:
/// [`Node::member_events`](crate::Node::member_events).
///
/// A subscriber that falls more than the node's `subscriber_buffer` events behind misses the
/// oldest ones (counted in [`missed`](Self::missed)); [`Node::members`](crate::Node::members)
/// is always the current view.
#[derive(Debug)]
pub struct MemberEvents {
    rx: broadcast::Receiver<MemberEvent>,
    missed: u64,
}

impl MemberEvents {
    /// The next event; `None` once the node stopped.
    pub async fn next(&mut self) -> Option<MemberEvent> {
        loop {
            match self.rx.recv().await {
                Ok(e) => return Some(e),
                Err(broadcast::error::RecvError::Lagged(n)) => self.missed += n,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// The next event if one is waiting, without waiting.
    pub fn try_next(&mut self) -> Option<MemberEvent> {
        loop {
            match self.rx.try_recv() {
                Ok(e) => return Some(e),
                Err(broadcast::error::TryRecvError::Lagged(n)) => self.missed += n,
                Err(_) => return None,
            }
        }
    }

    /// Events this subscriber missed by falling behind.
    pub fn missed(&self) -> u64 {
        self.missed
    }
}

/// What one member told us it hosts.
#[derive(Debug, Default)]
struct Hosted {
    /// The life (start number) of the member that told us; a new life starts over.
    life: u64,
    /// Whether it told us at all (an entry is made when SWIM reports the member up).
    heard: bool,
    /// The version of its list we hold.
    version: u64,
    replicas: BTreeSet<String>,
    /// The version of our list it holds.
    knows: u64,
}

/// The SWIM engine and what rides along with it.
pub(crate) struct Swim {
    pub(crate) engine: Membership,
    hosts: BTreeMap<NodeId, Hosted>,
    /// The version of this node's list of hosted replicas: bumped by every `open`.
    version: u64,
    events: broadcast::Sender<MemberEvent>,
}

impl Swim {
    pub(crate) fn new(engine: Membership, buffer: usize) -> Swim {
        Swim {
            engine,
            hosts: BTreeMap::new(),
            version: 0,
            events: broadcast::channel(buffer.max(1)).0,
        }
    }

    /// The active members hosting `replica`.
    fn hosting(&self, replica: &str) -> Vec<NodeId> {
        self.engine
            .active_ids()
            .into_iter()
            .filter(|id| {
                self.hosts
                    .get(id)
                    .is_some_and(|h| h.replicas.contains(replica))
            })
            .collect()
    }
}

impl Inner {
    /// The members this node knows, itself excluded.
    pub(crate) fn member_list(&self) -> Vec<MemberInfo> {
        let swim = lock(&self.swim);
        let me = swim.engine.me().addr;
        swim.engine
            .members()
            .into_iter()
            .filter(|m| m.addr != me)
            .collect()
    }

    pub(crate) fn member_events(&self) -> MemberEvents {
        MemberEvents {
            rx: lock(&self.swim).events.subscribe(),
            missed: 0,
        }
    }

    /// The active members hosting `replica`.
    pub(crate) fn hosting(&self, replica: &str) -> Vec<NodeId> {
        lock(&self.swim).hosting(replica)
    }

    /// Where an active member receives.
    pub(crate) fn addr_of(&self, id: &NodeId) -> Option<SocketAddr> {
        lock(&self.swim).engine.addr_of(*id)
    }

    /// Asks the members at `seeds` to let this node in (its own addresses skipped).
    pub(crate) fn join(self: &Arc<Self>, seeds: &[SocketAddr]) {
        let now = self.ctx.now();
        {
            let mut swim = lock(&self.swim);
            for &seed in seeds {
                if seed == self.advertise || seed == self.local_addr {
                    continue;
                }
                if let Err(e) = swim.engine.join(now, seed) {
                    tracing::warn!(%seed, error = %e, "cannot join through this seed");
                }
            }
        }
        self.swim_flush();
    }

    /// Whether this node knows no active member.
    pub(crate) fn alone(&self) -> bool {
        lock(&self.swim).engine.active_ids().is_empty()
    }

    /// A membership packet arrived.
    pub(crate) fn swim_input(self: &Arc<Self>, bytes: &[u8]) {
        let now = self.ctx.now();
        let result = lock(&self.swim).engine.handle_data(now, bytes);
        if let Err(e) = result {
            Counters::add(&self.ctx.counters.refused_membership, 1);
            tracing::debug!(error = %e, "membership packet refused");
        }
        self.swim_flush();
    }

    /// Runs the engine's timers if due.
    pub(crate) fn swim_timeout(self: &Arc<Self>, now: gossip_transport::Time) {
        {
            let mut swim = lock(&self.swim);
            if swim.engine.poll_timeout().is_none_or(|t| t > now) {
                return;
            }
            swim.engine.handle_timeout(now);
        }
        self.swim_flush();
    }

    pub(crate) fn swim_deadline(&self) -> Option<gossip_transport::Time> {
        lock(&self.swim).engine.poll_timeout()
    }

    /// Announces the departure (graceful shutdown): the members mark this node `Left`.
    pub(crate) fn leave(self: &Arc<Self>) {
        let now = self.ctx.now();
        let result = lock(&self.swim).engine.leave(now);
        if let Err(e) = result {
            tracing::debug!(error = %e, "leaving the membership");
        }
        self.swim_flush();
    }

    /// Sends what the engine has to send and acts on its events.
    fn swim_flush(self: &Arc<Self>) {
        let mut packets = Vec::new();
        let mut changed = false;
        let mut greet = Vec::new();
        {
            let mut guard = lock(&self.swim);
            let swim = &mut *guard;
            while let Some(p) = swim.engine.poll_transmit() {
                packets.push(p);
            }
            while let Some(e) = swim.engine.poll_event() {
                changed |= e.changes_members();
                match &e {
                    MemberEvent::Up(id) | MemberEvent::Renamed { to: id, .. }
                        if swim.hosts.contains_key(&id.id)
                            || swim.hosts.len() < self.limits.max_members =>
                    {
                        swim.hosts.entry(id.id).or_default();
                        greet.push(id.addr);
                    }
                    MemberEvent::Down(id) | MemberEvent::Left(id)
                        if swim.engine.addr_of(id.id).is_none() =>
                    {
                        swim.hosts.remove(&id.id);
                    }
                    _ => {}
                }
                tracing::info!(event = ?e, "membership");
                // No subscriber is not an error.
                let _ = swim.events.send(e);
            }
            if changed {
                let members = swim.engine.members();
                let me = swim.engine.me().addr;
                let count = |s: MemberState| {
                    members
                        .iter()
                        .filter(|m| m.state == s && m.addr != me)
                        .count() as u64
                };
                let c = &self.ctx.counters;
                Counters::set(&c.members_alive, count(MemberState::Alive));
                Counters::set(&c.members_suspect, count(MemberState::Suspect));
                Counters::set(&c.members_down, count(MemberState::Down));
                Counters::set(&c.members_left, count(MemberState::Left));
            }
        }
        let c = &self.ctx.counters;
        for (to, bytes) in packets {
            let sealed = self.envelope(Body::Swim(bytes));
            Counters::add(&c.membership_sent, 1);
            Counters::add(&c.membership_sent_bytes, sealed.len() as u64);
            self.send(to, sealed);
        }
        for to in greet {
            self.send_hosts(to);
        }
        if changed {
            self.refresh_replica_members();
        }
    }

    /// Tells the member at `to` which replicas this node hosts and which version of its list
    /// this node holds.
    fn send_hosts(self: &Arc<Self>, to: SocketAddr) {
        // The replicas' lock is never taken under the membership's (`open` nests them the
        // other way).
        let replicas = lock(&self.replicas).keys().cloned().collect();
        let body = {
            let swim = lock(&self.swim);
            let knows = swim
                .engine
                .members()
                .iter()
                .find(|m| m.addr == to)
                .and_then(|m| swim.hosts.get(&m.id))
                .map_or(0, |h| h.version);
            Body::Hosts {
                addr: self.advertise,
                life: swim.engine.me().start(),
                version: swim.version,
                knows,
                replicas,
            }
        };
        let sealed = self.envelope(body);
        self.send(to, sealed);
    }

    /// A member's list of hosted replicas arrived.
    pub(crate) fn hosts_input(
        self: &Arc<Self>,
        from: NodeId,
        addr: SocketAddr,
        (life, version, knows): (u64, u64, u64),
        replicas: Vec<String>,
    ) {
        let (reply, changed) = {
            let mut guard = lock(&self.swim);
            let swim = &mut *guard;
            if !swim.hosts.contains_key(&from) && swim.hosts.len() >= self.limits.max_members {
                return;
            }
            let ours = swim.version;
            let entry = swim.hosts.entry(from).or_default();
            if entry.life != life {
                *entry = Hosted {
                    life,
                    ..Hosted::default()
                };
            }
            let news = !entry.heard || entry.version != version;
            let replicas: BTreeSet<String> =
                replicas.into_iter().take(self.limits.max_members).collect();
            let changed = entry.replicas != replicas;
            entry.heard = true;
            entry.version = version;
            entry.replicas = replicas;
            entry.knows = knows;
            (news || knows < ours, changed)
        };
        if changed {
            self.refresh_replica_members();
        }
        if reply {
            self.send_hosts(addr);
        }
    }

    /// A packet for `replica` came from `from`: it hosts the replica, whatever it said before.
    pub(crate) fn hosts_seen(&self, from: NodeId, replica: &str) -> bool {
        let mut swim = lock(&self.swim);
        if !swim.hosts.contains_key(&from) && swim.hosts.len() >= self.limits.max_members {
            return false;
        }
        let entry = swim.hosts.entry(from).or_default();
        if entry.replicas.contains(replica) || entry.replicas.len() >= self.limits.max_members {
            return false;
        }
        entry.replicas.insert(replica.to_string());
        true
    }

    /// This node opened a replica: every member is told at once.
    pub(crate) fn hosts_changed(self: &Arc<Self>) {
        lock(&self.swim).version += 1;
        self.hosts_tick();
    }

    /// Sends this node's list to every active member that has not acknowledged its latest
    /// version, or has not told us its own.
    pub(crate) fn hosts_tick(self: &Arc<Self>) {
        let targets: Vec<SocketAddr> = {
            let swim = lock(&self.swim);
            swim.engine
                .active_ids()
                .into_iter()
                .filter(|id| {
                    swim.hosts
                        .get(id)
                        .is_none_or(|h| !h.heard || h.knows < swim.version)
                })
                .filter_map(|id| swim.engine.addr_of(id))
                .collect()
        };
        for to in targets {
            self.send_hosts(to);
        }
    }

    /// Hands every replica its members: the active members hosting the same name.
    pub(crate) fn refresh_replica_members(&self) {
        let now = self.ctx.now();
        let replicas: Vec<(String, Arc<dyn crate::replica::AnyReplica>)> = lock(&self.replicas)
            .iter()
            .map(|(n, r)| (n.clone(), r.clone()))
            .collect();
        for (name, r) in replicas {
            let hosting = self.hosting(&name);
            r.set_members(now, hosting);
        }
    }
}

pub(crate) fn random_u64() -> Result<u64, NetError> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|_| NetError::Random)?;
    Ok(u64::from_le_bytes(bytes))
}

pub(crate) fn random_id() -> Result<NodeId, NetError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| NetError::Random)?;
    Ok(uuid::Builder::from_random_bytes(bytes).into_uuid())
}

pub(crate) fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// What the envelope and sealing add to a membership packet.
pub(crate) fn swim_room(sealer: &Sealer, me: NodeId) -> usize {
    let env = Envelope {
        from: me,
        body: Body::Swim(Vec::new()),
    };
    // The packet's length prefix grows from one byte to at most three.
    encode_envelope(&env).len() + 2 + sealer.overhead()
}

/// Whether `seed` reads as `host:port`.
pub(crate) fn well_formed(seed: &str) -> bool {
    seed.rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
}

/// The seed addresses, and the host names that did not resolve.
pub(crate) async fn resolve(
    mut seeds: Vec<SocketAddr>,
    hosts: &[String],
) -> (Vec<SocketAddr>, Vec<String>) {
    let mut unresolved = Vec::new();
    for host in hosts {
        match tokio::net::lookup_host(host.as_str()).await {
            Ok(addrs) => seeds.extend(addrs),
            Err(e) => {
                tracing::warn!(seed = %host, error = %e,
                    "seed does not resolve; trying again while this node is alone");
                unresolved.push(host.clone());
            }
        }
    }
    seeds.sort();
    seeds.dedup();
    (seeds, unresolved)
}

/// Resolves seed names that did not resolve at start, while the node knows no live member.
pub(crate) async fn resolve_later(inner: Arc<Inner>, mut hosts: Vec<String>) {
    let every = lock(&inner.swim).engine.config().rejoin_interval;
    while !hosts.is_empty() {
        tokio::select! {
            _ = inner.cancel.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
        if !inner.alone() {
            continue;
        }
        let (seeds, still) = resolve(Vec::new(), &hosts).await;
        inner.join(&seeds);
        hosts = still;
    }
}
