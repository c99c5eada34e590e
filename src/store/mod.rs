//! The store: one LMDB environment per account (the account actor is its only writer) with its
//! message files beside it, and one environment for server-wide state. See DESIGN.md §4.

pub mod account;
pub mod backup;
pub mod codec;
pub mod export_paths;
pub mod files;
pub mod flags;
pub mod ids;
pub mod incoming;
pub mod maildir;
pub mod mbox;
pub mod ops;
pub mod parts;
pub mod queue;
pub mod reader;
pub mod schema;
pub mod server;
pub mod tables;
pub mod verify;
pub mod write;

use std::path::{Path, PathBuf};

pub use account::AccountStore;
pub use flags::Flags;
pub use ids::{MailboxId, MessageId, ModSeq, QueueFileId, QueueId, Uid, UidValidity};
pub use ops::{
    BatchResult, Change, DeliveryMailbox, Expunge, FlagChange, FlagOp, NewMessage, StoreFlags,
    WriteOp, WriteOutcome,
};
pub use reader::Reader;
pub use tables::contents::Content;
pub use tables::mailboxes::{Mailbox, MailboxCounts, SpecialUse};
pub use tables::messages::Message;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] heed::Error),
    #[error("file system: {0}")]
    Io(#[from] std::io::Error),
    #[error("damaged data: {0}")]
    Corrupt(String),
    #[error(
        "table {table} has schema version {stored}, newer than the {known} this moxide knows: run a newer moxide"
    )]
    NewerSchema {
        table: &'static str,
        stored: u64,
        known: u64,
    },
    #[error("no mailbox {0:?}")]
    NoMailbox(String),
    #[error("mailbox {0:?} already exists")]
    MailboxExists(String),
    #[error("invalid mailbox name {name:?}: {why}")]
    BadMailboxName { name: String, why: &'static str },
    #[error("another moxide is using this data directory (it holds {0})")]
    InUse(String),
    #[error("INBOX cannot be {0}")]
    Inbox(&'static str),
    #[error("mailbox {0:?} has children: delete them first")]
    HasChildren(String),
    #[error("the transaction could not be committed: {0}")]
    CommitFailed(String),
    #[error("no queue entry {0}")]
    NoQueueEntry(QueueId),
    #[error("a message to queue needs at least one recipient")]
    NoRecipients,
}

/// Where things live in a data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> DataDir {
        DataDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn server_env(&self) -> PathBuf {
        self.root.join("server.mdb")
    }

    /// The outgoing queue's message files (`<bucket>/<file id>`).
    pub fn queue_dir(&self) -> PathBuf {
        self.root.join("queue")
    }

    pub fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    pub fn account(&self, name: &str) -> PathBuf {
        self.root.join("accounts").join(name)
    }

    pub fn ctl_socket(&self) -> PathBuf {
        self.root.join("ctl")
    }

    /// A secret of this server kept in the data directory (created at the first start, 0600):
    /// for SCRAM exchanges with unknown users, so their fake salt is stable across restarts.
    pub fn server_secret(&self) -> Result<[u8; 32], StoreError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.root.join("server.secret");
        if let Ok(bytes) = std::fs::read(&path)
            && let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice())
        {
            return Ok(key);
        }
        let mut key = [0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key)
            .map_err(|_| StoreError::Corrupt("no random numbers available".into()))?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)?;
        f.write_all(&key)?;
        f.sync_all()?;
        Ok(key)
    }

    /// Takes the data directory for this process (one server per data directory: a second one
    /// would clean the first one's spool and break the single-writer rule), creates the top-level
    /// directories (0700) and empties the spool of what a crash left. The lock lasts as long as
    /// the returned guard.
    pub fn prepare(&self) -> Result<DataDirLock, StoreError> {
        for dir in [self.root.clone(), self.tmp(), self.root.join("accounts")] {
            create_private_dir(&dir)?;
        }
        let lock = DataDirLock::take(&self.root.join("moxide.lock"))?;
        let removed = files::clean_spool(&self.tmp())?;
        if removed > 0 {
            tracing::info!(
                files = removed,
                "removed partial messages left in the spool"
            );
        }
        Ok(lock)
    }
}

/// An exclusive lock on a data directory, released when dropped (or when the process dies).
#[derive(Debug)]
pub struct DataDirLock {
    _file: std::fs::File,
}

impl DataDirLock {
    fn take(path: &Path) -> Result<DataDirLock, StoreError> {
        use std::os::fd::AsRawFd;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        // SAFETY: flock on a descriptor `file` keeps open.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::WouldBlock {
                return Err(StoreError::InUse(path.display().to_string()));
            }
            return Err(e.into());
        }
        Ok(DataDirLock { _file: file })
    }
}

/// Creates `dir` and its parents; a directory created here gets mode 0700.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(test)]
mod tests;

/// Makes a batch durable in the one safe order: its files first (the index must never name a
/// file that is not on disk), then the index commit. Blocking.
pub fn commit_durably(
    file_batch: &files::FileBatch,
    files_root: &Path,
    wtxn: heed::RwTxn,
) -> Result<(), StoreError> {
    file_batch.sync(files_root)?;
    wtxn.commit()?;
    // A durable LMDB commit syncs twice: data pages, then the meta page.
    files::count_fsyncs(2);
    Ok(())
}
