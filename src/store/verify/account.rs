//! One account: its environment's tables against each other and its message files against them.
//!
//! A record that does not decode is reported once; what depends on it (its index entries, its
//! content, its file, its mailbox's counts) is then not reported again, so that one damaged
//! record is one problem.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use heed::types::Str;

use super::files::{self, Expected};
use super::raw::{self, RawDb, Txn};
use super::{Kind, Sink};
use crate::store::account::{
    KEY_NEXT_MAILBOX_ID, KEY_NEXT_MESSAGE_ID, KEY_NEXT_MODSEQ, KEY_NEXT_UIDVALIDITY, TABLES,
};
use crate::store::files::MessageFiles;
use crate::store::flags::Flags;
use crate::store::ids::{MailboxId, MessageId, ModSeq, Uid};
use crate::store::tables::contents::Content;
use crate::store::tables::mailboxes::{Mailbox, MailboxCounts, canonical_name};
use crate::store::tables::messages::{Message, MessageKey, ModSeqKey};
use crate::store::tables::secrets;

const TABLE_NAMES: [&str; 8] = [
    "meta",
    "mailboxes",
    "mailbox_names",
    "messages",
    "by_modseq",
    "by_id",
    "contents",
    "subscriptions",
];

/// What the messages table says about one record, for the other checks.
struct Rec {
    id: MessageId,
    modseq: ModSeq,
    expunged: bool,
    size: u64,
}

/// The account's counters from `meta`.
struct Counters {
    last_modseq: ModSeq,
    next_message_id: u64,
    next_mailbox_id: u64,
}

/// State gathered table by table.
#[derive(Default)]
struct State {
    mailboxes: BTreeMap<MailboxId, Mailbox>,
    /// Mailboxes whose record or one of whose message records did not decode: their counts are
    /// not checked.
    unsure_mailboxes: BTreeSet<MailboxId>,
    records: BTreeMap<(MailboxId, Uid), Rec>,
    damaged_records: BTreeSet<(MailboxId, Uid)>,
    /// Live messages: id → place.
    live: BTreeMap<MessageId, (MailboxId, Uid)>,
    /// Ids whose state is unknown because a record naming them did not decode.
    unsure_ids: BTreeSet<MessageId>,
    by_modseq_damaged: bool,
    by_id: BTreeMap<MessageId, (MailboxId, Uid)>,
    contents: BTreeMap<MessageId, u64>,
}

/// Checks the account in `dir`; returns how many live messages it has.
pub(super) fn check(dir: &Path, sink: &mut Sink) -> u64 {
    let index = dir.join("index.mdb");
    if !index.join("data.mdb").is_file() {
        sink.add(
            "env",
            "index.mdb",
            Kind::Unreadable,
            "no index.mdb/data.mdb: the account directory has no environment".into(),
        );
        return 0;
    }
    let env = match raw::open_env(&index) {
        Ok(env) => env,
        Err(e) => {
            sink.add("env", "index.mdb", Kind::Unreadable, e.to_string());
            return 0;
        }
    };
    let tables = match raw::open_tables(&env, TABLE_NAMES) {
        Ok(t) => t,
        Err(e) => {
            sink.add("env", "index.mdb", Kind::Unreadable, e.to_string());
            return 0;
        }
    };
    let txn = match env.read_txn() {
        Ok(t) => t,
        Err(e) => {
            sink.add("env", "index.mdb", Kind::Unreadable, e.to_string());
            return 0;
        }
    };
    let [
        meta,
        mailboxes,
        names,
        messages,
        by_modseq,
        by_id,
        contents,
        subscriptions,
    ] = tables;
    let mut missing = false;
    for (name, db) in TABLE_NAMES.iter().zip(&tables[..7]) {
        if db.is_none() {
            sink.add(name, "(table)", Kind::Unreadable, "table missing".into());
            missing = true;
        }
    }
    let (
        Some(meta),
        Some(mailboxes),
        Some(names),
        Some(messages),
        Some(by_modseq),
        Some(by_id),
        Some(contents),
    ) = (meta, mailboxes, names, messages, by_modseq, by_id, contents)
    else {
        return 0;
    };
    if missing {
        return 0;
    }
    let exists = |table: &str| table != "subscriptions" || subscriptions.is_some();
    if !raw::schema_ok(&meta, &txn, &TABLES, exists, sink) {
        return 0;
    }
    let Some(counters) = counters(&meta, &txn, sink) else {
        return 0;
    };
    if let Err(e) = secrets::get(&meta.remap_key_type::<Str>(), &txn) {
        sink.add("meta", "secrets", Kind::Damaged, e.to_string());
    }

    let mut st = State::default();
    check_mailboxes(&mailboxes, &names, &txn, &counters, &mut st, sink);
    check_messages(&messages, &txn, &counters, &mut st, sink);
    check_by_modseq(&by_modseq, &txn, &mut st, sink);
    check_by_id(&by_id, &txn, &mut st, sink);
    check_contents(&contents, &txn, &mut st, sink);
    if let Some(subscriptions) = subscriptions {
        raw::each(&subscriptions, &txn, "subscriptions", sink, |k, v, sink| {
            if let Err(e) = raw::text(k).and_then(|_| raw::check_empty(v)) {
                sink.add("subscriptions", raw::hex(k), Kind::Damaged, e);
            }
        });
    }
    check_files(dir, &st, sink);
    st.live.len() as u64
}

fn counters(meta: &RawDb, txn: &Txn, sink: &mut Sink) -> Option<Counters> {
    let next_modseq = raw::meta_u64(meta, txn, KEY_NEXT_MODSEQ, sink).ok()?;
    let next_message_id = raw::meta_u64(meta, txn, KEY_NEXT_MESSAGE_ID, sink).ok()?;
    let next_mailbox_id = raw::meta_u64(meta, txn, KEY_NEXT_MAILBOX_ID, sink).ok()?;
    raw::meta_u64(meta, txn, KEY_NEXT_UIDVALIDITY, sink).ok()?;
    let next_modseq = next_modseq.unwrap_or(ModSeq::FIRST.0);
    if next_modseq < ModSeq::FIRST.0 {
        sink.add(
            "meta",
            KEY_NEXT_MODSEQ,
            Kind::Counter,
            format!(
                "{next_modseq} is below the first modseq, {}",
                ModSeq::FIRST.0
            ),
        );
    }
    Some(Counters {
        last_modseq: ModSeq(next_modseq.saturating_sub(1)),
        next_message_id: next_message_id.unwrap_or(1),
        next_mailbox_id: next_mailbox_id.unwrap_or(1),
    })
}

fn mailbox_key(id: MailboxId) -> String {
    format!("mailbox {id}")
}

fn message_key(mailbox: MailboxId, uid: Uid) -> String {
    format!("mailbox {mailbox} uid {uid}")
}

fn check_mailboxes(
    mailboxes: &RawDb,
    names: &RawDb,
    txn: &Txn,
    counters: &Counters,
    st: &mut State,
    sink: &mut Sink,
) {
    raw::each(mailboxes, txn, "mailboxes", sink, |k, v, sink| {
        let id = match raw::key::<MailboxId>(k) {
            Ok(id) => id,
            Err(e) => return sink.add("mailboxes", raw::hex(k), Kind::Damaged, e),
        };
        let mb: Mailbox = match raw::value(v) {
            Ok(mb) => mb,
            Err(e) => {
                st.unsure_mailboxes.insert(id);
                return sink.add("mailboxes", mailbox_key(id), Kind::Damaged, e);
            }
        };
        if mb.id != id {
            sink.add(
                "mailboxes",
                mailbox_key(id),
                Kind::Mismatch,
                format!("the record is that of mailbox {}", mb.id),
            );
        }
        if u64::from(id.0) >= counters.next_mailbox_id {
            sink.add(
                "mailboxes",
                mailbox_key(id),
                Kind::Counter,
                format!(
                    "id not below the next mailbox id, {}",
                    counters.next_mailbox_id
                ),
            );
        }
        if mb.highest_modseq > counters.last_modseq {
            sink.add(
                "mailboxes",
                mailbox_key(id),
                Kind::Counter,
                format!(
                    "highest modseq {} is above the account's last modseq, {}",
                    mb.highest_modseq, counters.last_modseq
                ),
            );
        }
        if canonical_name(&mb.name) != mb.name {
            sink.add(
                "mailboxes",
                mailbox_key(id),
                Kind::Mismatch,
                format!("name {:?} is not in its canonical form", mb.name),
            );
        }
        st.mailboxes.insert(id, mb);
    });
    let mut named = BTreeMap::new();
    raw::each(names, txn, "mailbox_names", sink, |k, v, sink| {
        let name = match raw::text(k) {
            Ok(n) => n,
            Err(e) => return sink.add("mailbox_names", raw::hex(k), Kind::Damaged, e),
        };
        let key = format!("{name:?}");
        let id = match raw::key::<MailboxId>(v) {
            Ok(id) => id,
            Err(e) => return sink.add("mailbox_names", key, Kind::Damaged, e),
        };
        named.insert(id, name.to_string());
        match st.mailboxes.get(&id) {
            Some(mb) if mb.name == name => {}
            Some(mb) => sink.add(
                "mailbox_names",
                key,
                Kind::DanglingIndex,
                format!("names mailbox {id}, which is called {:?}", mb.name),
            ),
            None if st.unsure_mailboxes.contains(&id) => {}
            None => sink.add(
                "mailbox_names",
                key,
                Kind::DanglingIndex,
                format!("names mailbox {id}, which does not exist"),
            ),
        }
    });
    for (id, mb) in &st.mailboxes {
        if named.get(id) != Some(&mb.name) {
            sink.add(
                "mailbox_names",
                format!("{:?}", mb.name),
                Kind::MissingIndex,
                format!("no entry for mailbox {id}"),
            );
        }
    }
}

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

fn check_messages(
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

fn check_by_modseq(by_modseq: &RawDb, txn: &Txn, st: &mut State, sink: &mut Sink) {
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

fn check_by_id(by_id: &RawDb, txn: &Txn, st: &mut State, sink: &mut Sink) {
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

fn check_contents(contents: &RawDb, txn: &Txn, st: &mut State, sink: &mut Sink) {
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

fn check_files(dir: &Path, st: &State, sink: &mut Sink) {
    let expected: BTreeMap<u64, Expected> = st
        .live
        .iter()
        .map(|(id, (mailbox, uid))| {
            let owner = match st.mailboxes.get(mailbox) {
                Some(mb) => format!("message {id} ({:?} uid {uid})", mb.name),
                None => format!("message {id} ({})", message_key(*mailbox, *uid)),
            };
            let size = st.contents.get(id).copied();
            (id.0, Expected { size, owner })
        })
        .collect();
    let files = MessageFiles::<MessageId>::new(dir.join("msg"));
    files::check(
        &files,
        dir,
        "files",
        &expected,
        |n| st.unsure_ids.contains(&MessageId(n)),
        MessageId,
        sink,
    );
}
