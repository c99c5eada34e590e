//! Operations on messages: delivery and APPEND, COPY, MOVE, flag changes and EXPUNGE.

use heed::RwTxn;

use super::{Applied, add_keywords, count_in};
use crate::store::account::{AccountStore, KEY_NEXT_MESSAGE_ID, now};
use crate::store::files::FileBatch;
use crate::store::ids::{MailboxId, MessageId, ModSeq, Uid};
use crate::store::ops::{
    Change, DeliveryMailbox, Expunge, FlagChange, FlagOp, NewMessage, StoreFlags, WriteOutcome,
};
use crate::store::tables::contents;
use crate::store::tables::mailboxes::{Mailbox, SpecialUse};
use crate::store::tables::messages::Message;
use crate::store::tables::meta;
use crate::store::{Flags, StoreError};

/// A message record about to be added to a mailbox.
struct Adding {
    id: MessageId,
    flags: Flags,
    keywords: Vec<String>,
    size: u64,
    received: i64,
}

impl AccountStore {
    fn mailbox(&self, txn: &RwTxn, id: MailboxId) -> Result<Mailbox, StoreError> {
        self.mailboxes
            .get(txn, id)?
            .ok_or_else(|| StoreError::NoMailbox(id.to_string()))
    }

    fn next_message_id(&self, txn: &mut RwTxn) -> Result<MessageId, StoreError> {
        meta::next_counter(&self.meta, txn, KEY_NEXT_MESSAGE_ID, 1).map(MessageId)
    }

    /// Adds a message record to `mailbox` with the next uid, stamped `modseq`.
    fn add_message(
        &self,
        txn: &mut RwTxn,
        mailbox: &mut Mailbox,
        a: Adding,
        modseq: ModSeq,
        applied: &mut Applied,
    ) -> Result<Uid, StoreError> {
        let uid = mailbox.uidnext;
        mailbox.uidnext = Uid(uid
            .0
            .checked_add(1)
            .ok_or_else(|| StoreError::Corrupt("uids exhausted".into()))?);
        let message = Message {
            id: a.id,
            mailbox: mailbox.id,
            uid,
            modseq,
            createseq: modseq,
            expunged: false,
            // AutomaticJunkFlags: the mailbox says whether it is junk.
            flags: self.flags_for_mailbox(mailbox, a.flags),
            keywords: a.keywords,
            size: a.size,
            received: a.received,
            saved: now(),
        };
        count_in(&mut mailbox.counts, &message, 1);
        add_keywords(mailbox, &message.keywords);
        mailbox.highest_modseq = modseq;
        self.messages.put(txn, &message, None)?;
        self.junk_follow(txn, message.id, message.flags, false)?;
        applied.changes.push(Change::Added {
            mailbox: mailbox.id,
            uid,
            modseq,
            flags: message.flags,
            keywords: message.keywords,
        });
        Ok(uid)
    }

    /// Writes a new message's file and records, in `mailbox`.
    fn add_new(
        &self,
        txn: &mut RwTxn,
        mailbox: &mut Mailbox,
        m: NewMessage,
        modseq: ModSeq,
        applied: &mut Applied,
        file_batch: &mut FileBatch,
    ) -> Result<(MessageId, Uid), StoreError> {
        let id = self.next_message_id(txn)?;
        self.files.put(&m.source, id, file_batch)?;
        applied.linked.push(id);
        contents::put(&self.contents, txn, id, &m.content)?;
        let adding = Adding {
            id,
            flags: m.flags,
            keywords: m.keywords,
            size: m.content.size(),
            received: m.received,
        };
        let uid = self.add_message(txn, mailbox, adding, modseq, applied)?;
        Ok((id, uid))
    }

    pub(super) fn deliver(
        &self,
        txn: &mut RwTxn,
        target: DeliveryMailbox,
        m: NewMessage,
        junk_score: Option<f64>,
        applied: &mut Applied,
        file_batch: &mut FileBatch,
    ) -> Result<WriteOutcome, StoreError> {
        let modseq = self.next_modseq(txn)?;
        let (existing, mailbox_name, special_use) = match target {
            DeliveryMailbox::Named(name) => {
                (self.mailboxes.by_name(txn, &name)?, name, SpecialUse::NONE)
            }
            DeliveryMailbox::Junk => {
                let junk = self
                    .mailboxes
                    .all(txn)?
                    .into_iter()
                    .find(|mb| mb.special_use.contains(SpecialUse::JUNK));
                let junk = match junk {
                    Some(mb) => Some(mb),
                    None => self.mailboxes.by_name(txn, "Junk")?,
                };
                (junk, "Junk".to_string(), SpecialUse::JUNK)
            }
        };
        let mut mailbox = match existing {
            Some(mb) => mb,
            None => {
                let id = self.create_mailbox_with_parents(
                    txn,
                    &mailbox_name,
                    special_use,
                    modseq,
                    applied,
                )?;
                tracing::info!(account = %self.name, mailbox = %mailbox_name, "created mailbox for delivery");
                self.mailbox(txn, id)?
            }
        };
        let (id, uid) = self.add_new(txn, &mut mailbox, m, modseq, applied, file_batch)?;
        if let Some(score) = junk_score {
            self.junk_record_score(txn, id, score)?;
        }
        let mailbox_id = mailbox.id;
        self.mailboxes.put(txn, &mailbox)?;
        applied.changes.push(Change::Mailbox(mailbox));
        Ok(WriteOutcome::Delivered {
            id,
            mailbox: mailbox_id,
            uid,
            modseq,
        })
    }

    pub(super) fn append(
        &self,
        txn: &mut RwTxn,
        mailbox_name: &str,
        messages: Vec<NewMessage>,
        applied: &mut Applied,
        file_batch: &mut FileBatch,
    ) -> Result<WriteOutcome, StoreError> {
        let mut mailbox = self
            .mailboxes
            .by_name(txn, mailbox_name)?
            .ok_or_else(|| StoreError::NoMailbox(mailbox_name.to_string()))?;
        let modseq = self.next_modseq(txn)?;
        let mut uids = Vec::with_capacity(messages.len());
        for m in messages {
            uids.push(
                self.add_new(txn, &mut mailbox, m, modseq, applied, file_batch)?
                    .1,
            );
        }
        let (id, uidvalidity) = (mailbox.id, mailbox.uidvalidity);
        self.mailboxes.put(txn, &mailbox)?;
        applied.changes.push(Change::Mailbox(mailbox));
        Ok(WriteOutcome::Appended {
            mailbox: id,
            uidvalidity,
            uids,
        })
    }

    /// The live messages `uids` of `mailbox`, in uid order (missing ones skipped).
    fn live_messages(
        &self,
        txn: &RwTxn,
        mailbox: MailboxId,
        uids: &[Uid],
    ) -> Result<Vec<Message>, StoreError> {
        let mut sorted = uids.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let mut out = Vec::with_capacity(sorted.len());
        for uid in sorted {
            out.extend(self.messages.get_live(txn, mailbox, uid)?);
        }
        Ok(out)
    }

    pub(super) fn copy(
        &self,
        txn: &mut RwTxn,
        from: MailboxId,
        uids: &[Uid],
        to: MailboxId,
        applied: &mut Applied,
        file_batch: &mut FileBatch,
    ) -> Result<WriteOutcome, StoreError> {
        self.mailbox(txn, from)?;
        let mut dest = self.mailbox(txn, to)?;
        let sources = self.live_messages(txn, from, uids)?;
        if sources.is_empty() {
            return Ok(WriteOutcome::Copied {
                uidvalidity: dest.uidvalidity,
                pairs: Vec::new(),
            });
        }
        let modseq = self.next_modseq(txn)?;
        let mut pairs = Vec::with_capacity(sources.len());
        for m in sources {
            let content = contents::get(&self.contents, txn, m.id)?.ok_or_else(|| {
                StoreError::Corrupt(format!("no content record for message {}", m.id))
            })?;
            let id = self.next_message_id(txn)?;
            self.files.copy(m.id, id, file_batch)?;
            applied.linked.push(id);
            contents::put(&self.contents, txn, id, &content)?;
            let adding = Adding {
                id,
                flags: m.flags,
                keywords: m.keywords,
                size: m.size,
                received: m.received,
            };
            pairs.push((
                m.uid,
                self.add_message(txn, &mut dest, adding, modseq, applied)?,
            ));
        }
        let uidvalidity = dest.uidvalidity;
        self.mailboxes.put(txn, &dest)?;
        applied.changes.push(Change::Mailbox(dest));
        Ok(WriteOutcome::Copied { uidvalidity, pairs })
    }

    /// MOVE: each message keeps its id, content and file, gets a new uid in `to`, and leaves a
    /// tombstone in `from` (RFC 6851 §3.3: as COPY then EXPUNGE, but atomic).
    pub(super) fn move_messages(
        &self,
        txn: &mut RwTxn,
        from: MailboxId,
        uids: &[Uid],
        to: MailboxId,
        applied: &mut Applied,
    ) -> Result<WriteOutcome, StoreError> {
        let mut source = self.mailbox(txn, from)?;
        // Moving within one mailbox is allowed: the messages get new uids.
        let mut dest = if from == to {
            None
        } else {
            Some(self.mailbox(txn, to)?)
        };
        let uidvalidity = dest.as_ref().unwrap_or(&source).uidvalidity;
        let messages = self.live_messages(txn, from, uids)?;
        if messages.is_empty() {
            return Ok(WriteOutcome::Moved {
                uidvalidity,
                pairs: Vec::new(),
            });
        }
        let modseq = self.next_modseq(txn)?;
        let mut pairs = Vec::with_capacity(messages.len());
        for old in messages {
            let mut tombstone = old.clone();
            tombstone.expunged = true;
            tombstone.modseq = modseq;
            count_in(&mut source.counts, &old, -1);
            self.messages.put(txn, &tombstone, Some(&old))?;
            let target = match dest.as_mut() {
                Some(d) => d,
                None => &mut source,
            };
            let adding = Adding {
                id: old.id,
                flags: old.flags,
                keywords: old.keywords,
                size: old.size,
                received: old.received,
            };
            pairs.push((
                old.uid,
                self.add_message(txn, target, adding, modseq, applied)?,
            ));
        }
        source.highest_modseq = modseq;
        let gone = pairs.iter().map(|(old, _)| *old).collect();
        applied.changes.push(Change::Expunged {
            mailbox: from,
            uids: gone,
            modseq,
        });
        self.mailboxes.put(txn, &source)?;
        applied.changes.push(Change::Mailbox(source));
        if let Some(dest) = dest {
            self.mailboxes.put(txn, &dest)?;
            applied.changes.push(Change::Mailbox(dest));
        }
        Ok(WriteOutcome::Moved { uidvalidity, pairs })
    }

    pub(super) fn store_flags(
        &self,
        txn: &mut RwTxn,
        s: StoreFlags,
        applied: &mut Applied,
    ) -> Result<WriteOutcome, StoreError> {
        let mut mailbox = self.mailbox(txn, s.mailbox)?;
        let mut modseq = None;
        let mut changed = Vec::new();
        let mut modified = Vec::new();
        for uid in s.uids {
            let Some(old) = self.messages.get_live(txn, s.mailbox, uid)? else {
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
            self.junk_follow(txn, new.id, new.flags, false)?;
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
                keywords: new.keywords,
            });
        }
        if let Some(ms) = modseq {
            mailbox.highest_modseq = ms;
            self.mailboxes.put(txn, &mailbox)?;
            applied.changes.push(Change::Mailbox(mailbox));
        }
        Ok(WriteOutcome::FlagsStored { changed, modified })
    }

    pub(super) fn expunge(
        &self,
        txn: &mut RwTxn,
        mailbox_id: MailboxId,
        which: Expunge,
        applied: &mut Applied,
    ) -> Result<WriteOutcome, StoreError> {
        let mut mailbox = self.mailbox(txn, mailbox_id)?;
        let deleted = |m: &Message| m.flags.contains(Flags::DELETED);
        let candidates: Vec<Message> = match which {
            Expunge::Uids(uids) => self.live_messages(txn, mailbox_id, &uids)?,
            Expunge::DeletedAmong(uids) => self
                .live_messages(txn, mailbox_id, &uids)?
                .into_iter()
                .filter(deleted)
                .collect(),
            Expunge::Deleted => self
                .messages
                .live(txn, mailbox_id)?
                .filter(|m| m.as_ref().map_or(true, deleted))
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
            self.junk_follow(txn, old.id, old.flags, true)?;
            self.junk_forget(txn, old.id)?;
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

fn apply_flag_op(
    old: &Message,
    op: FlagOp,
    flags: Flags,
    keywords: &[String],
) -> (Flags, Vec<String>) {
    let has = |list: &[String], k: &str| list.iter().any(|x| x.eq_ignore_ascii_case(k));
    let mut merged = match op {
        FlagOp::Replace => Vec::new(),
        FlagOp::Add => old.keywords.clone(),
        FlagOp::Remove => {
            return (
                old.flags.without(flags),
                old.keywords
                    .iter()
                    .filter(|k| !has(keywords, k))
                    .cloned()
                    .collect(),
            );
        }
    };
    for k in keywords {
        if !has(&merged, k) {
            merged.push(k.clone());
        }
    }
    let flags = if op == FlagOp::Add {
        old.flags.union(flags)
    } else {
        flags
    };
    (flags, merged)
}
