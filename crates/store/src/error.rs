//! `StoreError`: what went wrong with the data directory, and what the operator can do.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Everything a store can fail with. None of these is a bug in the caller unless its doc says
/// so; none leaves a half-applied commit behind (a commit is all or nothing).
///
/// Opening never starts empty over data it cannot read: every damaged, foreign or newer file
/// is an error, and the file is left as it was for the operator to inspect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// Another process (or another store in this one) has the data directory open. Nothing
    /// was read or changed.
    InUse {
        /// The lock file that is held.
        path: PathBuf,
    },
    /// The store file is shorter than its own records say: cut by a full disk during a copy,
    /// a partial restore, or a truncating tool. Nothing was changed.
    Truncated {
        /// The file.
        path: PathBuf,
        /// What the database engine reported.
        detail: String,
    },
    /// The store file fails its checksums or its structure is broken (a disk or filesystem
    /// fault, or a write from outside). Nothing was changed.
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What failed.
        detail: String,
    },
    /// The file is not a gossip store: another program's file, or another database.
    /// Nothing was changed.
    Foreign {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        detail: String,
    },
    /// The file was written by a newer version of this software, in a format this one does
    /// not know. Nothing was changed.
    NewerFormat {
        /// The file.
        path: PathBuf,
        /// The file's format version.
        found: u32,
        /// The newest format this build reads.
        supported: u32,
    },
    /// A write did not fit on the disk (or the store's quota): the commit was not applied.
    /// Reads, and the state in memory, keep working.
    DiskFull {
        /// The file (or the store's name, for an in-memory store).
        path: PathBuf,
    },
    /// Any other input/output failure: the commit, if any, was not applied.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done.
        doing: &'static str,
        /// The kind of failure.
        kind: io::ErrorKind,
        /// The operating system's message.
        detail: String,
    },
    /// A stored record does not decode as the type it is read as: the replica was opened with
    /// another type than it was saved with (a bug in the caller), or the record is damaged.
    Decode {
        /// The replica's name.
        replica: String,
        /// Which record.
        what: &'static str,
        /// The codec's message.
        detail: String,
    },
    /// A value could not be encoded (a type the codec does not support: a bug in the caller).
    Encode {
        /// The replica's name.
        replica: String,
        /// The codec's message.
        detail: String,
    },
    /// The store was closed (or, for an in-memory store, crashed), or its committer stopped:
    /// nothing was applied.
    Closed,
}

impl StoreError {
    /// An input/output failure while `doing` something to `path`, with a full disk told apart.
    pub(crate) fn io(path: impl Into<PathBuf>, doing: &'static str, err: &io::Error) -> Self {
        let path = path.into();
        if is_disk_full(err) {
            return StoreError::DiskFull { path };
        }
        StoreError::Io {
            path,
            doing,
            kind: err.kind(),
            detail: err.to_string(),
        }
    }
}

/// `true` for the errors a full disk or an exhausted quota give.
pub(crate) fn is_disk_full(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded | io::ErrorKind::FileTooLarge
    )
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::InUse { path } => write!(
                f,
                "the data directory is in use: {} is locked by another process; stop that \
                 process, or give this one its own data directory",
                path.display()
            ),
            StoreError::Truncated { path, detail } => write!(
                f,
                "the store {} is truncated ({detail}); restore it from a backup, or move it \
                 away to start this node afresh (it then takes a new identity and gets its \
                 data back from its peers)",
                path.display()
            ),
            StoreError::Corrupt { path, detail } => write!(
                f,
                "the store {} is corrupt ({detail}); check the disk, then restore the file from \
                 a backup, or move it away to start this node afresh (it then takes a new \
                 identity and gets its data back from its peers)",
                path.display()
            ),
            StoreError::Foreign { path, detail } => write!(
                f,
                "{} is not a gossip store ({detail}); point the data directory elsewhere, or \
                 move that file away",
                path.display()
            ),
            StoreError::NewerFormat {
                path,
                found,
                supported,
            } => write!(
                f,
                "the store {} has format version {found}, newer than this build reads \
                 ({supported}); run the newer version of this software, which wrote it",
                path.display()
            ),
            StoreError::DiskFull { path } => write!(
                f,
                "no space left for {}: the write was not applied, reads still work; free some \
                 space and the next write goes through",
                path.display()
            ),
            StoreError::Io {
                path,
                doing,
                kind,
                detail,
            } => write!(
                f,
                "{doing} {} failed ({kind}: {detail}); check the path's permissions and the \
                 disk",
                path.display()
            ),
            StoreError::Decode {
                replica,
                what,
                detail,
            } => write!(
                f,
                "the {what} of replica {replica:?} does not decode ({detail}); open it with the \
                 type it was saved with"
            ),
            StoreError::Encode { replica, detail } => {
                write!(
                    f,
                    "a value of replica {replica:?} does not encode ({detail})"
                )
            }
            StoreError::Closed => write!(f, "the store is closed; nothing was written"),
        }
    }
}

impl std::error::Error for StoreError {}
