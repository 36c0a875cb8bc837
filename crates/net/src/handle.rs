//! The handle an application holds for one named replica: update, update-and-wait at an
//! [`AckLevel`], read, subscribe. It works on the replica's shared core ([`Shared`]), which
//! the node's driver feeds with packets and time.

use std::sync::Arc;
use std::time::Duration;

use gossip_crdt::Dot;
use gossip_store::StoreError;
use gossip_transport::ReplicaId;
use serde::Serialize;

use crate::context::{Crdt, Ctx};
use crate::metrics::Counters;
use crate::replica::{Shared, Subscription};
use crate::{NodeId, UpdateError};

/// How far an update must have gone before [`Replica::update_with`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AckLevel {
    /// Applied here (what [`Replica::update`] waits for).
    Local,
    /// Applied here, and committed (fsynced) to this node's store. Concurrent durable
    /// updates share a commit. Needs a node with a store.
    Durable,
    /// Held by at least `k` other members of the replica.
    Replicated {
        /// How many other members.
        k: usize,
    },
    /// Durable here when the node has a store, and held by every other member the replica
    /// knows when the update is made (those still alive when it is checked), and by at least
    /// `k` of them.
    All {
        /// The least number of other members, so that a node that knows no one yet does not
        /// count as "all".
        k: usize,
    },
}

/// Counts a durable update waiting for its commit, until dropped (also when the caller
/// stops waiting).
struct Pending<'a>(&'a Ctx);

impl<'a> Pending<'a> {
    fn count(ctx: &'a Ctx) -> Pending<'a> {
        Counters::add(&ctx.counters.store_pending, 1);
        Pending(ctx)
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        Counters::sub(&self.0.counters.store_pending, 1);
    }
}

/// A durable update's delta, submitted to the store.
struct Logged {
    /// The lease committed with it, to confirm once it is durable.
    lease: Option<gossip_store::Lease>,
    ticket: gossip_store::Ticket,
}

/// A handle to one named replica of a node. Cheap to clone; every clone is the same replica.
pub struct Replica<L: Crdt> {
    pub(crate) shared: Arc<Shared<L>>,
}

impl<L: Crdt> Clone for Replica<L> {
    fn clone(&self) -> Self {
        Replica {
            shared: self.shared.clone(),
        }
    }
}

impl<L: Crdt> std::fmt::Debug for Replica<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replica")
            .field("name", &self.shared.name)
            .field("type", &std::any::type_name::<L>())
            .finish()
    }
}

impl<L: Crdt> Replica<L> {
    /// The replica's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Applies the delta `f` makes from the current state and this replica's id, and returns
    /// the id it travels under, once applied here. `None` from `f` (or a delta that changes
    /// nothing) is [`UpdateError::NoChange`]; a delta too large for a frame is
    /// [`UpdateError::TooLarge`], and is not applied.
    pub async fn update<F>(&self, f: F) -> Result<Dot<ReplicaId>, UpdateError>
    where
        F: FnOnce(&L, ReplicaId) -> Option<L>,
    {
        self.apply(f)
    }

    fn apply<F>(&self, f: F) -> Result<Dot<ReplicaId>, UpdateError>
    where
        F: FnOnce(&L, ReplicaId) -> Option<L>,
    {
        self.apply_logged(f, false).map(|(dot, _)| dot)
    }

    /// Applies the update; with `log`, also submits its delta (and the lease it needs, if
    /// one is due) to the store, under the replica's lock so that commits follow the order
    /// of updates.
    fn apply_logged<F>(
        &self,
        f: F,
        log: bool,
    ) -> Result<(Dot<ReplicaId>, Option<Logged>), UpdateError>
    where
        F: FnOnce(&L, ReplicaId) -> Option<L>,
    {
        let ctx = &self.shared.ctx;
        let disk = if log {
            match ctx.disk.get() {
                Some(disk) => Some(disk),
                // The node was shut down: its store is closed.
                None => return Err(UpdateError::NotDurable),
            }
        } else {
            None
        };
        let mut guard = self.shared.lock();
        let id = guard.rep.id();
        let delta = f(guard.rep.state(), id).ok_or(UpdateError::NoChange)?;
        if delta.is_bottom() {
            return Err(UpdateError::NoChange);
        }
        let bytes = postcard::experimental::serialized_size(&delta).unwrap_or(usize::MAX);
        if bytes > ctx.max_delta {
            return Err(UpdateError::TooLarge {
                bytes,
                limit: ctx.max_delta,
            });
        }
        let kept = disk.as_ref().map(|_| delta.clone());
        let dot = guard
            .rep
            .update(ctx.now(), delta)
            .ok_or(UpdateError::NoChange)?;
        let core = &mut *guard;
        let logged = match (disk, kept, core.keep.as_mut()) {
            (Some(disk), Some(delta), Some(keep)) => {
                match keep.log(&disk, core.rep.issued(), &dot, &delta) {
                    Ok((lease, ticket)) => Some(Logged { lease, ticket }),
                    Err(error) => {
                        Counters::add(&ctx.counters.store_errors, 1);
                        self.shared.publish(core);
                        drop(guard);
                        ctx.wake.notify_one();
                        return Err(UpdateError::NotStored { dot, error });
                    }
                }
            }
            (Some(_), _, _) => {
                // A replica opened without its journal (the node's store was closed then).
                self.shared.publish(core);
                drop(guard);
                ctx.wake.notify_one();
                return Err(UpdateError::NotStored {
                    dot,
                    error: StoreError::Closed,
                });
            }
            (None, _, _) => None,
        };
        self.shared.publish(core);
        drop(guard);
        Counters::add(&ctx.counters.local_updates, 1);
        ctx.wake.notify_one();
        Ok((dot, logged))
    }

    /// Waits for a logged update's commit, until `deadline`.
    async fn committed(
        &self,
        dot: Dot<ReplicaId>,
        logged: Logged,
        deadline: tokio::time::Instant,
    ) -> Result<(), UpdateError> {
        let ctx = &self.shared.ctx;
        let result = {
            let _pending = Pending::count(ctx);
            tokio::time::timeout_at(deadline, logged.ticket).await
        };
        match result {
            Ok(Ok(())) => {
                Counters::add(&ctx.counters.store_durable_updates, 1);
                let mut guard = self.shared.lock();
                let core = &mut *guard;
                if let Some(keep) = core.keep.as_mut() {
                    if let Some(lease) = &logged.lease {
                        keep.journal.confirm(lease);
                    }
                    let now = ctx.now();
                    if keep.checkpoint_due(now) {
                        keep.checkpoint(ctx, core.rep.state(), core.rep.seen(), now);
                    }
                }
                Ok(())
            }
            Ok(Err(error)) => {
                let n = ctx
                    .counters
                    .store_errors
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n.is_multiple_of(100) {
                    tracing::warn!(replica = %self.shared.name, %error, "durable update not stored");
                }
                Err(UpdateError::NotStored { dot, error })
            }
            Err(_) => Err(UpdateError::Timeout {
                reached: AckLevel::Local,
                dot,
            }),
        }
    }

    /// As [`update`](Self::update), then waits until the update reaches `level`, at most
    /// `timeout`. On time-out the update stays applied and keeps spreading:
    /// [`UpdateError::Timeout`] says how far it got. What "held" means: the member
    /// acknowledged the update, sent it, listed it in a digest, or answered a query saying so.
    ///
    /// `Durable` (and `All` on a node with a store) submits the delta to the store's group
    /// commit and waits for its fsync; a failed commit is [`UpdateError::NotStored`] (the
    /// update stays applied here). `Durable` on a node without a store is
    /// [`UpdateError::NotDurable`], and nothing is applied.
    pub async fn update_with<F>(
        &self,
        level: AckLevel,
        timeout: Duration,
        f: F,
    ) -> Result<(Dot<ReplicaId>, AckLevel), UpdateError>
    where
        F: FnOnce(&L, ReplicaId) -> Option<L>,
    {
        let durable = self.shared.ctx.durable;
        if level == AckLevel::Durable && !durable {
            return Err(UpdateError::NotDurable);
        }
        let deadline = tokio::time::Instant::now() + timeout;
        let (want_k, want_all) = match level {
            AckLevel::Local => {
                return self.apply(f).map(|d| (d, AckLevel::Local));
            }
            AckLevel::Durable => {
                let (dot, logged) = self.apply_logged(f, true)?;
                if let Some(logged) = logged {
                    self.committed(dot, logged, deadline).await?;
                }
                return Ok((dot, AckLevel::Durable));
            }
            AckLevel::Replicated { k } => (k, false),
            AckLevel::All { k } => (k, true),
        };
        let mut progress = self.shared.progress.subscribe();
        let (dot, logged) = self.apply_logged(f, want_all && durable)?;
        let floor = match logged {
            Some(logged) => {
                self.committed(dot, logged, deadline).await?;
                AckLevel::Durable
            }
            None => AckLevel::Local,
        };
        let key = (dot.replica.0, dot.counter);
        self.shared.lock().waits.entry(key).or_default();
        self.shared.ctx.wake.notify_one();
        let reached = loop {
            let (count, all) = {
                let core = self.shared.lock();
                self.shared.held_count(&core, &dot)
            };
            if count >= want_k && (!want_all || all) {
                break Ok(count);
            }
            match tokio::time::timeout_at(deadline, progress.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => break Err(count),
            }
        };
        self.shared.lock().waits.remove(&key);
        match reached {
            Ok(count) if want_all => Ok((dot, AckLevel::All { k: count })),
            Ok(count) => Ok((dot, AckLevel::Replicated { k: count })),
            Err(0) => Err(UpdateError::Timeout {
                reached: floor,
                dot,
            }),
            Err(count) => Err(UpdateError::Timeout {
                reached: AckLevel::Replicated { k: count },
                dot,
            }),
        }
    }

    /// Reads the state under the replica's lock; keep `f` short.
    pub fn read<R>(&self, f: impl FnOnce(&L) -> R) -> R {
        f(self.shared.lock().rep.state())
    }

    /// A copy of the state.
    pub fn snapshot(&self) -> L {
        self.read(L::clone)
    }

    /// Changes from now on, local and remote.
    pub fn subscribe(&self) -> Subscription<L> {
        Subscription {
            rx: self.shared.events.subscribe(),
            counters: self.shared.ctx.clone(),
        }
    }

    /// The other members this replica replicates with: the live members that host a
    /// replica of the same name.
    pub fn members(&self) -> Vec<NodeId> {
        self.shared.lock().members.clone()
    }

    /// The transport's counters for this replica.
    pub fn stats(&self) -> gossip_transport::Stats {
        self.shared.lock().rep.stats().clone()
    }
}
