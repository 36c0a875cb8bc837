//! Group commit: concurrent writers share commits, each learns only of a commit that holds
//! its batch, batches of one writer stay in order, and one failing batch does not fail the
//! others it was grouped with.

use std::future::Future;
use std::pin::pin;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;

use gossip_store::{
    Batch, Committer, Durability, MemStore, Op, ReplicaImage, Store, StoreError, Uuid,
};

fn delta(writer: usize, seq: u64, len: usize) -> Batch {
    Op::Delta {
        replica: format!("w{writer:03}"),
        seq,
        bytes: vec![7; len],
    }
    .into()
}

#[test]
fn many_concurrent_writers_all_land_in_order_in_fewer_commits() {
    const WRITERS: usize = 64;
    const EACH: u64 = 40;
    let store = MemStore::new();
    let committer = Arc::new(Committer::start(store.clone()).expect("thread starts"));
    let threads: Vec<_> = (0..WRITERS)
        .map(|w| {
            let committer = Arc::clone(&committer);
            thread::spawn(move || {
                for seq in 1..=EACH {
                    committer
                        .submit(delta(w, seq, 8), Durability::Immediate)
                        .wait()
                        .expect("commits");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("writer finished");
    }
    for w in 0..WRITERS {
        let image = store
            .load(&format!("w{w:03}"))
            .expect("reads")
            .expect("written");
        let seqs: Vec<u64> = image.deltas.iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs, (1..=EACH).collect::<Vec<_>>());
    }
    let stats = committer.stats();
    assert_eq!(stats.submitted, WRITERS as u64 * EACH);
    assert_eq!(stats.failed, 0);
    assert_eq!(stats.commits, store.commits());
    assert!(stats.commits <= stats.submitted);
}

/// A store whose commits wait for a go-ahead: lets a test hold a commit open while others
/// queue, without timing anything.
struct Gated {
    inner: MemStore,
    /// Told when a commit starts waiting.
    entered: Mutex<mpsc::Sender<()>>,
    gate: Mutex<mpsc::Receiver<()>>,
}

impl Store for Gated {
    fn node_id(&self) -> Uuid {
        self.inner.node_id()
    }
    fn replicas(&self) -> Result<Vec<String>, StoreError> {
        self.inner.replicas()
    }
    fn load(&self, name: &str) -> Result<Option<ReplicaImage>, StoreError> {
        self.inner.load(name)
    }
    fn commit(&self, batch: &Batch, durability: Durability) -> Result<(), StoreError> {
        // The test may have stopped listening; the gate still decides.
        let _ = self.entered.lock().expect("one committer").send(());
        self.gate
            .lock()
            .expect("one committer")
            .recv()
            .map_err(|_| StoreError::Closed)?;
        self.inner.commit(batch, durability)
    }
}

/// The store, the gate's go-ahead, word of commits that started, and the committer.
fn gated() -> (MemStore, mpsc::Sender<()>, mpsc::Receiver<()>, Committer) {
    let inner = MemStore::new();
    let (open, gate) = mpsc::channel();
    let (entered_tx, entered) = mpsc::channel();
    let store = Gated {
        inner: inner.clone(),
        entered: Mutex::new(entered_tx),
        gate: Mutex::new(gate),
    };
    (
        inner,
        open,
        entered,
        Committer::start(store).expect("thread starts"),
    )
}

#[test]
fn batches_queued_during_a_commit_share_the_next_one() {
    let (store, open, entered, committer) = gated();
    let first = committer.submit(delta(0, 1, 8), Durability::Immediate);
    entered.recv().expect("the first commit starts");
    // The first commit is under way (held at the gate); these queue behind it.
    let rest: Vec<_> = (1..=99)
        .map(|w| committer.submit(delta(w, 1, 8), Durability::Immediate))
        .collect();
    assert!(first.try_result().is_none());
    open.send(()).expect("committer alive");
    first.wait().expect("commits");
    open.send(()).expect("committer alive");
    for ticket in rest {
        ticket.wait().expect("commits");
    }
    assert_eq!(store.commits(), 2);
    assert_eq!(store.syncs(), 2);
    assert_eq!(store.replicas().expect("reads").len(), 100);
}

#[test]
fn a_batch_that_does_not_fit_fails_alone() {
    let (store, open, entered, committer) = gated();
    store.set_capacity(Some(1000));
    let first = committer.submit(delta(0, 1, 8), Durability::Immediate);
    entered.recv().expect("the first commit starts");
    let big = committer.submit(delta(1, 1, 5000), Durability::Immediate);
    let small = committer.submit(delta(2, 1, 8), Durability::Immediate);
    // One commit for the first, one for the group (which fails), one for each on its own.
    for _ in 0..4 {
        open.send(()).expect("committer alive");
    }
    first.wait().expect("fits");
    assert!(matches!(big.wait(), Err(StoreError::DiskFull { .. })));
    small.wait().expect("fits");
    assert_eq!(
        store.replicas().expect("reads"),
        vec!["w000".to_string(), "w002".to_string()]
    );
    assert_eq!(committer.stats().failed, 1);
}

#[test]
fn every_acknowledged_batch_survives_a_crash_in_the_middle() {
    const WRITERS: usize = 16;
    let store = MemStore::new();
    let committer = Arc::new(Committer::start(store.clone()).expect("thread starts"));
    let (acked_tx, acked_rx) = mpsc::channel();
    let threads: Vec<_> = (0..WRITERS)
        .map(|w| {
            let committer = Arc::clone(&committer);
            let acked = acked_tx.clone();
            thread::spawn(move || {
                for seq in 1.. {
                    match committer
                        .submit(delta(w, seq, 8), Durability::Immediate)
                        .wait()
                    {
                        Ok(()) => acked.send((w, seq)).expect("test alive"),
                        Err(StoreError::Closed) => return,
                        Err(e) => panic!("unexpected {e}"),
                    }
                }
            })
        })
        .collect();
    drop(acked_tx);
    // Crash once a few hundred writes were acknowledged.
    let mut acked = Vec::new();
    while acked.len() < 300 {
        acked.push(acked_rx.recv().expect("writers running"));
    }
    let restarted = store.crash();
    for t in threads {
        t.join().expect("writer stopped");
    }
    acked.extend(acked_rx.iter());
    for (w, seq) in acked {
        let image = restarted
            .load(&format!("w{w:03}"))
            .expect("reads")
            .expect("kept");
        assert!(
            image.deltas.iter().any(|(s, _)| *s == seq),
            "acknowledged write {seq} of writer {w} lost"
        );
    }
}

struct ThreadWaker(thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` to completion on this thread, parking between polls.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        thread::park();
    }
}

#[test]
fn a_ticket_can_be_awaited() {
    let (store, open, _entered, committer) = gated();
    let ticket = committer.submit(delta(0, 1, 8), Durability::Immediate);
    let opener = thread::spawn(move || open.send(()).expect("committer alive"));
    block_on(ticket).expect("commits");
    opener.join().expect("sent");
    assert_eq!(store.commits(), 1);
}

#[test]
fn a_committer_whose_store_is_gone_fails_its_tickets() {
    let store = MemStore::new();
    let committer = Committer::start(store.clone()).expect("thread starts");
    let _restarted = store.crash();
    let ticket = committer.submit(delta(0, 1, 8), Durability::Immediate);
    assert_eq!(ticket.wait(), Err(StoreError::Closed));
}
