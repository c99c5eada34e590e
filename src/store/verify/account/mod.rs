//! One account: its environment's tables against each other and its message files against them.
//!
//! A record that does not decode is reported once; what depends on it (its index entries, its
//! content, its file, its mailbox's counts) is then not reported again, so that one damaged
//! record is one problem.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use heed::types::Str;

mod messages;

use super::files::{self, Expected};
use super::raw::{self, RawDb, Txn};
use super::{Kind, Sink};
use crate::store::account::{
    KEY_NEXT_MAILBOX_ID, KEY_NEXT_MESSAGE_ID, KEY_NEXT_MODSEQ, KEY_NEXT_UIDVALIDITY, TABLES,
};
use crate::store::files::MessageFiles;
use crate::store::ids::{MailboxId, MessageId, ModSeq, Uid};
use crate::store::tables::mailboxes::{Mailbox, canonical_name};
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
    // All but subscriptions are made with the environment.
    for (name, db) in TABLE_NAMES.iter().zip(&tables[..7]) {
        if db.is_none() {
            sink.add(name, "(table)", Kind::Unreadable, "table missing".into());
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
    messages::check_messages(&messages, &txn, &counters, &mut st, sink);
    messages::check_by_modseq(&by_modseq, &txn, &mut st, sink);
    messages::check_by_id(&by_id, &txn, &mut st, sink);
    messages::check_contents(&contents, &txn, &mut st, sink);
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
