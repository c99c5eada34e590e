//! Writing an account: batches of operations applied in one durable transaction (group
//! commit), each in a nested transaction, each change stamped with a new modseq (RFC 7162).
//! The operations on messages are in `messages.rs`, those on mailboxes in `mailboxes.rs`.

mod junk;
mod mailboxes;
mod messages;

use heed::RwTxn;

use super::account::{AccountStore, KEY_NEXT_MODSEQ};
use super::files::FileBatch;
use super::ids::{MessageId, ModSeq};
use super::ops::{BatchResult, Change, WriteOp, WriteOutcome};
use super::tables::mailboxes::{Mailbox, MailboxCounts};
use super::tables::messages::Message;
use super::tables::{meta, secrets};
use super::{Flags, StoreError};

/// What applying one operation did, before the batch commits.
#[derive(Default)]
pub(super) struct Applied {
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
        let committed = crate::store::commit_durably(&file_batch, self.files.root(), wtxn);
        match committed {
            Ok(()) => {
                for id in remove_after_commit {
                    if let Err(e) = self.files.remove_unneeded(id) {
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
                    self.unlink(&applied.linked, file_batch);
                    Err(e.into())
                }
            },
            Err(e) => {
                ntxn.abort();
                self.unlink(&applied.linked, file_batch);
                Err(e)
            }
        }
    }

    /// Takes back the files of an operation that failed: gone from disk and from the batch
    /// (whose per-file sync, off Linux, would otherwise fail on them).
    fn unlink(&self, ids: &[MessageId], file_batch: &mut FileBatch) {
        for id in ids {
            let _ = self.files.remove(*id);
            file_batch.forget(&self.files.path(*id));
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
            WriteOp::Deliver {
                mailbox,
                message,
                junk_score,
            } => self.deliver(txn, mailbox, message, junk_score, applied, file_batch),
            WriteOp::Append { mailbox, messages } => {
                self.append(txn, &mailbox, messages, applied, file_batch)
            }
            WriteOp::Copy { from, uids, to } => {
                self.copy(txn, from, &uids, to, applied, file_batch)
            }
            WriteOp::Move { from, uids, to } => self.move_messages(txn, from, &uids, to, applied),
            WriteOp::StoreFlags(s) => self.store_flags(txn, s, applied),
            WriteOp::Expunge { mailbox, which } => self.expunge(txn, mailbox, which, applied),
            WriteOp::CreateMailbox { name, special_use } => {
                let modseq = self.next_modseq(txn)?;
                let mailbox =
                    self.create_mailbox_with_parents(txn, &name, special_use, modseq, applied)?;
                Ok(WriteOutcome::MailboxCreated(mailbox))
            }
            WriteOp::DeleteMailbox { mailbox } => self.delete_mailbox(txn, mailbox, applied),
            WriteOp::RenameMailbox { mailbox, to } => {
                self.rename_mailbox(txn, mailbox, &to, applied)
            }
            WriteOp::Subscribe { name } => self.subscribe(txn, &name, true),
            WriteOp::Unsubscribe { name } => self.subscribe(txn, &name, false),
            WriteOp::SetPassword(secrets) => {
                secrets::put(&self.meta, txn, &secrets)?;
                Ok(WriteOutcome::PasswordSet)
            }
            WriteOp::JunkReset => {
                self.junk_reset(txn)?;
                Ok(WriteOutcome::JunkReset)
            }
            WriteOp::JunkTrain { ids } => {
                let n = self.junk_train_ids(txn, &ids)?;
                Ok(WriteOutcome::JunkTrained(n))
            }
        }
    }

    fn next_modseq(&self, txn: &mut RwTxn) -> Result<ModSeq, StoreError> {
        meta::next_counter(&self.meta, txn, KEY_NEXT_MODSEQ, ModSeq::FIRST.0).map(ModSeq)
    }
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
