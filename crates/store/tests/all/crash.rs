//! Crash safety under random schedules: a replica journals its updates into a `MemStore`,
//! which crashes at random points. After every restart, every update acknowledged as durable
//! is in the state, and no delta id is ever given to two deltas.

use std::collections::BTreeSet;

use gossip_crdt::{Dot, GSet};
use gossip_store::{Batch, Durability, Journal, MemStore, Store};
use gossip_transport::{Config, ReplicaId, Replicator, Time};
use quickcheck::{Arbitrary, Gen, QuickCheck, TestResult};

type Node = Replicator<GSet<u64>, u32>;

const NAME: &str = "set";

#[derive(Debug, Clone)]
enum Step {
    /// An update acknowledged once durable (`true`) or at once (`false`).
    Update(bool),
    /// A checkpoint, committed `Immediate` (`true`) or `Buffered`.
    Checkpoint(bool),
    /// The process dies.
    Crash,
    /// The process shuts down cleanly, then starts again.
    Restart,
}

impl Arbitrary for Step {
    fn arbitrary(g: &mut Gen) -> Self {
        match u8::arbitrary(g) % 10 {
            0..=2 => Step::Update(true),
            3..=5 => Step::Update(false),
            6 => Step::Checkpoint(bool::arbitrary(g)),
            7 => Step::Restart,
            _ => Step::Crash,
        }
    }
}

/// A node as a shell would run it: the replica, its journal and its store.
struct Shell {
    store: MemStore,
    journal: Journal,
    node: Node,
    lives: u64,
}

impl Shell {
    fn boot(store: MemStore, lives: u64, block: u64) -> Shell {
        let opened = Journal::open::<GSet<u64>>(&store, NAME).expect("the store reads");
        let mut journal = opened.journal.with_block(block);
        let start = journal.start(Time::ZERO, 7, lives);
        let node = match opened.saved {
            Some(saved) => Node::resume(
                1,
                vec![1],
                Config::default(),
                start,
                saved.state,
                saved.seen,
                saved.next_counter,
            ),
            None => Node::new(1, vec![1], Config::default(), start),
        };
        Shell {
            store,
            journal,
            node,
            lives,
        }
    }

    /// Applies an update and keeps the lease rule; commits the delta too when `durable`.
    /// Returns the id the delta got, and whether it was acknowledged.
    /// A clean shutdown: the journal's closing batch, committed `Immediate`.
    fn close(&mut self) {
        let close = self
            .journal
            .close(self.node.state(), self.node.seen(), self.node.issued())
            .expect("encodes");
        self.store
            .commit(&close, Durability::Immediate)
            .expect("the store has room");
    }

    fn update(&mut self, value: u64, durable: bool) -> Dot<ReplicaId> {
        let delta = self.node.state().insert_delta(value);
        let dot = self
            .node
            .update(Time::ZERO, delta.clone())
            .expect("a new value");
        let lease = self.journal.reserve(self.node.issued());
        let mut batch = Batch::new();
        batch.extend(lease.as_ref().map(|l| l.op()));
        if durable {
            batch.push(self.journal.delta(&dot, &delta).expect("encodes"));
        }
        if !batch.is_empty() {
            self.store
                .commit(&batch, Durability::Immediate)
                .expect("the store has room");
        }
        if let Some(lease) = lease {
            self.journal.confirm(&lease);
        }
        dot
    }
}

fn run(steps: &[Step], block: u64) -> Result<(), String> {
    let mut shell = Shell::boot(MemStore::new(), 0, block);
    let mut acknowledged: BTreeSet<u64> = BTreeSet::new();
    let mut ids: BTreeSet<Dot<ReplicaId>> = BTreeSet::new();
    let mut value = 0;
    for (i, step) in steps.iter().enumerate() {
        match step {
            Step::Update(durable) => {
                value += 1;
                let dot = shell.update(value, *durable);
                if !ids.insert(dot) {
                    return Err(format!("step {i}: id {dot:?} given out twice"));
                }
                if *durable {
                    acknowledged.insert(value);
                }
            }
            Step::Checkpoint(immediate) => {
                let op = shell
                    .journal
                    .checkpoint(shell.node.state(), shell.node.seen())
                    .expect("encodes");
                let durability = if *immediate {
                    Durability::Immediate
                } else {
                    Durability::Buffered
                };
                shell
                    .store
                    .commit(&op.into(), durability)
                    .expect("the store has room");
            }
            Step::Crash | Step::Restart => {
                let before = shell.node.id();
                if matches!(step, Step::Restart) {
                    shell.close();
                }
                let store = shell.store.crash();
                shell = Shell::boot(store, shell.lives + 1, block);
                if matches!(step, Step::Restart) && shell.node.id() != before {
                    return Err(format!("step {i}: a clean restart changed the replica id"));
                }
                let state = shell.node.state();
                if let Some(lost) = acknowledged.iter().find(|v| !state.contains(v)) {
                    return Err(format!("step {i}: acknowledged update {lost} lost"));
                }
            }
        }
    }
    Ok(())
}

#[test]
fn durable_updates_survive_crashes_and_ids_are_never_reused() {
    fn prop(steps: Vec<Step>, block: u8) -> TestResult {
        match run(&steps, u64::from(block % 8) + 1) {
            Ok(()) => TestResult::passed(),
            Err(e) => TestResult::error(e),
        }
    }
    QuickCheck::new()
        .tests(300)
        .quickcheck(prop as fn(Vec<Step>, u8) -> TestResult);
}

#[test]
fn a_crash_with_leased_counters_moves_to_a_fresh_id_and_a_clean_restart_keeps_it() {
    let mut shell = Shell::boot(MemStore::new(), 0, 4);
    let first = shell.update(1, false);
    let store = shell.store.crash();
    let mut shell = Shell::boot(store, 1, 4);
    // Counters 2..=5 were leased and may be out there: a fresh id, from 1.
    assert!(shell.node.state().is_empty());
    let second = shell.update(2, true);
    assert_ne!(second.replica, first.replica);
    assert_eq!(second.counter, 1);

    shell.close();
    let store = shell.store.crash();
    let mut shell = Shell::boot(store, 2, 4);
    let third = shell.update(3, true);
    assert_eq!(third.replica, second.replica);
    assert_eq!(third.counter, 2);
}

#[test]
fn a_lease_is_committed_once_per_block() {
    let mut shell = Shell::boot(MemStore::new(), 0, 10);
    for v in 1..=25 {
        shell.update(v, false);
    }
    // Counters 1, 12 and 23 each needed a new lease (up to 11, 22, 33).
    assert_eq!(shell.store.syncs(), 3);
}

#[test]
fn a_checkpoint_cuts_the_delta_log() {
    let mut shell = Shell::boot(MemStore::new(), 0, 10);
    for v in 1..=5 {
        shell.update(v, true);
    }
    let image = shell.store.load(NAME).expect("reads").expect("kept");
    assert_eq!(image.deltas.len(), 5);
    let op = shell
        .journal
        .checkpoint(shell.node.state(), shell.node.seen())
        .expect("encodes");
    shell
        .store
        .commit(&op.into(), Durability::Immediate)
        .expect("fits");
    let image = shell.store.load(NAME).expect("reads").expect("kept");
    assert!(image.deltas.is_empty());
    shell.update(6, true);
    let store = shell.store.crash();
    let shell = Shell::boot(store, 1, 10);
    assert_eq!(shell.node.state().len(), 6);
}

#[test]
fn an_update_after_close_leases_again() {
    let mut shell = Shell::boot(MemStore::new(), 0, 10);
    shell.update(1, false);
    shell.close();
    // Not shut down after all: counter 2 is past the trimmed lease.
    let lost = shell.update(2, false);
    let store = shell.store.crash();
    let mut shell = Shell::boot(store, 1, 10);
    let next = shell.update(3, false);
    assert_ne!(next, lost, "an id given out after close was reused");
}
