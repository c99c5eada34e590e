//! The account actor: the only writer of its account's store.
//!
//! Every change is a message (deliver, store flags, expunge, create a mailbox, set the password)
//! that joins a queue. While a batch is being committed on the blocking pool, new requests wait
//! in the queue; the next transaction takes all of them (group commit), so one index fsync serves
//! many deliveries. Waiters are answered only after the commit is durable. After each commit the
//! changes go to the mailbox actors of the mailboxes that changed, which push them to the
//! sessions watching. Readers never come here: they open their own read transactions.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use actix::prelude::*;
use tokio::sync::oneshot;

use super::mailbox::{MailboxActor, MailboxChanged, Publish, Unwatch, Watch};
use crate::auth::PasswordSecrets;
use crate::metrics;
use crate::store::{
    AccountStore, Change, MailboxId, NewMessage, SpecialUse, StoreError, StoreFlags, WriteOp,
    WriteOutcome,
};

/// Operations taken into one transaction at most, so one batch cannot grow without bound.
const MAX_BATCH: usize = 512;

type Waiter = oneshot::Sender<Result<WriteOutcome, StoreError>>;

struct Watched {
    addr: Addr<MailboxActor>,
    sessions: HashSet<u64>,
}

pub struct AccountActor {
    name: String,
    store: Arc<AccountStore>,
    pending: Vec<(WriteOp, Waiter)>,
    committing: bool,
    mailboxes: HashMap<MailboxId, Watched>,
}

impl AccountActor {
    pub fn new(name: String, store: Arc<AccountStore>) -> AccountActor {
        AccountActor {
            name,
            store,
            pending: Vec::new(),
            committing: false,
            mailboxes: HashMap::new(),
        }
    }

    fn enqueue(
        &mut self,
        op: WriteOp,
        ctx: &mut Context<Self>,
    ) -> oneshot::Receiver<Result<WriteOutcome, StoreError>> {
        let (tx, rx) = oneshot::channel();
        self.pending.push((op, tx));
        self.commit_next(ctx);
        rx
    }

    /// Starts committing what is queued, unless a commit is in flight (it will call again).
    fn commit_next(&mut self, ctx: &mut Context<Self>) {
        if self.committing || self.pending.is_empty() {
            return;
        }
        self.committing = true;
        let take = self.pending.len().min(MAX_BATCH);
        let (ops, waiters): (Vec<WriteOp>, Vec<Waiter>) = self.pending.drain(..take).unzip();
        let store = self.store.clone();
        let n = ops.len();
        let started = std::time::Instant::now();
        let work = actix_rt::task::spawn_blocking(move || store.apply(ops));
        ctx.spawn(work.into_actor(self).map(move |result, act, ctx| {
            act.committing = false;
            match result {
                Ok(batch) => {
                    metrics::COMMITS.add(1);
                    metrics::COMMITTED_OPS.add(n as u64);
                    tracing::debug!(account = %act.name, ops = n, ms = started.elapsed().as_millis() as u64, "committed");
                    act.publish(batch.changes);
                    for (waiter, outcome) in waiters.into_iter().zip(batch.outcomes) {
                        let _ = waiter.send(outcome);
                    }
                }
                Err(e) => {
                    tracing::error!(account = %act.name, error = %e, "commit task failed");
                    for waiter in waiters {
                        let _ = waiter.send(Err(StoreError::CommitFailed(e.to_string())));
                    }
                }
            }
            act.commit_next(ctx);
        }));
    }

    /// Sends each watched mailbox the changes that concern it, in commit order.
    fn publish(&mut self, changes: Vec<Change>) {
        let mut by_mailbox: HashMap<MailboxId, Vec<Change>> = HashMap::new();
        for change in changes {
            if self.mailboxes.contains_key(&change.mailbox()) {
                by_mailbox.entry(change.mailbox()).or_default().push(change);
            }
        }
        for (id, changes) in by_mailbox {
            if let Some(w) = self.mailboxes.get(&id) {
                w.addr.do_send(Publish(Arc::new(changes)));
            }
        }
    }

    /// Answers a typed request from the outcome of its operation.
    fn request<T: 'static>(
        &mut self,
        op: WriteOp,
        ctx: &mut Context<Self>,
        map: fn(WriteOutcome) -> Option<T>,
    ) -> ResponseFuture<Result<T, StoreError>> {
        let rx = self.enqueue(op, ctx);
        Box::pin(async move {
            let outcome = rx
                .await
                .map_err(|_| StoreError::CommitFailed("account actor stopped".into()))??;
            map(outcome)
                .ok_or_else(|| StoreError::Corrupt("unexpected outcome for operation".into()))
        })
    }
}

impl Actor for AccountActor {
    type Context = Context<Self>;
}

/// Delivers a message into a mailbox of the account.
#[derive(Message)]
#[rtype(result = "Result<Delivered, StoreError>")]
pub struct DeliverMessage(pub NewMessage);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub id: crate::store::MessageId,
    pub mailbox: MailboxId,
    pub uid: crate::store::Uid,
    pub modseq: crate::store::ModSeq,
}

impl Handler<DeliverMessage> for AccountActor {
    type Result = ResponseFuture<Result<Delivered, StoreError>>;

    fn handle(&mut self, msg: DeliverMessage, ctx: &mut Context<Self>) -> Self::Result {
        self.request(WriteOp::Deliver(msg.0), ctx, |o| match o {
            WriteOutcome::Delivered {
                id,
                mailbox,
                uid,
                modseq,
            } => {
                metrics::DELIVERIES.add(1);
                Some(Delivered {
                    id,
                    mailbox,
                    uid,
                    modseq,
                })
            }
            _ => None,
        })
    }
}

/// Changes flags of messages (IMAP STORE, and \Seen set by FETCH).
#[derive(Message)]
#[rtype(result = "Result<FlagsStored, StoreError>")]
pub struct ChangeFlags(pub StoreFlags);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagsStored {
    pub changed: Vec<crate::store::FlagChange>,
    /// Uids not changed because of UNCHANGEDSINCE (RFC 7162 MODIFIED).
    pub modified: Vec<crate::store::Uid>,
}

impl Handler<ChangeFlags> for AccountActor {
    type Result = ResponseFuture<Result<FlagsStored, StoreError>>;

    fn handle(&mut self, msg: ChangeFlags, ctx: &mut Context<Self>) -> Self::Result {
        self.request(WriteOp::StoreFlags(msg.0), ctx, |o| match o {
            WriteOutcome::FlagsStored { changed, modified } => {
                Some(FlagsStored { changed, modified })
            }
            _ => None,
        })
    }
}

/// Expunges messages: the uids given, or all flagged \Deleted.
#[derive(Message)]
#[rtype(result = "Result<Vec<crate::store::Uid>, StoreError>")]
pub struct ExpungeMessages {
    pub mailbox: MailboxId,
    pub uids: Option<Vec<crate::store::Uid>>,
}

impl Handler<ExpungeMessages> for AccountActor {
    type Result = ResponseFuture<Result<Vec<crate::store::Uid>, StoreError>>;

    fn handle(&mut self, msg: ExpungeMessages, ctx: &mut Context<Self>) -> Self::Result {
        self.request(
            WriteOp::Expunge {
                mailbox: msg.mailbox,
                uids: msg.uids,
            },
            ctx,
            |o| match o {
                WriteOutcome::Expunged { uids, .. } => Some(uids),
                _ => None,
            },
        )
    }
}

/// Creates a mailbox.
#[derive(Message)]
#[rtype(result = "Result<MailboxId, StoreError>")]
pub struct CreateMailbox {
    pub name: String,
    pub special_use: SpecialUse,
}

impl Handler<CreateMailbox> for AccountActor {
    type Result = ResponseFuture<Result<MailboxId, StoreError>>;

    fn handle(&mut self, msg: CreateMailbox, ctx: &mut Context<Self>) -> Self::Result {
        self.request(
            WriteOp::CreateMailbox {
                name: msg.name,
                special_use: msg.special_use,
            },
            ctx,
            |o| match o {
                WriteOutcome::MailboxCreated(id) => Some(id),
                _ => None,
            },
        )
    }
}

/// Replaces the password secrets. Never waits on sessions: they only read.
#[derive(Message)]
#[rtype(result = "Result<(), StoreError>")]
pub struct SetPassword(pub PasswordSecrets);

impl Handler<SetPassword> for AccountActor {
    type Result = ResponseFuture<Result<(), StoreError>>;

    fn handle(&mut self, msg: SetPassword, ctx: &mut Context<Self>) -> Self::Result {
        self.request(WriteOp::SetPassword(msg.0), ctx, |o| {
            matches!(o, WriteOutcome::PasswordSet).then_some(())
        })
    }
}

/// A session starts watching a mailbox: from now on it gets the mailbox's changes.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WatchMailbox {
    pub mailbox: MailboxId,
    pub session: u64,
    pub recipient: Recipient<MailboxChanged>,
}

impl Handler<WatchMailbox> for AccountActor {
    type Result = ();

    fn handle(&mut self, msg: WatchMailbox, _: &mut Context<Self>) {
        let watched = self
            .mailboxes
            .entry(msg.mailbox)
            .or_insert_with(|| Watched {
                addr: MailboxActor::new(msg.mailbox).start(),
                sessions: HashSet::new(),
            });
        watched.sessions.insert(msg.session);
        watched.addr.do_send(Watch {
            session: msg.session,
            recipient: msg.recipient,
        });
    }
}

/// A session stops watching a mailbox. The mailbox actor stops with its last watcher.
#[derive(Message)]
#[rtype(result = "()")]
pub struct UnwatchMailbox {
    pub mailbox: MailboxId,
    pub session: u64,
}

impl Handler<UnwatchMailbox> for AccountActor {
    type Result = ();

    fn handle(&mut self, msg: UnwatchMailbox, _: &mut Context<Self>) {
        let Some(watched) = self.mailboxes.get_mut(&msg.mailbox) else {
            return;
        };
        watched.sessions.remove(&msg.session);
        watched.addr.do_send(Unwatch {
            session: msg.session,
        });
        if watched.sessions.is_empty() {
            // The mailbox actor stops when its address is dropped and its queue is empty.
            self.mailboxes.remove(&msg.mailbox);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::files::MessageSource;
    use crate::store::{Content, Flags, Uid};
    use futures_util::future::join_all;

    fn message(i: usize) -> NewMessage {
        let raw = format!("Subject: {i}\r\n\r\nbody {i}\r\n").into_bytes();
        NewMessage {
            mailbox: "INBOX".into(),
            content: Content {
                prefix: Vec::new(),
                file_size: raw.len() as u64,
                parts: crate::store::parts::parse(&raw),
            },
            source: MessageSource::Bytes(Arc::new(raw)),
            flags: Flags::empty(),
            keywords: Vec::new(),
            received: 0,
        }
    }

    #[actix_rt::test]
    async fn concurrent_deliveries_get_strictly_increasing_modseqs() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(AccountStore::open(&dir.path().join("mox"), "mox").unwrap());
        let addr = AccountActor::new("mox".into(), store.clone()).start();
        let n = 300;
        let results = join_all((0..n).map(|i| addr.send(DeliverMessage(message(i))))).await;
        let mut delivered: Vec<Delivered> =
            results.into_iter().map(|r| r.unwrap().unwrap()).collect();
        delivered.sort_by_key(|d| d.uid);
        assert_eq!(delivered.len(), n);
        for (i, pair) in delivered.windows(2).enumerate() {
            assert_eq!(pair[0].uid, Uid(i as u32 + 1));
            assert!(
                pair[1].modseq > pair[0].modseq,
                "modseqs not strictly increasing in uid order: {pair:?}"
            );
            assert_ne!(pair[0].id, pair[1].id);
        }
        // What the actor answered is what is committed.
        let r = store.read().unwrap();
        let inbox = r.mailbox("INBOX").unwrap().unwrap();
        assert_eq!(inbox.counts.total as usize, n);
        assert_eq!(inbox.highest_modseq, delivered.last().unwrap().modseq);
        for d in &delivered {
            let m = r.message(inbox.id, d.uid).unwrap().unwrap();
            assert_eq!((m.modseq, m.createseq, m.id), (d.modseq, d.modseq, d.id));
            let body = std::fs::read(r.message_path(m.id)).unwrap();
            assert!(body.starts_with(b"Subject: "));
        }
    }

    #[actix_rt::test]
    async fn password_change_is_not_blocked_by_readers() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(AccountStore::open(&dir.path().join("mox"), "mox").unwrap());
        let addr = AccountActor::new("mox".into(), store.clone()).start();
        // A long-lived read transaction, as an IMAP session holds during a FETCH.
        let reader = store.read().unwrap();
        let secrets = crate::auth::PasswordSecrets::derive("new").unwrap();
        let set = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            addr.send(SetPassword(secrets)),
        );
        set.await
            .expect("set password waited on a reader")
            .unwrap()
            .unwrap();
        assert!(
            reader.secrets().unwrap().is_none(),
            "the old snapshot stays consistent"
        );
        drop(reader);
        assert!(
            store
                .read()
                .unwrap()
                .secrets()
                .unwrap()
                .unwrap()
                .verify("new")
        );
    }
}
