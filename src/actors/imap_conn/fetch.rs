//! FETCH and UID FETCH (RFC 9051 §6.4.5, CONDSTORE's MODSEQ and CHANGEDSINCE from RFC 7162
//! §3.1.4). Messages are read from a read transaction and their files on the blocking pool; a
//! non-PEEK body fetch sets \Seen through the account actor first.

use std::sync::Arc;

use actix::prelude::*;

use super::view::{Entry, SetKind};
use super::{ImapConn, Reply, done};
use crate::actors::account::ChangeFlags;
use crate::protocols::imap::binary::{BinaryError, write_binary};
use crate::protocols::imap::bodystructure::body_structure;
use crate::protocols::imap::envelope::envelope;
use crate::protocols::imap::response::{date_time, flag_list, literal};
use crate::protocols::imap::section::MessageView;
use crate::protocols::imap::types::{FetchItem, Section, SeqSet};
use crate::store::{AccountStore, FlagOp, Flags, MailboxId, ModSeq, StoreError, StoreFlags, Uid};

struct Request {
    mailbox: MailboxId,
    targets: Vec<(u32, Entry)>,
    items: Vec<FetchItem>,
    changed_since: Option<u64>,
    condstore: bool,
    /// Whether strings may hold UTF-8 (UTF8=ACCEPT enabled, RFC 6855); else ENVELOPE and
    /// BODYSTRUCTURE encode non-ASCII text.
    utf8: bool,
    /// UID FETCH (CHANGEDSINCE n VANISHED): the uid set whose expunges since n to report.
    vanished: Option<SeqSet>,
}

impl ImapConn {
    pub(super) fn fetch(
        &mut self,
        tag: String,
        uid: bool,
        set: SeqSet,
        items: Vec<FetchItem>,
        changed_since: Option<u64>,
        vanished: bool,
    ) -> Reply {
        if vanished && !self.enabled.qresync {
            // RFC 7162 §3.2.6.
            return done(format!("{tag} BAD VANISHED needs ENABLE QRESYNC\r\n"));
        }
        let vanished = vanished.then(|| set.clone());
        // UTF-8 in responses only for clients that said they take it (RFC 6855, RFC 9051 §6.3.1).
        let utf8 = self.enabled.utf8 || self.enabled.rev2;
        let Some((handle, selected)) = self.selected() else {
            return done(format!("{tag} BAD select a mailbox first\r\n"));
        };
        let kind = if uid { SetKind::Uid } else { SetKind::Seq };
        let targets = match selected.view.resolve(&set, kind) {
            Ok(t) => t,
            Err(e) => return done(format!("{tag} BAD {e}\r\n")),
        };
        // RFC 7162 §3.1: asking for MODSEQ or CHANGEDSINCE enables CONDSTORE.
        if changed_since.is_some() || items.contains(&FetchItem::ModSeq) {
            selected.view.condstore = true;
        }
        let set_seen = !selected.read_only
            && items.iter().any(|i| {
                matches!(
                    i,
                    FetchItem::Body { peek: false, .. } | FetchItem::Binary { peek: false, .. }
                )
            });
        let request = Request {
            mailbox: selected.id,
            targets,
            items,
            changed_since,
            condstore: selected.view.condstore,
            utf8,
            vanished,
        };
        let (store, account) = (handle.store.clone(), handle.addr.clone());
        let work = async move {
            let mut seen_set = Vec::new();
            if set_seen {
                let unseen = unseen_uids(
                    store.clone(),
                    request.mailbox,
                    request.targets.iter().map(|(_, e)| e.uid).collect(),
                )
                .await?;
                if !unseen.is_empty() {
                    let op = StoreFlags {
                        mailbox: request.mailbox,
                        uids: unseen,
                        op: FlagOp::Add,
                        flags: Flags::SEEN,
                        keywords: Vec::new(),
                        unchanged_since: None,
                    };
                    let stored = account
                        .send(ChangeFlags { request: op })
                        .await
                        .map_err(|e| e.to_string())?
                        .map_err(|e| e.to_string())?;
                    seen_set = stored.changed.into_iter().map(|c| c.uid).collect();
                }
            }
            actix_rt::task::spawn_blocking(move || {
                build(&store, &request, &seen_set).map_err(|e| e.to_string())
            })
            .await
            .map_err(|e| e.to_string())?
        };
        Box::pin(work.into_actor(self).map(move |result, act, _| {
            let Some((_, selected)) = act.selected() else {
                return format!("{tag} NO mailbox no longer selected\r\n").into_bytes();
            };
            match result {
                Ok((mut out, reported, failed)) => {
                    for (uid, modseq) in reported {
                        selected.view.reported(uid, modseq);
                    }
                    selected.view.flush(uid, &mut out);
                    match failed {
                        Some(no) => out.extend(format!("{tag} NO {no}\r\n").into_bytes()),
                        None => out.extend(format!("{tag} OK done\r\n").into_bytes()),
                    }
                    out
                }
                Err(e) => {
                    tracing::error!(cid = act.cid, error = %e, "fetch failed");
                    format!("{tag} NO [SERVERBUG] {e}\r\n").into_bytes()
                }
            }
        }))
    }
}

async fn unseen_uids(
    store: Arc<AccountStore>,
    mailbox: MailboxId,
    uids: Vec<Uid>,
) -> Result<Vec<Uid>, String> {
    let read = actix_rt::task::spawn_blocking(move || -> Result<Vec<Uid>, StoreError> {
        let r = store.read()?;
        let mut out = Vec::new();
        for uid in uids {
            if let Some(m) = r.message(mailbox, uid)?
                && !m.flags.contains(Flags::SEEN)
            {
                out.push(uid);
            }
        }
        Ok(out)
    });
    read.await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

/// The untagged FETCH responses, the (uid, modseq) of each message whose flags they report, and
/// the text of a tagged NO when a message could not be answered (BINARY of a part that cannot be
/// decoded): the responses before it are sent, the rest of the set is not.
type Built = (Vec<u8>, Vec<(Uid, ModSeq)>, Option<String>);

fn build(store: &AccountStore, req: &Request, seen_set: &[Uid]) -> Result<Built, StoreError> {
    let r = store.read()?;
    let mut out = Vec::new();
    if let (Some(set), Some(since)) = (&req.vanished, req.changed_since) {
        // RFC 7162 §3.2.6: the expunges since `since` within the set, before the FETCHes.
        let largest = r
            .mailbox_by_id(req.mailbox)?
            .map_or(0, |m| m.uidnext.0.saturating_sub(1));
        let gone: Vec<Uid> = r
            .changed_since(req.mailbox, ModSeq(since), true)?
            .into_iter()
            .filter(|m| m.expunged && set.contains(m.uid.0, largest))
            .map(|m| m.uid)
            .collect();
        if !gone.is_empty() {
            out.extend(
                format!("* VANISHED (EARLIER) {}\r\n", super::view::uid_set(&gone)).into_bytes(),
            );
        }
    }
    let mut reported = Vec::new();
    let wants_file = req.items.iter().any(|i| {
        matches!(
            i,
            FetchItem::Body { .. } | FetchItem::Binary { .. } | FetchItem::BinarySize { .. }
        )
    });
    // ENVELOPE and BODYSTRUCTURE come from the stored part tree alone.
    let wants_parts = wants_file
        || req
            .items
            .iter()
            .any(|i| matches!(i, FetchItem::Envelope | FetchItem::BodyStructure { .. }));
    for (seq, entry) in &req.targets {
        // Expunged by another session since the client learned of it: nothing to send.
        let Some(m) = r.message(req.mailbox, entry.uid)? else {
            continue;
        };
        if req.changed_since.is_some_and(|cs| m.modseq.0 <= cs) {
            continue;
        }
        let content = if wants_parts {
            Some(r.content(m.id)?.ok_or_else(|| {
                StoreError::Corrupt(format!("no content record for message {}", m.id))
            })?)
        } else {
            None
        };
        let file = if wants_file {
            Some(std::fs::read(r.message_path(m.id))?)
        } else {
            None
        };
        let view = match (&content, &file) {
            (Some(content), Some(file)) => Some(MessageView {
                prefix: &content.prefix,
                file,
                parts: &content.parts,
            }),
            _ => None,
        };
        let mut fields: Vec<Vec<u8>> = Vec::new();
        let mut has_flags = false;
        let mut has_modseq = false;
        for item in &req.items {
            match item {
                FetchItem::Uid => fields.push(format!("UID {}", m.uid).into_bytes()),
                FetchItem::Flags => {
                    has_flags = true;
                    fields.push(format!("FLAGS {}", flag_list(m.flags, &m.keywords)).into_bytes());
                }
                FetchItem::Rfc822Size => {
                    fields.push(format!("RFC822.SIZE {}", m.size).into_bytes())
                }
                FetchItem::InternalDate => {
                    fields.push(format!("INTERNALDATE {}", date_time(m.received)).into_bytes())
                }
                FetchItem::ModSeq => {
                    has_modseq = true;
                    fields.push(format!("MODSEQ ({})", m.modseq).into_bytes());
                }
                FetchItem::SaveDate => {
                    fields.push(format!("SAVEDATE {}", date_time(m.saved)).into_bytes())
                }
                FetchItem::Envelope => {
                    let Some(content) = &content else { continue };
                    let mut field = b"ENVELOPE ".to_vec();
                    field.extend(envelope(&content.parts, req.utf8));
                    fields.push(field);
                }
                FetchItem::BodyStructure { extensions } => {
                    let Some(content) = &content else { continue };
                    let name = if *extensions {
                        "BODYSTRUCTURE "
                    } else {
                        "BODY "
                    };
                    let mut field = name.as_bytes().to_vec();
                    field.extend(body_structure(&content.parts, *extensions, req.utf8));
                    fields.push(field);
                }
                FetchItem::Binary { part, partial, .. } => {
                    let Some(view) = &view else { continue };
                    let wire = Section {
                        part: part.clone(),
                        spec: None,
                    }
                    .to_wire();
                    let mut field = format!("BINARY[{wire}]").into_bytes();
                    match view.binary(part) {
                        Ok(d) => {
                            let d = match partial {
                                Some((start, len)) => {
                                    field.extend(format!("<{start}>").into_bytes());
                                    slice(&d, *start, *len)
                                }
                                None => &d[..],
                            };
                            field.push(b' ');
                            write_binary(&mut field, d);
                        }
                        Err(BinaryError::NoSuchPart) => field.extend_from_slice(b" NIL"),
                        Err(e) => return Ok((out, reported, Some(binary_failure(&e)))),
                    }
                    fields.push(field);
                }
                FetchItem::BinarySize { part } => {
                    let Some(view) = &view else { continue };
                    let wire = Section {
                        part: part.clone(),
                        spec: None,
                    }
                    .to_wire();
                    // BINARY.SIZE is a number: a part that does not exist has size 0.
                    let size = match view.binary_size(part) {
                        Ok(n) => n,
                        Err(BinaryError::NoSuchPart) => 0,
                        Err(e) => return Ok((out, reported, Some(binary_failure(&e)))),
                    };
                    fields.push(format!("BINARY.SIZE[{wire}] {size}").into_bytes());
                }
                FetchItem::Body {
                    section,
                    partial,
                    rfc822,
                    ..
                } => {
                    let Some(view) = &view else { continue };
                    let mut field = match rfc822 {
                        Some(name) => name.as_bytes().to_vec(),
                        None => format!("BODY[{}]", section.to_wire()).into_bytes(),
                    };
                    let data = view.section(section);
                    let data = match (data, partial) {
                        (Some(d), Some((start, len))) => {
                            field.extend(format!("<{start}>").into_bytes());
                            Some(slice(&d, *start, *len).to_vec())
                        }
                        (d, _) => d,
                    };
                    field.push(b' ');
                    match data {
                        Some(d) => literal(&mut field, &d),
                        None => field.extend_from_slice(b"NIL"),
                    }
                    fields.push(field);
                }
            }
        }
        // RFC 9051 §6.4.5: a \Seen set by this fetch is reported with the new flags.
        if seen_set.contains(&m.uid) && !has_flags {
            has_flags = true;
            fields.push(format!("FLAGS {}", flag_list(m.flags, &m.keywords)).into_bytes());
        }
        if has_flags && req.condstore && !has_modseq {
            fields.push(format!("MODSEQ ({})", m.modseq).into_bytes());
        }
        if has_flags {
            reported.push((m.uid, m.modseq));
        }
        out.extend(format!("* {seq} FETCH (").into_bytes());
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(f);
        }
        out.extend_from_slice(b")\r\n");
    }
    Ok((out, reported, None))
}

/// `<start.len>` of `data` (RFC 9051 §6.4.5 partial), clamped to what exists.
fn slice(data: &[u8], start: u32, len: u32) -> &[u8] {
    let s = (start as usize).min(data.len());
    let e = s.saturating_add(len as usize).min(data.len());
    &data[s..e]
}

/// The tagged NO text for a BINARY that cannot be answered.
fn binary_failure(e: &BinaryError) -> String {
    match e {
        BinaryError::UnknownCte(_) => format!("[UNKNOWN-CTE] {e}"),
        _ => e.to_string(),
    }
}
