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

use super::group_commit::{self, GroupCommit};
use super::mailbox::{MailboxActor, MailboxChanged, Publish, Unwatch, Watch};
use crate::auth::PasswordSecrets;
use crate::metrics;
use crate::store::{
    AccountStore, Change, DeliveryMailbox, Expunge, FlagChange, MailboxId, MessageId, ModSeq,
    NewMessage, SpecialUse, StoreError, StoreFlags, Uid, UidValidity, WriteOp, WriteOutcome,
};

/// Operations taken into one transaction at most, so one batch cannot grow without bound.
const MAX_BATCH: usize = 512;

struct Watched {
    addr: Addr<MailboxActor>,
    sessions: HashSet<u64>,
}

pub struct AccountActor {
    name: String,
    store: Arc<AccountStore>,
    batches: GroupCommit<WriteOp, WriteOutcome>,
    mailboxes: HashMap<MailboxId, Watched>,
}

impl AccountActor {
    pub fn new(name: String, store: Arc<AccountStore>) -> AccountActor {
        AccountActor {
            name,
            store,
            batches: GroupCommit::new(MAX_BATCH),
            mailboxes: HashMap::new(),
        }
    }

    fn enqueue(
        &mut self,
        op: WriteOp,
        ctx: &mut Context<Self>,
    ) -> oneshot::Receiver<Result<WriteOutcome, StoreError>> {
        let rx = self.batches.push(op);
        self.commit_next(ctx);
        rx
    }

    /// Starts committing what is queued, unless a commit is in flight (it will call again).
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
                Ok(batch) => {
                    metrics::COMMITS.add(1);
                    metrics::COMMITTED_OPS.add(n as u64);
                    metrics::COMMIT_BATCH.observe(n as f64);
                    metrics::COMMIT_SECONDS.observe(started.elapsed().as_secs_f64());
                    tracing::debug!(account = %act.name, ops = n, ms = started.elapsed().as_millis() as u64, "committed");
                    act.publish(batch.changes);
                    group_commit::answer(waiters, batch.outcomes);
                }
                Err(e) => {
                    tracing::error!(account = %act.name, error = %e, "commit task failed");
                    group_commit::fail(waiters, &e.to_string());
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

/// Declares a request to the account actor answered from the outcome of one [`WriteOp`]: the
/// message type (named for its intent), its result type, and its handler.
macro_rules! write_request {
    (
        $(#[$doc:meta])*
        $name:ident { $($field:ident: $ty:ty),* $(,)? } -> $out:ty;
        |$msg:ident| $op:expr;
        $outcome:pat => $result:expr
    ) => {
        $(#[$doc])*
        pub struct $name {
            $(pub $field: $ty,)*
        }

        impl Message for $name {
            type Result = Result<$out, StoreError>;
        }

        impl Handler<$name> for AccountActor {
            type Result = ResponseFuture<Result<$out, StoreError>>;

            fn handle(&mut self, $msg: $name, ctx: &mut Context<Self>) -> Self::Result {
                self.request($op, ctx, |o| match o {
                    $outcome => Some($result),
                    _ => None,
                })
            }
        }
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub id: MessageId,
    pub mailbox: MailboxId,
    pub uid: Uid,
    pub modseq: ModSeq,
}

write_request! {
    /// Delivers a message into a mailbox of the account (created when missing).
    DeliverMessage { mailbox: DeliveryMailbox, message: NewMessage, junk_score: Option<f64> } -> Delivered;
    |m| WriteOp::Deliver { mailbox: m.mailbox, message: m.message, junk_score: m.junk_score };
    WriteOutcome::Delivered { id, mailbox, uid, modseq } => {
        metrics::DELIVERIES.add(1);
        Delivered { id, mailbox, uid, modseq }
    }
}

/// What APPEND, COPY and MOVE report for UIDPLUS (RFC 4315): the destination's uidvalidity and
/// the new uids (with the source uids they came from, for COPY and MOVE).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub uidvalidity: UidValidity,
    pub pairs: Vec<(Uid, Uid)>,
}

write_request! {
    /// APPEND (MULTIAPPEND: all or none). The mailbox must exist.
    AppendMessages { mailbox: String, messages: Vec<NewMessage> } -> Placed;
    |m| WriteOp::Append { mailbox: m.mailbox, messages: m.messages };
    WriteOutcome::Appended { uidvalidity, uids, .. } => Placed { uidvalidity, pairs: uids.into_iter().map(|u| (u, u)).collect() }
}

write_request! {
    /// COPY: the messages also in `to`.
    CopyMessages { from: MailboxId, uids: Vec<Uid>, to: MailboxId } -> Placed;
    |m| WriteOp::Copy { from: m.from, uids: m.uids, to: m.to };
    WriteOutcome::Copied { uidvalidity, pairs } => Placed { uidvalidity, pairs }
}

write_request! {
    /// MOVE: the messages to `to`, tombstones left in `from`.
    MoveMessages { from: MailboxId, uids: Vec<Uid>, to: MailboxId } -> Placed;
    |m| WriteOp::Move { from: m.from, uids: m.uids, to: m.to };
    WriteOutcome::Moved { uidvalidity, pairs } => Placed { uidvalidity, pairs }
}

/// Flags of messages after a STORE, and those not changed because of UNCHANGEDSINCE (RFC 7162
/// MODIFIED).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagsStored {
    pub changed: Vec<FlagChange>,
    pub modified: Vec<Uid>,
}

write_request! {
    /// Changes flags of messages (IMAP STORE, and \Seen set by FETCH).
    ChangeFlags { request: StoreFlags } -> FlagsStored;
    |m| WriteOp::StoreFlags(m.request);
    WriteOutcome::FlagsStored { changed, modified } => FlagsStored { changed, modified }
}

write_request! {
    /// Expunges messages; answers the uids expunged.
    ExpungeMessages { mailbox: MailboxId, which: Expunge } -> Vec<Uid>;
    |m| WriteOp::Expunge { mailbox: m.mailbox, which: m.which };
    WriteOutcome::Expunged { uids, .. } => uids
}

write_request! {
    /// Creates a mailbox and its missing parents.
    CreateMailbox { name: String, special_use: SpecialUse } -> MailboxId;
    |m| WriteOp::CreateMailbox { name: m.name, special_use: m.special_use };
    WriteOutcome::MailboxCreated(id) => id
}

write_request! {
    /// Deletes a mailbox and its messages.
    DeleteMailbox { mailbox: MailboxId } -> ();
    |m| WriteOp::DeleteMailbox { mailbox: m.mailbox };
    WriteOutcome::MailboxDeleted => ()
}

write_request! {
    /// Renames a mailbox and its children.
    RenameMailbox { mailbox: MailboxId, to: String } -> ();
    |m| WriteOp::RenameMailbox { mailbox: m.mailbox, to: m.to };
    WriteOutcome::MailboxRenamed => ()
}

write_request! {
    /// Subscribes to (or unsubscribes from) a mailbox name.
    ChangeSubscription { name: String, subscribe: bool } -> ();
    |m| if m.subscribe { WriteOp::Subscribe { name: m.name } } else { WriteOp::Unsubscribe { name: m.name } };
    WriteOutcome::Subscribed(_) => ()
}

write_request! {
    /// Forgets what the junk filter learned (the start of a retrain).
    ResetJunk {} -> ();
    |_m| WriteOp::JunkReset;
    WriteOutcome::JunkReset => ()
}

write_request! {
    /// Trains the junk filter on messages as their flags say; answers how many were there.
    TrainJunk { ids: Vec<crate::store::MessageId> } -> usize;
    |m| WriteOp::JunkTrain { ids: m.ids };
    WriteOutcome::JunkTrained(n) => n
}

write_request! {
    /// Replaces the password secrets. Never waits on sessions: they only read.
    SetPassword { secrets: PasswordSecrets } -> ();
    |m| WriteOp::SetPassword(m.secrets);
    WriteOutcome::PasswordSet => ()
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
        let results = join_all((0..n).map(|i| {
            addr.send(DeliverMessage {
                mailbox: DeliveryMailbox::inbox(),
                message: message(i),
                junk_score: None,
            })
        }))
        .await;
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
            addr.send(SetPassword { secrets }),
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
