//! Mailbox commands: CREATE (with CREATE-SPECIAL-USE), DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE,
//! LIST (with LIST-EXTENDED, SPECIAL-USE and LIST-STATUS), LSUB and STATUS (RFC 9051 §6.3).

use std::collections::BTreeMap;

use actix::prelude::*;

use super::{APPEND_LIMIT, ImapConn, Reply, done};
use crate::actors::account::{ChangeSubscription, CreateMailbox, DeleteMailbox, RenameMailbox};
use crate::protocols::imap::parse::{ListCommand, StatusItem};
use crate::protocols::imap::response::{astring, text};
use crate::store::{Mailbox, SpecialUse, StoreError};

/// The tagged NO for a store error, with the response code RFC 9051 §7.1 has for it.
pub(super) fn no(tag: &str, e: &StoreError) -> Vec<u8> {
    let code = match e {
        StoreError::NoMailbox(_) => "NONEXISTENT",
        StoreError::MailboxExists(_) => "ALREADYEXISTS",
        StoreError::HasChildren(_) => "HASCHILDREN",
        StoreError::BadMailboxName { .. } | StoreError::Inbox(_) => "CANNOT",
        _ => "SERVERBUG",
    };
    format!("{tag} NO [{code}] {e}\r\n").into_bytes()
}

/// A mailbox name as the client reads it: modified UTF-7 for clients that have not said they
/// take UTF-8 (`utf7`, RFC 3501 §5.1.3), as an astring.
pub(super) fn name(n: &str, utf7: bool) -> String {
    let mut out = Vec::new();
    if utf7 {
        astring(&mut out, crate::protocols::imap::utf7::encode(n).as_bytes());
    } else if n.is_ascii() {
        astring(&mut out, n.as_bytes());
    } else {
        // UTF-8 in a quoted string, for clients that take it (RFC 6855 §3, RFC 9051 §9).
        text(&mut out, n, true);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `name` matches a LIST pattern: `*` matches anything, `%` anything but the
/// hierarchy separator (RFC 9051 §6.3.9). INBOX matches case-insensitively.
pub fn matches_pattern(pattern: &str, name: &str) -> bool {
    let pattern = crate::store::tables::mailboxes::canonical_name(pattern);
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Dynamic programming over (pattern position, name position): linear in each, whatever the
    // wildcards. `next[j]`: pattern from i+1 matches name from j; `row[j]`: from i.
    let mut next: Vec<bool> = (0..=n.len()).map(|j| j == n.len()).collect();
    for &c in p.iter().rev() {
        let mut row = vec![false; n.len() + 1];
        for j in (0..=n.len()).rev() {
            row[j] = match c {
                '*' => next[j] || (j < n.len() && row[j + 1]),
                '%' => next[j] || (j < n.len() && n[j] != '/' && row[j + 1]),
                c => j < n.len() && n[j] == c && next[j + 1],
            };
        }
        next = row;
    }
    next[0]
}

fn special_use_from(attrs: &[String]) -> Result<SpecialUse, String> {
    let mut bits = SpecialUse::NONE;
    for a in attrs {
        let found = SpecialUse::NAMES
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(a))
            .map(|(s, _)| *s);
        match found {
            Some(s) => bits = SpecialUse(bits.0 | s.0),
            None => return Err(format!("[USEATTR] unsupported special-use attribute {a}")),
        }
    }
    Ok(bits)
}

fn status_line(m: &Mailbox, items: &[StatusItem], utf7: bool) -> String {
    let values: Vec<String> = items
        .iter()
        .map(|item| {
            let v = match item {
                StatusItem::Messages => m.counts.total as u64,
                StatusItem::UidNext => m.uidnext.0 as u64,
                StatusItem::UidValidity => m.uidvalidity.0 as u64,
                StatusItem::Unseen => m.counts.unseen as u64,
                StatusItem::Deleted => m.counts.deleted as u64,
                StatusItem::Size => m.counts.size,
                StatusItem::Recent => 0,
                StatusItem::HighestModSeq => m.highest_modseq.0,
                StatusItem::AppendLimit => APPEND_LIMIT as u64,
            };
            format!("{} {v}", item.name())
        })
        .collect();
    format!(
        "* STATUS {} ({})\r\n",
        name(&m.name, utf7),
        values.join(" ")
    )
}

impl ImapConn {
    /// Runs `f` on a read of the account on the blocking pool.
    pub(super) fn read_account<T: Send + 'static>(
        &self,
        f: impl FnOnce(&crate::store::Reader<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> impl Future<Output = Result<T, StoreError>> + 'static {
        let store = self.account().map(|h| h.store.clone());
        async move {
            let store = store.ok_or_else(|| StoreError::Corrupt("not logged in".into()))?;
            actix_rt::task::spawn_blocking(move || f(&store.read()?))
                .await
                .map_err(|e| StoreError::CommitFailed(e.to_string()))?
        }
    }

    pub(super) fn create(
        &mut self,
        tag: String,
        mailbox: String,
        special_use: Vec<String>,
    ) -> Reply {
        let Some(handle) = self.account().cloned() else {
            return done(format!("{tag} BAD log in first\r\n"));
        };
        let special_use = match special_use_from(&special_use) {
            Ok(s) => s,
            Err(text) => return done(format!("{tag} NO {text}\r\n")),
        };
        // A trailing separator declares the intent to create children: the name is created.
        let name = mailbox.strip_suffix('/').unwrap_or(&mailbox).to_string();
        Box::pin(
            handle
                .addr
                .send(CreateMailbox { name, special_use })
                .into_actor(self)
                .map(move |r, _, _| match r {
                    Ok(Ok(_)) => format!("{tag} OK created\r\n").into_bytes(),
                    Ok(Err(e)) => no(&tag, &e),
                    Err(e) => format!("{tag} NO [SERVERBUG] {e}\r\n").into_bytes(),
                }),
        )
    }

    pub(super) fn delete(&mut self, tag: String, mailbox: String) -> Reply {
        let Some(handle) = self.account().cloned() else {
            return done(format!("{tag} BAD log in first\r\n"));
        };
        // Deleting the selected mailbox deselects it first.
        let canonical = crate::store::tables::mailboxes::canonical_name(&mailbox).into_owned();
        if self.selected().is_some_and(|(_, s)| s.name == canonical) {
            self.leave_mailbox();
        }
        let find =
            self.read_account(move |r| r.mailbox(&mailbox)?.ok_or(StoreError::NoMailbox(mailbox)));
        let work = async move {
            let id = find.await?.id;
            handle
                .addr
                .send(DeleteMailbox { mailbox: id })
                .await
                .map_err(|e| StoreError::CommitFailed(e.to_string()))?
        };
        Box::pin(work.into_actor(self).map(move |r, _, _| match r {
            Ok(()) => format!("{tag} OK deleted\r\n").into_bytes(),
            Err(e) => no(&tag, &e),
        }))
    }

    pub(super) fn rename(&mut self, tag: String, from: String, to: String) -> Reply {
        let Some(handle) = self.account().cloned() else {
            return done(format!("{tag} BAD log in first\r\n"));
        };
        let find = self.read_account(move |r| r.mailbox(&from)?.ok_or(StoreError::NoMailbox(from)));
        let work = async move {
            let id = find.await?.id;
            handle
                .addr
                .send(RenameMailbox { mailbox: id, to })
                .await
                .map_err(|e| StoreError::CommitFailed(e.to_string()))?
        };
        Box::pin(work.into_actor(self).map(move |r, _, _| match r {
            Ok(()) => format!("{tag} OK renamed\r\n").into_bytes(),
            Err(e) => no(&tag, &e),
        }))
    }

    pub(super) fn subscribe(&mut self, tag: String, mailbox: String, subscribe: bool) -> Reply {
        let Some(handle) = self.account().cloned() else {
            return done(format!("{tag} BAD log in first\r\n"));
        };
        let request = handle.addr.send(ChangeSubscription {
            name: mailbox,
            subscribe,
        });
        Box::pin(request.into_actor(self).map(move |r, _, _| match r {
            Ok(Ok(())) => format!("{tag} OK done\r\n").into_bytes(),
            Ok(Err(e)) => no(&tag, &e),
            Err(e) => format!("{tag} NO [SERVERBUG] {e}\r\n").into_bytes(),
        }))
    }

    pub(super) fn status(&mut self, tag: String, mailbox: String, items: Vec<StatusItem>) -> Reply {
        let utf7 = self.utf7_names();
        let lookup = mailbox.clone();
        let read = self.read_account(move |r| r.mailbox(&lookup));
        Box::pin(read.into_actor(self).map(move |found, _, _| match found {
            Ok(Some(m)) => {
                format!("{}{tag} OK done\r\n", status_line(&m, &items, utf7)).into_bytes()
            }
            Ok(None) => no(&tag, &StoreError::NoMailbox(mailbox)),
            Err(e) => no(&tag, &e),
        }))
    }

    pub(super) fn list(&mut self, tag: String, cmd: ListCommand) -> Reply {
        let utf7 = self.utf7_names();
        // `LIST "" ""` asks for the hierarchy separator (RFC 9051 §6.3.9).
        if !cmd.lsub && cmd.patterns.len() == 1 && cmd.patterns[0].is_empty() {
            return done(format!(
                "* LIST (\\Noselect) \"/\" \"\"\r\n{tag} OK done\r\n"
            ));
        }
        let read = self.read_account(|r| Ok((r.mailboxes()?, r.subscriptions()?)));
        Box::pin(read.into_actor(self).map(move |result, _, _| match result {
            Ok((mailboxes, subscriptions)) => {
                let mut out = list_lines(&cmd, &mailboxes, &subscriptions, utf7);
                out.push_str(&format!("{tag} OK done\r\n"));
                out.into_bytes()
            }
            Err(e) => no(&tag, &e),
        }))
    }
}

/// The LIST (or LSUB) responses for `cmd` over the account's mailboxes and subscriptions.
fn list_lines(
    cmd: &ListCommand,
    mailboxes: &[Mailbox],
    subscriptions: &[String],
    utf7: bool,
) -> String {
    let patterns: Vec<String> = cmd
        .patterns
        .iter()
        .map(|p| {
            if cmd.reference.is_empty() || p.starts_with('/') {
                p.clone()
            } else {
                format!("{}{p}", cmd.reference)
            }
        })
        .collect();
    let matching = |n: &str| patterns.iter().any(|p| matches_pattern(p, n));
    let by_name: BTreeMap<&str, &Mailbox> =
        mailboxes.iter().map(|m| (m.name.as_str(), m)).collect();
    let has_children = |n: &str| {
        let prefix = format!("{n}/");
        mailboxes.iter().any(|m| m.name.starts_with(&prefix))
    };
    let subscribed = |n: &str| subscriptions.iter().any(|s| s == n);
    let kind = if cmd.lsub { "LSUB" } else { "LIST" };
    let mut out = String::new();
    // Names to answer for, in order: existing mailboxes, or subscriptions for (SUBSCRIBED)/LSUB.
    let names: Vec<&str> = if cmd.lsub || cmd.select_subscribed {
        subscriptions.iter().map(String::as_str).collect()
    } else {
        by_name.keys().copied().collect()
    };
    let mut listed = std::collections::BTreeSet::new();
    for n in names {
        let mailbox = by_name.get(n);
        if cmd.select_special_use && mailbox.is_none_or(|m| m.special_use == SpecialUse::NONE) {
            continue;
        }
        if !matching(n) {
            continue;
        }
        listed.insert(n.to_string());
        let mut attrs: Vec<&str> = Vec::new();
        match mailbox {
            None if cmd.lsub => attrs.push("\\Noselect"),
            None => attrs.push("\\NonExistent"),
            Some(m) => {
                attrs.push(if has_children(n) {
                    "\\HasChildren"
                } else {
                    "\\HasNoChildren"
                });
                attrs.extend(m.special_use.names());
            }
        }
        if !cmd.lsub && (cmd.select_subscribed || cmd.return_subscribed) && subscribed(n) {
            attrs.push("\\Subscribed");
        }
        out.push_str(&format!(
            "* {kind} ({}) \"/\" {}\r\n",
            attrs.join(" "),
            name(n, utf7)
        ));
        if let (Some(items), Some(m)) = (&cmd.return_status, mailbox) {
            out.push_str(&status_line(m, items, utf7));
        }
    }
    // RECURSIVEMATCH (RFC 5258 §3.5): parents of selected names that did not match
    // themselves, with CHILDINFO.
    if cmd.recursive_match && cmd.select_subscribed {
        for s in subscriptions {
            for (i, _) in s.match_indices('/') {
                let parent = &s[..i];
                if matching(parent) && !listed.contains(parent) {
                    listed.insert(parent.to_string());
                    let attrs = if by_name.contains_key(parent) {
                        ""
                    } else {
                        "\\NonExistent"
                    };
                    out.push_str(&format!(
                        "* LIST ({attrs}) \"/\" {} (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n",
                        name(parent, utf7)
                    ));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        assert!(matches_pattern("*", "a/b/c"));
        assert!(matches_pattern("%", "a"));
        assert!(!matches_pattern("%", "a/b"));
        assert!(matches_pattern("a/%", "a/b"));
        assert!(!matches_pattern("a/%", "a/b/c"));
        assert!(matches_pattern("a*c", "a/b/c"));
        assert!(matches_pattern("inbox", "INBOX"));
        assert!(matches_pattern("Inbox/%", "INBOX/x"));
        assert!(!matches_pattern("inbo", "INBOX"));
        assert!(!matches_pattern("x", "X"));
        // Many stars do not blow up.
        assert!(!matches_pattern(
            &"*".repeat(200).replace("**", "*a"),
            &"b".repeat(500)
        ));
    }
}
