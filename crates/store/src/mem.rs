//! `MemStore`: the store in memory, for tests and the simulator, with crashes modelled.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use uuid::Uuid;

use crate::{Batch, Durability, Op, ReplicaImage, Store, StoreError};

/// What one store holds.
#[derive(Debug, Clone, Default)]
struct Image {
    leases: BTreeMap<String, (u64, u64)>,
    checkpoints: BTreeMap<String, (Vec<u8>, u64)>,
    deltas: BTreeMap<String, BTreeMap<u64, Vec<u8>>>,
}

impl Image {
    fn apply(&mut self, op: &Op) {
        match op {
            Op::Lease { replica, id, lease } => {
                self.leases.insert(replica.clone(), (*id, *lease));
            }
            Op::Checkpoint {
                replica,
                bytes,
                covers,
            } => {
                self.checkpoints
                    .insert(replica.clone(), (bytes.clone(), *covers));
                if let Some(deltas) = self.deltas.get_mut(replica) {
                    deltas.retain(|seq, _| *seq > *covers);
                }
            }
            Op::Delta {
                replica,
                seq,
                bytes,
            } => {
                self.deltas
                    .entry(replica.clone())
                    .or_default()
                    .insert(*seq, bytes.clone());
            }
            Op::Remove { replica } => {
                self.leases.remove(replica);
                self.checkpoints.remove(replica);
                self.deltas.remove(replica);
            }
        }
    }

    fn bytes(&self) -> usize {
        let leases: usize = self.leases.keys().map(|k| k.len() + 16).sum();
        let checkpoints: usize = self
            .checkpoints
            .iter()
            .map(|(k, (b, _))| k.len() + 8 + b.len())
            .sum();
        let deltas: usize = self
            .deltas
            .iter()
            .flat_map(|(k, d)| d.values().map(move |b| k.len() + 8 + b.len()))
            .sum();
        leases + checkpoints + deltas
    }

    fn load(&self, name: &str) -> Option<ReplicaImage> {
        let image = ReplicaImage {
            lease: self.leases.get(name).copied(),
            checkpoint: self.checkpoints.get(name).cloned(),
            deltas: self
                .deltas
                .get(name)
                .map(|d| d.iter().map(|(s, b)| (*s, b.clone())).collect())
                .unwrap_or_default(),
        };
        let empty = image.lease.is_none() && image.checkpoint.is_none() && image.deltas.is_empty();
        (!empty).then_some(image)
    }
}

#[derive(Debug)]
struct Inner {
    node: Uuid,
    /// What survives a crash.
    durable: Image,
    /// What reads see: `durable` and the buffered commits after it.
    visible: Image,
    /// Crashed: every call fails with [`StoreError::Closed`], as a dead process would.
    dead: bool,
    /// At most this many bytes may be held: a commit that would pass it fails as a full disk.
    capacity: Option<usize>,
    commits: u64,
    syncs: u64,
}

/// A [`Store`] in memory. Clones share one store (as handles to one file would).
///
/// It models a crash: [`crash`](Self::crash) returns what a restarted process would find
/// (every `Immediate` commit, and the `Buffered` ones before the last of those) and kills
/// this store: every later call on it, or on its clones, fails with [`StoreError::Closed`],
/// so a thread still writing to it cannot leak writes into the next life. A capacity models
/// a full disk ([`set_capacity`](Self::set_capacity)).
#[derive(Debug, Clone)]
pub struct MemStore {
    inner: Arc<Mutex<Inner>>,
}

impl Default for MemStore {
    fn default() -> Self {
        MemStore::new()
    }
}

impl MemStore {
    /// An empty store with a fresh node identity.
    pub fn new() -> MemStore {
        MemStore::with_node_id(Uuid::new_v4())
    }

    /// An empty store with the node identity `node` (simulations derive it from their seed).
    pub fn with_node_id(node: Uuid) -> MemStore {
        MemStore::from_image(node, Image::default())
    }

    fn from_image(node: Uuid, image: Image) -> MemStore {
        MemStore {
            inner: Arc::new(Mutex::new(Inner {
                node,
                durable: image.clone(),
                visible: image,
                dead: false,
                capacity: None,
                commits: 0,
                syncs: 0,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves no half-applied commit (each commit applies
        // to a copy first), so the data behind a poisoned lock is consistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Simulates a crash of the process: returns the store a restart finds, with only what
    /// was durable, and kills this one (and its clones).
    pub fn crash(&self) -> MemStore {
        let mut inner = self.lock();
        inner.dead = true;
        let restarted = MemStore::from_image(inner.node, inner.durable.clone());
        restarted.lock().capacity = inner.capacity;
        restarted
    }

    /// Limits the bytes held (`None`: no limit). A commit that would pass the limit fails
    /// with [`StoreError::DiskFull`] and applies nothing.
    pub fn set_capacity(&self, bytes: Option<usize>) {
        self.lock().capacity = bytes;
    }

    /// The bytes held now (as counted against the capacity).
    pub fn bytes(&self) -> usize {
        self.lock().visible.bytes()
    }

    /// How many commits were applied.
    pub fn commits(&self) -> u64 {
        self.lock().commits
    }

    /// How many of them were `Immediate` (each is one fsync on a disk).
    pub fn syncs(&self) -> u64 {
        self.lock().syncs
    }
}

impl Store for MemStore {
    fn node_id(&self) -> Uuid {
        self.lock().node
    }

    fn replicas(&self) -> Result<Vec<String>, StoreError> {
        let inner = self.lock();
        if inner.dead {
            return Err(StoreError::Closed);
        }
        let image = &inner.visible;
        let mut names: Vec<String> = image
            .leases
            .keys()
            .chain(image.checkpoints.keys())
            .chain(
                image
                    .deltas
                    .iter()
                    .filter(|(_, d)| !d.is_empty())
                    .map(|(k, _)| k),
            )
            .cloned()
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn load(&self, name: &str) -> Result<Option<ReplicaImage>, StoreError> {
        let inner = self.lock();
        if inner.dead {
            return Err(StoreError::Closed);
        }
        Ok(inner.visible.load(name))
    }

    fn commit(&self, batch: &Batch, durability: Durability) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if inner.dead {
            return Err(StoreError::Closed);
        }
        let mut next = inner.visible.clone();
        for op in &batch.ops {
            next.apply(op);
        }
        if inner.capacity.is_some_and(|cap| next.bytes() > cap) {
            return Err(StoreError::DiskFull {
                path: "memory".into(),
            });
        }
        if durability == Durability::Immediate {
            inner.durable = next.clone();
            inner.syncs += 1;
        }
        inner.visible = next;
        inner.commits += 1;
        Ok(())
    }
}
