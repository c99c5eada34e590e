//! APPEND (with MULTIAPPEND, RFC 3502), COPY and MOVE (RFC 6851), answering with UIDPLUS codes
//! (RFC 4315).

use actix::prelude::*;

use super::mailboxes::no;
use super::view::{SetKind, uid_set};
use super::{ImapConn, Reply, done};
use crate::actors::account::{AppendMessages, CopyMessages, MoveMessages, Placed};
use crate::actors::append::prepare;
use crate::protocols::imap::parse::AppendMessage;
use crate::protocols::imap::types::SeqSet;
use crate::store::StoreError;
use crate::store::incoming::IncomingMessage;

/// The tagged NO when the destination is missing: TRYCREATE tells the client it can create it
/// (RFC 9051 §6.3.12, §6.4.7).
fn no_destination(tag: &str, e: &StoreError) -> Vec<u8> {
    match e {
        StoreError::NoMailbox(_) => {
            format!("{tag} NO [TRYCREATE] no such mailbox\r\n").into_bytes()
        }
        _ => no(tag, e),
    }
}

impl ImapConn {
    pub(super) fn append(
        &mut self,
        tag: String,
        mailbox: String,
        messages: Vec<AppendMessage>,
    ) -> Reply {
        let Some(handle) = self.account().cloned() else {
            return done(format!("{tag} BAD log in first\r\n"));
        };
        if messages.iter().any(|m| m.data.is_empty()) {
            return done(format!("{tag} NO [CANNOT] empty message\r\n"));
        }
        let work = async move {
            let incoming = messages.into_iter().map(|m| IncomingMessage {
                data: m.data,
                flags: m.flags,
                keywords: m.keywords,
                received: m.date,
            });
            let messages = prepare(incoming.collect()).await?;
            handle
                .addr
                .send(AppendMessages { mailbox, messages })
                .await
                .map_err(|e| StoreError::CommitFailed(e.to_string()))?
        };
        Box::pin(work.into_actor(self).map(move |r, _, _| match r {
            Ok(Placed { uidvalidity, pairs }) => {
                let uids: Vec<_> = pairs.iter().map(|(_, new)| *new).collect();
                format!(
                    "{tag} OK [APPENDUID {uidvalidity} {}] appended\r\n",
                    uid_set(&uids)
                )
                .into_bytes()
            }
            Err(e) => no_destination(&tag, &e),
        }))
    }

    pub(super) fn copy_or_move(
        &mut self,
        tag: String,
        uid: bool,
        set: SeqSet,
        mailbox: String,
        is_move: bool,
    ) -> Reply {
        let Some((handle, selected)) = self.selected() else {
            return done(format!("{tag} BAD select a mailbox first\r\n"));
        };
        if is_move && selected.read_only {
            return done(format!("{tag} NO [READ-ONLY] the mailbox is read-only\r\n"));
        }
        let kind = if uid { SetKind::Uid } else { SetKind::Seq };
        let uids: Vec<_> = match selected.view.resolve(&set, kind) {
            Ok(t) => t.into_iter().map(|(_, e)| e.uid).collect(),
            Err(e) => return done(format!("{tag} BAD {e}\r\n")),
        };
        let (from, handle) = (selected.id, handle.clone());
        let lookup = mailbox.clone();
        let find = self.read_account(move |r| r.mailbox(&lookup));
        let work = async move {
            let to = find.await?.ok_or(StoreError::NoMailbox(mailbox))?.id;
            let sent = if is_move {
                handle.addr.send(MoveMessages { from, uids, to }).await
            } else {
                handle.addr.send(CopyMessages { from, uids, to }).await
            };
            sent.map_err(|e| StoreError::CommitFailed(e.to_string()))?
        };
        Box::pin(work.into_actor(self).map(move |r, act, _| {
            let placed = match r {
                Ok(p) => p,
                Err(e) => return no_destination(&tag, &e),
            };
            let code = if placed.pairs.is_empty() {
                String::new()
            } else {
                let (old, new): (Vec<_>, Vec<_>) = placed.pairs.iter().copied().unzip();
                format!(
                    "COPYUID {} {} {}",
                    placed.uidvalidity,
                    uid_set(&old),
                    uid_set(&new)
                )
            };
            if !is_move {
                let code = if code.is_empty() {
                    code
                } else {
                    format!("[{code}] ")
                };
                return format!("{tag} OK {code}copied\r\n").into_bytes();
            }
            // RFC 6851 §4.3: COPYUID in an untagged OK, then the expunges, then the tagged OK.
            let mut out = Vec::new();
            if !code.is_empty() {
                out.extend(format!("* OK [{code}] moved\r\n").into_bytes());
            }
            if let Some((_, selected)) = act.selected() {
                selected.view.flush(true, &mut out);
                let moved: Vec<_> = placed
                    .pairs
                    .iter()
                    .map(|(old, _)| *old)
                    .filter(|u| selected.view.remove_announced(*u, &mut out))
                    .collect();
                if selected.view.qresync && !moved.is_empty() {
                    out.extend(format!("* VANISHED {}\r\n", uid_set(&moved)).into_bytes());
                }
            }
            out.extend(format!("{tag} OK moved\r\n").into_bytes());
            out
        }))
    }
}
