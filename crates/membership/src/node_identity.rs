//! `NodeIdentity`: the node id kept in a data directory, and the start number of this life.
//!
//! This is the one place in the crate that touches a file system; the SWIM core never does.

use std::fmt;
use std::fs;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use uuid::Uuid;

use crate::Identity;

/// The file, inside the data directory, that holds the node id and the last start number.
pub const IDENTITY_FILE: &str = "node-id";

/// A node's id and the start number of the current life.
///
/// The start number orders the lives of everything that ever listened at one address, so it
/// must grow from one start to the next:
///
/// - with a data directory it is `max(last + 1, wall clock in ms)`: it grows even if the clock
///   stepped back, because the last one is on disk;
/// - without one the node id is new ([`NodeIdentity::ephemeral`]) and the start number is the
///   wall clock in ms: the only order available between an earlier life at the same address
///   and this one. A clock that stepped back across such a restart makes the new life lose the
///   address to the old one until the cluster forgets the old one (`remove_down_after`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeIdentity {
    /// The node id.
    pub id: Uuid,
    /// This life's start number.
    pub start: u64,
    /// Whether the id was made by this start (no file yet, or no data directory).
    pub fresh: bool,
}

impl NodeIdentity {
    /// Reads the node id from `dir/node-id` (creating the directory and the file if absent),
    /// takes the next start number and writes it back before returning, so that two starts
    /// never share one. Uses the system clock as described on [`NodeIdentity`].
    pub fn load_or_create(dir: &Path) -> Result<NodeIdentity, IdentityError> {
        NodeIdentity::load_or_create_at(dir, unix_millis(SystemTime::now()), Uuid::new_v4())
    }

    /// [`load_or_create`](Self::load_or_create) with the clock reading and the id a new file
    /// would get given by the caller.
    pub fn load_or_create_at(
        dir: &Path,
        clock_ms: u64,
        new_id: Uuid,
    ) -> Result<NodeIdentity, IdentityError> {
        let path = dir.join(IDENTITY_FILE);
        fs::create_dir_all(dir).map_err(|source| IdentityError::Io {
            path: dir.to_path_buf(),
            action: "create the data directory",
            source,
        })?;
        let (id, last, fresh) = match fs::read_to_string(&path) {
            Ok(text) => {
                let (id, last) = parse(&text).map_err(|problem| IdentityError::Corrupt {
                    path: path.clone(),
                    problem,
                })?;
                (id, Some(last), false)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => (new_id, None, true),
            Err(source) => {
                return Err(IdentityError::Io {
                    path,
                    action: "read",
                    source,
                });
            }
        };
        let start = match last {
            Some(last) => clock_ms.max(last.saturating_add(1)),
            None => clock_ms,
        }
        .min(MAX_START);
        if last == Some(MAX_START) {
            return Err(IdentityError::Exhausted { path });
        }
        write_atomically(&path, &format!("{id}\n{start}\n"))?;
        Ok(NodeIdentity { id, start, fresh })
    }

    /// A node without a data directory: the id `id` (random from the caller), start number
    /// the wall clock reading `clock_ms`.
    pub fn ephemeral(id: Uuid, clock_ms: u64) -> NodeIdentity {
        NodeIdentity {
            id,
            start: clock_ms.min(MAX_START),
            fresh: true,
        }
    }

    /// The SWIM identity of this life at `addr`.
    pub fn identity(&self, addr: SocketAddr) -> Identity {
        Identity::new(self.id, addr, self.start)
    }
}

/// The largest start number that leaves room for the renewal bits.
const MAX_START: u64 = u64::MAX >> crate::identity::RENEWAL_BITS;

fn unix_millis(t: SystemTime) -> u64 {
    // A clock before 1970 gives 0: the start number then comes from the file alone.
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn parse(text: &str) -> Result<(Uuid, u64), &'static str> {
    let mut lines = text.lines();
    let id = lines
        .next()
        .ok_or("empty file")?
        .trim()
        .parse::<Uuid>()
        .map_err(|_| "the first line is not a UUID")?;
    let last = lines
        .next()
        .ok_or("no start number on the second line")?
        .trim()
        .parse::<u64>()
        .map_err(|_| "the second line is not a start number")?;
    Ok((id, last))
}

fn write_atomically(path: &Path, text: &str) -> Result<(), IdentityError> {
    let tmp = path.with_extension("tmp");
    let io = |action, source| IdentityError::Io {
        path: path.to_path_buf(),
        action,
        source,
    };
    fs::write(&tmp, text).map_err(|e| io("write", e))?;
    // Sync before the rename, so a crash leaves the old file or the new one, never a torn one.
    fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| io("sync", e))?;
    fs::rename(&tmp, path).map_err(|e| io("replace", e))
}

/// Why the node identity could not be loaded or saved. Nothing was changed on disk unless the
/// variant says so.
#[derive(Debug)]
pub enum IdentityError {
    /// The file system refused `action` on `path`.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was attempted.
        action: &'static str,
        /// The operating system's error.
        source: io::Error,
    },
    /// The identity file exists but does not hold a UUID line and a start-number line.
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The start number reached its maximum: the node needs a new id (remove the file).
    Exhausted {
        /// The file.
        path: PathBuf,
    },
}

impl fmt::Display for IdentityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdentityError::Io {
                path,
                action,
                source,
            } => write!(
                f,
                "could not {action} {}: {source}; check the data directory's permissions and free space",
                path.display()
            ),
            IdentityError::Corrupt { path, problem } => write!(
                f,
                "{} is not a node identity file ({problem}); restore it from a backup, or remove it to start as a new node",
                path.display()
            ),
            IdentityError::Exhausted { path } => write!(
                f,
                "{} has used up its start numbers; remove it to start as a new node",
                path.display()
            ),
        }
    }
}

impl std::error::Error for IdentityError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            IdentityError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("gossip-membership-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn the_id_survives_restarts_and_every_start_is_later_even_if_the_clock_steps_back() {
        let dir = scratch("restart");
        let first =
            NodeIdentity::load_or_create_at(&dir, 1_000, Uuid::from_u128(1)).expect("test setup");
        assert!(first.fresh);
        assert_eq!(first.start, 1_000);
        let second =
            NodeIdentity::load_or_create_at(&dir, 500, Uuid::from_u128(2)).expect("test setup");
        assert_eq!(second.id, first.id);
        assert!(!second.fresh);
        assert_eq!(second.start, 1_001);
        let third =
            NodeIdentity::load_or_create_at(&dir, 9_000, Uuid::from_u128(3)).expect("test setup");
        assert_eq!(third.start, 9_000);
        fs::remove_dir_all(&dir).expect("test setup");
    }

    #[test]
    fn a_damaged_file_is_an_error_that_names_it() {
        let dir = scratch("corrupt");
        fs::create_dir_all(&dir).expect("test setup");
        fs::write(dir.join(IDENTITY_FILE), "not a uuid\n3\n").expect("test setup");
        let err = NodeIdentity::load_or_create_at(&dir, 1, Uuid::nil())
            .expect_err("a corrupt file is refused");
        assert!(matches!(err, IdentityError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains(IDENTITY_FILE));
        fs::remove_dir_all(&dir).expect("test setup");
    }
}
