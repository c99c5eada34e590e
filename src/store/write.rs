//! Writing an account: batches of operations applied in one durable transaction (group
//! commit), each in a nested transaction, each change stamped with a new modseq (RFC 7162).

use heed::RwTxn;

use super::account::{
    AccountStore, KEY_NEXT_MAILBOX_ID, KEY_NEXT_MESSAGE_ID, KEY_NEXT_MODSEQ, KEY_NEXT_UIDVALIDITY,
    now,
};
use super::files::{self, FileBatch};
use super::ids::{MailboxId, MessageId, ModSeq, Uid, UidValidity};
use super::ops::{
    BatchResult, Change, FlagChange, FlagOp, NewMessage, StoreFlags, WriteOp, WriteOutcome,
};
use super::tables::contents;
use super::tables::mailboxes::{Mailbox, MailboxCounts, SpecialUse, canonical_name};
use super::tables::messages::Message;
use super::tables::{meta, secrets};
use super::{Flags, StoreError};

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
                secrets::put(&self.meta, txn, &secrets)?;
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
