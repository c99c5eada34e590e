//! The store of one account: its LMDB environment (`index.mdb/`) and message files (`msg/`).
//!
//! Writes come only from the account actor, as batches of [`WriteOp`]s: one LMDB write
//! transaction per batch (group commit), a nested transaction per operation so one failing
//! operation does not take the others down, and one new modseq per operation that changes
//! anything (RFC 7162 §3.1: modseqs strictly increase in commit order). The message files of a
//! batch are written and made durable together before the transaction commits; the commit itself
//! is durable (no NO_SYNC) before anyone is told "stored". See `write.rs`.
//!
//! Reads open their own transaction through [`AccountStore::read`] and never wait on the writer
//! (`reader.rs`).

use std::path::Path;

use heed::{Env, EnvOpenOptions, WithoutTls};

use super::files::{self, MessageFiles};
use super::ops::WriteOp;
use super::reader::Reader;
use super::schema::{self, TableVersion};
use super::tables::contents::{self, ContentDb};
use super::tables::junk::{self, TrainedDb, WordsDb};
use super::tables::mailboxes::{self, Mailboxes, SpecialUse};
use super::tables::messages::{self, Messages};
use super::tables::meta::MetaDb;
use super::{StoreError, create_private_dir};

/// Virtual size of an account's map. LMDB only uses what it needs; this bounds the index (not the
/// message files) of one account.
const ACCOUNT_MAP_SIZE: usize = 8 << 30;
/// Concurrent read transactions: sessions read on the blocking pools of every arbiter.
const MAX_READERS: u32 = 2048;

pub(super) const TABLES: [TableVersion; 6] = [
    TableVersion {
        table: "mailboxes",
        version: mailboxes::SCHEMA,
    },
    TableVersion {
        table: "messages",
        version: messages::SCHEMA,
    },
    TableVersion {
        table: "contents",
        version: contents::SCHEMA,
    },
    // Names (keys) only: the version is that of the key format.
    TableVersion {
        table: "subscriptions",
        version: 1,
    },
    TableVersion {
        table: "junk_words",
        version: junk::WORDS_SCHEMA,
    },
    TableVersion {
        table: "junk_trained",
        version: junk::TRAINED_SCHEMA,
    },
];

/// Mailboxes every new account starts with (RFC 6154 special uses).
pub const DEFAULT_MAILBOXES: [(&str, SpecialUse); 6] = [
    ("INBOX", SpecialUse::NONE),
    ("Sent", SpecialUse::SENT),
    ("Drafts", SpecialUse::DRAFTS),
    ("Trash", SpecialUse::TRASH),
    ("Junk", SpecialUse::JUNK),
    ("Archive", SpecialUse::ARCHIVE),
];

pub(super) const KEY_NEXT_MODSEQ: &str = "next_modseq";
pub(super) const KEY_NEXT_MESSAGE_ID: &str = "next_message_id";
pub(super) const KEY_NEXT_MAILBOX_ID: &str = "next_mailbox_id";
pub(super) const KEY_NEXT_UIDVALIDITY: &str = "next_uidvalidity";

pub struct AccountStore {
    pub(super) name: String,
    pub(super) env: Env<WithoutTls>,
    pub(super) meta: MetaDb,
    pub(super) mailboxes: Mailboxes,
    pub(super) messages: Messages,
    pub(super) contents: ContentDb,
    /// Subscribed mailbox names (RFC 9051 §6.3.7).
    pub(super) subscriptions: heed::Database<'static, heed::types::Str, heed::types::Unit>,
    pub(super) files: MessageFiles,
    /// The junk filter's token counts and per-message training.
    pub(super) junk_words: WordsDb,
    pub(super) junk_trained: TrainedDb,
    /// AutomaticJunkFlags of the account, set from the configuration by whoever opens it.
    pub(super) junk_flags:
        std::sync::RwLock<Option<std::sync::Arc<crate::config::junk::AutoJunkFlags>>>,
}

impl AccountStore {
    /// Opens (creating when new) the account in `dir`. Blocking.
    pub fn open(dir: &Path, name: &str) -> Result<AccountStore, StoreError> {
        let index = dir.join("index.mdb");
        create_private_dir(&index)?;
        create_private_dir(&dir.join("msg"))?;
        // SAFETY: the environment is opened once per process (the registry owns the only handle)
        // with safe flags only, and its files are private to the server.
        let env = unsafe {
            EnvOpenOptions::new()
                .read_txn_without_tls()
                .map_size(ACCOUNT_MAP_SIZE)
                .max_dbs(16)
                .max_readers(MAX_READERS)
                .open(&index)?
        };
        let wtxn = env.write_txn()?;
        let (tables, junk_words, junk_trained) = env
            .create_databases_and_commit(wtxn, |dbo, wtxn| -> Result<_, StoreError> {
                let meta: heed::Database<'_, heed::types::Str, heed::types::Bytes> =
                    dbo.create_database(wtxn, Some("meta"))?;
                schema::ensure(&meta, wtxn, &TABLES, schema::no_migration)?;
                Ok(heed::CommitOrAbort::<_, ()>::Commit((
                    (
                        meta,
                        dbo.create_database(wtxn, Some("mailboxes"))?,
                        dbo.create_database(wtxn, Some("mailbox_names"))?,
                        dbo.create_database(wtxn, Some("messages"))?,
                        dbo.create_database(wtxn, Some("by_modseq"))?,
                        dbo.create_database(wtxn, Some("by_id"))?,
                        dbo.create_database(wtxn, Some("contents"))?,
                        dbo.create_database(wtxn, Some("subscriptions"))?,
                    ),
                    dbo.create_database(wtxn, Some("junk_words"))?,
                    dbo.create_database(wtxn, Some("junk_trained"))?,
                )))
            })?
            .unwrap_commit();
        files::count_fsyncs(2);
        let (meta, by_id, by_name, records, by_modseq, msg_by_id, contents, subscriptions) = tables;
        let store = AccountStore {
            name: name.to_string(),
            env,
            meta,
            mailboxes: Mailboxes { by_id, by_name },
            messages: Messages {
                records,
                by_modseq,
                by_id: msg_by_id,
            },
            contents,
            subscriptions,
            files: MessageFiles::new(dir.join("msg")),
            junk_words,
            junk_trained,
            junk_flags: std::sync::RwLock::new(None),
        };
        store.ensure_default_mailboxes()?;
        // A damaged index or an unreadable directory must not keep the account from opening:
        // orphans only cost disk space until the next open.
        match store.remove_orphan_files() {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(account = %name, files = n, "removed message files no message refers to (left by a crash)")
            }
            Err(e) => {
                tracing::error!(account = %name, error = %e, "checking for orphan message files")
            }
        }
        Ok(store)
    }

    /// Removes message files no live message has: written by a batch that never committed, or
    /// an expunged message's file whose removal a crash cut short. Files with unexpected names
    /// are reported and left alone. Run at open, before any write.
    fn remove_orphan_files(&self) -> Result<usize, StoreError> {
        let (numbers, strangers) = self.files.on_disk()?;
        for path in strangers {
            tracing::warn!(account = %self.name, path = %path.display(), "unexpected file in the message directory, left alone");
        }
        let rtxn = self.env.read_txn()?;
        // Whether a content record exists, without decoding it.
        let contents = self.contents.remap_data_type::<heed::types::DecodeIgnore>();
        let mut removed = 0;
        for n in numbers {
            let id = super::MessageId(n);
            if contents.get(&rtxn, &id)?.is_none() {
                self.files.remove(id)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn files(&self) -> &MessageFiles {
        &self.files
    }

    /// A consistent read-only view. Never waits on the writer.
    pub fn read(&self) -> Result<Reader<'_>, StoreError> {
        Ok(Reader {
            store: self,
            txn: self.env.read_txn()?,
        })
    }

    fn ensure_default_mailboxes(&self) -> Result<(), StoreError> {
        let missing: Vec<WriteOp> = {
            let r = self.read()?;
            if !r.mailboxes()?.is_empty() {
                return Ok(());
            }
            DEFAULT_MAILBOXES
                .iter()
                .map(|(name, special_use)| WriteOp::CreateMailbox {
                    name: name.to_string(),
                    special_use: *special_use,
                })
                .collect()
        };
        for outcome in self.apply(missing).outcomes {
            outcome?;
        }
        Ok(())
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
