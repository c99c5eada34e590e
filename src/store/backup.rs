//! Consistent online backups. Each LMDB environment is copied inside a read transaction of its
//! own (compacted, `mdb_env_copy2`): a snapshot, taken while writers go on. The message files
//! are immutable and written before the commit that names them, so every file the snapshot
//! names exists — as long as nothing removes files meanwhile, which a [`RemovalHold`] ensures for
//! the time of the copy. The files are then hard-linked into the backup where the file system
//! allows it (instant, no space) and copied otherwise; only the files the copied index names go
//! in, so the backup has no strays.
//!
//! [`RemovalHold`]: super::files::RemovalHold

use std::fs;
use std::io;
use std::path::Path;

use heed::CompactionOption;

use super::files::{FileId, MessageFiles};
use super::queue::QueueStore;
use super::server::ServerStore;
use super::{AccountStore, StoreError, create_private_dir};

/// What went into a backup.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BackupStats {
    pub accounts: u64,
    pub messages: u64,
    pub queue_entries: u64,
    /// Message file bytes hard-linked and copied.
    pub linked_bytes: u64,
    pub copied_bytes: u64,
}

impl BackupStats {
    fn file(&mut self, size: u64, linked: bool) {
        if linked {
            self.linked_bytes += size;
        } else {
            self.copied_bytes += size;
        }
    }
}

/// Copies an environment (the `data.mdb` of `env`) into the directory `dest`, compacted.
fn copy_env(env: &heed::Env<heed::WithoutTls>, dest: &Path) -> Result<(), StoreError> {
    create_private_dir(dest)?;
    let file = env.copy_to_path(dest.join("data.mdb"), CompactionOption::Enabled)?;
    file.sync_all()?;
    Ok(())
}

/// Puts the file `from` at `to`: a hard link when the file system allows, a copy otherwise.
/// Returns the size and whether it was linked.
fn link_or_copy(from: &Path, to: &Path) -> io::Result<(u64, bool)> {
    if let Some(dir) = to.parent() {
        fs::create_dir_all(dir)?;
    }
    let size = fs::metadata(from)?.len();
    match fs::hard_link(from, to) {
        Ok(()) => Ok((size, true)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
        Err(_) => {
            fs::copy(from, to)?;
            fs::File::open(to)?.sync_all()?;
            Ok((size, false))
        }
    }
}

fn put_file<Id: FileId>(
    from: &MessageFiles<Id>,
    to: &MessageFiles<Id>,
    id: Id,
    stats: &mut BackupStats,
) -> Result<(), StoreError> {
    let (size, linked) = link_or_copy(&from.path(id), &to.path(id)).map_err(|e| {
        StoreError::Io(io::Error::new(
            e.kind(),
            format!("{}: {e}", from.path(id).display()),
        ))
    })?;
    stats.file(size, linked);
    Ok(())
}

/// Backs up one account into `dest` (the account's directory in the backup). Blocking.
pub fn backup_account(
    store: &AccountStore,
    dest: &Path,
    stats: &mut BackupStats,
) -> Result<(), StoreError> {
    let _hold = store.files().hold_removals();
    copy_env(&store.env, &dest.join("index.mdb"))?;
    // The copy says which files belong to the snapshot.
    let copy = AccountStore::open(dest, store.name())?;
    let reader = copy.read()?;
    for mailbox in reader.mailboxes()? {
        for message in reader.live(mailbox.id)? {
            let message = message?;
            put_file(store.files(), copy.files(), message.id, stats)?;
            stats.messages += 1;
        }
    }
    stats.accounts += 1;
    Ok(())
}

/// Backs up the server environment (accounts index, queue) and the queue's files into `dest`
/// (the data directory of the backup). Blocking.
pub fn backup_server(
    server: &ServerStore,
    queue: &QueueStore,
    dest: &Path,
    stats: &mut BackupStats,
) -> Result<(), StoreError> {
    let _hold = queue.files().hold_removals();
    let env_dir = dest.join("server.mdb");
    copy_env(server.env(), &env_dir)?;
    let server_copy = ServerStore::open(&env_dir)?;
    let queue_copy = QueueStore::open(&server_copy, &dest.join("queue"))?;
    let mut files = std::collections::BTreeSet::new();
    for entry in queue_copy.list()? {
        files.insert(entry.file);
        stats.queue_entries += 1;
    }
    for file in files {
        put_file(queue.files(), queue_copy.files(), file, stats)?;
    }
    Ok(())
}
