//! `RedbStore`: the store on disk, one redb file in a data directory that one process holds.
//!
//! The directory holds `LOCK` (locked while a store has it open, so two processes never
//! write one store) and `gossip.redb`. A new store is written under a temporary name and
//! renamed into place once its identity and format version are committed, so `gossip.redb`
//! is either absent or a complete store: an empty or short file there is damage, never a
//! reason to start afresh.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, TableHandle};
use uuid::Uuid;

use crate::error::is_disk_full;
use crate::{Batch, Durability, Op, ReplicaImage, Store, StoreError};

/// The format version this build writes and the newest it reads. A file with a higher one is
/// refused ([`StoreError::NewerFormat`]).
pub const FORMAT_VERSION: u32 = 1;

/// Marks a gossip store: a redb file without it is someone else's.
const MAGIC: &[u8] = b"gossip-store";
const FILE: &str = "gossip.redb";
const NEW_FILE: &str = "gossip.redb.new";
const LOCK: &str = "LOCK";

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("gossip.meta");
/// Replica name -> (replica id, lease).
const LEASES: TableDefinition<&str, (u64, u64)> = TableDefinition::new("gossip.leases");
/// Replica name -> (highest delta number covered, encoded checkpoint).
const CHECKPOINTS: TableDefinition<&str, (u64, &[u8])> = TableDefinition::new("gossip.checkpoints");
/// (Replica name, delta number) -> encoded delta.
const DELTAS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("gossip.deltas");

/// A [`Store`] in a redb file.
///
/// Opening verifies the checksum of every page (the cost grows with the file: the figures
/// are in `docs/benchmarks.md`), so a damaged file is refused with an error instead of read.
/// Commits are redb write transactions: `Immediate` ones are fsynced before they return.
#[derive(Debug)]
pub struct RedbStore {
    db: Database,
    path: PathBuf,
    node: Uuid,
    /// Held (locked) while the store is open.
    _lock: File,
}

impl RedbStore {
    /// Opens the store in `dir`, creating the directory and a new store (with a fresh node
    /// identity) if there is none.
    ///
    /// Fails, leaving every file as it was, if another process holds the directory, or the
    /// store file is truncated, corrupt, foreign, or of a newer format.
    pub fn open(dir: impl AsRef<Path>) -> Result<RedbStore, StoreError> {
        RedbStore::open_as(dir, Uuid::new_v4())
    }

    /// As [`open`](Self::open), but a new store takes `node` as its identity (a node whose id
    /// is kept elsewhere in the directory). An existing store keeps its own: the caller
    /// compares [`node_id`](Store::node_id) with what it expects.
    pub fn open_as(dir: impl AsRef<Path>, node: Uuid) -> Result<RedbStore, StoreError> {
        let dir = dir.as_ref();
        fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, "creating", &e))?;
        let lock_path = dir.join(LOCK);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| StoreError::io(&lock_path, "opening", &e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(StoreError::InUse { path: lock_path }),
            Err(TryLockError::Error(e)) => return Err(StoreError::io(&lock_path, "locking", &e)),
        }
        let path = dir.join(FILE);
        match fs::metadata(&path) {
            Ok(meta) if meta.len() == 0 => {
                return Err(StoreError::Truncated {
                    path,
                    detail: "the file is empty".into(),
                });
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => create(dir, node)?,
            Err(e) => return Err(StoreError::io(&path, "reading", &e)),
        }
        // The integrity check runs before anything is read: redb trusts the structure of a
        // file it opens without it, and may panic on a damaged one. It commits (a repair of
        // the allocator state), so even a file refused below as foreign or newer has been
        // written to, its records unchanged.
        let db = guarded(&path, || {
            Database::builder()
                .set_check_integrity_on_open(true)
                .open(&path)
                .map_err(redb::Error::from)
        })?;
        let node = read_meta(&db, &path)?;
        Ok(RedbStore {
            db,
            path,
            node,
            _lock: lock,
        })
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, e: impl Into<redb::Error>) -> StoreError {
        classify(&self.path, e.into())
    }
}

/// Writes a new store under a temporary name, then renames it into place.
fn create(dir: &Path, node: Uuid) -> Result<(), StoreError> {
    let new = dir.join(NEW_FILE);
    // A leftover of a creation that crashed before its rename: it never held data.
    match fs::remove_file(&new) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(StoreError::io(&new, "removing", &e)),
    }
    {
        let db = guarded(&new, || Database::create(&new).map_err(redb::Error::from))?;
        let write = || -> Result<(), redb::Error> {
            let tx = db.begin_write()?;
            {
                let mut meta = tx.open_table(META)?;
                meta.insert("magic", MAGIC)?;
                meta.insert("format", FORMAT_VERSION.to_le_bytes().as_slice())?;
                meta.insert("node", node.as_bytes().as_slice())?;
                tx.open_table(LEASES)?;
                tx.open_table(CHECKPOINTS)?;
                tx.open_table(DELTAS)?;
            }
            tx.commit()?;
            Ok(())
        };
        write().map_err(|e| classify(&new, e))?;
    }
    let path = dir.join(FILE);
    fs::rename(&new, &path).map_err(|e| StoreError::io(&path, "renaming into place", &e))?;
    // The rename is durable once the directory is.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(dir, "syncing", &e))
}

/// Reads and checks the identity and format version of an open file.
fn read_meta(db: &impl ReadableDatabase, path: &Path) -> Result<Uuid, StoreError> {
    let foreign = |detail: &str| StoreError::Foreign {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    };
    let read = || -> Result<Result<Uuid, StoreError>, redb::Error> {
        let tx = db.begin_read()?;
        let has_meta = tx.list_tables()?.any(|t| t.name() == META.name());
        if !has_meta {
            return Ok(Err(foreign("a redb database without gossip's tables")));
        }
        let meta = tx.open_table(META)?;
        if meta.get("magic")?.is_none_or(|m| m.value() != MAGIC) {
            return Ok(Err(foreign(
                "a redb database with another program's tables",
            )));
        }
        let Some(format) = meta.get("format")? else {
            return Ok(Err(corrupt(path, "no format version")));
        };
        let Ok(format) = <[u8; 4]>::try_from(format.value()) else {
            return Ok(Err(corrupt(path, "a malformed format version")));
        };
        let format = u32::from_le_bytes(format);
        if format > FORMAT_VERSION {
            return Ok(Err(StoreError::NewerFormat {
                path: path.to_path_buf(),
                found: format,
                supported: FORMAT_VERSION,
            }));
        }
        let node = meta.get("node")?;
        let node = node.as_ref().and_then(|n| Uuid::from_slice(n.value()).ok());
        Ok(node.ok_or_else(|| corrupt(path, "no node identity")))
    };
    guarded(path, read)?
}

fn corrupt(path: &Path, detail: &str) -> StoreError {
    StoreError::Corrupt {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    }
}

/// Runs `f`, turning a panic into [`StoreError::Corrupt`]: redb checks some invariants of its
/// file with debug assertions, which a damaged file can trip in a debug build.
fn guarded<T>(path: &Path, f: impl FnOnce() -> Result<T, redb::Error>) -> Result<T, StoreError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result.map_err(|e| classify(path, e)),
        Err(panic) => {
            let detail = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "the database engine gave up on it".into());
            Err(corrupt(path, &detail))
        }
    }
}

/// Sorts a redb error into what the operator can act on.
fn classify(path: &Path, e: redb::Error) -> StoreError {
    let path_buf = path.to_path_buf();
    match e {
        redb::Error::DatabaseAlreadyOpen | redb::Error::LockProtocolMismatch => {
            StoreError::InUse { path: path_buf }
        }
        redb::Error::Io(io) if io.kind() == io::ErrorKind::InvalidData => StoreError::Foreign {
            path: path_buf,
            detail: io.to_string(),
        },
        redb::Error::Io(io) if io.kind() == io::ErrorKind::UnexpectedEof => StoreError::Truncated {
            path: path_buf,
            detail: io.to_string(),
        },
        redb::Error::Io(io) if is_disk_full(&io) => StoreError::DiskFull { path: path_buf },
        redb::Error::Io(io) => StoreError::io(path, "using", &io),
        // redb says "truncated" when the file is shorter than its own header records.
        redb::Error::Corrupted(detail) if detail.to_lowercase().contains("truncated") => {
            StoreError::Truncated {
                path: path_buf,
                detail,
            }
        }
        redb::Error::Corrupted(detail) => StoreError::Corrupt {
            path: path_buf,
            detail,
        },
        redb::Error::UpgradeRequired(v) => StoreError::Foreign {
            path: path_buf,
            detail: format!("a redb file of an old file format ({v})"),
        },
        redb::Error::TableTypeMismatch(_)
        | redb::Error::TypeDefinitionChanged(_)
        | redb::Error::TableIsMultimap(_) => StoreError::Foreign {
            path: path_buf,
            detail: e.to_string(),
        },
        redb::Error::DatabaseClosed => StoreError::Closed,
        other => StoreError::Io {
            path: path_buf,
            doing: "using",
            kind: io::ErrorKind::Other,
            detail: other.to_string(),
        },
    }
}

impl Store for RedbStore {
    fn node_id(&self) -> Uuid {
        self.node
    }

    fn replicas(&self) -> Result<Vec<String>, StoreError> {
        let read = || -> Result<Vec<String>, redb::Error> {
            let tx = self.db.begin_read()?;
            let mut names: Vec<String> = Vec::new();
            for entry in tx.open_table(LEASES)?.iter()? {
                names.push(entry?.0.value().to_string());
            }
            for entry in tx.open_table(CHECKPOINTS)?.iter()? {
                names.push(entry?.0.value().to_string());
            }
            // The delta log is short (checkpoints cut it), so one walk is cheap.
            for entry in tx.open_table(DELTAS)?.iter()? {
                let name = entry?.0.value().0.to_string();
                if names.last() != Some(&name) {
                    names.push(name);
                }
            }
            names.sort();
            names.dedup();
            Ok(names)
        };
        read().map_err(|e| self.error(e))
    }

    fn load(&self, name: &str) -> Result<Option<ReplicaImage>, StoreError> {
        let read = || -> Result<ReplicaImage, redb::Error> {
            let tx = self.db.begin_read()?;
            let lease = tx.open_table(LEASES)?.get(name)?.map(|v| v.value());
            let checkpoint = tx.open_table(CHECKPOINTS)?.get(name)?.map(|v| {
                let (covers, bytes) = v.value();
                (bytes.to_vec(), covers)
            });
            let mut deltas = Vec::new();
            for entry in tx.open_table(DELTAS)?.range((name, 0)..=(name, u64::MAX))? {
                let (k, v) = entry?;
                deltas.push((k.value().1, v.value().to_vec()));
            }
            Ok(ReplicaImage {
                lease,
                checkpoint,
                deltas,
            })
        };
        let image = read().map_err(|e| self.error(e))?;
        let empty = image.lease.is_none() && image.checkpoint.is_none() && image.deltas.is_empty();
        Ok((!empty).then_some(image))
    }

    fn commit(&self, batch: &Batch, durability: Durability) -> Result<(), StoreError> {
        let write = || -> Result<(), redb::Error> {
            let mut tx = self.db.begin_write()?;
            tx.set_durability(match durability {
                Durability::Buffered => redb::Durability::None,
                Durability::Immediate => redb::Durability::Immediate,
            })
            .map_err(|e| redb::Error::Corrupted(e.to_string()))?;
            {
                let mut leases = tx.open_table(LEASES)?;
                let mut checkpoints = tx.open_table(CHECKPOINTS)?;
                let mut deltas = tx.open_table(DELTAS)?;
                for op in &batch.ops {
                    match op {
                        Op::Lease { replica, id, lease } => {
                            leases.insert(replica.as_str(), (*id, *lease))?;
                        }
                        Op::Checkpoint {
                            replica,
                            bytes,
                            covers,
                        } => {
                            checkpoints.insert(replica.as_str(), (*covers, bytes.as_slice()))?;
                            let name = replica.as_str();
                            deltas.retain_in((name, 0)..=(name, *covers), |_, _| false)?;
                        }
                        Op::Delta {
                            replica,
                            seq,
                            bytes,
                        } => {
                            deltas.insert((replica.as_str(), *seq), bytes.as_slice())?;
                        }
                        Op::Remove { replica } => {
                            let name = replica.as_str();
                            leases.remove(name)?;
                            checkpoints.remove(name)?;
                            deltas.retain_in((name, 0)..=(name, u64::MAX), |_, _| false)?;
                        }
                    }
                }
            }
            tx.commit()?;
            Ok(())
        };
        write().map_err(|e| self.error(e))
    }
}

impl RedbStore {
    /// How many deltas are kept for replica `name` (the log a checkpoint has not cut yet).
    pub fn delta_count(&self, name: &str) -> Result<usize, StoreError> {
        let read = || -> Result<usize, redb::Error> {
            let tx = self.db.begin_read()?;
            let deltas = tx.open_table(DELTAS)?;
            Ok(deltas.range((name, 0)..=(name, u64::MAX))?.count())
        };
        read().map_err(|e| self.error(e))
    }
}
