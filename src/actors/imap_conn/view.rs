//! A session's view of its selected mailbox: the messages it has told the client about, in
//! sequence-number order, and the changes from other sessions waiting to be announced at a point
//! where RFC 9051 §7 allows it.

use std::collections::VecDeque;
use std::fmt::Write;

use crate::protocols::imap::response::flag_list;
use crate::protocols::imap::types::SeqSet;
use crate::store::{Change, ModSeq, Uid};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub uid: Uid,
    /// The modseq of the message's state last reported to the client.
    pub modseq: ModSeq,
}

#[derive(Debug, Default)]
pub struct View {
    /// Index + 1 is the sequence number.
    entries: Vec<Entry>,
    /// Messages announced to the client with EXISTS.
    announced: usize,
    pending: VecDeque<Change>,
    /// Include MODSEQ in unsolicited FETCH responses (CONDSTORE enabled, RFC 7162 §3.1.2).
    pub condstore: bool,
    /// Report expunges as VANISHED (QRESYNC enabled, RFC 7162 §3.2.10).
    pub qresync: bool,
    /// The uids a SEARCH saved for `$` (RFC 5182), ascending.
    pub saved: Vec<Uid>,
}

/// Which sequence set a command means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetKind {
    Seq,
    Uid,
}

impl View {
    pub fn new(entries: Vec<Entry>, condstore: bool) -> View {
        let announced = entries.len();
        View {
            entries,
            announced,
            pending: VecDeque::new(),
            condstore,
            qresync: false,
            saved: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    fn position(&self, uid: Uid) -> Option<usize> {
        self.entries.binary_search_by_key(&uid, |e| e.uid).ok()
    }

    /// Sequence number of `uid`, if in the view.
    pub fn seq(&self, uid: Uid) -> Option<u32> {
        self.position(uid).map(|i| i as u32 + 1)
    }

    /// The messages `set` names, in sequence order. A sequence number beyond the mailbox is an
    /// error (RFC 9051 §9 "seq-number"); uids that do not exist are simply not matched.
    pub fn resolve(&self, set: &SeqSet, kind: SetKind) -> Result<Vec<(u32, Entry)>, String> {
        if set.is_saved() {
            // `$` holds uids; those expunged since are simply gone (RFC 5182 §2.1).
            return Ok(self
                .entries
                .iter()
                .enumerate()
                .filter(|(_, e)| self.saved.binary_search(&e.uid).is_ok())
                .map(|(i, e)| (i as u32 + 1, *e))
                .collect());
        }
        match kind {
            SetKind::Seq => {
                let n = self.entries.len() as u32;
                if n == 0 || set.max_value() > n {
                    return Err(
                        "invalid sequence number: beyond the messages in the mailbox".into(),
                    );
                }
                Ok((1..=n)
                    .filter(|&s| set.contains(s, n))
                    .map(|s| (s, self.entries[s as usize - 1]))
                    .collect())
            }
            SetKind::Uid => {
                let largest = self.entries.last().map_or(0, |e| e.uid.0);
                Ok(self
                    .entries
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| set.contains(e.uid.0, largest))
                    .map(|(i, e)| (i as u32 + 1, *e))
                    .collect())
            }
        }
    }

    /// Records that the client was told about `uid`'s state at `modseq`.
    pub fn reported(&mut self, uid: Uid, modseq: ModSeq) {
        if let Some(i) = self.position(uid) {
            self.entries[i].modseq = self.entries[i].modseq.max(modseq);
        }
    }

    /// Removes `uid` (expunged by this session) and returns its sequence number at that moment.
    pub fn remove(&mut self, uid: Uid) -> Option<u32> {
        let i = self.position(uid)?;
        self.entries.remove(i);
        if i < self.announced {
            self.announced -= 1;
        }
        Some(i as u32 + 1)
    }

    /// Queues changes from a commit, to be announced later.
    pub fn queue(&mut self, changes: &[Change]) {
        self.pending.extend(
            changes
                .iter()
                .filter(|c| !matches!(c, Change::Mailbox(_)))
                .cloned(),
        );
    }

    /// Announces queued changes as untagged responses. With `allow_expunge` false (during FETCH,
    /// STORE and SEARCH by sequence number, RFC 9051 §7.5.1), stops before the first expunge so
    /// sequence numbers stay as the client knows them.
    pub fn flush(&mut self, allow_expunge: bool, out: &mut Vec<u8>) {
        while let Some(change) = self.pending.pop_front() {
            match change {
                Change::Added { uid, modseq, .. } => {
                    if self.entries.last().is_none_or(|e| e.uid < uid) {
                        self.entries.push(Entry { uid, modseq });
                    }
                }
                Change::Flags {
                    uid,
                    modseq,
                    flags,
                    keywords,
                    ..
                } => {
                    let Some(i) = self.position(uid) else {
                        continue;
                    };
                    if self.entries[i].modseq >= modseq {
                        continue;
                    }
                    self.entries[i].modseq = modseq;
                    if i >= self.announced {
                        // Announced with the EXISTS below; its flags come with the client's FETCH.
                        continue;
                    }
                    let _ = write!(
                        out_string(out),
                        "* {} FETCH (UID {} FLAGS {}",
                        i + 1,
                        uid,
                        flag_list(flags, &keywords)
                    );
                    if self.condstore {
                        let _ = write!(out_string(out), " MODSEQ ({modseq})");
                    }
                    out.extend_from_slice(b")\r\n");
                }
                Change::Expunged { ref uids, .. } => {
                    if !allow_expunge && uids.iter().any(|u| self.position(*u).is_some()) {
                        self.pending.push_front(change);
                        break;
                    }
                    self.announce_exists(out);
                    let removed: Vec<Uid> = uids
                        .iter()
                        .copied()
                        .filter(|u| self.remove_announced(*u, out))
                        .collect();
                    if self.qresync && !removed.is_empty() {
                        let _ = write!(out_string(out), "* VANISHED {}\r\n", uid_set(&removed));
                    }
                }
                // The session ends before it would flush (see the session's change handler).
                Change::Mailbox(_) | Change::MailboxDeleted(_) => {}
            }
        }
        self.announce_exists(out);
    }

    /// Removes `uid` and writes its EXPUNGE (unless QRESYNC reports it as VANISHED). Whether it
    /// was in the view.
    pub fn remove_announced(&mut self, uid: Uid, out: &mut Vec<u8>) -> bool {
        match self.remove(uid) {
            Some(seq) => {
                if !self.qresync {
                    let _ = write!(out_string(out), "* {seq} EXPUNGE\r\n");
                }
                true
            }
            None => false,
        }
    }

    fn announce_exists(&mut self, out: &mut Vec<u8>) {
        if self.entries.len() != self.announced {
            self.announced = self.entries.len();
            let _ = write!(out_string(out), "* {} EXISTS\r\n", self.announced);
        }
    }
}

/// A uid set in its compact form: `1:3,7,9:10` (uids in ascending order).
pub fn uid_set(uids: &[Uid]) -> String {
    let mut sorted: Vec<u32> = uids.iter().map(|u| u.0).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

/// Lets `write!` append to a byte buffer.
fn out_string(out: &mut Vec<u8>) -> OutWriter<'_> {
    OutWriter(out)
}

struct OutWriter<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for OutWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::imap::types::SeqNum;
    use crate::store::{Flags, MailboxId};

    fn view(uids: &[u32]) -> View {
        View::new(
            uids.iter()
                .map(|&u| Entry {
                    uid: Uid(u),
                    modseq: ModSeq(5),
                })
                .collect(),
            true,
        )
    }

    fn flush(v: &mut View, allow: bool) -> String {
        let mut out = Vec::new();
        v.flush(allow, &mut out);
        String::from_utf8(out).unwrap()
    }

    const MB: MailboxId = MailboxId(1);

    #[test]
    fn resolves_sets() {
        let v = view(&[3, 7, 9]);
        let set = SeqSet(vec![(SeqNum::Value(2), SeqNum::Star)]);
        let seqs: Vec<u32> = v
            .resolve(&set, SetKind::Seq)
            .unwrap()
            .iter()
            .map(|(s, _)| *s)
            .collect();
        assert_eq!(seqs, [2, 3]);
        let uids: Vec<u32> = v
            .resolve(
                &SeqSet(vec![(SeqNum::Value(8), SeqNum::Star)]),
                SetKind::Uid,
            )
            .unwrap()
            .iter()
            .map(|(_, e)| e.uid.0)
            .collect();
        assert_eq!(uids, [9]);
        assert!(
            v.resolve(
                &SeqSet(vec![(SeqNum::Value(4), SeqNum::Value(4))]),
                SetKind::Seq
            )
            .is_err()
        );
        assert!(
            view(&[])
                .resolve(
                    &SeqSet(vec![(SeqNum::Value(1), SeqNum::Star)]),
                    SetKind::Seq
                )
                .is_err()
        );
    }

    #[test]
    fn announces_in_order_and_skips_what_it_knows() {
        let mut v = view(&[1, 2, 3]);
        v.queue(&[
            Change::Added {
                mailbox: MB,
                uid: Uid(3),
                modseq: ModSeq(4),
                flags: Flags::empty(),
                keywords: vec![],
            },
            Change::Added {
                mailbox: MB,
                uid: Uid(4),
                modseq: ModSeq(6),
                flags: Flags::empty(),
                keywords: vec![],
            },
            Change::Flags {
                mailbox: MB,
                uid: Uid(2),
                modseq: ModSeq(5),
                flags: Flags::SEEN,
                keywords: vec![],
            },
            Change::Flags {
                mailbox: MB,
                uid: Uid(1),
                modseq: ModSeq(7),
                flags: Flags::SEEN,
                keywords: vec!["k".into()],
            },
            Change::Expunged {
                mailbox: MB,
                uids: vec![Uid(2)],
                modseq: ModSeq(8),
            },
        ]);
        assert_eq!(
            flush(&mut v, false),
            "* 1 FETCH (UID 1 FLAGS (\\Seen k) MODSEQ (7))\r\n* 4 EXISTS\r\n"
        );
        assert_eq!(flush(&mut v, true), "* 2 EXPUNGE\r\n");
        assert_eq!(v.len(), 3);
        assert_eq!(v.seq(Uid(4)), Some(3));
    }

    #[test]
    fn expunge_of_unannounced_message_announces_it_first() {
        let mut v = view(&[1]);
        v.queue(&[
            Change::Added {
                mailbox: MB,
                uid: Uid(2),
                modseq: ModSeq(6),
                flags: Flags::empty(),
                keywords: vec![],
            },
            Change::Expunged {
                mailbox: MB,
                uids: vec![Uid(2)],
                modseq: ModSeq(7),
            },
        ]);
        assert_eq!(flush(&mut v, true), "* 2 EXISTS\r\n* 2 EXPUNGE\r\n");
        assert_eq!(flush(&mut v, true), "");
    }
}

#[cfg(test)]
mod qresync_tests {
    use super::*;
    use crate::store::{Flags, MailboxId};

    #[test]
    fn uid_sets_are_compact() {
        let u = |v: &[u32]| v.iter().map(|&x| Uid(x)).collect::<Vec<_>>();
        assert_eq!(uid_set(&u(&[9, 1, 2, 3, 7, 10, 2])), "1:3,7,9:10");
        assert_eq!(uid_set(&u(&[5])), "5");
        assert_eq!(uid_set(&[]), "");
    }

    #[test]
    fn qresync_reports_vanished() {
        let mut v = View::new(
            vec![
                Entry {
                    uid: Uid(1),
                    modseq: ModSeq(2),
                },
                Entry {
                    uid: Uid(2),
                    modseq: ModSeq(2),
                },
            ],
            true,
        );
        v.qresync = true;
        v.queue(&[
            Change::Added {
                mailbox: MailboxId(1),
                uid: Uid(3),
                modseq: ModSeq(3),
                flags: Flags::empty(),
                keywords: vec![],
            },
            Change::Expunged {
                mailbox: MailboxId(1),
                uids: vec![Uid(1), Uid(3)],
                modseq: ModSeq(4),
            },
        ]);
        let mut out = Vec::new();
        v.flush(true, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "* 3 EXISTS\r\n* VANISHED 1,3\r\n"
        );
        assert_eq!(v.len(), 1);
    }
}
