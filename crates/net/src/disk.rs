//! The node's store: the data directory it lives in, and the thread that commits to it. Shared
//! by every replica of the node through [`DiskSlot`], which a shutdown empties.

use std::fmt;
use std::fs;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use gossip_membership::{IDENTITY_FILE, NodeIdentity};
use gossip_store::{Batch, CommitStats, Committer, Durability, RedbStore, Store, Ticket};

use crate::NetError;
use crate::sync::lock;

/// The node's store and the thread that commits to it.
pub(crate) struct Disk {
    pub(crate) store: Arc<dyn Store>,
    committer: Committer,
}

impl fmt::Debug for Disk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Disk")
            .field("node", &self.store.node_id())
            .field("commits", &self.committer.stats())
            .finish()
    }
}

impl Disk {
    pub(crate) fn new(store: Arc<dyn Store>) -> Result<Disk, NetError> {
        let committer =
            Committer::start(store.clone()).map_err(|source| NetError::Store { source })?;
        Ok(Disk { store, committer })
    }

    pub(crate) fn submit(&self, batch: Batch, durability: Durability) -> Ticket {
        self.committer.submit(batch, durability)
    }

    pub(crate) fn stats(&self) -> CommitStats {
        self.committer.stats()
    }
}

/// Where the node keeps its store: none, or one (the disk is taken out at shutdown, which
/// releases the data directory).
#[derive(Debug, Default)]
pub(crate) struct DiskSlot(Mutex<Option<Arc<Disk>>>);

impl DiskSlot {
    pub(crate) fn new(disk: Option<Arc<Disk>>) -> DiskSlot {
        DiskSlot(Mutex::new(disk))
    }

    fn lock(&self) -> MutexGuard<'_, Option<Arc<Disk>>> {
        lock(&self.0)
    }

    pub(crate) fn get(&self) -> Option<Arc<Disk>> {
        self.lock().clone()
    }

    pub(crate) fn take(&self) -> Option<Arc<Disk>> {
        self.lock().take()
    }
}

/// Opens the store in `dir`, for the node whose id is kept there (`identity`), and returns
/// the node's identity for this life with the store.
///
/// A new store takes the node's id. A store whose id differs is refused
/// ([`NetError::ForeignStore`]) when the node id file was already there: the two files come
/// from different nodes. When this start made the id file, the store is older than it and
/// its id becomes the node's.
pub(crate) fn open_dir(
    dir: &Path,
    identity: NodeIdentity,
) -> Result<(NodeIdentity, RedbStore), NetError> {
    let store =
        RedbStore::open_as(dir, identity.id).map_err(|source| NetError::Store { source })?;
    let kept = store.node_id();
    if kept == identity.id {
        return Ok((identity, store));
    }
    if !identity.fresh {
        return Err(NetError::ForeignStore {
            dir: dir.to_path_buf(),
            store: kept,
            node: identity.id,
        });
    }
    // The id file was made a moment ago, under the store's lock now held: write it again with
    // the store's id.
    let file = dir.join(IDENTITY_FILE);
    fs::remove_file(&file).map_err(|source| {
        NetError::Identity(gossip_membership::IdentityError::Io {
            path: file.clone(),
            action: "remove the node id file made for a store of another id",
            source,
        })
    })?;
    let identity =
        NodeIdentity::load_or_create_at(dir, identity.start, kept).map_err(NetError::Identity)?;
    Ok((identity, store))
}
