//! The store on disk: what survives a reopen, and every kind of damage refused with its own
//! error, never a panic and never a fresh empty store over the old file.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use gossip_crdt::{GCounter, GSet};
use gossip_store::{
    Batch, Durability, FORMAT_VERSION, Journal, MemStore, Op, RedbStore, Store, StoreError,
};
use redb::{ReadableDatabase, ReadableTable, TableHandle};

/// A fresh directory under the system's temporary one, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("gossip-store-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("temp dir");
        TempDir(path)
    }
    fn path(&self) -> &Path {
        &self.0
    }
    fn file(&self) -> PathBuf {
        self.0.join("gossip.redb")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn delta(name: &str, seq: u64, len: usize) -> Batch {
    Op::Delta {
        replica: name.into(),
        seq,
        bytes: vec![seq as u8; len],
    }
    .into()
}

/// A store with some records in it, closed.
fn written(dir: &TempDir) {
    let store = RedbStore::open(dir.path()).expect("opens");
    for seq in 1..=20 {
        store
            .commit(&delta("a", seq, 100), Durability::Immediate)
            .expect("fits");
    }
}

/// Opening fails with the error `check` accepts, and the file is as it was.
fn refused(dir: &TempDir, check: impl Fn(&StoreError) -> bool) -> StoreError {
    let before = fs::read(dir.file()).expect("the file is there");
    let err = refused_redb(dir, check);
    assert_eq!(
        fs::read(dir.file()).expect("still there"),
        before,
        "the file was changed"
    );
    err
}

/// Opening a valid redb file fails with the error `check` accepts. The integrity check on
/// open may have repaired redb's own allocator state; the caller checks the records.
fn refused_redb(dir: &TempDir, check: impl Fn(&StoreError) -> bool) -> StoreError {
    let err = RedbStore::open(dir.path()).expect_err("a damaged store is refused");
    assert!(check(&err), "unexpected error: {err:?}");
    // What the operator is told says what to do.
    assert!(err.to_string().len() > 40);
    err
}

#[test]
fn records_and_identity_survive_a_reopen() {
    let dir = TempDir::new();
    let node = {
        let store = RedbStore::open(dir.path()).expect("creates");
        let mut batch = delta("a", 1, 3);
        batch.push(Op::Lease {
            replica: "a".into(),
            id: 9,
            lease: 1024,
        });
        batch.push(Op::Checkpoint {
            replica: "b".into(),
            bytes: vec![1, 2, 3],
            covers: 0,
        });
        store.commit(&batch, Durability::Immediate).expect("fits");
        store.node_id()
    };
    let store = RedbStore::open(dir.path()).expect("reopens");
    assert_eq!(store.node_id(), node);
    assert_eq!(store.replicas().expect("reads"), vec!["a", "b"]);
    let a = store.load("a").expect("reads").expect("kept");
    assert_eq!(a.lease, Some((9, 1024)));
    assert_eq!(a.deltas, vec![(1, vec![1, 1, 1])]);
    assert_eq!(store.load("c").expect("reads"), None);
    store
        .commit(
            &Op::Remove {
                replica: "a".into(),
            }
            .into(),
            Durability::Immediate,
        )
        .expect("fits");
    assert_eq!(store.replicas().expect("reads"), vec!["b"]);
}

#[test]
fn a_checkpoint_drops_the_deltas_it_covers() {
    let dir = TempDir::new();
    written(&dir);
    let store = RedbStore::open(dir.path()).expect("opens");
    assert_eq!(store.delta_count("a").expect("reads"), 20);
    let checkpoint = Op::Checkpoint {
        replica: "a".into(),
        bytes: vec![0],
        covers: 15,
    };
    store
        .commit(&checkpoint.into(), Durability::Buffered)
        .expect("fits");
    assert_eq!(store.delta_count("a").expect("reads"), 5);
}

#[test]
fn a_data_dir_in_use_is_refused() {
    let dir = TempDir::new();
    let _held = RedbStore::open(dir.path()).expect("opens");
    let err = RedbStore::open(dir.path()).expect_err("held");
    assert!(matches!(err, StoreError::InUse { .. }), "{err:?}");
}

#[test]
fn an_empty_store_file_is_truncated_not_new() {
    let dir = TempDir::new();
    written(&dir);
    fs::write(dir.file(), b"").expect("truncates");
    refused(&dir, |e| matches!(e, StoreError::Truncated { .. }));
}

#[test]
fn a_truncated_store_file_is_refused() {
    let dir = TempDir::new();
    written(&dir);
    let bytes = fs::read(dir.file()).expect("reads");
    fs::write(dir.file(), &bytes[..bytes.len() / 2]).expect("truncates");
    refused(&dir, |e| matches!(e, StoreError::Truncated { .. }));
}

#[test]
fn a_corrupt_store_file_is_refused() {
    let dir = TempDir::new();
    written(&dir);
    let mut bytes = fs::read(dir.file()).expect("reads");
    // Every byte past the header, flipped: whatever page the records are on fails its checksum.
    for b in bytes.iter_mut().skip(4096) {
        *b ^= 0x5a;
    }
    fs::write(dir.file(), &bytes).expect("writes");
    refused(&dir, |e| matches!(e, StoreError::Corrupt { .. }));
}

#[test]
fn a_foreign_file_is_refused() {
    let dir = TempDir::new();
    fs::write(dir.file(), "name,value\nnot,a database\n".repeat(200)).expect("writes");
    refused(&dir, |e| matches!(e, StoreError::Foreign { .. }));
}

#[test]
fn another_programs_redb_file_is_refused() {
    let dir = TempDir::new();
    {
        let db = redb::Database::create(dir.file()).expect("creates");
        let tx = db.begin_write().expect("writes");
        {
            let table: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("orders");
            tx.open_table(table)
                .expect("opens")
                .insert("x", 1)
                .expect("inserts");
        }
        tx.commit().expect("commits");
    }
    refused_redb(&dir, |e| matches!(e, StoreError::Foreign { .. }));
    let db = redb::Database::open(dir.file()).expect("still a redb file");
    let tx = db.begin_read().expect("reads");
    let tables: Vec<String> = tx
        .list_tables()
        .expect("lists")
        .map(|t| t.name().to_string())
        .collect();
    assert_eq!(tables, vec!["orders"], "nothing of ours was added");
}

#[test]
fn a_newer_format_is_refused() {
    let dir = TempDir::new();
    written(&dir);
    {
        let db = redb::Database::open(dir.file()).expect("opens");
        let tx = db.begin_write().expect("writes");
        {
            let meta: redb::TableDefinition<&str, &[u8]> =
                redb::TableDefinition::new("gossip.meta");
            let newer = (FORMAT_VERSION + 1).to_le_bytes();
            tx.open_table(meta)
                .expect("opens")
                .insert("format", newer.as_slice())
                .expect("inserts");
        }
        tx.commit().expect("commits");
    }
    let err = refused_redb(&dir, |e| matches!(e, StoreError::NewerFormat { .. }));
    assert_eq!(
        err,
        StoreError::NewerFormat {
            path: dir.file(),
            found: FORMAT_VERSION + 1,
            supported: FORMAT_VERSION
        }
    );
    // The records are as the newer version left them.
    let db = redb::Database::open(dir.file()).expect("still a redb file");
    let tx = db.begin_read().expect("reads");
    let meta: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("gossip.meta");
    let table = tx.open_table(meta).expect("ours");
    let format = table.get("format").expect("reads").expect("kept");
    assert_eq!(
        format.value(),
        (FORMAT_VERSION + 1).to_le_bytes().as_slice()
    );
}

#[test]
fn a_replica_read_as_another_type_is_a_decode_error() {
    let store = MemStore::new();
    let opened = Journal::open::<GSet<String>>(&store, "r").expect("reads");
    let mut journal = opened.journal;
    let mut set = GSet::new();
    set.insert("not a counter".to_string());
    let op = journal
        .checkpoint(&set, &Default::default())
        .expect("encodes");
    store
        .commit(&op.into(), Durability::Immediate)
        .expect("fits");
    let err = Journal::open::<GCounter<u64>>(&store, "r").expect_err("wrong type");
    assert!(
        matches!(
            err,
            StoreError::Decode {
                what: "checkpoint",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_full_store_refuses_writes_and_keeps_serving_reads() {
    let store = MemStore::new();
    store
        .commit(&delta("a", 1, 100), Durability::Immediate)
        .expect("fits");
    store.set_capacity(Some(store.bytes() + 50));
    let err = store
        .commit(&delta("a", 2, 100), Durability::Immediate)
        .expect_err("full");
    assert!(matches!(err, StoreError::DiskFull { .. }));
    let image = store.load("a").expect("reads still work").expect("kept");
    assert_eq!(image.deltas.len(), 1, "the failed commit applied nothing");
    store.set_capacity(None);
    store
        .commit(&delta("a", 2, 100), Durability::Immediate)
        .expect("room again");
}

/// A small tmpfs, mounted for the test and unmounted on drop.
struct Tmpfs(TempDir);

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = TempDir::new();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Tmpfs(dir))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0.path()).status();
    }
}

#[test]
fn a_full_disk_is_an_error_with_the_data_kept() {
    let Some(fs) = Tmpfs::mount("2m") else {
        // Mounting needs root; the full-store test above covers the logic through the trait.
        eprintln!("skipped: cannot mount a tmpfs here");
        return;
    };
    let data = fs.0.path().join("data");
    let store = RedbStore::open(&data).expect("opens");
    let mut acknowledged = 0;
    let mut err = None;
    for seq in 1..=10_000 {
        match store.commit(&delta("a", seq, 4096), Durability::Immediate) {
            Ok(()) => acknowledged = seq,
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    let err = err.expect("a 2 MiB disk fills up");
    assert!(matches!(err, StoreError::DiskFull { .. }), "{err:?}");
    assert!(acknowledged > 10);
    // Reads keep working on the store that failed to write.
    assert_eq!(
        store.delta_count("a").expect("reads"),
        acknowledged as usize
    );
    drop(store);
    // Everything acknowledged is there after a reopen (with a little room freed).
    fs::write(fs.0.path().join("ballast"), b"").expect("tmpfs writable");
    let store = RedbStore::open(&data).expect("reopens");
    assert_eq!(
        store.delta_count("a").expect("reads"),
        acknowledged as usize
    );
}

#[test]
fn a_new_store_takes_the_identity_given_and_an_old_one_keeps_its_own() {
    let dir = TempDir::new();
    let given = gossip_store::Uuid::from_u128(0x1234_5678);
    let store = RedbStore::open_as(dir.path(), given).expect("opens");
    assert_eq!(store.node_id(), given);
    drop(store);
    let other = gossip_store::Uuid::from_u128(0x9abc);
    let store = RedbStore::open_as(dir.path(), other).expect("opens again");
    assert_eq!(
        store.node_id(),
        given,
        "an existing store keeps its identity"
    );
}
