//! The store: one LMDB environment per account (the account actor is its only writer) with its
//! message files beside it, and one environment for server-wide state. See DESIGN.md §4.

pub mod account;
pub mod codec;
pub mod files;
pub mod flags;
pub mod ids;
pub mod parts;
pub mod schema;
pub mod server;
pub mod tables;

use std::path::{Path, PathBuf};

pub use account::{
    AccountStore, BatchResult, Change, FlagChange, FlagOp, NewMessage, Reader, StoreFlags, WriteOp,
    WriteOutcome,
};
pub use flags::Flags;
pub use ids::{MailboxId, MessageId, ModSeq, Uid, UidValidity};
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
    #[error("the transaction could not be committed: {0}")]
    CommitFailed(String),
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

    pub fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    pub fn account(&self, name: &str) -> PathBuf {
        self.root.join("accounts").join(name)
    }

    pub fn ctl_socket(&self) -> PathBuf {
        self.root.join("ctl")
    }

    /// Creates the top-level directories (0700) and empties the spool of what a crash left.
    pub fn prepare(&self) -> Result<(), StoreError> {
        for dir in [self.root.clone(), self.tmp(), self.root.join("accounts")] {
            create_private_dir(&dir)?;
        }
        let removed = files::clean_spool(&self.tmp())?;
        if removed > 0 {
            tracing::info!(
                files = removed,
                "removed partial messages left in the spool"
            );
        }
        Ok(())
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
