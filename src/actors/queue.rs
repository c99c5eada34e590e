//! The queue actor: the only writer of the outgoing queue's tables.
//!
//! Like an account actor it commits in groups: a request that arrives while a batch is being
//! committed on the blocking pool waits, and the next transaction takes everything waiting, so
//! one `syncfs` and one LMDB commit serve many submissions. Requesters are answered only once
//! their batch is durable. Listing reads in its own transaction on the blocking pool and never
//! waits on a commit. The delivery engine's per-entry actors will record attempts and remove
//! delivered entries through here too ([`UpdateQueued`], [`RemoveQueued`]).

use std::sync::Arc;

use super::delivery::NewEntries;
use super::group_commit::{self, GroupCommit};
use crate::address::Address;
use crate::store::queue::{NewQueued, QueueEntry, QueueOp, QueueOutcome, QueueStore};
use crate::store::{QueueId, StoreError};
use actix::prelude::*;

/// Operations taken into one transaction at most, so one batch cannot grow without bound.
const MAX_BATCH: usize = 256;

pub struct QueueActor {
    store: Arc<QueueStore>,
    batches: GroupCommit<QueueOp, QueueOutcome>,
    /// Told of new entries once they are durable (the delivery manager).
    subscriber: Option<Recipient<NewEntries>>,
}

impl QueueActor {
    pub fn new(store: Arc<QueueStore>, subscriber: Option<Recipient<NewEntries>>) -> QueueActor {
        QueueActor {
            store,
            batches: GroupCommit::new(MAX_BATCH),
            subscriber,
        }
    }

    /// Adds `op` to the next batch; answers its outcome once committed.
    fn request<T: 'static>(
        &mut self,
        op: QueueOp,
        ctx: &mut Context<Self>,
        map: fn(QueueOutcome) -> Option<T>,
    ) -> ResponseFuture<Result<T, StoreError>> {
        let rx = self.batches.push(op);
        self.commit_next(ctx);
        Box::pin(async move {
            let outcome = rx
                .await
                .map_err(|_| StoreError::CommitFailed("queue actor stopped".into()))??;
            map(outcome)
                .ok_or_else(|| StoreError::Corrupt("unexpected outcome for queue operation".into()))
        })
    }

    /// Starts committing what is waiting, unless a commit is in flight (it will call again).
    fn commit_next(&mut self, ctx: &mut Context<Self>) {
        let Some((ops, waiters)) = self.batches.next_batch() else {
            return;
        };
        let store = self.store.clone();
        let n = ops.len();
        let started = std::time::Instant::now();
        let work = actix_rt::task::spawn_blocking(move || store.apply(ops));
        ctx.spawn(work.into_actor(self).map(move |result, act, ctx| {
            act.batches.finished();
            match result {
                Ok(outcomes) => {
                    tracing::debug!(
                        ops = n,
                        ms = started.elapsed().as_millis() as u64,
                        "queue committed"
                    );
                    for outcome in outcomes.iter().flatten() {
                        log_outcome(outcome);
                        if let (QueueOutcome::Queued(entries), Some(s)) = (outcome, &act.subscriber)
                        {
                            s.do_send(NewEntries(entries.clone()));
                        }
                    }
                    group_commit::answer(waiters, outcomes);
                }
                Err(e) => {
                    tracing::error!(error = %e, "queue commit task failed");
                    group_commit::fail(waiters, &e.to_string());
                }
            }
            act.commit_next(ctx);
        }));
    }
}

/// One log line per entry changed, once durable.
fn log_outcome(outcome: &QueueOutcome) {
    match outcome {
        QueueOutcome::Queued(entries) => {
            for e in entries {
                tracing::info!(
                    id = e.id.0,
                    file = e.file.0,
                    account = %e.account,
                    from = %e.mail_from,
                    from_ascii = from_ascii(e).map(display),
                    rcpt = %e.recipient,
                    rcpt_ascii = rcpt_ascii(e).map(display),
                    size = e.size,
                    message_id = %e.message_id,
                    // RFC 8689: true for REQUIRETLS, false for `TLS-Required: No`.
                    requiretls = e.requiretls,
                    "queued"
                );
            }
        }
        QueueOutcome::Updated(e) => tracing::debug!(
            id = e.id.0,
            attempts = e.attempts,
            next_attempt = e.next_attempt,
            "queue entry updated"
        ),
        QueueOutcome::Removed(e) => tracing::info!(
            id = e.id.0,
            account = %e.account,
            rcpt = %e.recipient,
            rcpt_ascii = rcpt_ascii(e).map(display),
            "removed from the queue"
        ),
    }
}

/// The recipient with its domain in ASCII, when that differs: logs carry both forms (DESIGN §6).
fn rcpt_ascii(e: &QueueEntry) -> Option<String> {
    let (local, domain) = e.recipient.rsplit_once('@')?;
    (!domain.eq_ignore_ascii_case(&e.recipient_domain_ascii))
        .then(|| format!("{local}@{}", e.recipient_domain_ascii))
}

/// The same for the reverse path, whose ASCII domain is not stored.
fn from_ascii(e: &QueueEntry) -> Option<String> {
    Address::parse_simple(&e.mail_from).ok()?.log_ascii()
}

impl Actor for QueueActor {
    type Context = Context<Self>;
}

/// Queues a message for its recipients (one entry each), durably; answers the entries.
#[derive(Message)]
#[rtype(result = "Result<Vec<QueueEntry>, StoreError>")]
pub struct Enqueue(pub NewQueued);

impl Handler<Enqueue> for QueueActor {
    type Result = ResponseFuture<Result<Vec<QueueEntry>, StoreError>>;

    fn handle(&mut self, Enqueue(new): Enqueue, ctx: &mut Context<Self>) -> Self::Result {
        self.request(QueueOp::Enqueue(new), ctx, |o| match o {
            QueueOutcome::Queued(entries) => Some(entries),
            _ => None,
        })
    }
}

/// Records a delivery attempt: the attempt fields of the entry (see [`QueueOp::Update`]).
#[derive(Message)]
#[rtype(result = "Result<QueueEntry, StoreError>")]
pub struct UpdateQueued(pub QueueEntry);

impl Handler<UpdateQueued> for QueueActor {
    type Result = ResponseFuture<Result<QueueEntry, StoreError>>;

    fn handle(
        &mut self,
        UpdateQueued(entry): UpdateQueued,
        ctx: &mut Context<Self>,
    ) -> Self::Result {
        self.request(QueueOp::Update(entry), ctx, |o| match o {
            QueueOutcome::Updated(entry) => Some(entry),
            _ => None,
        })
    }
}

/// Removes an entry (delivered, failed for good, or dropped), and its file with the last one.
#[derive(Message)]
#[rtype(result = "Result<QueueEntry, StoreError>")]
pub struct RemoveQueued(pub QueueId);

impl Handler<RemoveQueued> for QueueActor {
    type Result = ResponseFuture<Result<QueueEntry, StoreError>>;

    fn handle(&mut self, RemoveQueued(id): RemoveQueued, ctx: &mut Context<Self>) -> Self::Result {
        self.request(QueueOp::Remove(id), ctx, |o| match o {
            QueueOutcome::Removed(entry) => Some(entry),
            _ => None,
        })
    }
}

/// Every entry of the queue, in queueing order, as committed now.
#[derive(Message)]
#[rtype(result = "Result<Vec<QueueEntry>, StoreError>")]
pub struct ListQueue;

impl Handler<ListQueue> for QueueActor {
    type Result = ResponseFuture<Result<Vec<QueueEntry>, StoreError>>;

    fn handle(&mut self, _: ListQueue, _: &mut Context<Self>) -> Self::Result {
        let store = self.store.clone();
        Box::pin(async move {
            actix_rt::task::spawn_blocking(move || store.list())
                .await
                .map_err(|e| StoreError::CommitFailed(format!("listing the queue: {e}")))?
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::DataDir;
    use crate::store::files::MessageSource;
    use crate::store::server::ServerStore;
    use futures_util::future::join_all;

    fn message(i: usize, recipients: usize) -> NewQueued {
        NewQueued {
            source: MessageSource::Bytes(Arc::new(
                format!("Subject: {i}\r\n\r\nbody {i}\r\n").into_bytes(),
            )),
            prefix: Vec::new(),
            account: "mox".into(),
            mail_from: "mox@localhost".into(),
            recipients: (0..recipients)
                .map(|r| (format!("r{r}@example.org"), "example.org".into()))
                .collect(),
            smtputf8: false,
            requiretls: None,
            message_id: String::new(),
            now: 1_700_000_000,
        }
    }

    #[actix_rt::test]
    async fn concurrent_submissions_are_all_queued_once() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path().join("data"));
        let _lock = data.prepare().unwrap();
        let server = ServerStore::open(&data.server_env()).unwrap();
        let store = Arc::new(QueueStore::open(&server, &data.queue_dir()).unwrap());
        let addr = QueueActor::new(store.clone(), None).start();

        let n = 200;
        let results = join_all((0..n).map(|i| addr.send(Enqueue(message(i, 1 + i % 3))))).await;
        let queued: Vec<Vec<QueueEntry>> =
            results.into_iter().map(|r| r.unwrap().unwrap()).collect();
        let mut ids: Vec<QueueId> = queued.iter().flatten().map(|e| e.id).collect();
        let total = ids.len();
        assert_eq!(total, (0..n).map(|i| 1 + i % 3).sum::<usize>());
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), total, "an id was handed out twice");
        for (i, entries) in queued.iter().enumerate() {
            assert!(entries.iter().all(|e| e.file == entries[0].file));
            let body = std::fs::read(store.file_path(entries[0].file)).unwrap();
            assert_eq!(
                body,
                format!("Subject: {i}\r\n\r\nbody {i}\r\n").into_bytes()
            );
        }
        // What the actor answered is what is committed.
        let listed = addr.send(ListQueue).await.unwrap().unwrap();
        let mut answered: Vec<QueueEntry> = queued.into_iter().flatten().collect();
        answered.sort_by_key(|e| e.id);
        assert_eq!(listed, answered);

        let mut first = listed[0].clone();
        first.attempts = 1;
        first.last_error = Some("451 greylisted".into());
        let updated = addr.send(UpdateQueued(first)).await.unwrap().unwrap();
        assert_eq!(updated.attempts, 1);
        let removed = addr.send(RemoveQueued(updated.id)).await.unwrap().unwrap();
        assert_eq!(removed, updated);
        assert!(matches!(
            addr.send(RemoveQueued(updated.id)).await.unwrap(),
            Err(StoreError::NoQueueEntry(_))
        ));
        let listed = addr.send(ListQueue).await.unwrap().unwrap();
        assert_eq!(listed.len(), total - 1);
    }
}
