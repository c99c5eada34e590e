//! The outgoing queue: tables `queue` (entry id → [`QueueEntry`]) and `queue_files` ((file id,
//! entry id) → ()) in the server environment, message files in `DATA/queue/<bucket>/<file id>`.
//!
//! One entry per recipient, as mox does: each recipient has its own attempts, retry time and
//! last error, and the delivery engine gives each entry its own actor. The entries of one
//! submission share one message file. The header fields added at submission (Received,
//! DKIM-Signature, a Message-ID or Date the client left out) are the entry's `prefix`, written
//! before the file's bytes when sending, so the file is exactly what was spooled and a large
//! message is hard-linked from the spool, never copied.
//!
//! Writes come only from the queue actor, in batches of [`QueueOp`]s, the way an account's do:
//! one write transaction per batch, a nested transaction per operation (one failing operation
//! does not take the batch down), the batch's files written and made durable by one
//! [`FileBatch::sync`] before the commit, and the commit durable before anyone is told "queued".
//! Entry and file ids come from counters in `meta`, taken inside the transaction: a file at a
//! file id that was never committed is a crash orphan; it is overwritten if the id is handed out
//! again, and removed at open.
//!
//! `queue_files` says which entries use a file, kept in the same transactions as the entries:
//! removing an entry removes its file when the file's key range is then empty (one cursor
//! step), and the orphan check at open asks the same question of each file on disk. An index
//! rather than a reference count, so that it cannot drift from the entries it counts and can
//! later tell which entries share a message (DSNs, `queue dump`).

use std::fs::File;
use std::path::{Path, PathBuf};

use heed::types::{Bytes, Str, Unit};
use heed::{BytesDecode, Database, Env, PutFlags, RoTxn, RwTxn, WithoutTls};

use super::codec::{FixedKey, Key, Rkyv, be};
use super::files::{self, FileBatch, MessageFiles, MessageSource};
use super::ids::{QueueFileId, QueueId};
use super::schema::{self, TableVersion};
use super::server::ServerStore;
use super::tables::meta::{self, MetaDb};
use super::{StoreError, create_private_dir};

/// Record layout of `queue`.
pub const QUEUE_SCHEMA: u64 = 1;
/// Key layout of `queue_files` (its values are empty).
pub const QUEUE_FILES_SCHEMA: u64 = 1;

pub(super) const TABLES: [TableVersion; 2] = [
    TableVersion {
        table: "queue",
        version: QUEUE_SCHEMA,
    },
    TableVersion {
        table: "queue_files",
        version: QUEUE_FILES_SCHEMA,
    },
];

pub(super) const KEY_NEXT_QUEUE_ID: &str = "next_queue_id";
pub(super) const KEY_NEXT_QUEUE_FILE_ID: &str = "next_queue_file_id";

/// One recipient of a queued message.
#[derive(Debug, Clone, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct QueueEntry {
    pub id: QueueId,
    /// The message file, shared by the entries of one submission.
    pub file: QueueFileId,
    /// The account that sent it (DSNs go back there).
    pub account: String,
    /// The reverse path as text, empty for `<>`.
    pub mail_from: String,
    /// The recipient address as given (UTF-8 local part or domain possible).
    pub recipient: String,
    /// The recipient's domain in ASCII (A-labels), for MX lookups and routes.
    pub recipient_domain_ascii: String,
    /// The message needs SMTPUTF8 from the receiving server (RFC 6531).
    pub smtputf8: bool,
    /// RFC 8689: Some(true) when REQUIRETLS was asked for (verified TLS all the way), Some(false)
    /// for a message with `TLS-Required: No` (deliver even where policy asks for TLS), None for
    /// neither.
    pub requiretls: Option<bool>,
    /// When it was queued, seconds since the epoch.
    pub created: i64,
    /// When the next delivery attempt is due, seconds since the epoch.
    pub next_attempt: i64,
    pub attempts: u32,
    pub last_attempt: Option<i64>,
    pub last_error: Option<String>,
    /// Bytes sent: the prefix and the file.
    pub size: u64,
    /// Header fields written before the file's bytes when sending.
    pub prefix: Vec<u8>,
    /// The Message-ID, for logs and listings; may be empty.
    pub message_id: String,
}

/// A message to queue, with its recipients: one file, one entry per recipient.
#[derive(Debug, Clone)]
pub struct NewQueued {
    pub source: MessageSource,
    pub prefix: Vec<u8>,
    pub account: String,
    pub mail_from: String,
    /// (recipient address, its domain in ASCII).
    pub recipients: Vec<(String, String)>,
    pub smtputf8: bool,
    /// See [`QueueEntry::requiretls`].
    pub requiretls: Option<bool>,
    pub message_id: String,
    /// Seconds since the epoch: `created` and the first `next_attempt`.
    pub now: i64,
}

/// The entries that decode, and the damaged ones with why (see [`QueueStore::list_readable`]).
pub type Readable = (Vec<QueueEntry>, Vec<(QueueId, StoreError)>);

/// A change to the queue, asked of the queue actor.
#[derive(Debug, Clone)]
pub enum QueueOp {
    Enqueue(NewQueued),
    /// Takes the attempt fields (`attempts`, `next_attempt`, `last_attempt`, `last_error`) of
    /// the entry with this id; the rest of an entry stays as queued (its file and recipient
    /// cannot change under it).
    Update(QueueEntry),
    /// Removes an entry, and its file when no other entry uses it.
    Remove(QueueId),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueOutcome {
    Queued(Vec<QueueEntry>),
    Updated(QueueEntry),
    Removed(QueueEntry),
}

/// Key of `queue_files`: all entries of a file are one key range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FileUse {
    pub(super) file: QueueFileId,
    pub(super) id: QueueId,
}

impl FixedKey for FileUse {
    const LEN: usize = 16;
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.file.0.to_be_bytes());
        out.extend_from_slice(&self.id.0.to_be_bytes());
    }
    fn read(bytes: &[u8]) -> Option<Self> {
        Some(FileUse {
            file: QueueFileId(u64::from_be_bytes(be(bytes, 0)?)),
            id: QueueId(u64::from_be_bytes(be(bytes, 8)?)),
        })
    }
}

type EntryDb = Database<'static, Key<QueueId>, Rkyv<QueueEntry>>;
type FileUseDb = Database<'static, Key<FileUse>, Unit>;

/// What one operation did to files, before the batch commits.
#[derive(Default)]
struct Applied {
    /// Files written for it: removed if it is rolled back or the batch fails.
    written: Vec<QueueFileId>,
    /// Files no entry uses any more: removed once the batch is durable.
    unused: Vec<QueueFileId>,
}

/// The outgoing queue. A sibling of [`ServerStore`] sharing its environment rather than a part
/// of it: the two have different single writers (the registry, the queue actor), and keeping the
/// handles apart means neither can write the other's tables.
pub struct QueueStore {
    env: Env<WithoutTls>,
    meta: MetaDb,
    entries: EntryDb,
    file_uses: FileUseDb,
    files: MessageFiles<QueueFileId>,
}

impl QueueStore {
    /// Opens the queue tables in the server environment (creating them when new) with message
    /// files in `dir`, and removes the files no entry refers to. Blocking. Call once per process,
    /// before the queue actor starts: the orphan check assumes no batch is in flight.
    pub fn open(server: &ServerStore, dir: &Path) -> Result<QueueStore, StoreError> {
        create_private_dir(dir)?;
        let env = server.env().clone();
        let wtxn = env.write_txn()?;
        let (meta, entries, file_uses) = env
            .create_databases_and_commit(wtxn, |dbo, wtxn| -> Result<_, StoreError> {
                let meta: Database<'_, Str, Bytes> = dbo.create_database(wtxn, Some("meta"))?;
                schema::ensure(&meta, wtxn, &TABLES, schema::no_migration)?;
                Ok(heed::CommitOrAbort::<_, ()>::Commit((
                    meta,
                    dbo.create_database(wtxn, Some("queue"))?,
                    dbo.create_database(wtxn, Some("queue_files"))?,
                )))
            })?
            .unwrap_commit();
        files::count_fsyncs(2);
        let store = QueueStore {
            env,
            meta,
            entries,
            file_uses,
            files: MessageFiles::new(dir.to_path_buf()),
        };
        // A damaged index or an unreadable directory must not keep the server from starting:
        // the orphans stay until the next start, which costs only disk space.
        match store.remove_orphans() {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                files = n,
                "removed queue message files no entry refers to (left by a crash)"
            ),
            Err(e) => tracing::error!(error = %e, "checking the queue directory for orphan files"),
        }
        Ok(store)
    }

    /// Removes message files that no entry uses: written by a batch that never committed, or
    /// left when removing a file after a commit failed. Files of unexpected names are reported
    /// and left alone.
    fn remove_orphans(&self) -> Result<usize, StoreError> {
        let (numbers, strangers) = self.files.on_disk()?;
        for path in strangers {
            tracing::warn!(path = %path.display(), "unexpected file in the queue directory, left alone");
        }
        let rtxn = self.env.read_txn()?;
        let mut removed = 0;
        for n in numbers {
            let file = QueueFileId(n);
            if !self.file_in_use(&rtxn, file)? {
                self.files.remove(file)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    fn file_in_use(&self, txn: &RoTxn, file: QueueFileId) -> Result<bool, StoreError> {
        let range = FileUse {
            file,
            id: QueueId(0),
        }..=FileUse {
            file,
            id: QueueId(u64::MAX),
        };
        Ok(self
            .file_uses
            .range(txn, &range)?
            .next()
            .transpose()?
            .is_some())
    }

    /// Applies a batch in one durable transaction; an outcome per operation, in order. Blocking:
    /// the queue actor runs it on the blocking pool.
    pub fn apply(&self, ops: Vec<QueueOp>) -> Vec<Result<QueueOutcome, StoreError>> {
        let mut wtxn = match self.env.write_txn() {
            Ok(t) => t,
            Err(e) => {
                let msg = e.to_string();
                return ops
                    .iter()
                    .map(|_| Err(StoreError::CommitFailed(msg.clone())))
                    .collect();
            }
        };
        let mut file_batch = FileBatch::default();
        let (mut written, mut unused) = (Vec::new(), Vec::new());
        let mut outcomes = Vec::with_capacity(ops.len());
        for op in ops {
            let outcome = self.apply_nested(&mut wtxn, op, &mut file_batch);
            outcomes.push(outcome.map(|(outcome, applied)| {
                written.extend(applied.written);
                unused.extend(applied.unused);
                outcome
            }));
        }
        let committed = super::commit_durably(&file_batch, self.files.root(), wtxn);
        match committed {
            Ok(()) => {
                // Not durable, and need not be: a file that comes back after a crash is an
                // orphan, removed at the next open.
                for file in unused {
                    if let Err(e) = self.files.remove_unneeded(file) {
                        tracing::warn!(file = file.0, error = %e, "removing a queue message file");
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "queue commit failed");
                for file in written {
                    let _ = self.files.remove(file);
                }
                let msg = e.to_string();
                for outcome in &mut outcomes {
                    if outcome.is_ok() {
                        *outcome = Err(StoreError::CommitFailed(msg.clone()));
                    }
                }
            }
        }
        outcomes
    }

    /// Applies `op` in a nested transaction: all of it or nothing of it.
    fn apply_nested(
        &self,
        wtxn: &mut RwTxn,
        op: QueueOp,
        file_batch: &mut FileBatch,
    ) -> Result<(QueueOutcome, Applied), StoreError> {
        let mut ntxn = self.env.nested_write_txn(wtxn)?;
        let mut applied = Applied::default();
        let result = match self.apply_one(&mut ntxn, op, &mut applied, file_batch) {
            Ok(outcome) => ntxn.commit().map(|()| outcome).map_err(StoreError::from),
            Err(e) => {
                ntxn.abort();
                Err(e)
            }
        };
        match result {
            Ok(outcome) => Ok((outcome, applied)),
            Err(e) => {
                // Its file ids go back to the counter: the next operation may reuse them.
                for file in applied.written {
                    file_batch.forget(&self.files.path(file));
                    let _ = self.files.remove(file);
                }
                Err(e)
            }
        }
    }

    fn apply_one(
        &self,
        txn: &mut RwTxn,
        op: QueueOp,
        applied: &mut Applied,
        file_batch: &mut FileBatch,
    ) -> Result<QueueOutcome, StoreError> {
        match op {
            QueueOp::Enqueue(new) => self
                .insert(txn, new, applied, file_batch)
                .map(QueueOutcome::Queued),
            QueueOp::Update(entry) => self.update_attempts(txn, &entry).map(QueueOutcome::Updated),
            QueueOp::Remove(id) => self.delete(txn, id, applied).map(QueueOutcome::Removed),
        }
    }

    fn insert(
        &self,
        txn: &mut RwTxn,
        new: NewQueued,
        applied: &mut Applied,
        file_batch: &mut FileBatch,
    ) -> Result<Vec<QueueEntry>, StoreError> {
        if new.recipients.is_empty() {
            return Err(StoreError::NoRecipients);
        }
        let size = (new.prefix.len() as u64).saturating_add(new.source.size()?);
        let file = QueueFileId(meta::next_counter(
            &self.meta,
            txn,
            KEY_NEXT_QUEUE_FILE_ID,
            1,
        )?);
        self.files.put(&new.source, file, file_batch)?;
        applied.written.push(file);
        let mut queued = Vec::with_capacity(new.recipients.len());
        for (recipient, recipient_domain_ascii) in new.recipients {
            let id = QueueId(meta::next_counter(&self.meta, txn, KEY_NEXT_QUEUE_ID, 1)?);
            let entry = QueueEntry {
                id,
                file,
                account: new.account.clone(),
                mail_from: new.mail_from.clone(),
                recipient,
                recipient_domain_ascii,
                smtputf8: new.smtputf8,
                requiretls: new.requiretls,
                created: new.now,
                next_attempt: new.now,
                attempts: 0,
                last_attempt: None,
                last_error: None,
                size,
                prefix: new.prefix.clone(),
                message_id: new.message_id.clone(),
            };
            // Ids are never reused: an existing key means the counter went back (damage), and
            // overwriting would lose a queued message.
            self.entries
                .put_with_flags(txn, PutFlags::NO_OVERWRITE, &id, &entry)
                .map_err(|e| match e {
                    heed::Error::Mdb(heed::MdbError::KeyExist) => {
                        StoreError::Corrupt(format!("queue id {id} handed out twice"))
                    }
                    e => e.into(),
                })?;
            self.file_uses.put(txn, &FileUse { file, id }, &())?;
            queued.push(entry);
        }
        Ok(queued)
    }

    fn update_attempts(&self, txn: &mut RwTxn, new: &QueueEntry) -> Result<QueueEntry, StoreError> {
        let mut entry = self
            .entry(txn, new.id)?
            .ok_or(StoreError::NoQueueEntry(new.id))?;
        entry.attempts = new.attempts;
        entry.next_attempt = new.next_attempt;
        entry.last_attempt = new.last_attempt;
        entry.last_error.clone_from(&new.last_error);
        self.entries.put(txn, &entry.id, &entry)?;
        Ok(entry)
    }

    fn delete(
        &self,
        txn: &mut RwTxn,
        id: QueueId,
        applied: &mut Applied,
    ) -> Result<QueueEntry, StoreError> {
        let entry = self.entry(txn, id)?.ok_or(StoreError::NoQueueEntry(id))?;
        self.entries.delete(txn, &id)?;
        self.file_uses.delete(
            txn,
            &FileUse {
                file: entry.file,
                id,
            },
        )?;
        if !self.file_in_use(txn, entry.file)? {
            applied.unused.push(entry.file);
        }
        Ok(entry)
    }

    /// Queues messages, all in one durable transaction: for each, its entries (one per
    /// recipient, in order) or why it was not queued. Blocking.
    pub fn enqueue(&self, batch: Vec<NewQueued>) -> Vec<Result<Vec<QueueEntry>, StoreError>> {
        self.apply(batch.into_iter().map(QueueOp::Enqueue).collect())
            .into_iter()
            .map(|outcome| match outcome? {
                QueueOutcome::Queued(entries) => Ok(entries),
                _ => Err(unexpected()),
            })
            .collect()
    }

    /// Records the attempt fields of `entry` (see [`QueueOp::Update`]); the entry as stored
    /// now. Blocking.
    pub fn update(&self, entry: &QueueEntry) -> Result<QueueEntry, StoreError> {
        match self.apply_single(QueueOp::Update(entry.clone()))? {
            QueueOutcome::Updated(entry) => Ok(entry),
            _ => Err(unexpected()),
        }
    }

    /// Removes an entry, and its file when no other entry uses it; the entry removed. Blocking.
    pub fn remove(&self, id: QueueId) -> Result<QueueEntry, StoreError> {
        match self.apply_single(QueueOp::Remove(id))? {
            QueueOutcome::Removed(entry) => Ok(entry),
            _ => Err(unexpected()),
        }
    }

    fn apply_single(&self, op: QueueOp) -> Result<QueueOutcome, StoreError> {
        self.apply(vec![op])
            .pop()
            .unwrap_or_else(|| Err(unexpected()))
    }

    /// Every entry, in id (queueing) order. Blocking.
    pub fn files(&self) -> &MessageFiles<QueueFileId> {
        &self.files
    }

    pub fn list(&self) -> Result<Vec<QueueEntry>, StoreError> {
        let rtxn = self.env.read_txn()?;
        let mut out = Vec::new();
        for item in self.entries.remap_data_type::<Bytes>().iter(&rtxn)? {
            let (id, bytes) = item?;
            out.push(decode_entry(id, bytes)?);
        }
        Ok(out)
    }

    /// Every entry that decodes, and the damaged ones apart (moxide verifydata reports them):
    /// one damaged record must not keep the rest of the queue from being delivered.
    pub fn list_readable(&self) -> Result<Readable, StoreError> {
        let rtxn = self.env.read_txn()?;
        let mut good = Vec::new();
        let mut damaged = Vec::new();
        for item in self.entries.remap_data_type::<Bytes>().iter(&rtxn)? {
            let (id, bytes) = item?;
            match decode_entry(id, bytes) {
                Ok(e) => good.push(e),
                Err(e) => damaged.push((id, e)),
            }
        }
        Ok((good, damaged))
    }

    /// One entry. Blocking.
    pub fn get(&self, id: QueueId) -> Result<Option<QueueEntry>, StoreError> {
        let rtxn = self.env.read_txn()?;
        self.entry(&rtxn, id)
    }

    fn entry(&self, txn: &RoTxn, id: QueueId) -> Result<Option<QueueEntry>, StoreError> {
        match self.entries.remap_data_type::<Bytes>().get(txn, &id)? {
            None => Ok(None),
            Some(bytes) => decode_entry(id, bytes).map(Some),
        }
    }

    /// Where the message file of `file` is.
    pub fn file_path(&self, file: QueueFileId) -> PathBuf {
        self.files.path(file)
    }

    /// Opens a message file for reading (send the entry's prefix first). Blocking.
    pub fn open_file(&self, file: QueueFileId) -> Result<File, StoreError> {
        Ok(File::open(self.files.path(file))?)
    }
}

/// Decodes a stored entry, naming it in the error: bytes on disk are input.
fn decode_entry(id: QueueId, bytes: &[u8]) -> Result<QueueEntry, StoreError> {
    let entry = Rkyv::<QueueEntry>::bytes_decode(bytes)
        .map_err(|e| StoreError::Corrupt(format!("queue entry {id}: {e}")))?;
    if entry.id != id {
        return Err(StoreError::Corrupt(format!(
            "queue entry {id} holds the record of {}",
            entry.id
        )));
    }
    Ok(entry)
}

fn unexpected() -> StoreError {
    StoreError::Corrupt("unexpected outcome for a queue operation".into())
}

#[cfg(test)]
mod tests;
