//! Newtypes for the identifiers of the store, so that a uid can never be passed where a modseq is
//! expected.

use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident($inner:ty)) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash,
            rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
        )]
        pub struct $name(pub $inner);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// Account-wide message identifier; also the name of the message file.
    MessageId(u64)
);
id_type!(
    /// Account-wide mailbox identifier.
    MailboxId(u32)
);
id_type!(
    /// IMAP unique identifier of a message within a mailbox (RFC 9051 §2.3.1.1).
    Uid(u32)
);
id_type!(
    /// Modification sequence (RFC 7162). One counter per account, strictly increasing in commit
    /// order.
    ModSeq(u64)
);
id_type!(
    /// IMAP UIDVALIDITY of a mailbox.
    UidValidity(u32)
);
id_type!(
    /// Server-wide identifier of an entry of the outgoing queue (one per recipient). Never reused.
    QueueId(u64)
);
id_type!(
    /// Server-wide identifier of a message file of the outgoing queue, shared by the entries of
    /// one submission. Never reused.
    QueueFileId(u64)
);

impl ModSeq {
    /// The first modseq handed out by an account. Lower values are never stamped on anything, so
    /// a client that knows modseq 1 has seen nothing yet.
    pub const FIRST: ModSeq = ModSeq(2);
}
