//! The server environment: its `accounts` table and the outgoing queue (`queue`, `queue_files`
//! and the files in `DATA/queue/`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::files::{self, Expected};
use super::raw::{self, RawDb, Txn};
use super::{Kind, Sink};
use crate::store::files::MessageFiles;
use crate::store::ids::{QueueFileId, QueueId};
use crate::store::queue::{self, FileUse, QueueEntry};
use crate::store::schema::TableVersion;
use crate::store::server::{ACCOUNTS_SCHEMA, AccountRecord};

const TABLE_NAMES: [&str; 4] = ["meta", "accounts", "queue", "queue_files"];

/// Checks the server environment of `data`; `account_dirs` are the account directories found.
/// Returns how many queue entries there are.
pub(super) fn check(data: &Path, account_dirs: &[String], sink: &mut Sink) -> u64 {
    let path = data.join("server.mdb");
    if !path.join("data.mdb").is_file() {
        sink.add(
            "env",
            "server.mdb",
            Kind::Unreadable,
            "no server.mdb/data.mdb: the data directory has no server environment".into(),
        );
        return 0;
    }
    let env = match raw::open_env(&path) {
        Ok(env) => env,
        Err(e) => {
            sink.add("env", "server.mdb", Kind::Unreadable, e.to_string());
            return 0;
        }
    };
    let opened = raw::open_tables(&env, TABLE_NAMES).and_then(|t| Ok((t, env.read_txn()?)));
    let ([meta, accounts, entries, file_uses], txn) = match opened {
        Ok(o) => o,
        Err(e) => {
            sink.add("env", "server.mdb", Kind::Unreadable, e.to_string());
            return 0;
        }
    };
    let (Some(meta), Some(accounts)) = (meta, accounts) else {
        sink.add(
            "env",
            "server.mdb",
            Kind::Unreadable,
            "table meta or accounts missing".into(),
        );
        return 0;
    };
    let mut tables = vec![TableVersion {
        table: "accounts",
        version: ACCOUNTS_SCHEMA,
    }];
    tables.extend(queue::TABLES);
    let exists = |t: &str| match t {
        "queue" => entries.is_some(),
        "queue_files" => file_uses.is_some(),
        _ => true,
    };
    if !raw::schema_ok(&meta, &txn, &tables, exists, sink) {
        return 0;
    }
    check_accounts(&accounts, &txn, account_dirs, sink);
    match (entries, file_uses) {
        (Some(entries), Some(file_uses)) => {
            check_queue(data, &meta, &entries, &file_uses, &txn, sink)
        }
        // Created together when the server opens the queue; a directory from before the queue
        // has neither.
        (None, None) => {
            let expected = BTreeMap::new();
            check_queue_files(data, &expected, &BTreeSet::new(), sink);
            0
        }
        _ => {
            sink.add(
                "env",
                "server.mdb",
                Kind::Unreadable,
                "one of the tables queue and queue_files is missing".into(),
            );
            0
        }
    }
}

fn check_accounts(accounts: &RawDb, txn: &Txn, account_dirs: &[String], sink: &mut Sink) {
    raw::each(accounts, txn, "accounts", sink, |k, v, sink| {
        let name = match raw::text(k) {
            Ok(n) => n,
            Err(e) => return sink.add("accounts", raw::hex(k), Kind::Damaged, e),
        };
        let record: AccountRecord = match raw::value(v) {
            Ok(r) => r,
            Err(e) => return sink.add("accounts", name, Kind::Damaged, e),
        };
        if record.name != name {
            sink.add(
                "accounts",
                name,
                Kind::Mismatch,
                format!("the record is that of account {:?}", record.name),
            );
        }
        if !account_dirs.iter().any(|d| d == name) {
            sink.add(
                "accounts",
                name,
                Kind::MissingFile,
                format!("no account directory accounts/{name}"),
            );
        }
    });
}

/// What an entry says about its file.
struct EntryFile {
    file: QueueFileId,
    /// The size of the file: the entry's size less its prefix.
    file_size: Option<u64>,
    recipient: String,
}

fn check_queue(
    data: &Path,
    meta: &RawDb,
    entries: &RawDb,
    file_uses: &RawDb,
    txn: &Txn,
    sink: &mut Sink,
) -> u64 {
    let next_id = raw::meta_u64(meta, txn, queue::KEY_NEXT_QUEUE_ID, sink)
        .ok()
        .flatten()
        .unwrap_or(1);
    let next_file = raw::meta_u64(meta, txn, queue::KEY_NEXT_QUEUE_FILE_ID, sink)
        .ok()
        .flatten()
        .unwrap_or(1);
    let mut by_id: BTreeMap<QueueId, EntryFile> = BTreeMap::new();
    let mut damaged = BTreeSet::new();
    raw::each(entries, txn, "queue", sink, |k, v, sink| {
        let id = match raw::key::<QueueId>(k) {
            Ok(id) => id,
            Err(e) => return sink.add("queue", raw::hex(k), Kind::Damaged, e),
        };
        let key = format!("entry {id}");
        let e: QueueEntry = match raw::value(v) {
            Ok(e) => e,
            Err(err) => {
                damaged.insert(id);
                return sink.add("queue", key, Kind::Damaged, err);
            }
        };
        if e.id != id {
            sink.add(
                "queue",
                &key,
                Kind::Mismatch,
                format!("the record is that of entry {}", e.id),
            );
        }
        if id.0 == 0 || id.0 >= next_id {
            sink.add(
                "queue",
                &key,
                Kind::Counter,
                format!("id not below the next queue id, {next_id}"),
            );
        }
        if e.file.0 == 0 || e.file.0 >= next_file {
            sink.add(
                "queue",
                &key,
                Kind::Counter,
                format!(
                    "file {} not below the next queue file id, {next_file}",
                    e.file
                ),
            );
        }
        let file_size = e.size.checked_sub(e.prefix.len() as u64);
        if file_size.is_none() {
            sink.add(
                "queue",
                &key,
                Kind::Counts,
                format!(
                    "size {} is less than its prefix of {} bytes",
                    e.size,
                    e.prefix.len()
                ),
            );
        }
        by_id.insert(
            id,
            EntryFile {
                file: e.file,
                file_size,
                recipient: e.recipient,
            },
        );
    });
    let mut uses = BTreeSet::new();
    raw::each(file_uses, txn, "queue_files", sink, |k, v, sink| {
        let u = match raw::key::<FileUse>(k) {
            Ok(u) => u,
            Err(e) => return sink.add("queue_files", raw::hex(k), Kind::Damaged, e),
        };
        let key = format!("file {} entry {}", u.file, u.id);
        if let Err(e) = raw::check_empty(v) {
            sink.add("queue_files", &key, Kind::Damaged, e);
        }
        uses.insert((u.file, u.id));
        match by_id.get(&u.id) {
            Some(e) if e.file == u.file => {}
            Some(e) => sink.add(
                "queue_files",
                key,
                Kind::DanglingIndex,
                format!("entry {} uses file {}", u.id, e.file),
            ),
            None if damaged.contains(&u.id) => {}
            None => sink.add(
                "queue_files",
                key,
                Kind::DanglingIndex,
                format!("there is no entry {}", u.id),
            ),
        }
    });
    let mut expected: BTreeMap<u64, Expected> = BTreeMap::new();
    for (id, e) in &by_id {
        if !uses.contains(&(e.file, *id)) {
            sink.add(
                "queue_files",
                format!("file {} entry {id}", e.file),
                Kind::MissingIndex,
                format!("no entry for queue entry {id}"),
            );
        }
        let owner = format!("queue entry {id} (to {})", e.recipient);
        match expected.get(&e.file.0) {
            Some(first) if first.size != e.file_size => sink.add(
                "queue",
                format!("entry {id}"),
                Kind::Counts,
                format!(
                    "size less prefix is {:?}, that of {} is {:?}: the entries of file {} disagree",
                    e.file_size, first.owner, first.size, e.file
                ),
            ),
            Some(_) => {}
            None => {
                expected.insert(
                    e.file.0,
                    Expected {
                        size: e.file_size,
                        owner,
                    },
                );
            }
        }
    }
    let named: BTreeSet<u64> = uses.iter().map(|(f, _)| f.0).collect();
    check_queue_files(data, &expected, &named, sink);
    by_id.len() as u64
}

fn check_queue_files(
    data: &Path,
    expected: &BTreeMap<u64, Expected>,
    named: &BTreeSet<u64>,
    sink: &mut Sink,
) {
    let files = MessageFiles::<QueueFileId>::new(data.join("queue"));
    files::check(
        &files,
        data,
        "queue files",
        expected,
        |n| named.contains(&n),
        QueueFileId,
        sink,
    );
}
