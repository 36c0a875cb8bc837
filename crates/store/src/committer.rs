//! Group commit: writers that submit while a commit is under way share the next one.
//!
//! One thread owns the commits. It takes the first batch queued, then everything else queued
//! by then (up to [`MAX_GROUP`] batches), and commits them as one transaction: one fsync for
//! all. There is no fixed delay: a lone writer waits for one commit, and under load the
//! batch grows by itself to whatever arrived during the previous commit, so the window is the
//! length of a commit. Each writer holds a [`Ticket`], which it can wait on (blocking) or
//! `.await` (any executor): it resolves once a commit including its batch is durable.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;

use crate::{Batch, Durability, Store, StoreError};

/// The most batches one commit takes: bounds a commit's memory and the wait of the writers
/// queued behind it. Large enough that 256 concurrent writers share a handful of commits.
pub const MAX_GROUP: usize = 1024;

/// A submitted batch, waiting for its commit.
#[derive(Debug)]
struct Job {
    batch: Batch,
    durability: Durability,
    slot: Arc<Slot>,
}

impl Drop for Job {
    /// A job dropped unanswered (its commit thread died) fails its ticket instead of leaving
    /// the writer waiting forever.
    fn drop(&mut self) {
        self.slot.resolve(Err(StoreError::Closed));
    }
}

#[derive(Debug, Default)]
struct Slot {
    state: Mutex<SlotState>,
    ready: Condvar,
}

#[derive(Debug, Default)]
struct SlotState {
    /// Resolved (the result may have been taken since).
    done: bool,
    result: Option<Result<(), StoreError>>,
    waker: Option<Waker>,
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn resolve(&self, result: Result<(), StoreError>) {
        let waker = {
            let mut state = self.lock();
            if state.done {
                return;
            }
            state.done = true;
            state.result = Some(result);
            state.waker.take()
        };
        self.ready.notify_all();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// A writer's claim on the commit of its batch: resolves to `Ok` once a commit including the
/// batch is as durable as asked, or to the error that commit failed with (then nothing of
/// the batch was applied). Wait with [`wait`](Self::wait), or `.await` it.
#[derive(Debug)]
#[must_use = "a ticket tells when the batch is durable"]
pub struct Ticket {
    slot: Arc<Slot>,
}

impl Ticket {
    fn resolved(result: Result<(), StoreError>) -> Ticket {
        let slot = Arc::new(Slot::default());
        slot.resolve(result);
        Ticket { slot }
    }

    /// Blocks until the batch is committed (or its commit failed).
    pub fn wait(self) -> Result<(), StoreError> {
        let mut state = self.slot.lock();
        loop {
            if let Some(result) = state.result.take() {
                return result;
            }
            state = self
                .slot
                .ready
                .wait(state)
                .unwrap_or_else(|p| p.into_inner());
        }
    }

    /// The outcome, if the commit is over.
    pub fn try_result(&self) -> Option<Result<(), StoreError>> {
        self.slot.lock().result.clone()
    }
}

impl Future for Ticket {
    type Output = Result<(), StoreError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.slot.lock();
        match state.result.take() {
            Some(result) => Poll::Ready(result),
            None => {
                state.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// What a committer has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitStats {
    /// Batches submitted.
    pub submitted: u64,
    /// Commits made (each `Immediate` one is one fsync).
    pub commits: u64,
    /// Batches that failed.
    pub failed: u64,
}

#[derive(Debug, Default)]
struct Counters {
    submitted: AtomicU64,
    commits: AtomicU64,
    failed: AtomicU64,
}

/// Commits batches from many writers on one thread, grouping those that queue up during a
/// commit (see the module doc). Dropping it finishes the batches already submitted.
#[derive(Debug)]
pub struct Committer {
    queue: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    counters: Arc<Counters>,
}

impl Committer {
    /// Starts the commit thread for `store`.
    pub fn start<S: Store + 'static>(store: S) -> Result<Committer, StoreError> {
        let (queue, jobs) = mpsc::channel();
        let counters = Arc::new(Counters::default());
        let thread_counters = Arc::clone(&counters);
        let thread = std::thread::Builder::new()
            .name("gossip-store-commit".into())
            .spawn(move || run(&store, &jobs, &thread_counters))
            .map_err(|e| StoreError::io("gossip-store-commit", "starting thread", &e))?;
        Ok(Committer {
            queue: Some(queue),
            thread: Some(thread),
            counters,
        })
    }

    /// Queues `batch` for the next commit. The ticket resolves once it is durable as asked;
    /// batches of one writer commit in the order submitted.
    pub fn submit(&self, batch: Batch, durability: Durability) -> Ticket {
        let slot = Arc::new(Slot::default());
        let job = Job {
            batch,
            durability,
            slot: Arc::clone(&slot),
        };
        self.counters.submitted.fetch_add(1, Ordering::Relaxed);
        match self.queue.as_ref().map(|q| q.send(job)) {
            Some(Ok(())) => Ticket { slot },
            _ => Ticket::resolved(Err(StoreError::Closed)),
        }
    }

    /// What this committer has done so far.
    pub fn stats(&self) -> CommitStats {
        CommitStats {
            submitted: self.counters.submitted.load(Ordering::Relaxed),
            commits: self.counters.commits.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.queue = None;
        if let Some(thread) = self.thread.take() {
            // A thread that panicked has dropped its jobs, which failed their tickets.
            let _ = thread.join();
        }
    }
}

fn run(store: &dyn Store, jobs: &Receiver<Job>, counters: &Counters) {
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        commit_group(store, group, counters);
    }
}

fn commit_group(store: &dyn Store, group: Vec<Job>, counters: &Counters) {
    let durability = group
        .iter()
        .map(|j| j.durability)
        .max()
        .unwrap_or(Durability::Buffered);
    let result = match group.as_slice() {
        [one] => store.commit(&one.batch, durability),
        _ => {
            let mut merged = Batch::new();
            for job in &group {
                merged.ops.extend(job.batch.ops.iter().cloned());
            }
            store.commit(&merged, durability)
        }
    };
    counters.commits.fetch_add(1, Ordering::Relaxed);
    match result {
        Ok(()) => {
            for job in group {
                job.slot.resolve(Ok(()));
            }
        }
        Err(_) if group.len() > 1 => {
            // One batch may be what failed (too large for the space left): each on its own,
            // so the others still go through.
            for job in group {
                let result = store.commit(&job.batch, job.durability);
                counters.commits.fetch_add(1, Ordering::Relaxed);
                if result.is_err() {
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                }
                job.slot.resolve(result);
            }
        }
        Err(e) => {
            counters
                .failed
                .fetch_add(group.len() as u64, Ordering::Relaxed);
            for job in group {
                job.slot.resolve(Err(e.clone()));
            }
        }
    }
}
