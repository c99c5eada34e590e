//! The messages table, its indexes (`by_modseq`, `by_id`) and `contents`, against each other and
//! against the mailboxes.

use std::collections::{BTreeMap, BTreeSet};

use super::{Counters, Rec, State, mailbox_key, message_key};
use crate::store::flags::Flags;
use crate::store::ids::{MailboxId, MessageId, ModSeq, Uid};
use crate::store::tables::contents::Content;
use crate::store::tables::mailboxes::MailboxCounts;
use crate::store::tables::messages::{Message, MessageKey, ModSeqKey};
use crate::store::verify::raw::{self, RawDb, Txn};
use crate::store::verify::{Kind, Sink};

/// The counts the live messages of each mailbox add up to.
fn count(counts: &mut MailboxCounts, m: &Message) {
    counts.total = counts.total.saturating_add(1);
    if !m.flags.contains(Flags::SEEN) {
        counts.unseen = counts.unseen.saturating_add(1);
    }
    if m.flags.contains(Flags::DELETED) {
        counts.deleted = counts.deleted.saturating_add(1);
    }
    counts.size = counts.size.saturating_add(m.size);
}

pub(super) fn check_messages(
    messages: &RawDb,
    txn: &Txn,
    counters: &Counters,
    st: &mut State,
    sink: &mut Sink,
) {
    let mut counts: BTreeMap<MailboxId, MailboxCounts> = BTreeMap::new();
    raw::each(messages, txn, "messages", sink, |k, v, sink| {
        let mk = match raw::key::<MessageKey>(k) {
            Ok(mk) => mk,
            Err(e) => return sink.add("messages", raw::hex(k), Kind::Damaged, e),
        };
        let key = message_key(mk.mailbox, mk.uid);
        let m: Message = match raw::value(v) {
            Ok(m) => m,
            Err(e) => {
                st.damaged_records.insert((mk.mailbox, mk.uid));
                st.unsure_mailboxes.insert(mk.mailbox);
                return sink.add("messages", key, Kind::Damaged, e);
            }
        };
        let mut add = |kind, detail| sink.add("messages", &key, kind, detail);
        if m.mailbox != mk.mailbox || m.uid != mk.uid {
            add(
                Kind::Mismatch,
                format!("the record is that of mailbox {} uid {}", m.mailbox, m.uid),
            );
        }
        match st.mailboxes.get(&mk.mailbox) {
            None if st.unsure_mailboxes.contains(&mk.mailbox) => {}
            None => add(
                Kind::DanglingIndex,
                format!("mailbox {} does not exist", mk.mailbox),
            ),
            Some(mb) => {
                if mk.uid.0 == 0 || mk.uid >= mb.uidnext {
                    add(
                        Kind::Counter,
                        format!(
                            "uid not below the uidnext of mailbox {:?}, {}",
                            mb.name, mb.uidnext
                        ),
                    );
                }
                if m.modseq > mb.highest_modseq {
                    add(
                        Kind::Counter,
                        format!(
                            "modseq {} is above the highest modseq of mailbox {:?}, {}",
                            m.modseq, mb.name, mb.highest_modseq
                        ),
                    );
                }
                if !m.expunged {
                    for k in &m.keywords {
                        if !mb.keywords.iter().any(|have| have.eq_ignore_ascii_case(k)) {
                            add(
                                Kind::Counts,
                                format!(
                                    "keyword {k:?} is not among the keywords of mailbox {:?}",
                                    mb.name
                                ),
                            );
                        }
                    }
                }
            }
        }
        if m.modseq < ModSeq::FIRST || m.modseq > counters.last_modseq {
            add(
                Kind::Counter,
                format!(
                    "modseq {} is outside {}..={}, the modseqs handed out",
                    m.modseq,
                    ModSeq::FIRST,
                    counters.last_modseq
                ),
            );
        }
        if m.createseq > m.modseq {
            add(
                Kind::Counter,
                format!("createseq {} is after modseq {}", m.createseq, m.modseq),
            );
        }
        if m.id.0 == 0 || m.id.0 >= counters.next_message_id {
            add(
                Kind::Counter,
                format!(
                    "message id {} is not below the next message id, {}",
                    m.id, counters.next_message_id
                ),
            );
        }
        if !m.expunged {
            count(counts.entry(mk.mailbox).or_default(), &m);
            if let Some((mb, uid)) = st.live.insert(m.id, (mk.mailbox, mk.uid)) {
                add(
                    Kind::Mismatch,
                    format!("message id {} is also live at mailbox {mb} uid {uid}", m.id),
                );
            }
        }
        st.records.insert(
            (mk.mailbox, mk.uid),
            Rec {
                id: m.id,
                modseq: m.modseq,
                expunged: m.expunged,
                size: m.size,
            },
        );
    });
    for (id, mb) in &st.mailboxes {
        if st.unsure_mailboxes.contains(id) {
            continue;
        }
        let have = counts.get(id).copied().unwrap_or_default();
        if have != mb.counts {
            let c = &mb.counts;
            sink.add(
                "mailboxes",
                mailbox_key(*id),
                Kind::Counts,
                format!(
                    "counts of {:?} are total {} unseen {} deleted {} size {}, its messages make total {} unseen {} deleted {} size {}",
                    mb.name,
                    c.total,
                    c.unseen,
                    c.deleted,
                    c.size,
                    have.total,
                    have.unseen,
                    have.deleted,
                    have.size
                ),
            );
        }
    }
}

pub(super) fn check_by_modseq(by_modseq: &RawDb, txn: &Txn, st: &mut State, sink: &mut Sink) {
    let mut present = BTreeSet::new();
    raw::each(by_modseq, txn, "by_modseq", sink, |k, v, sink| {
        let mk = match raw::key::<ModSeqKey>(k) {
            Ok(mk) => mk,
            Err(e) => {
                st.by_modseq_damaged = true;
                return sink.add("by_modseq", raw::hex(k), Kind::Damaged, e);
            }
        };
        let key = format!("mailbox {} modseq {} uid {}", mk.mailbox, mk.modseq, mk.uid);
        if let Err(e) = raw::check_empty(v) {
            sink.add("by_modseq", &key, Kind::Damaged, e);
        }
        present.insert((mk.mailbox, mk.modseq, mk.uid));
        match st.records.get(&(mk.mailbox, mk.uid)) {
            Some(rec) if rec.modseq == mk.modseq => {}
            Some(rec) => sink.add(
                "by_modseq",
                key,
                Kind::DanglingIndex,
                format!("stale: the message's modseq is {}", rec.modseq),
            ),
            None if st.damaged_records.contains(&(mk.mailbox, mk.uid)) => {}
            None => sink.add(
                "by_modseq",
                key,
                Kind::DanglingIndex,
                "names no message".into(),
            ),
        }
    });
    if st.by_modseq_damaged {
        return;
    }
    for ((mailbox, uid), rec) in &st.records {
        if !present.contains(&(*mailbox, rec.modseq, *uid)) {
            sink.add(
                "by_modseq",
                format!("mailbox {mailbox} modseq {} uid {uid}", rec.modseq),
                Kind::MissingIndex,
                format!(
                    "no entry for {} {}",
                    if rec.expunged { "tombstone" } else { "message" },
                    message_key(*mailbox, *uid)
                ),
            );
        }
    }
}

pub(super) fn check_by_id(by_id: &RawDb, txn: &Txn, st: &mut State, sink: &mut Sink) {
    let mut damaged = BTreeSet::new();
    raw::each(by_id, txn, "by_id", sink, |k, v, sink| {
        let id = match raw::key::<MessageId>(k) {
            Ok(id) => id,
            Err(e) => return sink.add("by_id", raw::hex(k), Kind::Damaged, e),
        };
        let key = format!("message {id}");
        let (mailbox, uid) = match raw::key::<(MailboxId, Uid)>(v) {
            Ok(place) => place,
            Err(e) => {
                damaged.insert(id);
                return sink.add("by_id", key, Kind::Damaged, e);
            }
        };
        st.by_id.insert(id, (mailbox, uid));
        let place = message_key(mailbox, uid);
        match st.records.get(&(mailbox, uid)) {
            None if st.damaged_records.contains(&(mailbox, uid)) => {
                st.unsure_ids.insert(id);
            }
            None => sink.add(
                "by_id",
                key,
                Kind::DanglingIndex,
                format!("points to {place}, which does not exist"),
            ),
            Some(rec) if rec.id != id => sink.add(
                "by_id",
                key,
                Kind::DanglingIndex,
                format!("points to {place}, which is message {}", rec.id),
            ),
            Some(rec) if rec.expunged => sink.add(
                "by_id",
                key,
                Kind::DanglingIndex,
                format!("points to {place}, a tombstone"),
            ),
            Some(_) => {}
        }
    });
    for (id, place) in &st.live {
        if st.by_id.get(id) != Some(place) && !damaged.contains(id) {
            sink.add(
                "by_id",
                format!("message {id}"),
                Kind::MissingIndex,
                format!("no entry for live {}", message_key(place.0, place.1)),
            );
        }
    }
}

pub(super) fn check_contents(contents: &RawDb, txn: &Txn, st: &mut State, sink: &mut Sink) {
    let mut damaged = BTreeSet::new();
    raw::each(contents, txn, "contents", sink, |k, v, sink| {
        let id = match raw::key::<MessageId>(k) {
            Ok(id) => id,
            Err(e) => return sink.add("contents", raw::hex(k), Kind::Damaged, e),
        };
        let key = format!("message {id}");
        let content: Content = match raw::value(v) {
            Ok(c) => c,
            Err(e) => {
                damaged.insert(id);
                return sink.add("contents", key, Kind::Damaged, e);
            }
        };
        if let Err(e) = check_parts(&content) {
            sink.add("contents", &key, Kind::Damaged, e);
        }
        match st.live.get(&id) {
            None if st.unsure_ids.contains(&id) => {}
            None => sink.add(
                "contents",
                key,
                Kind::OrphanContent,
                "no live message has this content".into(),
            ),
            Some(place) => {
                let size = st.records.get(place).map_or(0, |r| r.size);
                if size != content.size() {
                    sink.add(
                        "contents",
                        key,
                        Kind::Counts,
                        format!(
                            "{} has size {size}, its content {} (prefix {} + file {})",
                            message_key(place.0, place.1),
                            content.size(),
                            content.prefix.len(),
                            content.file_size
                        ),
                    );
                }
            }
        }
        st.contents.insert(id, content.file_size);
    });
    for (id, place) in &st.live {
        if !st.contents.contains_key(id) && !damaged.contains(id) {
            sink.add(
                "contents",
                format!("message {id}"),
                Kind::MissingContent,
                format!(
                    "live {} has no content record",
                    message_key(place.0, place.1)
                ),
            );
        }
    }
    st.unsure_ids.extend(damaged);
}

/// The part tree fits its file: the root part ends within it and children exist. (Offsets of
/// parts inside an encoded message/rfc822 are into the decoded bytes, so only the root is
/// checked against the file size.)
fn check_parts(content: &Content) -> Result<(), String> {
    if let Some(root) = content.parts.first()
        && u64::from(root.end) > content.file_size
    {
        return Err(format!(
            "part tree ends at {}, beyond the file's {} bytes",
            root.end, content.file_size
        ));
    }
    let n = content.parts.len();
    for (i, p) in content.parts.iter().enumerate() {
        if let Some(c) = p.children.iter().find(|&&c| c as usize >= n) {
            return Err(format!("part {i} has child {c} of {n} parts"));
        }
    }
    Ok(())
}
