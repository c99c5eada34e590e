//! Operations on mailboxes: CREATE (with missing parents), DELETE, RENAME and subscriptions
//! (RFC 9051 §6.3). The hierarchy separator is "/".

use heed::RwTxn;

use super::Applied;
use crate::store::StoreError;
use crate::store::account::{AccountStore, KEY_NEXT_MAILBOX_ID, KEY_NEXT_UIDVALIDITY};
use crate::store::ids::{MailboxId, ModSeq, Uid, UidValidity};
use crate::store::ops::{Change, WriteOutcome};
use crate::store::tables::contents;
use crate::store::tables::mailboxes::{Mailbox, MailboxCounts, SpecialUse, canonical_name};
use crate::store::tables::meta;

/// The hierarchy separator of mailbox names.
pub const SEPARATOR: char = '/';

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
    // They would be wildcards in LIST patterns (RFC 9051 §6.3.9).
    if name.contains(['*', '%']) {
        return bad("contains * or %");
    }
    if name.starts_with(SEPARATOR) || name.ends_with(SEPARATOR) || name.contains("//") {
        return bad("empty hierarchy level");
    }
    Ok(())
}

/// The names above `name` in the hierarchy, outermost first: "a/b/c" gives "a", "a/b".
fn parents(name: &str) -> impl Iterator<Item = &str> {
    name.match_indices(SEPARATOR).map(move |(i, _)| &name[..i])
}

impl AccountStore {
    fn create_mailbox(
        &self,
        txn: &mut RwTxn,
        name: &str,
        special_use: SpecialUse,
        modseq: ModSeq,
    ) -> Result<Mailbox, StoreError> {
        let id = meta::next_counter(&self.meta, txn, KEY_NEXT_MAILBOX_ID, 1)?;
        let id = MailboxId(
            u32::try_from(id).map_err(|_| StoreError::Corrupt("mailbox ids exhausted".into()))?,
        );
        let uidvalidity = meta::next_counter(&self.meta, txn, KEY_NEXT_UIDVALIDITY, 1)?;
        let mailbox = Mailbox {
            id,
            name: name.to_string(),
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

    /// Creates `name` and the parents it lacks (RFC 9051 §6.3.4 asks servers to).
    pub(super) fn create_mailbox_with_parents(
        &self,
        txn: &mut RwTxn,
        name: &str,
        special_use: SpecialUse,
        modseq: ModSeq,
        applied: &mut Applied,
    ) -> Result<MailboxId, StoreError> {
        let name = canonical_name(name).into_owned();
        validate_mailbox_name(&name)?;
        if self.mailboxes.by_name.get(txn, &name)?.is_some() {
            return Err(StoreError::MailboxExists(name));
        }
        for parent in parents(&name) {
            if self.mailboxes.by_name.get(txn, parent)?.is_none() {
                let created = self.create_mailbox(txn, parent, SpecialUse::NONE, modseq)?;
                applied.changes.push(Change::Mailbox(created));
            }
        }
        let mailbox = self.create_mailbox(txn, &name, special_use, modseq)?;
        let id = mailbox.id;
        applied.changes.push(Change::Mailbox(mailbox));
        Ok(id)
    }

    /// Deletes a mailbox and all its messages (and tombstones). INBOX cannot be deleted, nor a
    /// mailbox with children (RFC 9051 §6.3.5 lets a server refuse, with HASCHILDREN).
    pub(super) fn delete_mailbox(
        &self,
        txn: &mut RwTxn,
        id: MailboxId,
        applied: &mut Applied,
    ) -> Result<WriteOutcome, StoreError> {
        let mailbox = self
            .mailboxes
            .get(txn, id)?
            .ok_or_else(|| StoreError::NoMailbox(id.to_string()))?;
        if mailbox.name == "INBOX" {
            return Err(StoreError::Inbox("deleted"));
        }
        let prefix = format!("{}{SEPARATOR}", mailbox.name);
        if self
            .mailboxes
            .all(txn)?
            .iter()
            .any(|m| m.name.starts_with(&prefix))
        {
            return Err(StoreError::HasChildren(mailbox.name));
        }
        for m in self.messages.all_in(txn, id)? {
            self.messages.remove(txn, &m)?;
            if !m.expunged {
                self.junk_follow(txn, m.id, m.flags, true)?;
                self.junk_forget(txn, m.id)?;
                contents::delete(&self.contents, txn, m.id)?;
                applied.remove_after_commit.push(m.id);
            }
        }
        self.mailboxes.remove(txn, &mailbox)?;
        applied.changes.push(Change::MailboxDeleted(id));
        Ok(WriteOutcome::MailboxDeleted)
    }

    /// Renames a mailbox and its children, creating missing parents of the new name. Renaming
    /// INBOX moves its messages to a new mailbox and leaves INBOX empty (RFC 9051 §6.3.6).
    pub(super) fn rename_mailbox(
        &self,
        txn: &mut RwTxn,
        id: MailboxId,
        to: &str,
        applied: &mut Applied,
    ) -> Result<WriteOutcome, StoreError> {
        let mailbox = self
            .mailboxes
            .get(txn, id)?
            .ok_or_else(|| StoreError::NoMailbox(id.to_string()))?;
        let to = canonical_name(to).into_owned();
        validate_mailbox_name(&to)?;
        if self.mailboxes.by_name.get(txn, &to)?.is_some() {
            return Err(StoreError::MailboxExists(to));
        }
        if mailbox.name == "INBOX" {
            let modseq = self.next_modseq(txn)?;
            let new =
                self.create_mailbox_with_parents(txn, &to, SpecialUse::NONE, modseq, applied)?;
            let uids: Vec<Uid> = self
                .messages
                .live(txn, id)?
                .map(|m| m.map(|m| m.uid))
                .collect::<Result<_, _>>()?;
            self.move_messages(txn, id, &uids, new, applied)?;
            return Ok(WriteOutcome::MailboxRenamed);
        }
        let old = mailbox.name.clone();
        let prefix = format!("{old}{SEPARATOR}");
        if to.starts_with(&prefix) {
            return Err(StoreError::BadMailboxName {
                name: to,
                why: "cannot move a mailbox into itself",
            });
        }
        let affected: Vec<Mailbox> = self
            .mailboxes
            .all(txn)?
            .into_iter()
            .filter(|m| m.name == old || m.name.starts_with(&prefix))
            .collect();
        for m in &affected {
            let new_name = format!("{to}{}", &m.name[old.len()..]);
            if m.id != id && self.mailboxes.by_name.get(txn, &new_name)?.is_some() {
                return Err(StoreError::MailboxExists(new_name));
            }
        }
        for mut m in affected {
            let new_name = format!("{to}{}", &m.name[old.len()..]);
            self.mailboxes.by_name.delete(txn, &m.name)?;
            if self.subscriptions.delete(txn, &m.name)? {
                self.subscriptions.put(txn, &new_name, &())?;
            }
            m.name = new_name;
            self.mailboxes.put(txn, &m)?;
            applied.changes.push(Change::Mailbox(m));
        }
        let mut modseq = None;
        for parent in parents(&to) {
            if self.mailboxes.by_name.get(txn, parent)?.is_none() {
                let ms = match modseq {
                    Some(ms) => ms,
                    None => *modseq.insert(self.next_modseq(txn)?),
                };
                let created = self.create_mailbox(txn, parent, SpecialUse::NONE, ms)?;
                applied.changes.push(Change::Mailbox(created));
            }
        }
        Ok(WriteOutcome::MailboxRenamed)
    }

    /// Adds or removes a subscription. Names need not exist (RFC 9051 §6.3.7).
    pub(super) fn subscribe(
        &self,
        txn: &mut RwTxn,
        name: &str,
        on: bool,
    ) -> Result<WriteOutcome, StoreError> {
        let name = canonical_name(name).into_owned();
        validate_mailbox_name(&name)?;
        let changed = if on {
            let new = self.subscriptions.get(txn, &name)?.is_none();
            self.subscriptions.put(txn, &name, &())?;
            new
        } else {
            self.subscriptions.delete(txn, &name)?
        };
        Ok(WriteOutcome::Subscribed(changed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_parents() {
        assert!(validate_mailbox_name("a/b c/δ").is_ok());
        for bad in ["", "/a", "a/", "a//b", "a*", "50%", "a\nb"] {
            assert!(validate_mailbox_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parents("a/b/c").collect::<Vec<_>>(), ["a", "a/b"]);
        assert_eq!(parents("a").count(), 0);
    }
}
