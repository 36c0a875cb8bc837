//! One agent: a `gossip-net` node with three replicas (sets, counters, registers), the watch
//! hub that turns replica events into named changes, and the HTTP server.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gossip_net::{
    AckLevel, Event, Faults, Keyring, Node, NodeBuilder, Preset, Replica, UpdateError,
};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{broadcast, oneshot};
use tokio::task::JoinHandle;

use crate::error::AgentError;
use crate::keyspace::{self, Counters, Kind, Registers, Sets};

/// How an agent authenticates its peers.
#[derive(Clone)]
pub enum Security {
    /// Packets are sealed and opened with this keyring.
    Key(Keyring),
    /// No encryption, no authentication: anyone who can reach the port can join.
    Insecure,
}

/// Everything `gossip-agent run` takes.
#[derive(Clone)]
pub struct AgentConfig {
    /// The gossip address (UDP and TCP).
    pub listen: SocketAddr,
    /// The HTTP address.
    pub http: SocketAddr,
    /// Members to join; empty starts a new cluster.
    pub seeds: Vec<SocketAddr>,
    /// Where the store keeps state; `None` keeps everything in memory.
    pub data_dir: Option<PathBuf>,
    /// Key or insecure.
    pub security: Security,
    /// Timing preset of the network shell.
    pub preset: Preset,
    /// A testing aid: loss, duplication and delay on everything the node sends, and the
    /// `/v1/test/blocked` endpoint that cuts it off from chosen peers. `None` in production.
    pub test_faults: Option<Faults>,
}

/// The changes the hub remembers for the status page.
const RECENT_CHANGES: usize = 50;
/// How many changes a watcher may fall behind before it is told it missed some.
const WATCH_BUFFER: usize = 1024;
/// The most watch streams served at once; one more is refused with 503.
pub const MAX_WATCHERS: u64 = 256;

/// One change of a name, as watchers and the status page see it.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// `sets`, `counters` or `registers`.
    pub kind: &'static str,
    /// The name changed.
    pub name: String,
    /// Its value now, as a read returns it (`null`: deleted).
    pub value: Value,
    /// For registers: the context of the values now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// `local` for a write through this agent, else the member it came from.
    pub from: String,
}

/// What the hub broadcasts to watchers.
#[derive(Debug, Clone)]
pub enum Notice {
    /// A name changed.
    Change(Change),
    /// The hub itself fell behind a replica: some changes of `kind` were not seen one by one.
    Lagged {
        /// The kind whose events were missed.
        kind: &'static str,
        /// How many events were missed.
        missed: u64,
    },
}

/// Counters the HTTP layer keeps, for `/metrics`.
#[derive(Debug, Default)]
pub struct HttpCounters {
    /// Answers by status class: 2xx, 3xx, 4xx, 5xx.
    pub by_class: [AtomicU64; 4],
    /// Watch streams open now.
    pub watchers: AtomicU64,
    /// Watch notices dropped because a watcher fell behind.
    pub watch_lagged: AtomicU64,
}

/// The state every request handler shares.
pub struct Shared {
    pub(crate) node: Node,
    pub(crate) sets: Replica<Sets>,
    pub(crate) counters: Replica<Counters>,
    pub(crate) registers: Replica<Registers>,
    /// The agent was given a data dir.
    pub(crate) data_dir: bool,
    /// The network layer keeps a store there: durable acknowledgements are possible.
    pub(crate) store: bool,
    /// The test fault layer is on: `/v1/test/blocked` is served.
    pub(crate) test_faults: bool,
    pub(crate) changes: broadcast::Sender<Notice>,
    pub(crate) recent: Mutex<VecDeque<Change>>,
    pub(crate) http: HttpCounters,
}

impl Shared {
    /// `true` iff `name` is present as `kind`.
    pub(crate) fn contains(&self, kind: Kind, name: &str) -> bool {
        let name = name.to_owned();
        match kind {
            Kind::Sets => self.sets.read(|s| s.contains_key(&name)),
            Kind::Counters => self.counters.read(|s| s.contains_key(&name)),
            Kind::Registers => self.registers.read(|s| s.contains_key(&name)),
        }
    }

    /// Another kind that holds `name`, if any.
    pub(crate) fn held_as_other(&self, kind: Kind, name: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|&other| other != kind && self.contains(other, name))
    }

    /// `name`'s value as a read returns it, and for registers its context; `None` if absent.
    pub(crate) fn read(&self, kind: Kind, name: &str) -> Option<(Value, Option<String>)> {
        match kind {
            Kind::Sets => self
                .sets
                .read(|s| keyspace::set_read(s, name))
                .map(|v| (Value::Array(v), None)),
            Kind::Counters => self
                .counters
                .read(|s| keyspace::counter_read(s, name))
                .map(|n| (serde_json::json!(n), None)),
            Kind::Registers => self
                .registers
                .read(|s| keyspace::register_read(s, name))
                .map(|v| (Value::Array(v.values), Some(v.context))),
        }
    }

    /// The present names of `kind`, in order.
    pub(crate) fn names(&self, kind: Kind) -> Vec<String> {
        match kind {
            Kind::Sets => self.sets.read(|s| s.keys().cloned().collect()),
            Kind::Counters => self.counters.read(|s| s.keys().cloned().collect()),
            Kind::Registers => self.registers.read(|s| s.keys().cloned().collect()),
        }
    }

    /// The last changes, newest first.
    pub(crate) fn recent(&self) -> Vec<Change> {
        match self.recent.lock() {
            Ok(recent) => recent.iter().rev().cloned().collect(),
            Err(poisoned) => poisoned.get_ref().iter().rev().cloned().collect(),
        }
    }

    fn publish(&self, change: Change) {
        {
            let mut recent = match self.recent.lock() {
                Ok(recent) => recent,
                Err(poisoned) => poisoned.into_inner(),
            };
            if recent.len() == RECENT_CHANGES {
                recent.pop_front();
            }
            recent.push_back(change.clone());
        }
        // No watcher is not an error.
        let _ = self.changes.send(Notice::Change(change));
    }
}

/// A running agent. Dropping it without [`shutdown`](Agent::shutdown) stops the HTTP server
/// and, with the last handle, the node.
pub struct Agent {
    shared: Arc<Shared>,
    http_addr: SocketAddr,
    stop_http: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    hubs: Vec<JoinHandle<()>>,
}

impl Agent {
    /// Starts the node, opens the three replicas, starts the watch hub and serves HTTP.
    pub async fn start(config: AgentConfig) -> Result<Agent, AgentError> {
        let mut builder = NodeBuilder::new(config.listen)
            .seeds(config.seeds.clone())
            .preset(config.preset);
        builder = match config.security {
            Security::Key(key) => builder.keyring(key),
            Security::Insecure => builder.insecure(),
        };
        if let Some(dir) = &config.data_dir {
            builder = builder.data_dir(dir.clone());
        }
        if let Some(faults) = config.test_faults {
            builder = builder.faults(faults);
        }
        let node = builder.start().await?;
        let listener = match tokio::net::TcpListener::bind(config.http).await {
            Ok(listener) => listener,
            Err(source) => {
                // The node is useless without its API: stop it before reporting.
                let _ = node.shutdown().await;
                return Err(AgentError::Http {
                    addr: config.http.to_string(),
                    source,
                });
            }
        };
        let http_addr = listener.local_addr().map_err(|source| AgentError::Http {
            addr: config.http.to_string(),
            source,
        })?;
        let sets = node.open::<Sets>(Kind::Sets.as_str())?;
        let store = config.data_dir.is_some() && offers_store(&sets).await;
        let (changes, _) = broadcast::channel(WATCH_BUFFER);
        let shared = Arc::new(Shared {
            sets,
            counters: node.open::<Counters>(Kind::Counters.as_str())?,
            registers: node.open::<Registers>(Kind::Registers.as_str())?,
            node,
            data_dir: config.data_dir.is_some(),
            store,
            test_faults: config.test_faults.is_some(),
            changes,
            recent: Mutex::new(VecDeque::new()),
            http: HttpCounters::default(),
        });
        let hubs = vec![
            spawn_hub(shared.clone(), Kind::Sets, shared.sets.clone()),
            spawn_hub(shared.clone(), Kind::Counters, shared.counters.clone()),
            spawn_hub(shared.clone(), Kind::Registers, shared.registers.clone()),
        ];
        let (stop_http, stopped) = oneshot::channel();
        let app = crate::http::router(shared.clone());
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                eprintln!("gossip-agent: HTTP server stopped: {e}");
            }
        });
        Ok(Agent {
            shared,
            http_addr,
            stop_http: Some(stop_http),
            server: Some(server),
            hubs,
        })
    }

    /// The address the HTTP API answers on.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The network node.
    pub fn node(&self) -> &Node {
        &self.shared.node
    }

    /// Stops serving HTTP (open watch streams end), then stops the node.
    pub async fn shutdown(mut self) -> Result<(), AgentError> {
        self.stop_tasks().await;
        self.shared.node.shutdown().await?;
        Ok(())
    }

    async fn stop_tasks(&mut self) {
        if let Some(stop) = self.stop_http.take() {
            let _ = stop.send(());
        }
        for hub in self.hubs.drain(..) {
            hub.abort();
        }
        // Watch streams end when the hub's sender is gone; the server then drains.
        if let Some(server) = self.server.take() {
            server.abort();
            let _ = server.await;
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(stop) = self.stop_http.take() {
            let _ = stop.send(());
        }
        for hub in &self.hubs {
            hub.abort();
        }
        if let Some(server) = &self.server {
            server.abort();
        }
    }
}

/// Whether the node keeps a store: a durable update whose closure changes nothing is refused
/// with `NotDurable` at once without one, and is `NoChange` with one. Nothing is applied.
async fn offers_store(replica: &Replica<Sets>) -> bool {
    let probe = replica
        .update_with(AckLevel::Durable, Duration::from_secs(1), |_, _| None)
        .await;
    !matches!(probe, Err(UpdateError::NotDurable))
}

/// Follows one replica's events and publishes a [`Change`] per name they touch, read from
/// the state as it is after the event.
fn spawn_hub<L>(shared: Arc<Shared>, kind: Kind, replica: Replica<L>) -> JoinHandle<()>
where
    L: NamedMap,
{
    let mut subscription = replica.subscribe();
    tokio::spawn(async move {
        while let Some(event) = subscription.next().await {
            match event {
                Event::Changed { gained, from } => {
                    let from = from.map_or_else(|| "local".to_owned(), |id| id.to_string());
                    for name in gained.touched() {
                        let (value, context) = match shared.read(kind, &name) {
                            Some((value, context)) => (value, context),
                            None => (Value::Null, None),
                        };
                        shared.publish(Change {
                            kind: kind.as_str(),
                            name,
                            value,
                            context,
                            from: from.clone(),
                        });
                    }
                }
                Event::Lagged { missed } => {
                    let _ = shared.changes.send(Notice::Lagged {
                        kind: kind.as_str(),
                        missed,
                    });
                }
            }
        }
    })
}

/// A replicated map of names, whose deltas say which names they touch.
pub(crate) trait NamedMap: gossip_net::Crdt {
    /// The names a delta updates or removes.
    fn touched(&self) -> Vec<String>;
}

impl<V> NamedMap for gossip_crdt::OrMap<String, V, gossip_transport::ReplicaId>
where
    V: gossip_crdt::Resettable + gossip_net::Crdt,
{
    fn touched(&self) -> Vec<String> {
        keyspace::touched_names(self)
    }
}

/// Why a `--test-faults` setting was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestFaultsError {
    /// A part is not `key=value`, or the key is none of loss, duplicate, delay, seed.
    UnknownPart(String),
    /// A value does not parse, or a probability is outside [0, 1].
    BadValue {
        /// The key.
        key: String,
        /// The value given.
        value: String,
    },
}

impl std::fmt::Display for TestFaultsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TestFaultsError::UnknownPart(part) => write!(
                f,
                "{part:?}: expected loss=P, duplicate=P, delay=MSms or seed=N, comma-separated"
            ),
            TestFaultsError::BadValue { key, value } => {
                write!(f, "{key}={value}: not a valid value for {key}")
            }
        }
    }
}

impl std::error::Error for TestFaultsError {}

/// Parses a test fault setting: `loss=0.05,duplicate=0.01,delay=20ms,seed=7` (every part
/// optional; `none` or an empty string turns on only the per-peer blocking).
pub fn parse_test_faults(spec: &str) -> Result<Faults, TestFaultsError> {
    let mut faults = Faults::NONE;
    for part in spec.split(',').map(str::trim) {
        if part.is_empty() || part == "none" {
            continue;
        }
        let (key, value) = part
            .split_once('=')
            .ok_or_else(|| TestFaultsError::UnknownPart(part.to_owned()))?;
        let bad = || TestFaultsError::BadValue {
            key: key.to_owned(),
            value: value.to_owned(),
        };
        let probability = || {
            value
                .parse::<f64>()
                .ok()
                .filter(|p| (0.0..=1.0).contains(p))
                .ok_or_else(bad)
        };
        match key {
            "loss" => faults.loss = probability()?,
            "duplicate" => faults.duplicate = probability()?,
            "delay" => {
                let ms = value.strip_suffix("ms").unwrap_or(value);
                faults.max_delay = Duration::from_millis(ms.parse().map_err(|_| bad())?);
            }
            "seed" => faults.seed = value.parse().map_err(|_| bad())?,
            _ => return Err(TestFaultsError::UnknownPart(part.to_owned())),
        }
    }
    Ok(faults)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_fault_settings_parse_and_refuse() {
        let f = parse_test_faults("loss=0.05,duplicate=0.01,delay=20ms,seed=7");
        assert_eq!(
            f,
            Ok(Faults {
                loss: 0.05,
                duplicate: 0.01,
                max_delay: Duration::from_millis(20),
                seed: 7
            })
        );
        assert_eq!(parse_test_faults("none"), Ok(Faults::NONE));
        assert_eq!(parse_test_faults(""), Ok(Faults::NONE));
        assert!(matches!(
            parse_test_faults("loss=2"),
            Err(TestFaultsError::BadValue { .. })
        ));
        assert!(matches!(
            parse_test_faults("jitter=3"),
            Err(TestFaultsError::UnknownPart(_))
        ));
        assert!(matches!(
            parse_test_faults("delay=soon"),
            Err(TestFaultsError::BadValue { .. })
        ));
    }
}
