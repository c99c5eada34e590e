//! SELECT and EXAMINE (RFC 9051 §6.3.2, §6.3.3), with CONDSTORE's HIGHESTMODSEQ and QRESYNC's
//! resynchronisation (RFC 7162 §3.1.2.1, §3.2.5).

use actix::prelude::*;

use super::view::{Entry, View, uid_set};
use super::{ImapConn, Reply, Selected, State, done};
use crate::actors::account::{UnwatchMailbox, WatchMailbox};
use crate::protocols::imap::parse::{Qresync, SelectCommand};
use crate::protocols::imap::response::flag_list;
use crate::store::{Flags, Mailbox, Message, ModSeq, StoreError, Uid};

struct Snapshot {
    mailbox: Mailbox,
    entries: Vec<Entry>,
    first_unseen: Option<u32>,
    /// For QRESYNC: messages changed and uids expunged since the client's modseq.
    changed: Vec<Message>,
    vanished: Vec<Uid>,
}

/// All flags moxide keeps, as bits (the system flags and its well-known keywords).
const ALL_FLAGS: Flags = Flags(0x3ff);

impl ImapConn {
    pub(super) fn select(&mut self, tag: String, cmd: SelectCommand) -> Reply {
        let was_selected = matches!(self.state, State::Selected(..));
        // RFC 9051 §6.3.2: a failed SELECT still leaves the previous mailbox deselected.
        self.leave_mailbox();
        if cmd.qresync.is_some() && !self.enabled.qresync {
            // RFC 7162 §3.2.5.
            return done(format!(
                "{tag} BAD QRESYNC parameter without ENABLE QRESYNC\r\n"
            ));
        }
        if cmd.condstore {
            self.enabled.condstore = true;
        }
        let (Some(handle), Some(me)) = (self.account().cloned(), self.me.clone()) else {
            return done(format!("{tag} BAD log in first\r\n"));
        };
        let cid = self.cid;
        self.selecting = Some(Vec::new());
        let qresync = cmd.qresync.clone();
        let name = cmd.mailbox.clone();
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
                actix_rt::task::spawn_blocking(move || snapshot(&store, id, qresync.as_ref()))
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
            let mut out = String::new();
            if was_selected {
                // RFC 7162 §3.2.11 and RFC 9051 §7.1: the previous mailbox is closed.
                out.push_str("* OK [CLOSED] previous mailbox closed\r\n");
            }
            let (handle, snap) = match result {
                Ok(r) => r,
                Err(text) => return format!("{out}{tag} NO {text}\r\n").into_bytes(),
            };
            let m = &snap.mailbox;
            let enabled = act.enabled;
            out.push_str(&format!(
                "* FLAGS {}\r\n",
                flag_list(ALL_FLAGS, &m.keywords)
            ));
            if cmd.read_only {
                out.push_str("* OK [PERMANENTFLAGS ()] read-only\r\n");
            } else {
                let all = flag_list(ALL_FLAGS, &m.keywords);
                out.push_str(&format!(
                    "* OK [PERMANENTFLAGS {} \\*)] flags stored\r\n",
                    &all[..all.len() - 1]
                ));
            }
            out.push_str(&format!("* {} EXISTS\r\n", snap.entries.len()));
            if !enabled.rev2 {
                // IMAP4rev1 clients expect RECENT (RFC 3501 §7.3.2); moxide has no recent messages.
                out.push_str("* 0 RECENT\r\n");
                if let Some(seq) = snap.first_unseen {
                    out.push_str(&format!("* OK [UNSEEN {seq}] first unseen\r\n"));
                }
            }
            out.push_str(&format!(
                "* OK [UIDVALIDITY {}] uids valid\r\n",
                m.uidvalidity
            ));
            out.push_str(&format!("* OK [UIDNEXT {}] next uid\r\n", m.uidnext));
            out.push_str(&format!(
                "* OK [HIGHESTMODSEQ {}] highest\r\n",
                m.highest_modseq
            ));
            if enabled.rev2 {
                out.push_str(&format!(
                    "* LIST () \"/\" {}\r\n",
                    super::mailboxes::name(&m.name, false)
                ));
            }
            let mut view = View::new(snap.entries, enabled.condstore);
            view.qresync = enabled.qresync;
            // QRESYNC (RFC 7162 §3.2.5.2): what vanished, then what changed, since the client's
            // modseq — only when its uidvalidity is still right.
            let mut resync = Vec::new();
            if cmd
                .qresync
                .as_ref()
                .is_some_and(|q| q.uidvalidity == m.uidvalidity.0)
            {
                if !snap.vanished.is_empty() {
                    resync.extend(
                        format!("* VANISHED (EARLIER) {}\r\n", uid_set(&snap.vanished))
                            .into_bytes(),
                    );
                }
                for c in &snap.changed {
                    if let Some(seq) = view.seq(c.uid) {
                        resync.extend(
                            format!(
                                "* {seq} FETCH (UID {} FLAGS {} MODSEQ ({}))\r\n",
                                c.uid,
                                flag_list(c.flags, &c.keywords),
                                c.modseq
                            )
                            .into_bytes(),
                        );
                    }
                }
            }
            for changes in buffered
                .iter()
                .filter(|c| c.first().is_some_and(|c| c.mailbox() == m.id))
            {
                view.queue(changes);
            }
            let mode = if cmd.read_only {
                "READ-ONLY"
            } else {
                "READ-WRITE"
            };
            let mut bytes = out.into_bytes();
            bytes.extend(resync);
            bytes.extend(format!("{tag} OK [{mode}] selected\r\n").into_bytes());
            tracing::debug!(cid = act.cid, mailbox = %m.name, messages = view.len(), "selected");
            let selected = Selected {
                id: m.id,
                name: m.name.clone(),
                uidvalidity: m.uidvalidity,
                read_only: cmd.read_only,
                view,
                highest_modseq: m.highest_modseq,
            };
            act.state = State::Selected(handle, selected);
            bytes
        }))
    }
}

fn snapshot(
    store: &crate::store::AccountStore,
    id: crate::store::MailboxId,
    qresync: Option<&Qresync>,
) -> Result<Option<Snapshot>, StoreError> {
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
    let (mut changed, mut vanished) = (Vec::new(), Vec::new());
    if let Some(q) = qresync.filter(|q| q.uidvalidity == mailbox.uidvalidity.0) {
        let largest = mailbox.uidnext.0.saturating_sub(1);
        for m in r.changed_since(id, ModSeq(q.modseq), true)? {
            if m.expunged {
                // Only the uids the client said it knows, when it said (RFC 7162 §3.2.5).
                if q.known_uids
                    .as_ref()
                    .is_none_or(|k| k.contains(m.uid.0, largest))
                {
                    vanished.push(m.uid);
                }
            } else {
                changed.push(m);
            }
        }
        changed.sort_by_key(|m| m.uid);
    }
    Ok(Some(Snapshot {
        mailbox,
        entries,
        first_unseen,
        changed,
        vanished,
    }))
}
