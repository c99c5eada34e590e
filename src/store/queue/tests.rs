//! Queue store tests: batches, shared files, reopening, orphans, damage.

use std::io::Read;
use std::sync::Arc;

use super::*;
use crate::store::files::Spool;
use crate::store::{DataDir, DataDirLock};

struct Fixture {
    _dir: tempfile::TempDir,
    data: DataDir,
    _lock: DataDirLock,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path().join("data"));
        let lock = data.prepare().unwrap();
        Fixture {
            _dir: dir,
            data,
            _lock: lock,
        }
    }

    /// The server store and the queue in it. Drop both to close the environment.
    fn open(&self) -> (ServerStore, QueueStore) {
        let server = ServerStore::open(&self.data.server_env()).unwrap();
        let queue = QueueStore::open(&server, &self.data.queue_dir()).unwrap();
        (server, queue)
    }
}

fn message(body: &str, recipients: &[&str]) -> NewQueued {
    NewQueued {
        source: MessageSource::Bytes(Arc::new(
            format!("Subject: {body}\r\n\r\n{body}\r\n").into_bytes(),
        )),
        prefix: b"Received: by test\r\n".to_vec(),
        account: "mox".into(),
        mail_from: "mox@localhost".into(),
        recipients: recipients
            .iter()
            .map(|r| {
                let domain = r.rsplit_once('@').map_or("", |(_, d)| d);
                (r.to_string(), idna::domain_to_ascii(domain).unwrap())
            })
            .collect(),
        smtputf8: recipients.iter().any(|r| !r.is_ascii()),
        requiretls: None,
        message_id: format!("<{body}@localhost>"),
        now: 1_700_000_000,
    }
}

fn file_bytes(queue: &QueueStore, file: QueueFileId) -> Vec<u8> {
    let mut out = Vec::new();
    queue
        .open_file(file)
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn queued(result: Vec<Result<Vec<QueueEntry>, StoreError>>) -> Vec<Vec<QueueEntry>> {
    result.into_iter().map(Result::unwrap).collect()
}

#[test]
fn one_batch_and_separate_enqueues_get_increasing_ids_and_one_file_per_message() {
    let f = Fixture::new();
    let (_server, queue) = f.open();
    assert!(queue.list().unwrap().is_empty());
    let batch = queued(queue.enqueue(vec![
        message("one", &["a@example.org"]),
        message("two", &["b@example.org", "c@møx.example"]),
        message("three", &["d@example.net"]),
    ]));
    let ids: Vec<u64> = batch.iter().flatten().map(|e| e.id.0).collect();
    assert_eq!(ids, [1, 2, 3, 4]);
    let files: Vec<u64> = batch.iter().flatten().map(|e| e.file.0).collect();
    assert_eq!(
        files,
        [1, 2, 2, 3],
        "recipients of one message share its file"
    );
    let two = &batch[1][1];
    assert_eq!(
        (two.recipient.as_str(), two.recipient_domain_ascii.as_str()),
        ("c@møx.example", "xn--mx-lka.example")
    );
    assert!(two.smtputf8 && !batch[0][0].smtputf8);
    let raw = b"Subject: two\r\n\r\ntwo\r\n";
    assert_eq!(
        two.size,
        (b"Received: by test\r\n".len() + raw.len()) as u64
    );
    assert_eq!(
        (
            two.created,
            two.next_attempt,
            two.attempts,
            two.last_attempt
        ),
        (1_700_000_000, 1_700_000_000, 0, None)
    );
    assert_eq!(file_bytes(&queue, two.file), raw);

    let alone = queued(queue.enqueue(vec![message("four", &["e@example.org"])]));
    assert_eq!(
        (alone[0][0].id, alone[0][0].file),
        (QueueId(5), QueueFileId(4))
    );

    let mut expected: Vec<QueueEntry> = batch.into_iter().flatten().collect();
    expected.extend(alone.into_iter().flatten());
    assert_eq!(queue.list().unwrap(), expected);
    assert_eq!(queue.get(QueueId(3)).unwrap().as_ref(), Some(&expected[2]));
    assert_eq!(queue.get(QueueId(99)).unwrap(), None);
}

#[test]
fn failing_message_does_not_take_the_batch_down() {
    let f = Fixture::new();
    let (_server, queue) = f.open();
    queued(queue.enqueue(vec![message("one", &["a@example.org"])]));
    let set_next_id = |next: u64| {
        let mut wtxn = queue.env.write_txn().unwrap();
        meta::put_u64(&queue.meta, &mut wtxn, KEY_NEXT_QUEUE_ID, next).unwrap();
        wtxn.commit().unwrap();
    };
    // A damaged counter would hand out id 1 again: refused after the message's file was
    // written, which must go with the rolled-back operation.
    set_next_id(1);
    let mut gone = message("gone", &["x@example.org"]);
    let mut spool = Spool::new(f.data.tmp());
    spool.write(&vec![b'x'; 2 << 20]).unwrap();
    let (source, _) = spool.finish().unwrap();
    let MessageSource::File(spooled) = &source else {
        panic!("not spooled")
    };
    // A spool file that disappeared.
    std::fs::remove_file(spooled.path()).unwrap();
    gone.source = source.clone();
    let result = queue.enqueue(vec![
        message("again", &["b@example.org"]),
        message("none", &[]),
        gone,
    ]);
    assert!(matches!(&result[0], Err(StoreError::Corrupt(why)) if why.contains("twice")));
    assert!(matches!(result[1], Err(StoreError::NoRecipients)));
    assert!(matches!(result[2], Err(StoreError::Io(_))));
    assert_eq!(
        queue.files.on_disk().unwrap().0,
        [1],
        "file of a failed message left"
    );
    assert_eq!(queue.list().unwrap().len(), 1);

    set_next_id(2);
    let result = queue.enqueue(vec![
        message("two", &["b@example.org"]),
        message("none", &[]),
        message("three", &["c@example.org"]),
    ]);
    assert!(matches!(result[1], Err(StoreError::NoRecipients)));
    let ok: Vec<(QueueId, QueueFileId)> = [&result[0], &result[2]]
        .iter()
        .map(|r| {
            let e = &r.as_ref().unwrap()[0];
            (e.id, e.file)
        })
        .collect();
    // The failed operations took no file ids: their nested transactions were rolled back.
    assert_eq!(
        ok,
        [(QueueId(2), QueueFileId(2)), (QueueId(3), QueueFileId(3))]
    );
    assert_eq!(queue.list().unwrap().len(), 3);
    assert_eq!(
        file_bytes(&queue, QueueFileId(2)),
        b"Subject: two\r\n\r\ntwo\r\n"
    );
}

#[test]
fn removing_entries_removes_the_file_with_the_last_one() {
    let f = Fixture::new();
    let (_server, queue) = f.open();
    let entries =
        queued(queue.enqueue(vec![message("shared", &["a@example.org", "b@example.org"])]))
            .remove(0);
    let (a, b) = (&entries[0], &entries[1]);
    let path = queue.file_path(a.file);

    assert_eq!(&queue.remove(a.id).unwrap(), a);
    assert_eq!(queue.get(a.id).unwrap(), None);
    assert!(path.exists(), "the other recipient still needs the file");
    assert_eq!(
        file_bytes(&queue, b.file),
        b"Subject: shared\r\n\r\nshared\r\n"
    );
    assert!(matches!(
        queue.remove(a.id),
        Err(StoreError::NoQueueEntry(QueueId(1)))
    ));

    assert_eq!(&queue.remove(b.id).unwrap(), b);
    assert!(!path.exists(), "file of the last entry left behind");
    assert!(queue.list().unwrap().is_empty());
    // Ids are not reused after removal.
    let next = queued(queue.enqueue(vec![message("next", &["c@example.org"])]));
    assert_eq!(
        (next[0][0].id, next[0][0].file),
        (QueueId(3), QueueFileId(2))
    );
}

#[test]
fn update_takes_the_attempt_fields_only() {
    let f = Fixture::new();
    let (_server, queue) = f.open();
    let entry = queued(queue.enqueue(vec![message("m", &["a@example.org"])])).remove(0)[0].clone();
    let mut changed = entry.clone();
    changed.attempts = 1;
    changed.last_attempt = Some(1_700_000_010);
    changed.next_attempt = 1_700_000_910;
    changed.last_error = Some("451 try again".into());
    changed.recipient = "someone-else@example.org".into();
    changed.file = QueueFileId(77);
    let stored = queue.update(&changed).unwrap();
    assert_eq!(
        (
            stored.attempts,
            stored.last_attempt,
            stored.next_attempt,
            stored.last_error.as_deref()
        ),
        (1, Some(1_700_000_010), 1_700_000_910, Some("451 try again"))
    );
    assert_eq!(
        (stored.recipient.as_str(), stored.file),
        ("a@example.org", entry.file)
    );
    assert_eq!(queue.get(entry.id).unwrap(), Some(stored));
    changed.id = QueueId(42);
    assert!(matches!(
        queue.update(&changed),
        Err(StoreError::NoQueueEntry(QueueId(42)))
    ));
}

#[test]
fn reopened_queue_has_everything_committed_and_continues_the_ids() {
    let f = Fixture::new();
    let expected;
    {
        let (_server, queue) = f.open();
        let mut big = message("big", &["a@example.org", "b@example.org"]);
        let mut spool = Spool::new(f.data.tmp());
        spool.write(&vec![b'y'; 3 << 20]).unwrap();
        big.source = spool.finish().unwrap().0;
        queued(queue.enqueue(vec![big, message("small", &["c@example.org"])]));
        queue.remove(QueueId(1)).unwrap();
        expected = queue.list().unwrap();
    }
    // The spool file is gone (dropped); the queue keeps its own link.
    assert_eq!(std::fs::read_dir(f.data.tmp()).unwrap().count(), 0);
    let (_server, queue) = f.open();
    assert_eq!(queue.list().unwrap(), expected);
    assert_eq!(expected.iter().map(|e| e.id.0).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(file_bytes(&queue, expected[0].file).len(), 3 << 20);
    assert_eq!(
        expected[0].size,
        (3 << 20) + b"Received: by test\r\n".len() as u64
    );
    let next = queued(queue.enqueue(vec![message("after", &["d@example.org"])]));
    assert_eq!(
        (next[0][0].id, next[0][0].file),
        (QueueId(4), QueueFileId(3))
    );
}

#[test]
fn orphan_files_are_removed_at_open_and_strangers_left_alone() {
    let f = Fixture::new();
    let kept;
    {
        let (_server, queue) = f.open();
        kept =
            queued(queue.enqueue(vec![message("kept", &["a@example.org"])])).remove(0)[0].clone();
    }
    let dir = f.data.queue_dir();
    // A crash between writing files and committing: ids the counter has not handed out yet,
    // and one in another bucket.
    for (bucket, name) in [("0", "2"), ("0", "3"), ("1", "8192")] {
        std::fs::create_dir_all(dir.join(bucket)).unwrap();
        std::fs::write(dir.join(bucket).join(name), b"partial").unwrap();
    }
    let stranger = dir.join("0").join("notes.txt");
    std::fs::write(&stranger, b"not ours").unwrap();
    let misplaced = dir.join("0").join("9000");
    std::fs::write(&misplaced, b"not where file 9000 lives").unwrap();

    let (_server, queue) = f.open();
    let (mut on_disk, mut strangers) = queue.files.on_disk().unwrap();
    on_disk.sort();
    strangers.sort();
    assert_eq!(on_disk, [kept.file.0]);
    assert_eq!(strangers, [misplaced, stranger]);
    assert_eq!(
        file_bytes(&queue, kept.file),
        b"Subject: kept\r\n\r\nkept\r\n"
    );
    // The next message takes file id 2 and is not confused with the removed orphan.
    let next = queued(queue.enqueue(vec![message("next", &["b@example.org"])])).remove(0);
    assert_eq!(next[0].file, QueueFileId(2));
    assert_eq!(
        file_bytes(&queue, next[0].file),
        b"Subject: next\r\n\r\nnext\r\n"
    );
}

#[test]
fn damaged_record_is_an_error_not_a_panic() {
    let f = Fixture::new();
    let (_server, queue) = f.open();
    queued(queue.enqueue(vec![message("m", &["a@example.org", "b@example.org"])]));
    {
        let mut wtxn = queue.env.write_txn().unwrap();
        let raw = queue.entries.remap_data_type::<Bytes>();
        raw.put(&mut wtxn, &QueueId(1), &[0xff; 40]).unwrap();
        // A valid record under the wrong key is damage too.
        let third = raw.get(&wtxn, &QueueId(2)).unwrap().unwrap().to_vec();
        raw.put(&mut wtxn, &QueueId(3), &third).unwrap();
        wtxn.commit().unwrap();
    }
    for id in [1, 3] {
        match queue.get(QueueId(id)) {
            Err(StoreError::Corrupt(why)) => assert!(why.contains(&format!("queue entry {id}"))),
            other => panic!("damaged entry {id} read as {other:?}"),
        }
    }
    assert!(matches!(queue.list(), Err(StoreError::Corrupt(_))));
    let (good, damaged) = queue.list_readable().unwrap();
    assert_eq!(good.iter().map(|e| e.id).collect::<Vec<_>>(), [QueueId(2)]);
    assert_eq!(
        damaged.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        [QueueId(1), QueueId(3)]
    );
    assert!(matches!(
        queue.remove(QueueId(1)),
        Err(StoreError::Corrupt(_))
    ));
    // The intact entry is still served.
    assert_eq!(
        queue.get(QueueId(2)).unwrap().unwrap().recipient,
        "b@example.org"
    );
}

#[test]
fn newer_queue_schema_is_refused() {
    let f = Fixture::new();
    {
        let (_server, queue) = f.open();
        let mut wtxn = queue.env.write_txn().unwrap();
        meta::put_u64(&queue.meta, &mut wtxn, "schema.queue", 99).unwrap();
        wtxn.commit().unwrap();
    }
    let server = ServerStore::open(&f.data.server_env()).unwrap();
    match QueueStore::open(&server, &f.data.queue_dir()) {
        Err(StoreError::NewerSchema {
            table: "queue",
            stored: 99,
            ..
        }) => {}
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("opened a queue of a newer schema"),
    }
}
