//! The store of one account: its LMDB environment (`index.mdb/`) and message files (`msg/`).
//!
//! Writes come only from the account actor, as batches of [`WriteOp`]s: one LMDB write
//! transaction per batch (group commit), a nested transaction per operation so one failing
//! operation does not take the others down, and one new modseq per operation that changes
//! anything (RFC 7162 §3.1: modseqs strictly increase in commit order). Message files are linked
//! in and their directories fsync'ed before the transaction commits; the commit itself is durable
//! (no NO_SYNC) before anyone is told "stored".
//!
//! Reads open their own transaction through [`AccountStore::read`] and never wait on the writer.

use std::path::{Path, PathBuf};

use heed::{Env, EnvOpenOptions, RoTxn, RwTxn, WithoutTls};

use super::files::{self, FileBatch, MessageFiles, MessageSource};
use super::ids::{MailboxId, MessageId, ModSeq, Uid, UidValidity};
use super::schema::{self, TableVersion};
use super::tables::contents::{self, Content, ContentDb};
use super::tables::mailboxes::{
    self, Mailbox, MailboxCounts, Mailboxes, SpecialUse, canonical_name,
};
use super::tables::messages::{self, Message, Messages};
use super::tables::meta::{self, MetaDb};
use super::{Flags, StoreError, create_private_dir};
use crate::auth::PasswordSecrets;
use crate::store::codec::Rkyv;

/// Virtual size of an account's map. LMDB only uses what it needs; this bounds the index (not the
/// message files) of one account.
const ACCOUNT_MAP_SIZE: usize = 8 << 30;
/// Concurrent read transactions: sessions read on the blocking pools of every arbiter.
const MAX_READERS: u32 = 2048;

const TABLES: [TableVersion; 3] = [
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

const KEY_NEXT_MODSEQ: &str = "next_modseq";
const KEY_NEXT_MESSAGE_ID: &str = "next_message_id";
const KEY_NEXT_MAILBOX_ID: &str = "next_mailbox_id";
const KEY_NEXT_UIDVALIDITY: &str = "next_uidvalidity";
const KEY_PASSWORD: &str = "password";

pub struct AccountStore {
    name: String,
    env: Env<WithoutTls>,
    meta: MetaDb,
    mailboxes: Mailboxes,
    messages: Messages,
    contents: ContentDb,
    files: MessageFiles,
}

/// A message to add to a mailbox.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// The mailbox, by name; created when missing so that a delivery never fails because of it.
    pub mailbox: String,
    pub source: MessageSource,
    pub content: Content,
    pub flags: Flags,
    pub keywords: Vec<String>,
    /// INTERNALDATE, seconds since the epoch.
    pub received: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagOp {
    Add,
    Remove,
    Replace,
}

#[derive(Debug, Clone)]
pub struct StoreFlags {
    pub mailbox: MailboxId,
    pub uids: Vec<Uid>,
    pub op: FlagOp,
    pub flags: Flags,
    pub keywords: Vec<String>,
    /// CONDSTORE's UNCHANGEDSINCE (RFC 7162 §3.1.3): messages with a higher modseq are not
    /// changed and are reported back.
    pub unchanged_since: Option<ModSeq>,
}

/// A change to an account, asked of its actor.
#[derive(Debug, Clone)]
pub enum WriteOp {
    Deliver(NewMessage),
    StoreFlags(StoreFlags),
    /// Expunges these uids, or every message flagged \Deleted when `uids` is None.
    Expunge {
        mailbox: MailboxId,
        uids: Option<Vec<Uid>>,
    },
    CreateMailbox {
        name: String,
        special_use: SpecialUse,
    },
    SetPassword(PasswordSecrets),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    Delivered {
        id: MessageId,
        mailbox: MailboxId,
        uid: Uid,
        modseq: ModSeq,
    },
    FlagsStored {
        changed: Vec<FlagChange>,
        modified: Vec<Uid>,
    },
    Expunged {
        uids: Vec<Uid>,
        modseq: Option<ModSeq>,
    },
    MailboxCreated(MailboxId),
    PasswordSet,
}

/// The flags of a message after a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagChange {
    pub uid: Uid,
    pub modseq: ModSeq,
    pub flags: Flags,
    pub keywords: Vec<String>,
}

/// What a committed operation changed, for the mailbox actors and the sessions watching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Added {
        mailbox: MailboxId,
        uid: Uid,
        modseq: ModSeq,
        flags: Flags,
        keywords: Vec<String>,
    },
    Flags {
        mailbox: MailboxId,
        uid: Uid,
        modseq: ModSeq,
        flags: Flags,
        keywords: Vec<String>,
    },
    Expunged {
        mailbox: MailboxId,
        uids: Vec<Uid>,
        modseq: ModSeq,
    },
    /// The mailbox record after the operation (uidnext, highest modseq, counts).
    Mailbox(Mailbox),
}

impl Change {
    pub fn mailbox(&self) -> MailboxId {
        match self {
            Change::Added { mailbox, .. }
            | Change::Flags { mailbox, .. }
            | Change::Expunged { mailbox, .. } => *mailbox,
            Change::Mailbox(m) => m.id,
        }
    }
}

/// The result of one batch: an outcome per operation, in order, and the changes of those that
/// were committed.
#[derive(Debug, Default)]
pub struct BatchResult {
    pub outcomes: Vec<Result<WriteOutcome, StoreError>>,
    pub changes: Vec<Change>,
}

/// What applying one operation did, before the batch commits.
#[derive(Default)]
struct Applied {
    changes: Vec<Change>,
    /// Files to remove once the batch is durable (expunged messages).
    remove_after_commit: Vec<MessageId>,
    /// Files linked in for this operation, to remove if it is rolled back.
    linked: Vec<MessageId>,
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
        let (meta, by_id, by_name, records, by_modseq, msg_by_id, contents) = env
            .create_databases_and_commit(wtxn, |dbo, wtxn| -> Result<_, StoreError> {
                let meta: heed::Database<'_, heed::types::Str, heed::types::Bytes> =
                    dbo.create_database(wtxn, Some("meta"))?;
                schema::ensure(&meta, wtxn, &TABLES, schema::no_migration)?;
                Ok(heed::CommitOrAbort::<_, ()>::Commit((
                    meta,
                    dbo.create_database(wtxn, Some("mailboxes"))?,
                    dbo.create_database(wtxn, Some("mailbox_names"))?,
                    dbo.create_database(wtxn, Some("messages"))?,
                    dbo.create_database(wtxn, Some("by_modseq"))?,
                    dbo.create_database(wtxn, Some("by_id"))?,
                    dbo.create_database(wtxn, Some("contents"))?,
                )))
            })?
            .unwrap_commit();
        files::count_fsyncs(2);
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
            files: MessageFiles::new(dir.join("msg")),
        };
        store.ensure_default_mailboxes()?;
        Ok(store)
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

    /// Applies a batch of operations in one durable transaction. Blocking: the account actor runs
    /// it on the blocking pool.
    pub fn apply(&self, ops: Vec<WriteOp>) -> BatchResult {
        let mut result = BatchResult::default();
        let mut wtxn = match self.env.write_txn() {
            Ok(t) => t,
            Err(e) => {
                let msg = e.to_string();
                result.outcomes = ops
                    .iter()
                    .map(|_| Err(StoreError::CommitFailed(msg.clone())))
                    .collect();
                return result;
            }
        };
        let mut file_batch = FileBatch::default();
        let mut linked = Vec::new();
        let mut remove_after_commit = Vec::new();
        for op in ops {
            let outcome = self.apply_nested(&mut wtxn, op, &mut file_batch);
            result.outcomes.push(outcome.map(|(outcome, applied)| {
                result.changes.extend(applied.changes);
                linked.extend(applied.linked);
                remove_after_commit.extend(applied.remove_after_commit);
                outcome
            }));
        }
        let committed = (|| -> Result<(), StoreError> {
            // The files first: the index must never name a file that is not durable.
            file_batch.sync(self.files.root())?;
            wtxn.commit()?;
            files::count_fsyncs(2);
            Ok(())
        })();
        match committed {
            Ok(()) => {
                for id in remove_after_commit {
                    if let Err(e) = self.files.remove(id) {
                        tracing::warn!(account = %self.name, id = id.0, error = %e, "removing expunged message file");
                    }
                }
            }
            Err(e) => {
                tracing::error!(account = %self.name, error = %e, "commit failed");
                for id in linked {
                    let _ = self.files.remove(id);
                }
                let msg = e.to_string();
                for outcome in &mut result.outcomes {
                    if outcome.is_ok() {
                        *outcome = Err(StoreError::CommitFailed(msg.clone()));
                    }
                }
                result.changes.clear();
            }
        }
        result
    }

    /// Applies `op` in a nested transaction: all of it or nothing of it.
    fn apply_nested(
        &self,
        wtxn: &mut RwTxn,
        op: WriteOp,
        file_batch: &mut FileBatch,
    ) -> Result<(WriteOutcome, Applied), StoreError> {
        let mut ntxn = self.env.nested_write_txn(wtxn)?;
        let mut applied = Applied::default();
        match self.apply_one(&mut ntxn, op, &mut applied, file_batch) {
            Ok(outcome) => match ntxn.commit() {
                Ok(()) => Ok((outcome, applied)),
                Err(e) => {
                    self.unlink(&applied.linked);
                    Err(e.into())
                }
            },
            Err(e) => {
                ntxn.abort();
                self.unlink(&applied.linked);
                Err(e)
            }
        }
    }

    fn unlink(&self, ids: &[MessageId]) {
        for id in ids {
            let _ = self.files.remove(*id);
        }
    }

    fn apply_one(
        &self,
        txn: &mut RwTxn,
        op: WriteOp,
        applied: &mut Applied,
        file_batch: &mut FileBatch,
    ) -> Result<WriteOutcome, StoreError> {
        match op {
            WriteOp::Deliver(m) => self.deliver(txn, m, applied, file_batch),
            WriteOp::StoreFlags(s) => self.store_flags(txn, s, applied),
            WriteOp::Expunge { mailbox, uids } => self.expunge(txn, mailbox, uids, applied),
            WriteOp::CreateMailbox { name, special_use } => {
                let modseq = self.next_modseq(txn)?;
                let mailbox = self.create_mailbox(txn, &name, special_use, modseq)?;
                let id = mailbox.id;
                applied.changes.push(Change::Mailbox(mailbox));
                Ok(WriteOutcome::MailboxCreated(id))
            }
            WriteOp::SetPassword(secrets) => {
                let bytes = <Rkyv<PasswordSecrets> as heed::BytesEncode>::bytes_encode(&secrets)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                meta::put_bytes(&self.meta, txn, KEY_PASSWORD, &bytes)?;
                Ok(WriteOutcome::PasswordSet)
            }
        }
    }

    fn next_modseq(&self, txn: &mut RwTxn) -> Result<ModSeq, StoreError> {
        meta::next_counter(&self.meta, txn, KEY_NEXT_MODSEQ, ModSeq::FIRST.0).map(ModSeq)
    }

    fn create_mailbox(
        &self,
        txn: &mut RwTxn,
        name: &str,
        special_use: SpecialUse,
        modseq: ModSeq,
    ) -> Result<Mailbox, StoreError> {
        let name = canonical_name(name).into_owned();
        validate_mailbox_name(&name)?;
        if self.mailboxes.by_name.get(txn, &name)?.is_some() {
            return Err(StoreError::MailboxExists(name));
        }
        let id = meta::next_counter(&self.meta, txn, KEY_NEXT_MAILBOX_ID, 1)?;
        let id = MailboxId(
            u32::try_from(id).map_err(|_| StoreError::Corrupt("mailbox ids exhausted".into()))?,
        );
        let uidvalidity = meta::next_counter(&self.meta, txn, KEY_NEXT_UIDVALIDITY, 1)?;
        let mailbox = Mailbox {
            id,
            name,
            uidvalidity: UidValidity(u32::try_from(uidvalidity).unwrap_or(u32::MAX)),
            uidnext: Uid(1),
            highest_modseq: modseq,
            special_use,
            counts: MailboxCounts::default(),
            keywords: Vec::new(),
        };
        self.mailboxes.put(txn, &mailbox)?;
        Ok(mailbox)
    }

    fn deliver(
        &self,
        txn: &mut RwTxn,
        m: NewMessage,
        applied: &mut Applied,
        file_batch: &mut FileBatch,
    ) -> Result<WriteOutcome, StoreError> {
        let modseq = self.next_modseq(txn)?;
        let mut mailbox = match self.mailboxes.by_name(txn, &m.mailbox)? {
            Some(mb) => mb,
            None => {
                let mb = self.create_mailbox(txn, &m.mailbox, SpecialUse::NONE, modseq)?;
                tracing::info!(account = %self.name, mailbox = %mb.name, "created mailbox for delivery");
                mb
            }
        };
        let id = MessageId(meta::next_counter(&self.meta, txn, KEY_NEXT_MESSAGE_ID, 1)?);
        self.files.put(&m.source, id, file_batch)?;
        applied.linked.push(id);

        let uid = mailbox.uidnext;
        mailbox.uidnext = Uid(uid
            .0
            .checked_add(1)
            .ok_or_else(|| StoreError::Corrupt("uids exhausted".into()))?);
        let size = m.content.size();
        let message = Message {
            id,
            mailbox: mailbox.id,
            uid,
            modseq,
            createseq: modseq,
            expunged: false,
            flags: m.flags,
            keywords: m.keywords,
            size,
            received: m.received,
            saved: now(),
        };
        count_in(&mut mailbox.counts, &message, 1);
        add_keywords(&mut mailbox, &message.keywords);
        mailbox.highest_modseq = modseq;
        self.messages.put(txn, &message, None)?;
        contents::put(&self.contents, txn, id, &m.content)?;
        self.mailboxes.put(txn, &mailbox)?;
        applied.changes.push(Change::Added {
            mailbox: mailbox.id,
            uid,
            modseq,
            flags: message.flags,
            keywords: message.keywords,
        });
        let mailbox_id = mailbox.id;
        applied.changes.push(Change::Mailbox(mailbox));
        Ok(WriteOutcome::Delivered {
            id,
            mailbox: mailbox_id,
            uid,
            modseq,
        })
    }

    fn store_flags(
        &self,
        txn: &mut RwTxn,
        s: StoreFlags,
        applied: &mut Applied,
    ) -> Result<WriteOutcome, StoreError> {
        let mut mailbox = self
            .mailboxes
            .get(txn, s.mailbox)?
            .ok_or_else(|| StoreError::NoMailbox(s.mailbox.to_string()))?;
        let mut modseq = None;
        let mut changed = Vec::new();
        let mut modified = Vec::new();
        for uid in s.uids {
            let Some(old) = self.messages.get_for_update(txn, s.mailbox, uid)? else {
                continue;
            };
            if s.unchanged_since.is_some_and(|since| old.modseq > since) {
                modified.push(uid);
                continue;
            }
            let (flags, keywords) = apply_flag_op(&old, s.op, s.flags, &s.keywords);
            if flags == old.flags && keywords == old.keywords {
                continue;
            }
            let ms = match modseq {
                Some(ms) => ms,
                None => *modseq.insert(self.next_modseq(txn)?),
            };
            let mut new = old.clone();
            new.flags = flags;
            new.keywords = keywords;
            new.modseq = ms;
            count_in(&mut mailbox.counts, &old, -1);
            count_in(&mut mailbox.counts, &new, 1);
            add_keywords(&mut mailbox, &new.keywords);
            self.messages.put(txn, &new, Some(&old))?;
            applied.changes.push(Change::Flags {
                mailbox: mailbox.id,
                uid,
                modseq: ms,
                flags: new.flags,
                keywords: new.keywords.clone(),
            });
            changed.push(FlagChange {
                uid,
                modseq: ms,
                flags: new.flags,
                keywords: new.keywords.clone(),
            });
        }
        if let Some(ms) = modseq {
            mailbox.highest_modseq = ms;
            self.mailboxes.put(txn, &mailbox)?;
            applied.changes.push(Change::Mailbox(mailbox));
        }
        Ok(WriteOutcome::FlagsStored { changed, modified })
    }

    fn expunge(
        &self,
        txn: &mut RwTxn,
        mailbox_id: MailboxId,
        uids: Option<Vec<Uid>>,
        applied: &mut Applied,
    ) -> Result<WriteOutcome, StoreError> {
        let mut mailbox = self
            .mailboxes
            .get(txn, mailbox_id)?
            .ok_or_else(|| StoreError::NoMailbox(mailbox_id.to_string()))?;
        let candidates: Vec<Message> = match uids {
            Some(uids) => {
                let mut out = Vec::new();
                for uid in uids {
                    out.extend(self.messages.get_live(txn, mailbox_id, uid)?);
                }
                out
            }
            None => self
                .messages
                .live(txn, mailbox_id)?
                .filter(|m| {
                    m.as_ref()
                        .map_or(true, |m| m.flags.contains(Flags::DELETED))
                })
                .collect::<Result<_, _>>()?,
        };
        if candidates.is_empty() {
            return Ok(WriteOutcome::Expunged {
                uids: Vec::new(),
                modseq: None,
            });
        }
        let modseq = self.next_modseq(txn)?;
        let mut uids = Vec::with_capacity(candidates.len());
        for old in candidates {
            let mut tombstone = old.clone();
            tombstone.expunged = true;
            tombstone.modseq = modseq;
            count_in(&mut mailbox.counts, &old, -1);
            self.messages.put(txn, &tombstone, Some(&old))?;
            contents::delete(&self.contents, txn, old.id)?;
            applied.remove_after_commit.push(old.id);
            uids.push(old.uid);
        }
        mailbox.highest_modseq = modseq;
        self.mailboxes.put(txn, &mailbox)?;
        applied.changes.push(Change::Expunged {
            mailbox: mailbox_id,
            uids: uids.clone(),
            modseq,
        });
        applied.changes.push(Change::Mailbox(mailbox));
        Ok(WriteOutcome::Expunged {
            uids,
            modseq: Some(modseq),
        })
    }
}

/// A consistent read-only view of an account.
pub struct Reader<'s> {
    store: &'s AccountStore,
    txn: RoTxn<'s, WithoutTls>,
}

impl Reader<'_> {
    pub fn mailbox(&self, name: &str) -> Result<Option<Mailbox>, StoreError> {
        self.store.mailboxes.by_name(&self.txn, name)
    }

    pub fn mailbox_by_id(&self, id: MailboxId) -> Result<Option<Mailbox>, StoreError> {
        self.store.mailboxes.get(&self.txn, id)
    }

    pub fn mailboxes(&self) -> Result<Vec<Mailbox>, StoreError> {
        self.store.mailboxes.all(&self.txn)
    }

    /// The live messages of a mailbox in uid order (tombstones skipped).
    pub fn live(
        &self,
        mailbox: MailboxId,
    ) -> Result<impl Iterator<Item = Result<Message, StoreError>> + '_, StoreError> {
        self.store.messages.live(&self.txn, mailbox)
    }

    pub fn message(&self, mailbox: MailboxId, uid: Uid) -> Result<Option<Message>, StoreError> {
        self.store.messages.get_live(&self.txn, mailbox, uid)
    }

    /// Messages changed after `since`, in modseq order; tombstones only when `with_expunged`.
    pub fn changed_since(
        &self,
        mailbox: MailboxId,
        since: ModSeq,
        with_expunged: bool,
    ) -> Result<Vec<Message>, StoreError> {
        self.store
            .messages
            .changed_since(&self.txn, mailbox, since, with_expunged)
    }

    pub fn locate(&self, id: MessageId) -> Result<Option<(MailboxId, Uid)>, StoreError> {
        self.store.messages.locate(&self.txn, id)
    }

    pub fn content(&self, id: MessageId) -> Result<Option<Content>, StoreError> {
        contents::get(&self.store.contents, &self.txn, id)
    }

    pub fn password(&self) -> Result<Option<PasswordSecrets>, StoreError> {
        match meta::get_bytes(&self.store.meta, &self.txn, KEY_PASSWORD)? {
            None => Ok(None),
            Some(bytes) => <Rkyv<PasswordSecrets> as heed::BytesDecode>::bytes_decode(bytes)
                .map(Some)
                .map_err(|e| StoreError::Corrupt(format!("password secrets: {e}"))),
        }
    }

    /// The last modseq handed out in this account (1 when none yet).
    pub fn last_modseq(&self) -> Result<ModSeq, StoreError> {
        let next =
            meta::get_u64(&self.store.meta, &self.txn, KEY_NEXT_MODSEQ)?.unwrap_or(ModSeq::FIRST.0);
        Ok(ModSeq(next - 1))
    }

    pub fn message_path(&self, id: MessageId) -> PathBuf {
        self.store.files.path(id)
    }
}

fn validate_mailbox_name(name: &str) -> Result<(), StoreError> {
    let bad = |why| {
        Err(StoreError::BadMailboxName {
            name: name.to_string(),
            why,
        })
    };
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > 512 {
        return bad("longer than 512 bytes");
    }
    if name.chars().any(|c| c.is_control()) {
        return bad("contains control characters");
    }
    if name.starts_with('/') || name.ends_with('/') || name.contains("//") {
        return bad("empty hierarchy level");
    }
    Ok(())
}

/// Adds (`sign` 1) or removes (`sign` -1) `m` from the counts.
fn count_in(counts: &mut MailboxCounts, m: &Message, sign: i64) {
    let add = |v: u32, yes: bool| {
        if !yes {
            v
        } else if sign > 0 {
            v.saturating_add(1)
        } else {
            v.saturating_sub(1)
        }
    };
    counts.total = add(counts.total, true);
    counts.unseen = add(counts.unseen, !m.flags.contains(Flags::SEEN));
    counts.deleted = add(counts.deleted, m.flags.contains(Flags::DELETED));
    counts.size = if sign > 0 {
        counts.size.saturating_add(m.size)
    } else {
        counts.size.saturating_sub(m.size)
    };
}

fn add_keywords(mailbox: &mut Mailbox, keywords: &[String]) {
    for k in keywords {
        if !mailbox
            .keywords
            .iter()
            .any(|have| have.eq_ignore_ascii_case(k))
        {
            mailbox.keywords.push(k.clone());
        }
    }
}

fn apply_flag_op(
    old: &Message,
    op: FlagOp,
    flags: Flags,
    keywords: &[String],
) -> (Flags, Vec<String>) {
    let has = |list: &[String], k: &str| list.iter().any(|x| x.eq_ignore_ascii_case(k));
    match op {
        FlagOp::Replace => {
            let mut kw = Vec::new();
            for k in keywords {
                if !has(&kw, k) {
                    kw.push(k.clone());
                }
            }
            (flags, kw)
        }
        FlagOp::Add => {
            let mut kw = old.keywords.clone();
            for k in keywords {
                if !has(&kw, k) {
                    kw.push(k.clone());
                }
            }
            (old.flags.union(flags), kw)
        }
        FlagOp::Remove => {
            let kw = old
                .keywords
                .iter()
                .filter(|k| !has(keywords, k))
                .cloned()
                .collect();
            (old.flags.without(flags), kw)
        }
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
