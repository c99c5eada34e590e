//! The `mailboxes` table (id → [`Mailbox`]) and its name index `mailbox_names` (name → id).

use heed::types::Str;
use heed::{Database, RoTxn, RwTxn};

use crate::store::StoreError;
use crate::store::codec::{Key, Rkyv};
use crate::store::ids::{MailboxId, ModSeq, Uid, UidValidity};

pub const SCHEMA: u64 = 1;

pub type MailboxDb = Database<'static, Key<MailboxId>, Rkyv<Mailbox>>;
pub type MailboxNameDb = Database<'static, Str, Key<MailboxId>>;

/// Special-use attributes of a mailbox (RFC 6154), as bits.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
pub struct SpecialUse(pub u8);

impl SpecialUse {
    pub const NONE: SpecialUse = SpecialUse(0);
    pub const ARCHIVE: SpecialUse = SpecialUse(1);
    pub const DRAFTS: SpecialUse = SpecialUse(1 << 1);
    pub const JUNK: SpecialUse = SpecialUse(1 << 2);
    pub const SENT: SpecialUse = SpecialUse(1 << 3);
    pub const TRASH: SpecialUse = SpecialUse(1 << 4);

    pub const NAMES: [(SpecialUse, &'static str); 5] = [
        (SpecialUse::ARCHIVE, "\\Archive"),
        (SpecialUse::DRAFTS, "\\Drafts"),
        (SpecialUse::JUNK, "\\Junk"),
        (SpecialUse::SENT, "\\Sent"),
        (SpecialUse::TRASH, "\\Trash"),
    ];

    pub fn contains(self, other: SpecialUse) -> bool {
        self.0 & other.0 == other.0 && other.0 != 0
    }

    pub fn names(self) -> impl Iterator<Item = &'static str> {
        SpecialUse::NAMES
            .into_iter()
            .filter(move |(s, _)| self.0 & s.0 != 0)
            .map(|(_, n)| n)
    }
}

/// Counts kept up to date by every change, so STATUS never scans messages.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
pub struct MailboxCounts {
    pub total: u32,
    pub unseen: u32,
    pub deleted: u32,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct Mailbox {
    pub id: MailboxId,
    pub name: String,
    pub uidvalidity: UidValidity,
    pub uidnext: Uid,
    /// Modseq of the last transaction that changed this mailbox or a message in it.
    pub highest_modseq: ModSeq,
    pub special_use: SpecialUse,
    pub counts: MailboxCounts,
    /// Keywords ever used in the mailbox (for FLAGS and PERMANENTFLAGS).
    pub keywords: Vec<String>,
}

/// The canonical form of a mailbox name: INBOX is case-insensitive (RFC 9051 §5.1), other names
/// are case-sensitive.
pub fn canonical_name(name: &str) -> std::borrow::Cow<'_, str> {
    let is_inbox = name.len() >= 5
        && name.as_bytes()[..5].eq_ignore_ascii_case(b"INBOX")
        && (name.len() == 5 || name.as_bytes()[5] == b'/');
    if is_inbox && !name.starts_with("INBOX") {
        format!("INBOX{}", &name[5..]).into()
    } else {
        name.into()
    }
}

pub struct Mailboxes {
    pub by_id: MailboxDb,
    pub by_name: MailboxNameDb,
}

impl Mailboxes {
    pub fn get(&self, txn: &RoTxn, id: MailboxId) -> Result<Option<Mailbox>, StoreError> {
        Ok(self.by_id.get(txn, &id)?)
    }

    pub fn by_name(&self, txn: &RoTxn, name: &str) -> Result<Option<Mailbox>, StoreError> {
        match self.by_name.get(txn, &canonical_name(name))? {
            Some(id) => self.get(txn, id),
            None => Ok(None),
        }
    }

    pub fn put(&self, txn: &mut RwTxn, mailbox: &Mailbox) -> Result<(), StoreError> {
        self.by_id.put(txn, &mailbox.id, mailbox)?;
        self.by_name.put(txn, &mailbox.name, &mailbox.id)?;
        Ok(())
    }

    pub fn remove(&self, txn: &mut RwTxn, mailbox: &Mailbox) -> Result<(), StoreError> {
        self.by_id.delete(txn, &mailbox.id)?;
        self.by_name.delete(txn, &mailbox.name)?;
        Ok(())
    }

    pub fn all(&self, txn: &RoTxn) -> Result<Vec<Mailbox>, StoreError> {
        let mut out = Vec::new();
        for item in self.by_id.iter(txn)? {
            out.push(item?.1);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbox_is_case_insensitive() {
        assert_eq!(canonical_name("inbox"), "INBOX");
        assert_eq!(canonical_name("Inbox/sub"), "INBOX/sub");
        assert_eq!(canonical_name("Inboxes"), "Inboxes");
        assert_eq!(canonical_name("Archive"), "Archive");
        assert_eq!(canonical_name("inbo"), "inbo");
    }
}
