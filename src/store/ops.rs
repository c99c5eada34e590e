//! The write operations an account actor asks of its store, and what they report back.

use super::files::MessageSource;
use super::ids::{MailboxId, MessageId, ModSeq, Uid};
use super::tables::contents::Content;
use super::tables::mailboxes::{Mailbox, SpecialUse};
use super::{Flags, StoreError};
use crate::auth::PasswordSecrets;

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
