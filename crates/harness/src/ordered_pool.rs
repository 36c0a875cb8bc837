//! A deterministic parallel executor: jobs for many actors run on several threads, yet the
//! caller sees exactly what one thread running them one by one would produce.
//!
//! Each actor (a simulated node) owns its state; its jobs run one at a time, in the order they
//! were submitted, and results are handed back in submission order. A job touches only its
//! own actor's state, so which thread runs it, and when, cannot change any result: the number
//! of threads changes the wall time of a simulation, never its history.
//!
//! Why it exists: in a large simulation most of the time goes to node cores handling lines
//! that arrive at one virtual instant (a hub's batch reaching a thousand leaves). Those are
//! independent of each other; running them side by side, while the caller consumes their
//! output in order, is what lets a run use every core.
//!
//! The calling thread works too: while the result it needs next is not ready, it runs queued
//! jobs itself, so one thread means no worker threads and no synchronisation cost beyond an
//! uncontended lock. Runnable actors are served by the lowest pending submission number, the
//! order in which the caller will want their results.
//!
//! Jobs in a simulation are short (tens of microseconds), shorter than waking a parked thread,
//! so an idle thread first spins for a moment on a change counter, and parks only when
//! nothing has happened for [`SPIN`].

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long an idle thread spins, watching for work, before it parks.
pub const SPIN: Duration = Duration::from_micros(200);

/// The work a job does: given its actor's state and the job, produce the result.
pub type Run<S, J, R> = dyn Fn(&mut S, J) -> R + Send + Sync;

/// Runs jobs for actors of state `S`; see the module docs (and the test `two_counters` for a
/// short example).
pub struct OrderedPool<S, J, R> {
    shared: Arc<Shared<S, J, R>>,
    workers: Vec<JoinHandle<()>>,
    /// Jobs submitted, and results handed back, so far.
    submitted: u64,
    taken: u64,
}

struct Shared<S, J, R> {
    sched: Mutex<Sched<S, J, R>>,
    /// Bumped, under the lock, whenever a job is submitted or finishes (or the pool closes):
    /// what a spinning thread watches.
    changes: AtomicU64,
    /// Wakes a parked worker: a job became runnable, or the pool is closing.
    work: Condvar,
    /// Wakes the parked caller: a job finished.
    done: Condvar,
    run: Box<Run<S, J, R>>,
}

struct Actor<S, J> {
    /// `None` while a thread is running one of its jobs.
    state: Option<S>,
    /// Its jobs not yet started, with their submission numbers, oldest first.
    jobs: VecDeque<(u64, J)>,
}

struct Sched<S, J, R> {
    actors: Vec<Actor<S, J>>,
    /// Actors with a job to start and no job running, by their oldest job's number.
    runnable: BinaryHeap<Reverse<(u64, usize)>>,
    /// Results by submission number, from `base` on; `None` until the job has run.
    results: VecDeque<Option<R>>,
    base: u64,
    /// Workers parked on `work`, and whether the caller is parked on `done`.
    parked_workers: usize,
    caller_parked: bool,
    closing: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A job that panics does so outside the lock, so a poisoned lock holds consistent data.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Who is waiting: the caller (for a result) or a worker (for a job).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Waiter {
    Caller,
    Worker,
}

impl<S, J, R> Shared<S, J, R> {
    /// Takes the most urgent runnable actor's next job, if any: its number, actor, state, job.
    /// A worker leaves the job whose result the caller needs next to the caller: in a chain of
    /// calls (a client's request, the node's reply, the next node) the caller would otherwise
    /// hand each job to a worker and wait for it, paying a wake-up and a cache migration per
    /// job for no overlap.
    fn claim(sched: &mut Sched<S, J, R>, by_worker: bool) -> Option<(u64, usize, S, J)> {
        let Reverse((first, actor)) = sched.runnable.pop()?;
        let actor = if by_worker && first == sched.base {
            let second = sched.runnable.pop();
            sched.runnable.push(Reverse((first, actor)));
            let Reverse((_, other)) = second?;
            other
        } else {
            actor
        };
        let a = &mut sched.actors[actor];
        // A runnable actor is idle (its state is home) and has a job.
        if a.state.is_none() || a.jobs.is_empty() {
            return None;
        }
        let (seq, job) = a.jobs.pop_front()?;
        let state = a.state.take()?;
        Some((seq, actor, state, job))
    }

    /// Records a change and wakes whoever is parked and may care.
    fn changed(&self, sched: &Sched<S, J, R>, new_work: bool, finished: bool) {
        self.changes.fetch_add(1, Ordering::Release);
        if new_work && sched.parked_workers > 0 {
            self.work.notify_one();
        }
        if finished && sched.caller_parked {
            self.done.notify_one();
        }
    }

    /// Runs a claimed job outside the lock and files its result; returns the lock again.
    fn run_claimed<'a>(
        &'a self,
        guard: MutexGuard<'a, Sched<S, J, R>>,
        (seq, actor, mut state, job): (u64, usize, S, J),
    ) -> MutexGuard<'a, Sched<S, J, R>> {
        drop(guard);
        let result = (self.run)(&mut state, job);
        let mut sched = lock(&self.sched);
        let slot = usize::try_from(seq - sched.base).unwrap_or(usize::MAX);
        if let Some(r) = sched.results.get_mut(slot) {
            *r = Some(result);
        }
        let a = &mut sched.actors[actor];
        a.state = Some(state);
        let more = a.jobs.front().map(|&(next, _)| next);
        if let Some(next) = more {
            sched.runnable.push(Reverse((next, actor)));
        }
        self.changed(&sched, more.is_some(), true);
        sched
    }

    /// Waits until something changes: spins for [`SPIN`] first, then parks.
    fn wait<'a>(
        &'a self,
        sched: MutexGuard<'a, Sched<S, J, R>>,
        who: Waiter,
    ) -> MutexGuard<'a, Sched<S, J, R>> {
        let seen = self.changes.load(Ordering::Acquire);
        drop(sched);
        let start = Instant::now();
        let mut spins = 0u32;
        while self.changes.load(Ordering::Acquire) == seen {
            std::hint::spin_loop();
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(64) && start.elapsed() >= SPIN {
                break;
            }
        }
        let mut sched = lock(&self.sched);
        // Changes happen under the lock: if none happened, none can until we park.
        if self.changes.load(Ordering::Acquire) != seen {
            return sched;
        }
        let cv = match who {
            Waiter::Caller => {
                sched.caller_parked = true;
                &self.done
            }
            Waiter::Worker => {
                sched.parked_workers += 1;
                &self.work
            }
        };
        let mut sched = cv.wait(sched).unwrap_or_else(PoisonError::into_inner);
        match who {
            Waiter::Caller => sched.caller_parked = false,
            Waiter::Worker => sched.parked_workers -= 1,
        }
        sched
    }

    /// Runs one runnable job on the caller's thread, or waits for a change.
    fn help_or_wait<'a>(
        &'a self,
        mut sched: MutexGuard<'a, Sched<S, J, R>>,
    ) -> MutexGuard<'a, Sched<S, J, R>> {
        match Self::claim(&mut sched, false) {
            Some(claimed) => self.run_claimed(sched, claimed),
            None => self.wait(sched, Waiter::Caller),
        }
    }

    fn work_loop(&self) {
        let mut sched = lock(&self.sched);
        while !sched.closing {
            sched = match Self::claim(&mut sched, true) {
                Some(claimed) => self.run_claimed(sched, claimed),
                None => self.wait(sched, Waiter::Worker),
            };
        }
    }
}

impl<S, J, R> OrderedPool<S, J, R>
where
    S: Send + 'static,
    J: Send + 'static,
    R: Send + 'static,
{
    /// A pool over `states` (actor `i` owns `states[i]`) that runs jobs with `run` on
    /// `threads` threads in all, the caller's included (so `1` starts none).
    pub fn new(
        states: Vec<S>,
        threads: usize,
        run: impl Fn(&mut S, J) -> R + Send + Sync + 'static,
    ) -> Self {
        let actors = states
            .into_iter()
            .map(|s| Actor {
                state: Some(s),
                jobs: VecDeque::new(),
            })
            .collect();
        let shared = Arc::new(Shared {
            sched: Mutex::new(Sched {
                actors,
                runnable: BinaryHeap::new(),
                results: VecDeque::new(),
                base: 0,
                parked_workers: 0,
                caller_parked: false,
                closing: false,
            }),
            changes: AtomicU64::new(0),
            work: Condvar::new(),
            done: Condvar::new(),
            run: Box::new(run),
        });
        let workers = (1..threads.max(1))
            .map(|_| {
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || shared.work_loop())
            })
            .collect();
        OrderedPool {
            shared,
            workers,
            submitted: 0,
            taken: 0,
        }
    }

    /// Queues `job` for `actor` (after its earlier jobs). Out-of-range actors are a caller bug
    /// and panic.
    pub fn submit(&mut self, actor: usize, job: J) {
        let seq = self.submitted;
        self.submitted += 1;
        let shared = &*self.shared;
        let mut sched = lock(&shared.sched);
        sched.results.push_back(None);
        let a = &mut sched.actors[actor];
        a.jobs.push_back((seq, job));
        let runnable = a.jobs.len() == 1 && a.state.is_some();
        if runnable {
            sched.runnable.push(Reverse((seq, actor)));
        }
        shared.changed(&sched, runnable, false);
    }

    /// Whether some result has not been handed back yet.
    pub fn is_pending(&self) -> bool {
        self.taken < self.submitted
    }

    /// Takes the result of the oldest job not handed back yet, once it has run (running jobs on
    /// this thread meanwhile); `None` when every result has been handed back.
    pub fn take(&mut self) -> Option<R> {
        if !self.is_pending() {
            return None;
        }
        let shared = &*self.shared;
        let mut sched = lock(&shared.sched);
        loop {
            if let Some(Some(_)) = sched.results.front() {
                let result = sched.results.pop_front().flatten();
                sched.base += 1;
                self.taken += 1;
                return result;
            }
            sched = shared.help_or_wait(sched);
        }
    }

    /// Runs `f` on `actor`'s state once all its submitted jobs have run.
    pub fn with_state<T>(&mut self, actor: usize, f: impl FnOnce(&mut S) -> T) -> T {
        let shared = &*self.shared;
        let mut sched = lock(&shared.sched);
        loop {
            let a = &mut sched.actors[actor];
            if a.jobs.is_empty()
                && let Some(state) = a.state.as_mut()
            {
                return f(state);
            }
            sched = shared.help_or_wait(sched);
        }
    }
}

impl<S, J, R> Drop for OrderedPool<S, J, R> {
    fn drop(&mut self) {
        {
            let mut sched = lock(&self.shared.sched);
            sched.closing = true;
            self.shared.changes.fetch_add(1, Ordering::Release);
        }
        self.shared.work.notify_all();
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_counters() {
        // Each job adds to one counter and returns its new value.
        let mut pool = OrderedPool::new(vec![0u64, 100], 2, |n: &mut u64, add: u64| {
            *n += add;
            *n
        });
        pool.submit(0, 1);
        pool.submit(1, 1);
        pool.submit(0, 5);
        let results: Vec<u64> = std::iter::from_fn(|| pool.take()).collect();
        assert_eq!(results, [1, 101, 6]);
    }

    /// Each actor records the jobs it ran; a job returns (actor, job, how many it ran before).
    type Recording = OrderedPool<Vec<u64>, (usize, u64), (usize, u64, usize)>;

    fn recording_pool(actors: usize, threads: usize) -> Recording {
        OrderedPool::new(
            vec![Vec::new(); actors],
            threads,
            |seen: &mut Vec<u64>, (a, j)| {
                // Uneven work, so that threads overtake each other.
                let spin = (j * 7919) % 5_000;
                let mut x: u64 = j;
                for _ in 0..spin {
                    x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
                }
                let _ = x;
                seen.push(j);
                (a, j, seen.len() - 1)
            },
        )
    }

    #[test]
    fn results_come_back_in_submission_order_whatever_the_threads() {
        let plan: Vec<(usize, u64)> = (0..3_000u64).map(|j| ((j * j % 17) as usize, j)).collect();
        let run = |threads: usize| {
            let mut pool = recording_pool(17, threads);
            let mut out = Vec::new();
            for (k, &(a, j)) in plan.iter().enumerate() {
                pool.submit(a, (a, j));
                // Take some results while submitting, as the simulation does.
                if k % 5 == 0 {
                    out.extend(pool.take());
                }
            }
            out.extend(std::iter::from_fn(|| pool.take()));
            out
        };
        let one = run(1);
        assert_eq!(one.len(), plan.len());
        for (r, &(a, j)) in one.iter().zip(&plan) {
            assert_eq!((r.0, r.1), (a, j), "results out of submission order");
        }
        for threads in [2, 4] {
            assert_eq!(run(threads), one, "{threads} threads differ from one");
        }
    }

    #[test]
    fn an_actors_jobs_run_in_order_and_its_state_is_reachable_after() {
        let mut pool = recording_pool(3, 3);
        for j in 0..500u64 {
            pool.submit((j % 3) as usize, ((j % 3) as usize, j));
        }
        // Without taking any result, the state shows every job of the actor, in order.
        let seen = pool.with_state(1, |s| s.clone());
        let expected: Vec<u64> = (0..500).filter(|j| j % 3 == 1).collect();
        assert_eq!(seen, expected);
        assert!(pool.is_pending());
        assert_eq!(std::iter::from_fn(|| pool.take()).count(), 500);
        assert!(!pool.is_pending());
        assert_eq!(pool.take(), None);
    }
}
