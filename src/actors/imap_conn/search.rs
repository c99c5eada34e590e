//! SEARCH and UID SEARCH (RFC 9051 §6.4.4) with ESEARCH (RFC 4731), SEARCHRES (RFC 5182) and
//! CONDSTORE's MODSEQ key: the messages of the session's view, matched on a read transaction.

use actix::prelude::*;

use super::{ImapConn, Reply, done};
use crate::protocols::imap::parse::SearchCommand;
use crate::protocols::imap::search::{self, Hit, Loaded, SearchContext};
use crate::store::{StoreError, Uid};

impl ImapConn {
    pub(super) fn search(&mut self, tag: String, cmd: SearchCommand) -> Reply {
        let rev2 = self.enabled.rev2;
        if cmd.key.uses_modseq() {
            // RFC 7162 §3.1: a MODSEQ search key enables CONDSTORE.
            self.enabled.condstore = true;
        }
        let Some((handle, selected)) = self.selected() else {
            return done(format!("{tag} BAD select a mailbox first\r\n"));
        };
        if cmd.key.uses_modseq() {
            selected.view.condstore = true;
        }
        let mailbox = selected.id;
        let entries: Vec<(u32, Uid)> = selected
            .view
            .entries()
            .iter()
            .enumerate()
            .map(|(i, e)| (i as u32 + 1, e.uid))
            .collect();
        let saved = selected.view.saved.clone();
        let store = handle.store.clone();
        let key = cmd.key.clone();
        let work = actix_rt::task::spawn_blocking(move || -> Result<Vec<Hit>, StoreError> {
            let r = store.read()?;
            let ctx = SearchContext {
                max_seq: entries.len() as u32,
                max_uid: entries.last().map_or(Uid(0), |(_, u)| *u),
                saved: &saved,
                now: crate::store::account::now(),
            };
            let mut hits = Vec::new();
            for (seq, uid) in entries {
                // Expunged by another session since the client learned of it: not a match.
                let Some(m) = r.message(mailbox, uid)? else {
                    continue;
                };
                let load = || -> Result<Loaded, StoreError> {
                    let content = r.content(m.id)?.ok_or_else(|| {
                        StoreError::Corrupt(format!("no content record for message {}", m.id))
                    })?;
                    Ok(Loaded {
                        content,
                        file: std::fs::read(r.message_path(m.id))?,
                    })
                };
                if search::matches(&key, &ctx, &m, seq, load)? {
                    hits.push(Hit::of(seq, &m));
                }
            }
            Ok(hits)
        });
        Box::pin(work.into_actor(self).map(move |result, act, _| {
            let save = cmd.ret.as_ref().is_some_and(|r| r.save);
            let hits = match result
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| e.to_string()))
            {
                Ok(hits) => hits,
                Err(e) => {
                    if save && let Some((_, s)) = act.selected() {
                        // RFC 5182 §2.1: a failed SEARCH that was to save empties `$`.
                        s.view.saved.clear();
                    }
                    return format!("{tag} NO [SERVERBUG] {e}\r\n").into_bytes();
                }
            };
            let response = search::respond(&tag, &cmd, &hits, rev2);
            if let (Some(saved), Some((_, s))) = (response.saved, act.selected()) {
                s.view.saved = saved;
            }
            let mut out = response.untagged;
            out.extend(format!("{tag} OK searched\r\n").into_bytes());
            out
        }))
    }
}
