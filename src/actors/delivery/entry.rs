//! The actor of one queue entry (one recipient of a queued message): it owns the entry's retry
//! timer, records each attempt durably before the manager may dial for it, and decides from the
//! attempt's result what follows: removal, a retry later, a delayed or a failure DSN.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::DeliveryManager;
use super::dsn::send_dsn;
use super::manager::{Due, Gone};
use crate::actors::Services;
use crate::actors::queue::{RemoveQueued, UpdateQueued};
use crate::delivery::attempt::RcptResult;
use crate::delivery::dsn::DsnKind;
use crate::delivery::schedule::{self, AfterFailure};
use crate::metrics;
use crate::store::account::now;
use crate::store::queue::QueueEntry;

/// When recording an attempt fails, the entry is tried again this much later.
const STORE_RETRY: Duration = Duration::from_secs(60);

pub struct EntryActor {
    entry: QueueEntry,
    services: Arc<Services>,
    manager: Addr<DeliveryManager>,
    timer: Option<SpawnHandle>,
    /// Handed to the manager: waiting for a slot, or being delivered.
    busy: bool,
    /// Dropped by the operator: removed from the store already; stops once not busy.
    dropped: bool,
}

impl EntryActor {
    pub fn new(
        entry: QueueEntry,
        services: Arc<Services>,
        manager: Addr<DeliveryManager>,
    ) -> EntryActor {
        EntryActor {
            entry,
            services,
            manager,
            timer: None,
            busy: false,
            dropped: false,
        }
    }

    /// Makes the entry due at `at` (seconds since the epoch), replacing the timer.
    fn schedule(&mut self, at: i64, ctx: &mut Context<Self>) {
        if let Some(t) = self.timer.take() {
            ctx.cancel_future(t);
        }
        let wait = Duration::from_secs(u64::try_from(at - now()).unwrap_or(0));
        self.timer = Some(ctx.run_later(wait, |act, ctx| {
            act.timer = None;
            act.busy = true;
            act.manager.do_send(Due {
                entry: act.entry.clone(),
                actor: ctx.address(),
            });
        }));
    }
}

impl Actor for EntryActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        metrics::QUEUE_ENTRIES.add(1);
        self.schedule(self.entry.next_attempt, ctx);
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        metrics::QUEUE_ENTRIES.sub(1);
        self.manager.do_send(Gone(self.entry.id));
    }
}

/// Try now.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Kick;

impl Handler<Kick> for EntryActor {
    type Result = ();

    fn handle(&mut self, _: Kick, ctx: &mut Context<Self>) {
        if !self.busy && !self.dropped {
            self.schedule(now(), ctx);
        }
    }
}

/// Remove the entry without delivering it; answers the removed entry.
#[derive(Message)]
#[rtype(result = "Result<QueueEntry, String>")]
pub struct DropEntry;

impl Handler<DropEntry> for EntryActor {
    type Result = ResponseActFuture<Self, Result<QueueEntry, String>>;

    fn handle(&mut self, _: DropEntry, _: &mut Context<Self>) -> Self::Result {
        let queue = self.services.queue.clone();
        let id = self.entry.id;
        Box::pin(
            async move { queue.send(RemoveQueued(id)).await }
                .into_actor(self)
                .map(|result, act, ctx| {
                    let removed = result
                        .map_err(|e| e.to_string())?
                        .map_err(|e| e.to_string())?;
                    act.dropped = true;
                    tracing::info!(id = removed.id.0, rcpt = %removed.recipient, "queue entry dropped");
                    if !act.busy {
                        ctx.stop();
                    }
                    Ok(removed)
                }),
        )
    }
}

/// The manager is about to dial for this entry: record the attempt first (count, time, when
/// the next is due), so that a crash never skips or repeats the schedule. None: do not dial.
#[derive(Message)]
#[rtype(result = "Option<QueueEntry>")]
pub struct BeginAttempt;

impl Handler<BeginAttempt> for EntryActor {
    type Result = ResponseActFuture<Self, Option<QueueEntry>>;

    fn handle(&mut self, _: BeginAttempt, _: &mut Context<Self>) -> Self::Result {
        let mut entry = self.entry.clone();
        let dropped = self.dropped;
        let at = now();
        entry.attempts += 1;
        entry.last_attempt = Some(at);
        let config = &self.services.config.static_config.queue;
        entry.next_attempt = schedule::next_attempt(config, entry.attempts, at, schedule::random());
        let queue = self.services.queue.clone();
        Box::pin(
            async move {
                if dropped {
                    return None;
                }
                Some(queue.send(UpdateQueued(entry)).await)
            }
            .into_actor(self)
            .map(|result, act, ctx| {
                let error = match result {
                    None => {
                        // Dropped while it waited for a slot: nothing more to do.
                        if act.dropped {
                            act.busy = false;
                            ctx.stop();
                        }
                        return None;
                    }
                    Some(Ok(Ok(entry))) => {
                        metrics::QUEUE_ATTEMPTS.add(1);
                        act.entry = entry.clone();
                        return Some(entry);
                    }
                    Some(Ok(Err(e))) => e.to_string(),
                    Some(Err(e)) => e.to_string(),
                };
                tracing::error!(id = act.entry.id.0, error = %error, "recording a delivery attempt failed; not dialing");
                act.busy = false;
                act.schedule(now() + STORE_RETRY.as_secs() as i64, ctx);
                None
            }),
        )
    }
}

/// How the attempt went for this entry's recipient.
#[derive(Message)]
#[rtype(result = "()")]
pub struct AttemptDone(pub RcptResult);

impl Handler<AttemptDone> for EntryActor {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, AttemptDone(result): AttemptDone, _: &mut Context<Self>) -> Self::Result {
        let services = self.services.clone();
        let mut entry = self.entry.clone();
        let dropped = self.dropped;
        let config = services.config.static_config.queue.clone();
        Box::pin(
            async move {
                if dropped {
                    return Next::Stop;
                }
                let (kind, failure) = match result {
                    RcptResult::Delivered { remote } => {
                        tracing::info!(id = entry.id.0, rcpt = %entry.recipient, remote = %remote, attempts = entry.attempts, "delivered");
                        metrics::QUEUE_DELIVERED.add(1);
                        remove(&services, &entry).await;
                        return Next::Stop;
                    }
                    RcptResult::Failed(f) if f.permanent => (DsnKind::Failed, f),
                    RcptResult::Failed(f) => {
                        entry.last_error = Some(f.text.clone());
                        match services.queue.send(UpdateQueued(entry.clone())).await {
                            Ok(Ok(updated)) => entry = updated,
                            Ok(Err(e)) => tracing::error!(id = entry.id.0, error = %e, "recording a failed attempt"),
                            Err(e) => tracing::error!(id = entry.id.0, error = %e, "recording a failed attempt"),
                        }
                        match schedule::after_temporary_failure(&config, entry.attempts) {
                            AfterFailure::GiveUp => (DsnKind::Failed, f),
                            AfterFailure::Retry { notify } => {
                                tracing::info!(id = entry.id.0, rcpt = %entry.recipient, attempts = entry.attempts, error = %f.text, next_attempt = entry.next_attempt, "delivery failed, will retry");
                                if notify {
                                    send_dsn(&services, &entry, DsnKind::Delayed, &f).await;
                                }
                                return Next::Retry(Box::new(entry));
                            }
                        }
                    }
                };
                tracing::info!(id = entry.id.0, rcpt = %entry.recipient, attempts = entry.attempts, error = %failure.text, "delivery failed for good");
                metrics::QUEUE_FAILED.add(1);
                send_dsn(&services, &entry, kind, &failure).await;
                remove(&services, &entry).await;
                Next::Stop
            }
            .into_actor(self)
            .map(|next, act, ctx| {
                act.busy = false;
                match next {
                    Next::Stop => ctx.stop(),
                    Next::Retry(entry) => {
                        act.entry = *entry;
                        if act.dropped {
                            ctx.stop();
                        } else {
                            act.schedule(act.entry.next_attempt, ctx);
                        }
                    }
                }
            }),
        )
    }
}

enum Next {
    Stop,
    Retry(Box<QueueEntry>),
}

async fn remove(services: &Services, entry: &QueueEntry) {
    match services.queue.send(RemoveQueued(entry.id)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::error!(id = entry.id.0, error = %e, "removing a queue entry"),
        Err(e) => tracing::error!(id = entry.id.0, error = %e, "removing a queue entry"),
    }
}
