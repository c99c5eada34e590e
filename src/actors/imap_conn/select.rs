//! SELECT and EXAMINE (RFC 9051 §6.3.2, §6.3.3; HIGHESTMODSEQ from RFC 7162 §3.1.2.1).

use actix::prelude::*;

use super::view::{Entry, View};
use super::{ImapConn, Reply, Selected, State, done};
use crate::actors::account::{UnwatchMailbox, WatchMailbox};
use crate::protocols::imap::response::flag_list;
use crate::store::{Flags, Mailbox, StoreError};

struct Snapshot {
    mailbox: Mailbox,
    entries: Vec<Entry>,
    first_unseen: Option<u32>,
}

impl ImapConn {
    pub(super) fn select(
        &mut self,
        tag: String,
        name: String,
        read_only: bool,
        condstore: bool,
    ) -> Reply {
        // RFC 9051 §6.3.2: a failed SELECT still leaves the previous mailbox deselected.
        self.leave_mailbox();
        let (Some(handle), Some(me)) = (self.account().cloned(), self.me.clone()) else {
            return done(format!("{tag} BAD log in first\r\n"));
        };
        let cid = self.cid;
        self.selecting = Some(Vec::new());
        let work = async move {
            let store = handle.store.clone();
            let lookup = name.clone();
            let found =
                actix_rt::task::spawn_blocking(move || store.read()?.mailbox(&lookup)).await;
            let mailbox = match found {
                Ok(Ok(Some(m))) => m,
                Ok(Ok(None)) => return Err("[NONEXISTENT] no such mailbox".to_string()),
                Ok(Err(e)) => return Err(format!("[SERVERBUG] {e}")),
                Err(e) => return Err(format!("[SERVERBUG] {e}")),
            };
            // Watch first, then read: a change committed in between shows up in both, and the
            // view skips what it already has; nothing committed after the read is missed.
            let watch = WatchMailbox {
                mailbox: mailbox.id,
                session: cid,
                recipient: me.recipient(),
            };
            handle
                .addr
                .send(watch)
                .await
                .map_err(|e| format!("[SERVERBUG] {e}"))?;
            let store = handle.store.clone();
            let id = mailbox.id;
            let snapshot =
                actix_rt::task::spawn_blocking(move || -> Result<Option<Snapshot>, StoreError> {
                    let r = store.read()?;
                    let Some(mailbox) = r.mailbox_by_id(id)? else {
                        return Ok(None);
                    };
                    let mut entries = Vec::new();
                    let mut first_unseen = None;
                    for m in r.live(id)? {
                        let m = m?;
                        entries.push(Entry {
                            uid: m.uid,
                            modseq: m.modseq,
                        });
                        if first_unseen.is_none() && !m.flags.contains(Flags::SEEN) {
                            first_unseen = Some(entries.len() as u32);
                        }
                    }
                    Ok(Some(Snapshot {
                        mailbox,
                        entries,
                        first_unseen,
                    }))
                })
                .await;
            let failed = match snapshot {
                Ok(Ok(Some(s))) => return Ok((handle, s)),
                Ok(Ok(None)) => "[NONEXISTENT] mailbox was just removed".to_string(),
                Ok(Err(e)) => format!("[SERVERBUG] {e}"),
                Err(e) => format!("[SERVERBUG] {e}"),
            };
            handle.addr.do_send(UnwatchMailbox {
                mailbox: id,
                session: cid,
            });
            Err(failed)
        };
        Box::pin(work.into_actor(self).map(move |result, act, _| {
            let buffered = act.selecting.take().unwrap_or_default();
            let (handle, snap) = match result {
                Ok(r) => r,
                Err(text) => return format!("{tag} NO {text}\r\n").into_bytes(),
            };
            let m = &snap.mailbox;
            let all_flags = flag_list(Flags(0x3ff), &m.keywords);
            let mut out = format!("* FLAGS {all_flags}\r\n");
            if read_only {
                out.push_str("* OK [PERMANENTFLAGS ()] read-only\r\n");
            } else {
                let permanent = flag_list(Flags(0x3ff), &m.keywords);
                out.push_str(&format!("* OK [PERMANENTFLAGS {} \\*)] flags stored\r\n", &permanent[..permanent.len() - 1]));
            }
            out.push_str(&format!("* {} EXISTS\r\n", snap.entries.len()));
            // IMAP4rev1 clients expect RECENT (RFC 3501 §7.3.2); moxide has no recent messages.
            out.push_str("* 0 RECENT\r\n");
            if let Some(seq) = snap.first_unseen {
                out.push_str(&format!("* OK [UNSEEN {seq}] first unseen\r\n"));
            }
            out.push_str(&format!("* OK [UIDVALIDITY {}] uids valid\r\n", m.uidvalidity));
            out.push_str(&format!("* OK [UIDNEXT {}] next uid\r\n", m.uidnext));
            out.push_str(&format!("* OK [HIGHESTMODSEQ {}] highest\r\n", m.highest_modseq));
            let mode = if read_only { "READ-ONLY" } else { "READ-WRITE" };
            out.push_str(&format!("{tag} OK [{mode}] selected\r\n"));
            tracing::debug!(cid = act.cid, mailbox = %m.name, messages = snap.entries.len(), "selected");
            let mut view = View::new(snap.entries, condstore);
            for changes in buffered.iter().filter(|c| c.first().is_some_and(|c| c.mailbox() == m.id)) {
                view.queue(changes);
            }
            let selected = Selected {
                id: m.id,
                name: m.name.clone(),
                uidvalidity: m.uidvalidity,
                read_only,
                view,
                highest_modseq: m.highest_modseq,
            };
            act.state = State::Selected(handle, selected);
            out.into_bytes()
        }))
    }
}
