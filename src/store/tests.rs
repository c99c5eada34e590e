//! Store tests: modseq order, tombstones, durability across reopen.

use super::*;
use crate::auth::PasswordSecrets;
use crate::store::files::MessageSource;
use std::sync::Arc;

struct Fixture {
    dir: tempfile::TempDir,
    data: DataDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path().join("data"));
        data.prepare().unwrap();
        Fixture { dir, data }
    }

    fn open(&self) -> AccountStore {
        AccountStore::open(&self.data.account("mox"), "mox").unwrap()
    }

    fn spool(&self, body: &str) -> ((), NewMessage) {
        let raw = format!("Subject: {body}\r\n\r\n{body}\r\n");
        let content = Content {
            prefix: b"Received: test\r\n".to_vec(),
            file_size: raw.len() as u64,
            parts: parts::parse(raw.as_bytes()),
        };
        let m = NewMessage {
            source: MessageSource::Bytes(Arc::new(raw.clone().into_bytes())),
            content,
            flags: Flags::empty(),
            keywords: vec![],
            received: 1_700_000_000,
        };
        ((), m)
    }
}

fn deliver(message: NewMessage) -> WriteOp {
    WriteOp::Deliver {
        mailbox: DeliveryMailbox::inbox(),
        message,
        junk_score: None,
    }
}

fn delivered(outcome: &Result<WriteOutcome, StoreError>) -> (MailboxId, Uid, ModSeq) {
    match outcome {
        Ok(WriteOutcome::Delivered {
            mailbox,
            uid,
            modseq,
            ..
        }) => (*mailbox, *uid, *modseq),
        other => panic!("not delivered: {other:?}"),
    }
}

#[test]
fn new_account_has_default_mailboxes_and_first_modseq() {
    let f = Fixture::new();
    let store = f.open();
    let r = store.read().unwrap();
    let names: Vec<_> = r.mailboxes().unwrap().into_iter().map(|m| m.name).collect();
    assert_eq!(
        names,
        ["INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive"]
    );
    let inbox = r.mailbox("inbox").unwrap().unwrap();
    assert_eq!(inbox.highest_modseq, ModSeq::FIRST);
    assert_eq!(
        r.mailbox("Junk").unwrap().unwrap().special_use,
        SpecialUse::JUNK
    );
    // Every default mailbox was created in one operation: one modseq.
    assert_eq!(r.last_modseq().unwrap(), ModSeq(7));
}

#[test]
fn modseq_strictly_increases_within_and_across_batches() {
    let f = Fixture::new();
    let store = f.open();
    let mut seen = Vec::new();
    let mut files = Vec::new();
    for batch in 0..5 {
        let ops: Vec<WriteOp> = (0..10)
            .map(|i| {
                let (file, m) = f.spool(&format!("b{batch} m{i}"));
                files.push(file);
                deliver(m)
            })
            .collect();
        let result = store.apply(ops);
        for o in &result.outcomes {
            seen.push(delivered(o));
        }
    }
    assert_eq!(seen.len(), 50);
    for pair in seen.windows(2) {
        assert!(pair[1].2 > pair[0].2, "modseq not increasing: {pair:?}");
        assert_eq!(pair[1].1.0, pair[0].1.0 + 1, "uids not consecutive");
    }
    // The file of every delivered message is in place with the right bytes.
    let r = store.read().unwrap();
    let inbox = r.mailbox("INBOX").unwrap().unwrap();
    assert_eq!(inbox.counts.total, 50);
    assert_eq!(inbox.counts.unseen, 50);
    assert_eq!(inbox.highest_modseq, seen.last().unwrap().2);
    let first = r.message(inbox.id, Uid(1)).unwrap().unwrap();
    let bytes = std::fs::read(r.message_path(first.id)).unwrap();
    assert_eq!(bytes, b"Subject: b0 m0\r\n\r\nb0 m0\r\n");
    assert_eq!(
        first.size,
        bytes.len() as u64 + b"Received: test\r\n".len() as u64
    );
}

#[test]
fn failing_operation_does_not_take_the_batch_down() {
    let f = Fixture::new();
    let store = f.open();
    let (_f1, m1) = f.spool("one");
    let (_f2, m2) = f.spool("two");
    let result = store.apply(vec![
        deliver(m1),
        WriteOp::CreateMailbox {
            name: "INBOX".into(),
            special_use: SpecialUse::NONE,
        },
        WriteOp::CreateMailbox {
            name: "bad//name".into(),
            special_use: SpecialUse::NONE,
        },
        deliver(m2),
    ]);
    let (_, uid1, ms1) = delivered(&result.outcomes[0]);
    assert!(matches!(
        result.outcomes[1],
        Err(StoreError::MailboxExists(_))
    ));
    assert!(matches!(
        result.outcomes[2],
        Err(StoreError::BadMailboxName { .. })
    ));
    let (_, uid2, ms2) = delivered(&result.outcomes[3]);
    assert_eq!((uid1, uid2), (Uid(1), Uid(2)));
    // The failed operations took no modseq.
    assert_eq!(ms2.0, ms1.0 + 1);
}

#[test]
fn tombstones_are_invisible_to_live_queries() {
    let f = Fixture::new();
    let store = f.open();
    let mut files = Vec::new();
    let ops = (0..4)
        .map(|i| {
            let (file, m) = f.spool(&format!("m{i}"));
            files.push(file);
            deliver(m)
        })
        .collect();
    let result = store.apply(ops);
    let (inbox, _, last_delivery) = delivered(&result.outcomes[3]);
    let r = store.read().unwrap();
    let victim = r.message(inbox, Uid(2)).unwrap().unwrap();
    let victim_path = r.message_path(victim.id);
    drop(r);
    assert!(victim_path.exists());

    let result = store.apply(vec![WriteOp::Expunge {
        mailbox: inbox,
        which: Expunge::Uids(vec![Uid(2), Uid(99)]),
    }]);
    let Ok(WriteOutcome::Expunged {
        uids,
        modseq: Some(expunge_modseq),
    }) = &result.outcomes[0]
    else {
        panic!("{:?}", result.outcomes);
    };
    assert_eq!(uids, &[Uid(2)]);
    assert!(*expunge_modseq > last_delivery);
    assert!(!victim_path.exists(), "file of an expunged message stays");

    let r = store.read().unwrap();
    let live: Vec<Uid> = r.live(inbox).unwrap().map(|m| m.unwrap().uid).collect();
    assert_eq!(live, [Uid(1), Uid(3), Uid(4)]);
    assert!(r.message(inbox, Uid(2)).unwrap().is_none());
    assert!(r.locate(victim.id).unwrap().is_none());
    assert_eq!(r.mailbox_by_id(inbox).unwrap().unwrap().counts.total, 3);
    // CHANGEDSINCE without tombstones does not see it; QRESYNC asking for them does.
    assert!(
        r.changed_since(inbox, last_delivery, false)
            .unwrap()
            .is_empty()
    );
    let vanished = r.changed_since(inbox, last_delivery, true).unwrap();
    assert_eq!(vanished.len(), 1);
    assert_eq!(
        (vanished[0].uid, vanished[0].modseq, vanished[0].expunged),
        (Uid(2), *expunge_modseq, true)
    );
}

#[test]
fn flag_changes_take_one_modseq_and_report_modified() {
    let f = Fixture::new();
    let store = f.open();
    let (_f1, m1) = f.spool("one");
    let (_f2, m2) = f.spool("two");
    let result = store.apply(vec![deliver(m1), deliver(m2)]);
    let (inbox, _, ms) = delivered(&result.outcomes[1]);
    let store_flags = |uids: Vec<Uid>, unchanged_since| {
        WriteOp::StoreFlags(StoreFlags {
            mailbox: inbox,
            uids,
            op: FlagOp::Add,
            flags: Flags::SEEN,
            keywords: vec!["$label1".into()],
            unchanged_since,
        })
    };
    let result = store.apply(vec![store_flags(vec![Uid(1), Uid(2)], None)]);
    let Ok(WriteOutcome::FlagsStored { changed, modified }) = &result.outcomes[0] else {
        panic!()
    };
    assert_eq!(changed.len(), 2);
    assert!(modified.is_empty());
    assert_eq!(
        changed[0].modseq, changed[1].modseq,
        "one operation, one modseq"
    );
    assert_eq!(changed[0].modseq.0, ms.0 + 1);
    assert_eq!(changed[0].keywords, ["$label1"]);
    // Storing the same again changes nothing and takes no modseq.
    let result = store.apply(vec![store_flags(vec![Uid(1)], None)]);
    let Ok(WriteOutcome::FlagsStored { changed, .. }) = &result.outcomes[0] else {
        panic!()
    };
    assert!(changed.is_empty());
    let r = store.read().unwrap();
    assert_eq!(r.last_modseq().unwrap().0, ms.0 + 1);
    assert_eq!(r.mailbox_by_id(inbox).unwrap().unwrap().counts.unseen, 0);
    drop(r);
    // UNCHANGEDSINCE older than the message's modseq: not changed, reported as modified.
    let op = WriteOp::StoreFlags(StoreFlags {
        mailbox: inbox,
        uids: vec![Uid(1)],
        op: FlagOp::Remove,
        flags: Flags::SEEN,
        keywords: vec![],
        unchanged_since: Some(ms),
    });
    let result = store.apply(vec![op]);
    let Ok(WriteOutcome::FlagsStored { changed, modified }) = &result.outcomes[0] else {
        panic!()
    };
    assert!(changed.is_empty());
    assert_eq!(modified, &[Uid(1)]);
}

#[test]
fn reopened_environment_shows_exactly_what_was_committed() {
    let f = Fixture::new();
    let expected;
    {
        let store = f.open();
        let mut files = Vec::new();
        let ops = (0..3)
            .map(|i| {
                let (file, m) = f.spool(&format!("m{i}"));
                files.push(file);
                deliver(m)
            })
            .collect();
        store.apply(ops);
        store.apply(vec![WriteOp::SetPassword(
            PasswordSecrets::derive("secret").unwrap(),
        )]);
        let r = store.read().unwrap();
        let inbox = r.mailbox("INBOX").unwrap().unwrap();
        let messages: Vec<Message> = r.live(inbox.id).unwrap().map(Result::unwrap).collect();
        expected = (inbox, messages, r.last_modseq().unwrap());
    }
    // The spool files are gone (dropped); the messages must live on in their own links.
    let store = f.open();
    let r = store.read().unwrap();
    let inbox = r.mailbox("INBOX").unwrap().unwrap();
    let messages: Vec<Message> = r.live(inbox.id).unwrap().map(Result::unwrap).collect();
    assert_eq!(
        (inbox, messages.clone(), r.last_modseq().unwrap()),
        expected
    );
    assert!(r.secrets().unwrap().unwrap().verify("secret"));
    for m in &messages {
        let content = r.content(m.id).unwrap().unwrap();
        let file = std::fs::read(r.message_path(m.id)).unwrap();
        assert_eq!(content.file_size, file.len() as u64);
    }
    assert_eq!(std::fs::read_dir(f.data.tmp()).unwrap().count(), 0);
    drop(f.dir);
}

#[test]
fn newer_schema_is_refused() {
    let f = Fixture::new();
    drop(f.open());
    // Pretend a newer moxide wrote the messages table.
    let path = f.data.account("mox").join("index.mdb");
    {
        let env = unsafe { heed::EnvOpenOptions::new().max_dbs(16).open(&path).unwrap() };
        let wtxn = env.write_txn().unwrap();
        env.create_databases_and_commit(wtxn, |dbo, wtxn| -> Result<_, heed::Error> {
            let meta =
                dbo.create_database::<heed::types::Str, heed::types::Bytes>(wtxn, Some("meta"))?;
            meta.put(wtxn, "schema.messages", &99u64.to_be_bytes())?;
            Ok(heed::CommitOrAbort::<(), ()>::Commit(()))
        })
        .unwrap();
        env.prepare_for_closing().wait();
    }
    match AccountStore::open(&f.data.account("mox"), "mox") {
        Err(StoreError::NewerSchema {
            table: "messages",
            stored: 99,
            ..
        }) => {}
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("opened data of a newer schema"),
    }
}

#[test]
fn a_data_directory_serves_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::new(dir.path().join("data"));
    let lock = data.prepare().unwrap();
    assert!(matches!(data.prepare(), Err(StoreError::InUse(_))));
    drop(lock);
    data.prepare().unwrap();
}

fn inbox_with(f: &Fixture, store: &AccountStore, n: usize) -> MailboxId {
    let ops = (0..n)
        .map(|i| deliver(f.spool(&format!("m{i}")).1))
        .collect();
    let result = store.apply(ops);
    delivered(&result.outcomes[0]).0
}

fn mailbox_id(store: &AccountStore, name: &str) -> MailboxId {
    store.read().unwrap().mailbox(name).unwrap().unwrap().id
}

fn live_uids(store: &AccountStore, mailbox: MailboxId) -> Vec<Uid> {
    store
        .read()
        .unwrap()
        .live(mailbox)
        .unwrap()
        .map(|m| m.unwrap().uid)
        .collect()
}

#[test]
fn copy_links_files_and_move_leaves_tombstones() {
    let f = Fixture::new();
    let store = f.open();
    let inbox = inbox_with(&f, &store, 3);
    let archive = mailbox_id(&store, "Archive");
    let result = store.apply(vec![WriteOp::Copy {
        from: inbox,
        uids: vec![Uid(3), Uid(1), Uid(9)],
        to: archive,
    }]);
    let Ok(WriteOutcome::Copied { pairs, .. }) = &result.outcomes[0] else {
        panic!("{:?}", result.outcomes)
    };
    assert_eq!(pairs, &[(Uid(1), Uid(1)), (Uid(3), Uid(2))]);
    let r = store.read().unwrap();
    let original = r.message(inbox, Uid(1)).unwrap().unwrap();
    let copy = r.message(archive, Uid(1)).unwrap().unwrap();
    assert_ne!(original.id, copy.id);
    assert_eq!(
        std::fs::read(r.message_path(original.id)).unwrap(),
        std::fs::read(r.message_path(copy.id)).unwrap()
    );
    assert_eq!(r.content(copy.id).unwrap(), r.content(original.id).unwrap());
    drop(r);

    let result = store.apply(vec![WriteOp::Move {
        from: inbox,
        uids: vec![Uid(2)],
        to: archive,
    }]);
    let Ok(WriteOutcome::Moved { pairs, .. }) = &result.outcomes[0] else {
        panic!("{:?}", result.outcomes)
    };
    assert_eq!(pairs, &[(Uid(2), Uid(3))]);
    assert_eq!(live_uids(&store, inbox), [Uid(1), Uid(3)]);
    assert_eq!(live_uids(&store, archive), [Uid(1), Uid(2), Uid(3)]);
    let r = store.read().unwrap();
    let moved = r.message(archive, Uid(3)).unwrap().unwrap();
    assert_eq!(r.locate(moved.id).unwrap(), Some((archive, Uid(3))));
    assert!(
        r.message_path(moved.id).exists(),
        "a moved message keeps its file"
    );
    let vanished = r
        .changed_since(inbox, ModSeq(moved.modseq.0 - 1), true)
        .unwrap();
    assert_eq!(
        vanished
            .iter()
            .map(|m| (m.uid, m.expunged))
            .collect::<Vec<_>>(),
        [(Uid(2), true)]
    );
    assert_eq!(r.mailbox_by_id(inbox).unwrap().unwrap().counts.total, 2);
    assert_eq!(r.mailbox_by_id(archive).unwrap().unwrap().counts.total, 3);
    drop(r);
    // Within one mailbox: new uid, tombstone for the old one.
    let result = store.apply(vec![WriteOp::Move {
        from: inbox,
        uids: vec![Uid(1)],
        to: inbox,
    }]);
    let Ok(WriteOutcome::Moved { pairs, .. }) = &result.outcomes[0] else {
        panic!("{:?}", result.outcomes)
    };
    assert_eq!(pairs, &[(Uid(1), Uid(4))]);
    assert_eq!(live_uids(&store, inbox), [Uid(3), Uid(4)]);
    assert_eq!(
        store
            .read()
            .unwrap()
            .mailbox_by_id(inbox)
            .unwrap()
            .unwrap()
            .counts
            .total,
        2
    );
}

#[test]
fn append_is_all_or_nothing() {
    let f = Fixture::new();
    let store = f.open();
    let (_, a) = f.spool("a");
    let (_, b) = f.spool("b");
    let result = store.apply(vec![WriteOp::Append {
        mailbox: "Drafts".into(),
        messages: vec![a.clone(), b],
    }]);
    let Ok(WriteOutcome::Appended { uids, .. }) = &result.outcomes[0] else {
        panic!("{:?}", result.outcomes)
    };
    assert_eq!(uids, &[Uid(1), Uid(2)]);
    let result = store.apply(vec![WriteOp::Append {
        mailbox: "Nowhere".into(),
        messages: vec![a],
    }]);
    assert!(matches!(result.outcomes[0], Err(StoreError::NoMailbox(_))));
    assert!(
        store.read().unwrap().mailbox("Nowhere").unwrap().is_none(),
        "APPEND must not create the mailbox"
    );
}

#[test]
fn create_delete_rename_and_subscribe() {
    let f = Fixture::new();
    let store = f.open();
    let result = store.apply(vec![
        WriteOp::CreateMailbox {
            name: "a/b/c".into(),
            special_use: SpecialUse::NONE,
        },
        WriteOp::Subscribe { name: "a/b".into() },
        WriteOp::Subscribe {
            name: "not/there".into(),
        },
    ]);
    assert!(
        result.outcomes.iter().all(Result::is_ok),
        "{:?}",
        result.outcomes
    );
    let names = |s: &AccountStore| {
        s.read()
            .unwrap()
            .mailboxes()
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect::<Vec<_>>()
    };
    assert!(names(&store).ends_with(&["a".into(), "a/b".into(), "a/b/c".into()]));

    let a = mailbox_id(&store, "a");
    let result = store.apply(vec![WriteOp::DeleteMailbox { mailbox: a }]);
    assert!(matches!(
        result.outcomes[0],
        Err(StoreError::HasChildren(_))
    ));
    let inbox = mailbox_id(&store, "INBOX");
    let result = store.apply(vec![WriteOp::DeleteMailbox { mailbox: inbox }]);
    assert!(matches!(result.outcomes[0], Err(StoreError::Inbox(_))));

    let result = store.apply(vec![WriteOp::RenameMailbox {
        mailbox: a,
        to: "x/y".into(),
    }]);
    assert!(result.outcomes[0].is_ok(), "{:?}", result.outcomes);
    let all = names(&store);
    assert!(
        all.contains(&"x".into()) && all.contains(&"x/y".into()) && all.contains(&"x/y/b/c".into()),
        "{all:?}"
    );
    assert!(!all.iter().any(|n| n.starts_with("a")), "{all:?}");
    assert_eq!(
        store.read().unwrap().subscriptions().unwrap(),
        ["not/there", "x/y/b"]
    );
    let result = store.apply(vec![WriteOp::RenameMailbox {
        mailbox: a,
        to: "x/y/b/c/d".into(),
    }]);
    assert!(result.outcomes[0].is_err(), "renamed into its own child");

    // Deleting a mailbox with messages removes them and their files.
    let c = mailbox_id(&store, "x/y/b/c");
    let (_, m) = f.spool("m");
    store.apply(vec![WriteOp::Append {
        mailbox: "x/y/b/c".into(),
        messages: vec![m],
    }]);
    let id = store
        .read()
        .unwrap()
        .message(c, Uid(1))
        .unwrap()
        .unwrap()
        .id;
    let path = store.read().unwrap().message_path(id);
    assert!(path.exists());
    let result = store.apply(vec![WriteOp::DeleteMailbox { mailbox: c }]);
    assert_eq!(result.changes, [Change::MailboxDeleted(c)]);
    assert!(!path.exists());
    let r = store.read().unwrap();
    assert!(r.mailbox("x/y/b/c").unwrap().is_none());
    assert!(r.locate(id).unwrap().is_none());
    assert!(r.content(id).unwrap().is_none());
}

#[test]
fn renaming_inbox_moves_its_messages() {
    let f = Fixture::new();
    let store = f.open();
    let inbox = inbox_with(&f, &store, 2);
    let result = store.apply(vec![WriteOp::RenameMailbox {
        mailbox: inbox,
        to: "Old/inbox".into(),
    }]);
    assert!(result.outcomes[0].is_ok(), "{:?}", result.outcomes);
    assert!(live_uids(&store, inbox).is_empty());
    assert_eq!(
        live_uids(&store, mailbox_id(&store, "Old/inbox")),
        [Uid(1), Uid(2)]
    );
}

#[test]
fn secrets_of_the_first_layout_still_verify_until_replaced() {
    use crate::store::tables::secrets::test_data::{LEGACY_PENCIL, unhex};
    let f = Fixture::new();
    let store = f.open();
    // An account whose password was set by a moxide that knew only the first layout.
    {
        let mut wtxn = store.env.write_txn().unwrap();
        store
            .meta
            .put(&mut wtxn, "password", &unhex(LEGACY_PENCIL))
            .unwrap();
        wtxn.commit().unwrap();
    }
    let old = store.read().unwrap().secrets().unwrap().unwrap();
    assert!(old.verify("pencil"));
    assert!(old.scram_sha1.is_none() && old.cram_md5.is_none());

    let outcomes = store
        .apply(vec![WriteOp::SetPassword(
            PasswordSecrets::derive("new").unwrap(),
        )])
        .outcomes;
    assert!(matches!(outcomes[..], [Ok(WriteOutcome::PasswordSet)]));
    let r = store.read().unwrap();
    let new = r.secrets().unwrap().unwrap();
    assert!(new.verify("new") && !new.verify("pencil"));
    assert!(new.scram_sha1.is_some() && new.cram_md5.is_some());
    assert!(store.meta.get(&r.txn, "password").unwrap().is_none());
}

#[test]
fn backup_copies_the_snapshot_and_holds_removals_meanwhile() {
    let f = Fixture::new();
    let store = f.open();
    let ops = (0..3)
        .map(|i| deliver(f.spool(&format!("m{i}")).1))
        .collect();
    let outcomes = store.apply(ops).outcomes;
    let (mailbox, first, _) = delivered(&outcomes[0]);
    let first_id = match &outcomes[0] {
        Ok(WriteOutcome::Delivered { id, .. }) => *id,
        _ => unreachable!(),
    };

    // While a hold is taken, an expunged message's file stays; it goes when the hold ends.
    let hold = store.files().hold_removals();
    let expunge = WriteOp::Expunge {
        mailbox,
        which: Expunge::Uids(vec![first]),
    };
    assert!(store.apply(vec![expunge]).outcomes[0].is_ok());
    assert!(store.files().path(first_id).exists());
    drop(hold);
    assert!(!store.files().path(first_id).exists());

    let dest = f.dir.path().join("backup").join("mox");
    let mut stats = backup::BackupStats::default();
    backup::backup_account(&store, &dest, &mut stats).unwrap();
    assert_eq!((stats.accounts, stats.messages), (1, 2));
    assert!(stats.linked_bytes > 0 && stats.copied_bytes == 0);
    // The copy is a store of its own with the two live messages and their files.
    let copy = AccountStore::open(&dest, "mox").unwrap();
    let r = copy.read().unwrap();
    let live: Vec<_> = r.live(mailbox).unwrap().map(|m| m.unwrap()).collect();
    assert_eq!(live.len(), 2);
    for m in live {
        assert!(copy.files().path(m.id).is_file());
    }
    assert!(!copy.files().path(first_id).exists());
}

#[test]
fn orphan_message_files_are_removed_at_open() {
    let f = Fixture::new();
    let store = f.open();
    let outcomes = store.apply(vec![deliver(f.spool("kept").1)]).outcomes;
    let kept = match &outcomes[0] {
        Ok(WriteOutcome::Delivered { id, .. }) => *id,
        other => panic!("{other:?}"),
    };
    // What a crash between writing files and committing (or before removing an expunged
    // message's file) leaves: a file no message has.
    let orphan = store.files().path(MessageId(kept.0 + 100));
    std::fs::write(&orphan, b"Subject: never committed\r\n\r\n").unwrap();
    let stranger = store.files().root().join("0").join("notes.txt");
    std::fs::write(&stranger, b"not ours").unwrap();
    drop(store);
    let store = f.open();
    assert!(!orphan.exists());
    assert!(store.files().path(kept).exists());
    assert!(
        stranger.exists(),
        "files with unexpected names are left alone"
    );
}
