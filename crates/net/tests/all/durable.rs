//! Durability through the shell: replicas kept in the store and resumed at restart, durable
//! acknowledgements, a store that fails its commits, and damaged data directories refused at
//! start with an error that says what happened.

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use gossip_crdt::GSet;
use gossip_net::{
    AckLevel, Keyring, MemStore, NetError, NodeBuilder, Store, StoreError, UpdateError,
};

use common::*;

/// A fresh directory under the system's temporary one, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("gossip-net-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        TempDir(path)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn in_dir(key: &Keyring, dir: &Path) -> NodeBuilder {
    NodeBuilder::new(any_port())
        .keyring(key.clone())
        .data_dir(dir)
}

fn with_store(key: &Keyring, store: &MemStore) -> NodeBuilder {
    NodeBuilder::new(any_port())
        .keyring(key.clone())
        .store(Arc::new(store.clone()))
}

async fn durable_insert(
    set: &gossip_net::Replica<GSet<u64>>,
    v: u64,
) -> Result<AckLevel, UpdateError> {
    set.update_with(AckLevel::Durable, PATIENCE, move |s, _| {
        Some(s.insert_delta(v))
    })
    .await
    .map(|(_, level)| level)
}

#[tokio::test]
async fn a_restarted_node_resumes_its_replicas_under_the_same_ids() {
    let key = Keyring::generate();
    let dir = TempDir::new();
    let node = start_with(in_dir(&key, dir.path())).await;
    let id = node.id();
    let set = node.open::<GSet<u64>>("set").expect("open");
    for v in 0..20 {
        assert_eq!(durable_insert(&set, v).await, Ok(AckLevel::Durable));
    }
    // A local update is kept too: the shutdown's checkpoint holds it.
    let last = set
        .update(|s, _| Some(s.insert_delta(100)))
        .await
        .expect("local update");
    assert!(node.metrics().store_commits >= 1);
    assert_eq!(node.metrics().store_durable_updates, 20);
    node.shutdown().await.expect("shutdown");
    drop(set);
    drop(node);

    let node = start_with(in_dir(&key, dir.path())).await;
    assert_eq!(node.id(), id, "the node id is kept in the data directory");
    let set = node.open::<GSet<u64>>("set").expect("open");
    let state = set.snapshot();
    assert!((0..20).all(|v| state.contains(&v)) && state.contains(&100));
    // A clean shutdown keeps the replica id, and counting goes on without a gap.
    let next = set
        .update(|s, _| Some(s.insert_delta(101)))
        .await
        .expect("update");
    assert_eq!(next.replica, last.replica);
    assert_eq!(next.counter, last.counter + 1);
    node.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn after_a_crash_every_durable_update_is_back_under_a_fresh_replica_id() {
    let key = Keyring::generate();
    let store = MemStore::new();
    let node = start_with(with_store(&key, &store)).await;
    let set = node.open::<GSet<u64>>("set").expect("open");
    let mut last = None;
    for v in 0..10 {
        let (dot, _) = set
            .update_with(AckLevel::Durable, PATIENCE, move |s, _| {
                Some(s.insert_delta(v))
            })
            .await
            .expect("durable");
        last = Some(dot);
    }
    // A local update after them may be lost in a crash; its id is never reused.
    set.update(|s, _| Some(s.insert_delta(1000)))
        .await
        .expect("local");
    let restarted = store.crash();
    drop(set);
    drop(node);

    let node = start_with(with_store(&key, &restarted)).await;
    let set = node.open::<GSet<u64>>("set").expect("open");
    assert!((0..10).all(|v| set.read(|s| s.contains(&v))));
    let next = set
        .update(|s, _| Some(s.insert_delta(11)))
        .await
        .expect("update");
    let last = last.expect("updates made");
    assert_ne!(
        next.replica, last.replica,
        "counters were leased but not saved: a fresh replica id"
    );
    assert_eq!(next.counter, 1);
}

#[tokio::test]
async fn a_full_disk_fails_durable_updates_while_reads_and_local_updates_work() {
    let key = Keyring::generate();
    let store = MemStore::new();
    let node = start_with(with_store(&key, &store)).await;
    let set = node.open::<GSet<u64>>("set").expect("open");
    assert_eq!(durable_insert(&set, 1).await, Ok(AckLevel::Durable));
    store.set_capacity(Some(store.bytes()));
    match durable_insert(&set, 2).await {
        Err(UpdateError::NotStored {
            error: StoreError::DiskFull { .. },
            ..
        }) => {}
        other => panic!("expected NotStored with a full disk, got {other:?}"),
    }
    // Applied here all the same, and local updates and reads go on.
    set.update(|s, _| Some(s.insert_delta(3)))
        .await
        .expect("local update");
    assert!(set.read(|s| s.contains(&1) && s.contains(&2) && s.contains(&3)));
    assert!(node.metrics().store_errors >= 1);
    store.set_capacity(None);
    assert_eq!(durable_insert(&set, 4).await, Ok(AckLevel::Durable));
    node.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn packets_wait_for_a_durable_lease() {
    let key = Keyring::generate();
    let store = MemStore::new();
    let a = start_with(with_store(&key, &store)).await;
    let b = start(&key, vec![a.local_addr()]).await;
    let sa = a.open::<GSet<u64>>("set").expect("open");
    let sb = b.open::<GSet<u64>>("set").expect("open");
    wait_for("members", || {
        !sa.members().is_empty() && !sb.members().is_empty()
    })
    .await;
    // No lease fits: the update applies here, but nothing numbered past the lease may leave.
    store.set_capacity(Some(store.bytes()));
    sa.update(|s, _| Some(s.insert_delta(7)))
        .await
        .expect("local");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !sb.read(|s| s.contains(&7)),
        "sent before its lease was durable"
    );
    store.set_capacity(None);
    wait_for("the update to arrive once a lease commits", || {
        sb.read(|s| s.contains(&7))
    })
    .await;
    assert!(a.metrics().store_leases >= 1);
}

#[tokio::test]
async fn a_restarted_node_gets_only_what_it_missed_from_its_peer() {
    let key = Keyring::generate();
    let dir = TempDir::new();
    let b = start(&key, Vec::new()).await;
    let sb = b.open::<GSet<u64>>("set").expect("open");
    let a = start_with(in_dir(&key, dir.path()).seeds(vec![b.local_addr()])).await;
    let sa = a.open::<GSet<u64>>("set").expect("open");
    for v in 0..100 {
        sb.update(move |s, _| Some(s.insert_delta(v)))
            .await
            .expect("update");
    }
    wait_for("a to hold b's updates", || sa.read(|s| s.len() == 100)).await;
    a.shutdown().await.expect("shutdown");
    drop(sa);
    drop(a);
    for v in 100..105 {
        sb.update(move |s, _| Some(s.insert_delta(v)))
            .await
            .expect("update");
    }
    let a = start_with(in_dir(&key, dir.path()).seeds(vec![b.local_addr()])).await;
    let sa = a.open::<GSet<u64>>("set").expect("open");
    assert_eq!(sa.read(|s| s.len()), 100, "resumed from the store");
    wait_for("a to catch up", || sa.read(|s| s.len() == 105)).await;
    let fetched = a.metrics().deltas_received_new;
    assert!(
        (1..=5).contains(&fetched),
        "only what was missed comes back: {fetched} new deltas"
    );
    a.shutdown().await.expect("shutdown");
    b.shutdown().await.expect("shutdown");
}

/// Starting in `dir` fails; returns the error.
async fn refused(key: &Keyring, dir: &Path) -> NetError {
    match in_dir(key, dir).start().await {
        Ok(_) => panic!("a node started over {}", dir.display()),
        Err(e) => e,
    }
}

#[tokio::test]
async fn damaged_or_foreign_data_directories_are_refused_at_start() {
    let key = Keyring::generate();

    // Truncated: an empty store file.
    let dir = TempDir::new();
    fs::create_dir_all(dir.path()).expect("dir");
    fs::write(dir.path().join("gossip.redb"), b"").expect("write");
    let e = refused(&key, dir.path()).await;
    assert!(
        matches!(
            &e,
            NetError::Store {
                source: StoreError::Truncated { .. }
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("truncated"), "{e}");
    assert_eq!(fs::read(dir.path().join("gossip.redb")).expect("kept"), b"");

    // Not a store at all.
    let dir = TempDir::new();
    fs::create_dir_all(dir.path()).expect("dir");
    fs::write(dir.path().join("gossip.redb"), vec![0x5a; 8192]).expect("write");
    let e = refused(&key, dir.path()).await;
    assert!(
        matches!(
            &e,
            NetError::Store {
                source: StoreError::Corrupt { .. } | StoreError::Foreign { .. }
            }
        ),
        "{e}"
    );

    // In use by another node.
    let dir = TempDir::new();
    let node = start_with(in_dir(&key, dir.path())).await;
    let e = refused(&key, dir.path()).await;
    assert!(
        matches!(
            &e,
            NetError::Store {
                source: StoreError::InUse { .. }
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("in use"), "{e}");
    node.shutdown().await.expect("shutdown");
    drop(node);

    // Another node's store next to this node's id file.
    let other = TempDir::new();
    let node = start_with(in_dir(&key, other.path())).await;
    node.shutdown().await.expect("shutdown");
    drop(node);
    fs::copy(
        other.path().join("gossip.redb"),
        dir.path().join("gossip.redb"),
    )
    .expect("copy");
    let e = refused(&key, dir.path()).await;
    assert!(matches!(&e, NetError::ForeignStore { .. }), "{e}");
    assert!(e.to_string().contains("two different nodes"), "{e}");
}

/// A store whose commits wait until the test opens the gate: lets durable updates pile up
/// behind one commit, as they do behind a slow fsync.
#[derive(Clone)]
struct Gated {
    inner: MemStore,
    open: Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>,
}

impl Gated {
    /// A fresh store, its gate closed.
    fn closed() -> Gated {
        Gated {
            inner: MemStore::new(),
            open: Arc::default(),
        }
    }

    fn open_gate(&self) {
        let (lock, ready) = &*self.open;
        *lock.lock().expect("gate") = true;
        ready.notify_all();
    }

    fn close_gate(&self) {
        *self.open.0.lock().expect("gate") = false;
    }
}

/// A node on `gated`.
async fn start_gated(key: &Keyring, gated: &Gated) -> gossip_net::Node {
    start_with(
        NodeBuilder::new(any_port())
            .keyring(key.clone())
            .store(Arc::new(gated.clone())),
    )
    .await
}

/// Opens the gate when dropped, also when a test fails with the gate closed.
struct Reopen(Gated);

impl Drop for Reopen {
    fn drop(&mut self) {
        self.0.open_gate();
    }
}

impl Store for Gated {
    fn node_id(&self) -> gossip_store::Uuid {
        self.inner.node_id()
    }
    fn replicas(&self) -> Result<Vec<String>, StoreError> {
        self.inner.replicas()
    }
    fn load(&self, name: &str) -> Result<Option<gossip_store::ReplicaImage>, StoreError> {
        self.inner.load(name)
    }
    fn commit(
        &self,
        batch: &gossip_store::Batch,
        durability: gossip_store::Durability,
    ) -> Result<(), StoreError> {
        let (lock, ready) = &*self.open;
        let mut open = lock.lock().expect("gate");
        while !*open {
            open = ready.wait(open).expect("gate");
        }
        drop(open);
        self.inner.commit(batch, durability)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_durable_updates_share_commits() {
    let key = Keyring::generate();
    let gated = Gated::closed();
    let node = start_gated(&key, &gated).await;
    let set = node.open::<GSet<u64>>("set").expect("open");
    let writers: Vec<_> = (0..64u64)
        .map(|v| {
            let set = set.clone();
            tokio::spawn(async move { durable_insert(&set, v).await })
        })
        .collect();
    wait_for("64 durable updates waiting for their commit", || {
        node.metrics().store_pending == 64
    })
    .await;
    gated.open_gate();
    for w in writers {
        assert_eq!(w.await.expect("writer"), Ok(AckLevel::Durable));
    }
    let m = node.metrics();
    assert_eq!(m.store_durable_updates, 64);
    assert_eq!(m.store_pending, 0);
    // The first commit, held at the gate, and the rest queued behind it: a handful, not 64
    // (the driver's own lease commit may come between them).
    assert!(
        m.store_commits <= 4,
        "64 concurrent durable updates took {} commits",
        m.store_commits
    );
    node.shutdown().await.expect("shutdown");
}

/// A member with a store counts as holding a peer's update only once its store committed it:
/// a writer's `Replicated` survives the writer's loss together with a crash of that member.
#[tokio::test]
async fn a_member_with_a_store_acknowledges_an_update_only_once_it_is_committed() {
    let key = Keyring::generate();
    let store = MemStore::new();
    let m = start_with(with_store(&key, &store)).await;
    let sm = m.open::<GSet<u64>>("set").expect("open");
    let w = start(&key, vec![m.local_addr()]).await;
    let sw = w.open::<GSet<u64>>("set").expect("open");
    for v in 0..20 {
        let (_, level) = sw
            .update_with(AckLevel::Replicated { k: 1 }, PATIENCE, move |s, _| {
                Some(s.insert_delta(v))
            })
            .await
            .expect("replicated");
        assert_eq!(level, AckLevel::Replicated { k: 1 });
    }
    // A burst, arriving while earlier deltas are being committed; the last one waited on.
    for v in 20..220 {
        sw.update(move |s, _| Some(s.insert_delta(v)))
            .await
            .expect("update");
    }
    sw.update_with(AckLevel::Replicated { k: 1 }, PATIENCE, |s, _| {
        Some(s.insert_delta(220))
    })
    .await
    .expect("replicated");
    let commits = m.metrics().store_received_commits;
    assert!(commits >= 1, "received deltas were committed");
    // The member crashes (its store keeps what it committed); the writer is gone for good.
    let restarted = store.crash();
    drop((sw, w, sm, m));

    let m = start_with(with_store(&key, &restarted)).await;
    let sm = m.open::<GSet<u64>>("set").expect("open");
    let missing: Vec<u64> = (0..=220).filter(|v| !sm.read(|s| s.contains(v))).collect();
    assert!(
        missing.is_empty(),
        "acknowledged to the writer but not kept by the member: {missing:?}"
    );
    m.shutdown().await.expect("shutdown");
}

/// While a member's store commits what it received, the member does not acknowledge it, yet
/// it keeps passing updates on: its own update reaches the writer meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_committing_what_it_received_holds_its_acknowledgement_but_not_its_updates() {
    let key = Keyring::generate();
    let gated = Gated::closed();
    gated.open_gate();
    let m = start_gated(&key, &gated).await;
    let sm = m.open::<GSet<u64>>("set").expect("open");
    let w = start(&key, vec![m.local_addr()]).await;
    let sw = w.open::<GSet<u64>>("set").expect("open");
    // The member's lease is committed while the gate is open: its later updates need none.
    sm.update(|s, _| Some(s.insert_delta(1000)))
        .await
        .expect("update");
    wait_for("the writer to get the member's update", || {
        sw.read(|s| s.contains(&1000))
    })
    .await;
    sw.update_with(AckLevel::Replicated { k: 1 }, PATIENCE, |s, _| {
        Some(s.insert_delta(0))
    })
    .await
    .expect("replicated while the store commits");

    gated.close_gate();
    // Whatever happens below, the gate opens again, so the member's commit thread can end.
    let _reopen = Reopen(gated.clone());
    let waiting = {
        let sw = sw.clone();
        tokio::spawn(async move {
            sw.update_with(
                AckLevel::Replicated { k: 1 },
                Duration::from_secs(1),
                |s, _| Some(s.insert_delta(1)),
            )
            .await
        })
    };
    wait_for("the member to apply the update", || {
        sm.read(|s| s.contains(&1))
    })
    .await;
    // Its commit cannot finish: the member's own update must still go out.
    sm.update(|s, _| Some(s.insert_delta(1001)))
        .await
        .expect("update");
    wait_for(
        "the member's update to reach the writer while its store is stuck",
        || sw.read(|s| s.contains(&1001)),
    )
    .await;
    let answer = waiting.await.expect("writer");
    assert!(
        matches!(answer, Err(UpdateError::Timeout { .. })),
        "acknowledged before the member committed it: {answer:?}"
    );
    gated.open_gate();
    sw.update_with(AckLevel::Replicated { k: 1 }, PATIENCE, |s, _| {
        Some(s.insert_delta(2))
    })
    .await
    .expect("replicated once the store commits again");
    assert!(sm.read(|s| s.contains(&1) && s.contains(&2)));
}
