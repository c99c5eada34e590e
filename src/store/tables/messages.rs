//! The `messages` table ((mailbox, uid) → [`Message`]), with its two indexes: `by_modseq`
//! ((mailbox, modseq, uid) → ()) for CHANGEDSINCE and QRESYNC, and `by_id` (message id →
//! (mailbox, uid)) for live messages.
//!
//! Expunged messages stay as tombstones (uid, modseq) so QRESYNC can report them as VANISHED
//! (RFC 7162 §3.2.10). The rule that live queries skip them lives here, in [`Messages::live`], and
//! nowhere else; only [`Messages::changed_since`] returns tombstones, when asked.

use heed::types::Unit;
use heed::{Database, RoTxn, RwTxn};

use crate::store::StoreError;
use crate::store::codec::{FixedKey, Key, Rkyv, be};
use crate::store::flags::Flags;
use crate::store::ids::{MailboxId, MessageId, ModSeq, Uid};

pub const SCHEMA: u64 = 1;

#[derive(Debug, Clone, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub mailbox: MailboxId,
    pub uid: Uid,
    pub modseq: ModSeq,
    /// The modseq of the transaction that added the message to this mailbox.
    pub createseq: ModSeq,
    /// A tombstone: the message was expunged at `modseq`.
    pub expunged: bool,
    pub flags: Flags,
    pub keywords: Vec<String>,
    /// Size as IMAP clients see it: the stored prefix plus the file.
    pub size: u64,
    /// INTERNALDATE, seconds since the epoch.
    pub received: i64,
    /// SAVEDATE (RFC 8514), seconds since the epoch.
    pub saved: i64,
}

/// Key of the messages table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageKey {
    pub mailbox: MailboxId,
    pub uid: Uid,
}

impl FixedKey for MessageKey {
    const LEN: usize = 8;
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.mailbox.0.to_be_bytes());
        out.extend_from_slice(&self.uid.0.to_be_bytes());
    }
    fn read(bytes: &[u8]) -> Option<Self> {
        Some(MessageKey {
            mailbox: MailboxId(u32::from_be_bytes(be(bytes, 0)?)),
            uid: Uid(u32::from_be_bytes(be(bytes, 4)?)),
        })
    }
}

/// Key of the by_modseq index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModSeqKey {
    pub mailbox: MailboxId,
    pub modseq: ModSeq,
    pub uid: Uid,
}

impl FixedKey for ModSeqKey {
    const LEN: usize = 16;
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.mailbox.0.to_be_bytes());
        out.extend_from_slice(&self.modseq.0.to_be_bytes());
        out.extend_from_slice(&self.uid.0.to_be_bytes());
    }
    fn read(bytes: &[u8]) -> Option<Self> {
        Some(ModSeqKey {
            mailbox: MailboxId(u32::from_be_bytes(be(bytes, 0)?)),
            modseq: ModSeq(u64::from_be_bytes(be(bytes, 4)?)),
            uid: Uid(u32::from_be_bytes(be(bytes, 12)?)),
        })
    }
}

impl FixedKey for (MailboxId, Uid) {
    const LEN: usize = 8;
    fn write(&self, out: &mut Vec<u8>) {
        MessageKey {
            mailbox: self.0,
            uid: self.1,
        }
        .write(out)
    }
    fn read(bytes: &[u8]) -> Option<Self> {
        MessageKey::read(bytes).map(|k| (k.mailbox, k.uid))
    }
}

pub type MessageDb = Database<'static, Key<MessageKey>, Rkyv<Message>>;
pub type ModSeqDb = Database<'static, Key<ModSeqKey>, Unit>;
pub type ByIdDb = Database<'static, Key<MessageId>, Key<(MailboxId, Uid)>>;

pub struct Messages {
    pub records: MessageDb,
    pub by_modseq: ModSeqDb,
    pub by_id: ByIdDb,
}

impl Messages {
    /// The live (not expunged) messages of `mailbox` in uid order.
    pub fn live<'t>(
        &self,
        txn: &'t RoTxn,
        mailbox: MailboxId,
    ) -> Result<impl Iterator<Item = Result<Message, StoreError>> + 't, StoreError> {
        let range = MessageKey {
            mailbox,
            uid: Uid(0),
        }..=MessageKey {
            mailbox,
            uid: Uid(u32::MAX),
        };
        Ok(self
            .records
            .range(txn, &range)?
            .filter_map(|item| match item {
                Ok((_, m)) if m.expunged => None,
                Ok((_, m)) => Some(Ok(m)),
                Err(e) => Some(Err(e.into())),
            }))
    }

    /// The live message with this uid, if any.
    pub fn get_live(
        &self,
        txn: &RoTxn,
        mailbox: MailboxId,
        uid: Uid,
    ) -> Result<Option<Message>, StoreError> {
        Ok(self.get_any(txn, mailbox, uid)?.filter(|m| !m.expunged))
    }

    /// The message or tombstone with this uid.
    fn get_any(
        &self,
        txn: &RoTxn,
        mailbox: MailboxId,
        uid: Uid,
    ) -> Result<Option<Message>, StoreError> {
        Ok(self.records.get(txn, &MessageKey { mailbox, uid })?)
    }

    /// Messages of `mailbox` changed after `since`, in modseq order; tombstones only when
    /// `with_expunged` (QRESYNC's VANISHED).
    pub fn changed_since(
        &self,
        txn: &RoTxn,
        mailbox: MailboxId,
        since: ModSeq,
        with_expunged: bool,
    ) -> Result<Vec<Message>, StoreError> {
        let Some(start) = since.0.checked_add(1) else {
            return Ok(Vec::new());
        };
        let range = ModSeqKey {
            mailbox,
            modseq: ModSeq(start),
            uid: Uid(0),
        }..=ModSeqKey {
            mailbox,
            modseq: ModSeq(u64::MAX),
            uid: Uid(u32::MAX),
        };
        let mut out = Vec::new();
        for item in self.by_modseq.range(txn, &range)? {
            let (key, ()) = item?;
            let message = self.get_any(txn, mailbox, key.uid)?.ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "by_modseq names missing message {mailbox}/{}",
                    key.uid
                ))
            })?;
            if with_expunged || !message.expunged {
                out.push(message);
            }
        }
        Ok(out)
    }

    /// Where the live message `id` is.
    pub fn locate(
        &self,
        txn: &RoTxn,
        id: MessageId,
    ) -> Result<Option<(MailboxId, Uid)>, StoreError> {
        Ok(self.by_id.get(txn, &id)?)
    }

    /// Writes `message`, keeping both indexes in step. `previous` is the record it replaces.
    pub fn put(
        &self,
        txn: &mut RwTxn,
        message: &Message,
        previous: Option<&Message>,
    ) -> Result<(), StoreError> {
        if let Some(p) = previous {
            self.by_modseq.delete(
                txn,
                &ModSeqKey {
                    mailbox: p.mailbox,
                    modseq: p.modseq,
                    uid: p.uid,
                },
            )?;
        }
        let key = MessageKey {
            mailbox: message.mailbox,
            uid: message.uid,
        };
        self.records.put(txn, &key, message)?;
        self.by_modseq.put(
            txn,
            &ModSeqKey {
                mailbox: message.mailbox,
                modseq: message.modseq,
                uid: message.uid,
            },
            &(),
        )?;
        if message.expunged {
            // Only a live record owns the id; a moved message's id points at its new place.
            if self.by_id.get(txn, &message.id)? == Some((message.mailbox, message.uid)) {
                self.by_id.delete(txn, &message.id)?;
            }
        } else {
            self.by_id
                .put(txn, &message.id, &(message.mailbox, message.uid))?;
        }
        Ok(())
    }

    /// Every record of `mailbox`, tombstones included (for deleting the mailbox).
    pub fn all_in(&self, txn: &RoTxn, mailbox: MailboxId) -> Result<Vec<Message>, StoreError> {
        let range = MessageKey {
            mailbox,
            uid: Uid(0),
        }..=MessageKey {
            mailbox,
            uid: Uid(u32::MAX),
        };
        let mut out = Vec::new();
        for item in self.records.range(txn, &range)? {
            out.push(item?.1);
        }
        Ok(out)
    }

    /// Removes a record (message or tombstone) and its index entries for good.
    pub fn remove(&self, txn: &mut RwTxn, m: &Message) -> Result<(), StoreError> {
        self.records.delete(
            txn,
            &MessageKey {
                mailbox: m.mailbox,
                uid: m.uid,
            },
        )?;
        self.by_modseq.delete(
            txn,
            &ModSeqKey {
                mailbox: m.mailbox,
                modseq: m.modseq,
                uid: m.uid,
            },
        )?;
        if self.by_id.get(txn, &m.id)? == Some((m.mailbox, m.uid)) {
            self.by_id.delete(txn, &m.id)?;
        }
        Ok(())
    }

    /// Reads the live message `uid` for changing it.
    pub fn get_for_update(
        &self,
        txn: &RwTxn,
        mailbox: MailboxId,
        uid: Uid,
    ) -> Result<Option<Message>, StoreError> {
        self.get_live(txn, mailbox, uid)
    }
}
