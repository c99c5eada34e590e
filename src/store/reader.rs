//! Reading an account: a consistent snapshot in its own LMDB read transaction, which never waits
//! on the writer and never makes it wait.

use std::path::PathBuf;

use heed::{RoTxn, WithoutTls};

use super::StoreError;
use super::account::{AccountStore, KEY_NEXT_MODSEQ};
use super::ids::{MailboxId, MessageId, ModSeq, Uid};
use super::tables::contents::{self, Content};
use super::tables::mailboxes::Mailbox;
use super::tables::messages::Message;
use super::tables::{meta, secrets};
use crate::auth::PasswordSecrets;

/// See [`Reader::junk_stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JunkStats {
    pub ham_messages: u32,
    pub spam_messages: u32,
    pub words: u64,
    pub trained_ham: u64,
    pub trained_spam: u64,
}

/// A consistent read-only view of an account.
pub struct Reader<'s> {
    pub(super) store: &'s AccountStore,
    pub(super) txn: RoTxn<'s, WithoutTls>,
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

    /// The password secrets, None when no password was ever set. Accounts whose password was
    /// set before the current layout have only the SCRAM-SHA-256 keys (see `tables/secrets.rs`).
    pub fn secrets(&self) -> Result<Option<PasswordSecrets>, StoreError> {
        secrets::get(&self.store.meta, &self.txn)
    }

    /// The last modseq handed out in this account (1 when none yet).
    pub fn last_modseq(&self) -> Result<ModSeq, StoreError> {
        let next =
            meta::get_u64(&self.store.meta, &self.txn, KEY_NEXT_MODSEQ)?.unwrap_or(ModSeq::FIRST.0);
        Ok(ModSeq(next - 1))
    }

    /// The subscribed mailbox names, sorted.
    pub fn subscriptions(&self) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for item in self.store.subscriptions.iter(&self.txn)? {
            out.push(item?.0.to_string());
        }
        Ok(out)
    }

    /// The junk filter's verdict on `message` (CRLF bytes), from the counts as committed.
    pub fn junk_classify(&self, message: &[u8]) -> Result<crate::junk::Score, StoreError> {
        let params = crate::junk::Params::default();
        let totals = super::tables::junk::totals(&self.store.meta, &self.txn)?;
        let words = super::tables::junk::WordsRead {
            db: &self.store.junk_words,
            txn: &self.txn,
        };
        let tokens = crate::junk::tokenize(&params, message);
        crate::junk::classify(&params, totals, &words, &tokens)
    }

    /// The score a message got at delivery, if it was classified.
    pub fn junk_score(&self, id: MessageId) -> Result<Option<f64>, StoreError> {
        Ok(super::tables::junk::trained(&self.store.junk_trained, &self.txn, id)?.score)
    }

    /// The junk filter's state: messages trained as ham and spam (totals), tokens known, and
    /// how many messages are recorded as trained each way.
    pub fn junk_stats(&self) -> Result<JunkStats, StoreError> {
        let totals = super::tables::junk::totals(&self.store.meta, &self.txn)?;
        let words = self.store.junk_words.len(&self.txn)?;
        let (mut ham, mut spam) = (0, 0);
        for item in self.store.junk_trained.iter(&self.txn)? {
            let (id, _) = item?;
            match super::tables::junk::trained(&self.store.junk_trained, &self.txn, id)?.class {
                Some(crate::junk::Class::Ham) => ham += 1,
                Some(crate::junk::Class::Spam) => spam += 1,
                None => {}
            }
        }
        Ok(JunkStats {
            ham_messages: totals.ham,
            spam_messages: totals.spam,
            words,
            trained_ham: ham,
            trained_spam: spam,
        })
    }

    pub fn message_path(&self, id: MessageId) -> PathBuf {
        self.store.files.path(id)
    }
}
