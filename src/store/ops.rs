//! The write operations an account actor asks of its store, and what they report back.

use super::files::MessageSource;
use super::ids::{MailboxId, MessageId, ModSeq, Uid, UidValidity};
use super::tables::contents::Content;
use super::tables::mailboxes::{Mailbox, SpecialUse};
use super::{Flags, StoreError};
use crate::auth::PasswordSecrets;

/// A message to add to a mailbox.
#[derive(Debug, Clone)]
pub struct NewMessage {
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

/// Which messages an expunge removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expunge {
    /// Every message flagged \Deleted (EXPUNGE, CLOSE).
    Deleted,
    /// Those of these uids flagged \Deleted (UID EXPUNGE, RFC 4315 §2.1).
    DeletedAmong(Vec<Uid>),
    /// These uids, whatever their flags.
    Uids(Vec<Uid>),
}

/// Where a delivery goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryMailbox {
    /// The mailbox of this name, created when missing.
    Named(String),
    /// The mailbox with special use \Junk (RFC 6154); "Junk" is created when there is none.
    Junk,
}

impl DeliveryMailbox {
    pub fn inbox() -> DeliveryMailbox {
        DeliveryMailbox::Named("INBOX".into())
    }
}

/// A change to an account, asked of its actor.
#[derive(Debug, Clone)]
pub enum WriteOp {
    /// Delivery of incoming mail: the mailbox (by name) is created when missing, so that a
    /// delivery never fails because of it.
    Deliver {
        /// The junk filter's score at delivery, recorded with the message.
        junk_score: Option<f64>,
        mailbox: DeliveryMailbox,
        message: NewMessage,
    },
    /// IMAP APPEND (MULTIAPPEND: all of them or none, RFC 3502). The mailbox must exist.
    Append {
        mailbox: String,
        messages: Vec<NewMessage>,
    },
    /// COPY: new messages in `to` with the same content (the files are hard-linked).
    Copy {
        from: MailboxId,
        uids: Vec<Uid>,
        to: MailboxId,
    },
    /// MOVE (RFC 6851): the messages get new uids in `to` and leave tombstones in `from`.
    Move {
        from: MailboxId,
        uids: Vec<Uid>,
        to: MailboxId,
    },
    StoreFlags(StoreFlags),
    Expunge {
        mailbox: MailboxId,
        which: Expunge,
    },
    /// Creates a mailbox and any missing parents (RFC 9051 §6.3.4).
    CreateMailbox {
        name: String,
        special_use: SpecialUse,
    },
    /// Deletes a mailbox and its messages. Not INBOX, not one with children.
    DeleteMailbox {
        mailbox: MailboxId,
    },
    /// Renames a mailbox and its children; renaming INBOX moves its messages to a new mailbox
    /// (RFC 9051 §6.3.6).
    RenameMailbox {
        mailbox: MailboxId,
        to: String,
    },
    Subscribe {
        name: String,
    },
    Unsubscribe {
        name: String,
    },
    SetPassword(PasswordSecrets),
    /// Forgets everything the junk filter learned (retrain starts with this).
    JunkReset,
    /// Trains the junk filter on these messages as their current flags say.
    JunkTrain {
        ids: Vec<MessageId>,
    },
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
    /// APPENDUID (RFC 4315): the mailbox's uidvalidity and the new uids.
    Appended {
        mailbox: MailboxId,
        uidvalidity: UidValidity,
        uids: Vec<Uid>,
    },
    /// COPYUID (RFC 4315): (source uid, new uid) pairs in the destination.
    Copied {
        uidvalidity: UidValidity,
        pairs: Vec<(Uid, Uid)>,
    },
    Moved {
        uidvalidity: UidValidity,
        pairs: Vec<(Uid, Uid)>,
    },
    MailboxCreated(MailboxId),
    MailboxDeleted,
    MailboxRenamed,
    /// Whether the subscription list changed.
    Subscribed(bool),
    PasswordSet,
    JunkReset,
    /// How many of the messages were still there to train.
    JunkTrained(usize),
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
    /// The mailbox is gone: sessions that have it selected end.
    MailboxDeleted(MailboxId),
}

impl Change {
    pub fn mailbox(&self) -> MailboxId {
        match self {
            Change::Added { mailbox, .. }
            | Change::Flags { mailbox, .. }
            | Change::Expunged { mailbox, .. } => *mailbox,
            Change::Mailbox(m) => m.id,
            Change::MailboxDeleted(id) => *id,
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
