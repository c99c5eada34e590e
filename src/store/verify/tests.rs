//! Verification tests: a store written through the normal write paths is clean; each damage done
//! on purpose is reported as exactly one problem, with its place; nothing is ever written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use heed::types::Bytes;
use heed::{CommitOrAbort, EnvOpenOptions};

use super::*;
use crate::store::files::MessageSource;
use crate::store::queue::{NewQueued, QueueStore};
use crate::store::server::ServerStore;
use crate::store::{
    AccountStore, Content, DataDir, DeliveryMailbox, Expunge, FlagOp, Flags, MailboxId, MessageId,
    NewMessage, StoreFlags, Uid, WriteOp, WriteOutcome, parts,
};

/// A data directory written by the stores, closed again (no lock held, no environment open).
struct Fixture {
    _dir: tempfile::TempDir,
    data: DataDir,
    /// File of a live message in INBOX (id 2, uid 2).
    inbox_file: PathBuf,
}

fn new_message(i: usize) -> NewMessage {
    let raw = format!("Subject: message {i}\r\nFrom: a@example.org\r\n\r\nbody {i}\r\n");
    NewMessage {
        source: MessageSource::Bytes(Arc::new(raw.clone().into_bytes())),
        content: Content {
            prefix: b"Received: from test\r\n".to_vec(),
            file_size: raw.len() as u64,
            parts: parts::parse(raw.as_bytes()),
        },
        flags: if i.is_multiple_of(2) {
            Flags::SEEN
        } else {
            Flags::empty()
        },
        keywords: Vec::new(),
        received: 1_700_000_000 + i as i64,
    }
}

fn queued(body: &str, recipients: &[&str]) -> NewQueued {
    NewQueued {
        source: MessageSource::Bytes(Arc::new(
            format!("Subject: {body}\r\n\r\n{body}\r\n").into_bytes(),
        )),
        prefix: b"Received: by test\r\n".to_vec(),
        account: "mox".into(),
        mail_from: "mox@localhost".into(),
        recipients: recipients
            .iter()
            .map(|r| (r.to_string(), "example.org".to_string()))
            .collect(),
        smtputf8: false,
        requiretls: None,
        message_id: format!("<{body}@localhost>"),
        now: 1_700_000_000,
    }
}

fn ok(outcomes: Vec<Result<WriteOutcome, crate::store::StoreError>>) -> Vec<WriteOutcome> {
    outcomes.into_iter().map(Result::unwrap).collect()
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path().join("data"));
        let lock = data.prepare().unwrap();
        let server = ServerStore::open(&data.server_env()).unwrap();
        let store = AccountStore::open(&data.account("mox"), "mox").unwrap();
        server.register_account("mox").unwrap();
        let (inbox, archive, trash) = {
            let r = store.read().unwrap();
            let id = |name| r.mailbox(name).unwrap().unwrap().id;
            (id("INBOX"), id("Archive"), id("Trash"))
        };
        let deliveries = (1..=8)
            .map(|i| WriteOp::Deliver {
                mailbox: DeliveryMailbox::inbox(),
                message: new_message(i),
                junk_score: None,
            })
            .collect();
        ok(store.apply(deliveries).outcomes);
        ok(store
            .apply(vec![
                WriteOp::StoreFlags(StoreFlags {
                    mailbox: inbox,
                    uids: vec![Uid(3), Uid(4)],
                    op: FlagOp::Add,
                    flags: Flags::DELETED.union(Flags::FLAGGED),
                    keywords: vec!["project".into()],
                    unchanged_since: None,
                }),
                WriteOp::Copy {
                    from: inbox,
                    uids: vec![Uid(5)],
                    to: archive,
                },
                WriteOp::Move {
                    from: inbox,
                    uids: vec![Uid(6), Uid(7)],
                    to: trash,
                },
            ])
            .outcomes);
        ok(store
            .apply(vec![WriteOp::Expunge {
                mailbox: inbox,
                which: Expunge::Uids(vec![Uid(3)]),
            }])
            .outcomes);
        let inbox_file = store.read().unwrap().message_path(MessageId(2));
        let queue = QueueStore::open(&server, &data.queue_dir()).unwrap();
        let entries: Vec<_> = queue
            .enqueue(vec![
                queued("one", &["a@example.org", "b@example.org"]),
                queued("two", &["c@example.org"]),
                queued("three", &["d@example.org"]),
            ])
            .into_iter()
            .map(Result::unwrap)
            .collect();
        // The second message's only entry goes, and its file with it.
        queue.remove(entries[1][0].id).unwrap();
        drop((store, queue, server, lock));
        Fixture {
            _dir: dir,
            data,
            inbox_file,
        }
    }

    fn root(&self) -> &Path {
        self.data.root()
    }

    fn verify(&self) -> Report {
        verify(self.root()).unwrap()
    }

    /// Changes a table of an environment with a write transaction of its own, as damage from
    /// outside the stores would.
    fn tamper(&self, env: &Path, table: &str, f: impl FnOnce(&raw::RawDb, &mut heed::RwTxn)) {
        // SAFETY: test environment, no other handle open.
        let env = unsafe {
            EnvOpenOptions::new()
                .read_txn_without_tls()
                .max_dbs(16)
                .open(env)
                .unwrap()
        };
        let rtxn = env.read_txn().unwrap();
        let db = env
            .open_databases_and_commit(rtxn, |dbo, rtxn| -> Result<_, heed::Error> {
                Ok(CommitOrAbort::<_, ()>::Commit(
                    dbo.open_database::<Bytes, Bytes>(rtxn, Some(table))?,
                ))
            })
            .unwrap()
            .unwrap_commit()
            .unwrap();
        let mut wtxn = env.write_txn().unwrap();
        f(&db, &mut wtxn);
        wtxn.commit().unwrap();
    }

    fn account_env(&self) -> PathBuf {
        self.data.account("mox").join("index.mdb")
    }
}

fn key8(a: u32, b: u32) -> Vec<u8> {
    [a.to_be_bytes(), b.to_be_bytes()].concat()
}

/// (scope, table, key, kind) of each problem.
fn found(report: &Report) -> Vec<(Scope, &'static str, String, Kind)> {
    report
        .problems
        .iter()
        .map(|p| (p.scope.clone(), p.table, p.key.clone(), p.kind))
        .collect()
}

fn mox() -> Scope {
    Scope::Account("mox".into())
}

#[test]
fn store_written_by_the_stores_is_clean() {
    let f = Fixture::new();
    let report = f.verify();
    assert_eq!(report.problems, vec![], "{:#?}", report.problems);
    // 8 delivered, 1 copied, 1 expunged (moves keep their count).
    assert_eq!(
        (report.accounts, report.messages, report.queue_entries),
        (1, 8, 3)
    );
    assert_eq!(
        report.summary(),
        "1 account, 8 messages, 3 queue entries checked: 0 problems"
    );
    // A backup's layout: the data directory as data/ beside the configuration.
    let report = verify(f.root().parent().unwrap()).unwrap();
    assert_eq!(report.data_dir, f.root());
    assert!(report.is_clean());
}

#[test]
fn missing_extra_and_truncated_message_files() {
    let f = Fixture::new();
    std::fs::remove_file(&f.inbox_file).unwrap();
    let bucket = f.inbox_file.parent().unwrap();
    std::fs::write(bucket.join("4000"), b"stray").unwrap();
    let other = bucket.join("1");
    let len = std::fs::metadata(&other).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&other)
        .unwrap()
        .set_len(len - 3)
        .unwrap();
    std::fs::write(bucket.join("notes.txt"), b"?").unwrap();
    let report = f.verify();
    assert_eq!(
        found(&report),
        vec![
            (mox(), "files", "msg/0/notes.txt".into(), Kind::StrangeFile),
            (mox(), "files", "msg/0/4000".into(), Kind::ExtraFile),
            (mox(), "files", "msg/0/1".into(), Kind::FileSize),
            (mox(), "files", "msg/0/2".into(), Kind::MissingFile),
        ],
        "{:#?}",
        report.problems
    );
    let lines: Vec<String> = report.problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(
        lines[2],
        format!(
            "account mox: files: msg/0/1: file of message 1 (\"INBOX\" uid 1) has {} bytes, the index says {len} (truncated)",
            len - 3
        )
    );
    assert_eq!(
        lines[3],
        "account mox: files: msg/0/2: missing file of message 2 (\"INBOX\" uid 2)"
    );
    assert!(report.summary().ends_with("checked: 4 problems"));
}

#[test]
fn damaged_record_is_one_problem() {
    let f = Fixture::new();
    let inbox = MailboxId(1);
    f.tamper(&f.account_env(), "messages", |db, wtxn| {
        let key = key8(inbox.0, 2);
        let len = db.get(wtxn, &key).unwrap().unwrap().len();
        db.put(wtxn, &key, &vec![0xff; len]).unwrap();
    });
    let report = f.verify();
    assert_eq!(
        found(&report),
        vec![(mox(), "messages", "mailbox 1 uid 2".into(), Kind::Damaged)],
        "{:#?}",
        report.problems
    );
}

#[test]
fn damaged_content_and_queue_records_are_one_problem_each() {
    let f = Fixture::new();
    f.tamper(&f.account_env(), "contents", |db, wtxn| {
        db.put(wtxn, &1u64.to_be_bytes(), b"garbage").unwrap();
    });
    f.tamper(&f.data.server_env(), "queue", |db, wtxn| {
        db.put(wtxn, &1u64.to_be_bytes(), &[0xff; 64]).unwrap();
    });
    let report = f.verify();
    assert_eq!(
        found(&report),
        vec![
            (Scope::Server, "queue", "entry 1".into(), Kind::Damaged),
            (mox(), "contents", "message 1".into(), Kind::Damaged),
        ],
        "{:#?}",
        report.problems
    );
}

#[test]
fn removed_index_entries() {
    let f = Fixture::new();
    f.tamper(&f.account_env(), "by_id", |db, wtxn| {
        assert!(db.delete(wtxn, &2u64.to_be_bytes()).unwrap());
    });
    let report = f.verify();
    assert_eq!(
        found(&report),
        vec![(mox(), "by_id", "message 2".into(), Kind::MissingIndex)],
        "{:#?}",
        report.problems
    );

    let f = Fixture::new();
    f.tamper(&f.account_env(), "by_modseq", |db, wtxn| {
        let first = db.first(wtxn).unwrap().unwrap().0.to_vec();
        db.delete(wtxn, &first).unwrap();
    });
    let report = f.verify();
    assert_eq!(report.problems.len(), 1, "{:#?}", report.problems);
    assert_eq!(report.problems[0].table, "by_modseq");
    assert_eq!(report.problems[0].kind, Kind::MissingIndex);

    let f = Fixture::new();
    f.tamper(&f.data.server_env(), "queue_files", |db, wtxn| {
        let first = db.first(wtxn).unwrap().unwrap().0.to_vec();
        db.delete(wtxn, &first).unwrap();
    });
    let report = f.verify();
    assert_eq!(
        found(&report),
        vec![(
            Scope::Server,
            "queue_files",
            "file 1 entry 1".into(),
            Kind::MissingIndex
        )],
        "{:#?}",
        report.problems
    );
}

#[test]
fn dangling_entries_orphans_and_wrong_counts() {
    let f = Fixture::new();
    // A by_id entry for a message that is not there, content nobody has, a mailbox whose
    // counts are off, a tombstone that still owns its id.
    f.tamper(&f.account_env(), "by_id", |db, wtxn| {
        db.put(wtxn, &77u64.to_be_bytes(), &key8(1, 99)).unwrap();
        // Message 3 was expunged from INBOX uid 3: its tombstone is there.
        db.put(wtxn, &3u64.to_be_bytes(), &key8(1, 3)).unwrap();
    });
    f.tamper(&f.account_env(), "contents", |db, wtxn| {
        let one = db.get(wtxn, &1u64.to_be_bytes()).unwrap().unwrap().to_vec();
        db.put(wtxn, &3u64.to_be_bytes(), &one).unwrap();
    });
    f.tamper(&f.account_env(), "mailboxes", |db, wtxn| {
        let bytes = db.get(wtxn, &1u32.to_be_bytes()).unwrap().unwrap();
        let mut mb: crate::store::Mailbox = raw::value(bytes).unwrap();
        mb.counts.unseen += 1;
        let bytes = rkyv::to_bytes::<rkyv::rancor::Error>(&mb).unwrap();
        db.put(wtxn, &1u32.to_be_bytes(), &bytes).unwrap();
    });
    let report = f.verify();
    assert_eq!(
        found(&report),
        vec![
            (mox(), "mailboxes", "mailbox 1".into(), Kind::Counts),
            (mox(), "by_id", "message 3".into(), Kind::DanglingIndex),
            (mox(), "by_id", "message 77".into(), Kind::DanglingIndex),
            (mox(), "contents", "message 3".into(), Kind::OrphanContent),
        ],
        "{:#?}",
        report.problems
    );
    assert_eq!(
        report.problems[1].detail,
        "points to mailbox 1 uid 3, a tombstone"
    );
}

#[test]
fn queue_files_missing_extra_and_resized() {
    let f = Fixture::new();
    let queue_dir = f.data.queue_dir().join("0");
    // File 1 is shared by entries 1 and 2; file 2 went with its entry; file 3 is entry 4's.
    std::fs::remove_file(queue_dir.join("3")).unwrap();
    std::fs::write(queue_dir.join("2"), b"back again").unwrap();
    std::fs::write(queue_dir.join("1"), b"other size").unwrap();
    let report = f.verify();
    assert_eq!(
        found(&report),
        vec![
            (
                Scope::Server,
                "queue files",
                "queue/0/2".into(),
                Kind::ExtraFile
            ),
            (
                Scope::Server,
                "queue files",
                "queue/0/1".into(),
                Kind::FileSize
            ),
            (
                Scope::Server,
                "queue files",
                "queue/0/3".into(),
                Kind::MissingFile
            ),
        ],
        "{:#?}",
        report.problems
    );
}

#[test]
fn newer_schema_is_reported_and_the_account_not_misread() {
    let f = Fixture::new();
    f.tamper(&f.account_env(), "meta", |db, wtxn| {
        db.put(wtxn, b"schema.messages", &99u64.to_be_bytes())
            .unwrap();
    });
    let report = f.verify();
    assert_eq!(
        found(&report),
        vec![(mox(), "meta", "schema.messages".into(), Kind::Schema)],
        "{:#?}",
        report.problems
    );
}

#[test]
fn refuses_a_data_dir_a_server_holds() {
    let f = Fixture::new();
    let lock = f.data.prepare().unwrap();
    match verify(f.root()) {
        Err(VerifyError::InUse(path)) => assert_eq!(path, f.root().join("moxide.lock")),
        other => panic!("verified a directory in use: {other:?}"),
    }
    drop(lock);
    assert!(verify(f.root()).unwrap().is_clean());
    assert!(matches!(
        verify(&f.root().join("accounts").join("mox")),
        Err(VerifyError::NotDataDir(_))
    ));
}

/// Path → (bytes, modification time) of every file below `dir`.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, std::time::SystemTime)> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                todo.push(entry.path());
            } else {
                let bytes = std::fs::read(entry.path()).unwrap();
                out.insert(entry.path(), (bytes, meta.modified().unwrap()));
            }
        }
    }
    out
}

#[test]
fn writes_nothing_not_even_lock_files() {
    let f = Fixture::new();
    // A backup may come without LMDB's lock files and without the data directory's lock.
    for path in [
        f.data.server_env().join("lock.mdb"),
        f.account_env().join("lock.mdb"),
        f.root().join("moxide.lock"),
    ] {
        std::fs::remove_file(path).unwrap();
    }
    std::fs::remove_file(&f.inbox_file).unwrap();
    let before = snapshot(f.root());
    let report = f.verify();
    assert_eq!(report.problems.len(), 1);
    assert_eq!(snapshot(f.root()), before);
}
