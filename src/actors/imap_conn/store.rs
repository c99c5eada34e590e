//! STORE, UID STORE (RFC 9051 §6.4.6, UNCHANGEDSINCE from RFC 7162 §3.1.3), EXPUNGE and CLOSE:
//! changes go to the account actor; the session reports them from the outcome.

use actix::prelude::*;

use super::view::{SetKind, uid_set};
use super::{ImapConn, Reply, State, done};
use crate::actors::account::{ChangeFlags, ExpungeMessages};
use crate::protocols::imap::parse::StoreCommand;
use crate::protocols::imap::response::flag_list;
use crate::protocols::imap::types::SeqSet;
use crate::protocols::imap::types::StoreAction;
use crate::store::{Expunge, FlagOp, ModSeq, StoreFlags};

impl ImapConn {
    pub(super) fn store(&mut self, tag: String, a: StoreCommand) -> Reply {
        let Some((handle, selected)) = self.selected() else {
            return done(format!("{tag} BAD select a mailbox first\r\n"));
        };
        if selected.read_only {
            return done(format!("{tag} NO mailbox is read-only\r\n"));
        }
        let kind = if a.uid { SetKind::Uid } else { SetKind::Seq };
        let targets = match selected.view.resolve(&a.set, kind) {
            Ok(t) => t,
            Err(e) => return done(format!("{tag} BAD {e}\r\n")),
        };
        if a.unchanged_since.is_some() {
            selected.view.condstore = true;
        }
        let op = StoreFlags {
            mailbox: selected.id,
            uids: targets.iter().map(|(_, e)| e.uid).collect(),
            op: match a.action {
                StoreAction::Add => FlagOp::Add,
                StoreAction::Remove => FlagOp::Remove,
                StoreAction::Replace => FlagOp::Replace,
            },
            flags: a.flags,
            keywords: a.keywords,
            unchanged_since: a.unchanged_since.map(ModSeq),
        };
        let request = handle.addr.send(ChangeFlags { request: op });
        let (uid, silent) = (a.uid, a.silent);
        Box::pin(request.into_actor(self).map(move |result, act, _| {
            let stored = match result {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => return format!("{tag} NO [SERVERBUG] {e}\r\n").into_bytes(),
                Err(e) => return format!("{tag} NO [SERVERBUG] {e}\r\n").into_bytes(),
            };
            let Some((_, selected)) = act.selected() else {
                return format!("{tag} NO mailbox no longer selected\r\n").into_bytes();
            };
            let mut out = String::new();
            for c in &stored.changed {
                selected.view.reported(c.uid, c.modseq);
                let Some(seq) = selected.view.seq(c.uid) else {
                    continue;
                };
                if silent {
                    continue;
                }
                out.push_str(&format!("* {seq} FETCH ("));
                if uid {
                    out.push_str(&format!("UID {} ", c.uid));
                }
                out.push_str(&format!("FLAGS {}", flag_list(c.flags, &c.keywords)));
                if selected.view.condstore {
                    out.push_str(&format!(" MODSEQ ({})", c.modseq));
                }
                out.push_str(")\r\n");
            }
            let mut out = out.into_bytes();
            selected.view.flush(uid, &mut out);
            if stored.modified.is_empty() {
                out.extend(format!("{tag} OK done\r\n").into_bytes());
            } else {
                // RFC 7162 §3.1.3: the messages not changed because they changed since.
                let list: Vec<String> = stored
                    .modified
                    .iter()
                    .filter_map(|u| {
                        if uid {
                            Some(u.to_string())
                        } else {
                            selected.view.seq(*u).map(|s| s.to_string())
                        }
                    })
                    .collect();
                out.extend(
                    format!(
                        "{tag} OK [MODIFIED {}] conditional store failed for some\r\n",
                        list.join(",")
                    )
                    .into_bytes(),
                );
            }
            out
        }))
    }

    /// EXPUNGE, UID EXPUNGE (`uids`, RFC 4315 §2.1), or CLOSE (`close`: expunge silently and
    /// deselect, RFC 9051 §6.4.2).
    pub(super) fn expunge(&mut self, tag: String, uids: Option<SeqSet>, close: bool) -> Reply {
        let Some((handle, selected)) = self.selected() else {
            return done(format!("{tag} BAD select a mailbox first\r\n"));
        };
        if selected.read_only {
            if close {
                self.leave_mailbox();
                return done(format!("{tag} OK closed\r\n"));
            }
            return done(format!("{tag} NO [READ-ONLY] the mailbox is read-only\r\n"));
        }
        let which = match &uids {
            None => Expunge::Deleted,
            Some(set) => match selected.view.resolve(set, SetKind::Uid) {
                Ok(t) => Expunge::DeletedAmong(t.into_iter().map(|(_, e)| e.uid).collect()),
                Err(e) => return done(format!("{tag} BAD {e}\r\n")),
            },
        };
        let request = handle.addr.send(ExpungeMessages {
            mailbox: selected.id,
            which,
        });
        Box::pin(request.into_actor(self).map(move |result, act, _| {
            let expunged = match result {
                Ok(Ok(uids)) => uids,
                Ok(Err(e)) => return format!("{tag} NO [SERVERBUG] {e}\r\n").into_bytes(),
                Err(e) => return format!("{tag} NO [SERVERBUG] {e}\r\n").into_bytes(),
            };
            if close {
                act.leave_mailbox();
                return format!("{tag} OK closed\r\n").into_bytes();
            }
            let State::Selected(_, selected) = &mut act.state else {
                return format!("{tag} OK done\r\n").into_bytes();
            };
            let mut out = Vec::new();
            // Announce what others changed first, so the sequence numbers below are the client's.
            selected.view.flush(true, &mut out);
            let removed: Vec<_> = expunged
                .into_iter()
                .filter(|u| selected.view.remove_announced(*u, &mut out))
                .collect();
            if selected.view.qresync && !removed.is_empty() {
                out.extend(format!("* VANISHED {}\r\n", uid_set(&removed)).into_bytes());
            }
            out.extend(format!("{tag} OK expunged\r\n").into_bytes());
            out
        }))
    }
}
