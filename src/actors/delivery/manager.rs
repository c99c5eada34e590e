//! The delivery manager: gives every queue entry its actor (all of them at start, new ones as
//! the queue actor commits them), and runs the attempts of due entries with at most
//! `[queue] concurrency` at once and one connection per destination domain at a time. Due
//! entries of one message for the same domain go in one SMTP transaction.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use actix::prelude::*;

use super::attempt::run_attempt;
use super::entry::{DropEntry, EntryActor, Kick};
use crate::actors::Services;
use crate::store::QueueId;
use crate::store::queue::QueueEntry;

#[derive(Default)]
pub struct DeliveryManager {
    services: Option<Arc<Services>>,
    entries: HashMap<QueueId, Addr<EntryActor>>,
    waiting: VecDeque<Due>,
    /// Destination domains with a delivery in progress.
    busy_domains: HashSet<String>,
    running: usize,
    /// A dispatch is scheduled: entries due in the same moment are gathered first.
    dispatch_pending: bool,
}

/// How long due entries are gathered before a dispatch, so that the recipients of a message
/// (whose timers fire together) share a transaction.
const GATHER: std::time::Duration = std::time::Duration::from_millis(20);

impl Actor for DeliveryManager {
    type Context = Context<Self>;
}

impl DeliveryManager {
    fn spawn_entries(&mut self, entries: Vec<QueueEntry>, ctx: &mut Context<Self>) {
        let Some(services) = self.services.clone() else {
            return;
        };
        for entry in entries {
            if self.entries.contains_key(&entry.id) {
                continue;
            }
            let id = entry.id;
            let actor = EntryActor::new(entry, services.clone(), ctx.address()).start();
            self.entries.insert(id, actor);
        }
    }

    /// Takes the waiting entry at `i` and the other waiting recipients of its message at the
    /// same domain (they go in one transaction).
    fn take_group(&mut self, i: usize) -> Option<Vec<Due>> {
        let first = self.waiting.remove(i)?;
        let domain = first.entry.recipient_domain_ascii.clone();
        let file = first.entry.file;
        let mut group = vec![first];
        let mut rest = VecDeque::with_capacity(self.waiting.len());
        for d in self.waiting.drain(..) {
            if d.entry.file == file && d.entry.recipient_domain_ascii == domain {
                group.push(d);
            } else {
                rest.push_back(d);
            }
        }
        self.waiting = rest;
        Some(group)
    }

    /// Starts attempts while there is room and a due entry whose domain is free.
    fn dispatch(&mut self, ctx: &mut Context<Self>) {
        let Some(services) = self.services.clone() else {
            return;
        };
        let concurrency = services.config.static_config.queue.concurrency;
        while self.running < concurrency {
            let Some(i) = self
                .waiting
                .iter()
                .position(|d| !self.busy_domains.contains(&d.entry.recipient_domain_ascii))
            else {
                return;
            };
            let Some(group) = self.take_group(i) else {
                return;
            };
            let domain = group[0].entry.recipient_domain_ascii.clone();
            self.busy_domains.insert(domain.clone());
            self.running += 1;
            let actors = group.into_iter().map(|d| d.actor).collect();
            let attempt = run_attempt(services.clone(), ctx.address(), actors);
            ctx.spawn(attempt.into_actor(self).map(move |_, act, ctx| {
                act.running -= 1;
                act.busy_domains.remove(&domain);
                act.dispatch(ctx);
            }));
        }
    }
}

/// Gives the manager what it needs and loads every entry of the queue store.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Init(pub Arc<Services>);

impl Handler<Init> for DeliveryManager {
    type Result = ();

    fn handle(&mut self, Init(services): Init, ctx: &mut Context<Self>) {
        let store = services.queue_store.clone();
        self.services = Some(services);
        let load = actix_rt::task::spawn_blocking(move || store.list_readable());
        ctx.spawn(load.into_actor(self).map(|result, act, ctx| match result {
            Ok(Ok((entries, damaged))) => {
                for (id, error) in damaged {
                    tracing::error!(id = id.0, error = %error, "damaged queue entry left alone (see moxide verifydata)");
                }
                tracing::info!(entries = entries.len(), "outgoing queue loaded");
                act.spawn_entries(entries, ctx);
            }
            Ok(Err(e)) => tracing::error!(error = %e, "loading the outgoing queue failed"),
            Err(e) => tracing::error!(error = %e, "loading the outgoing queue failed"),
        }));
    }
}

/// Entries the queue actor has just committed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct NewEntries(pub Vec<QueueEntry>);

impl Handler<NewEntries> for DeliveryManager {
    type Result = ();

    fn handle(&mut self, NewEntries(entries): NewEntries, ctx: &mut Context<Self>) {
        self.spawn_entries(entries, ctx);
    }
}

/// An entry is due: its actor asks for an attempt.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Due {
    pub entry: QueueEntry,
    pub actor: Addr<EntryActor>,
}

impl Handler<Due> for DeliveryManager {
    type Result = ();

    fn handle(&mut self, due: Due, ctx: &mut Context<Self>) {
        self.waiting.push_back(due);
        if !self.dispatch_pending {
            self.dispatch_pending = true;
            ctx.run_later(GATHER, |act, ctx| {
                act.dispatch_pending = false;
                act.dispatch(ctx);
            });
        }
    }
}

/// A connection to `domain` is free for another message: the next due group for it, if any.
#[derive(Message)]
#[rtype(result = "Option<Vec<Addr<EntryActor>>>")]
pub struct NextForDomain(pub String);

impl Handler<NextForDomain> for DeliveryManager {
    type Result = Option<Vec<Addr<EntryActor>>>;

    fn handle(
        &mut self,
        NextForDomain(domain): NextForDomain,
        _: &mut Context<Self>,
    ) -> Self::Result {
        let i = self
            .waiting
            .iter()
            .position(|d| d.entry.recipient_domain_ascii == domain)?;
        let group = self.take_group(i)?;
        Some(group.into_iter().map(|d| d.actor).collect())
    }
}

/// An entry actor stopped (delivered, bounced or dropped).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Gone(pub QueueId);

impl Handler<Gone> for DeliveryManager {
    type Result = ();

    fn handle(&mut self, Gone(id): Gone, _: &mut Context<Self>) {
        self.entries.remove(&id);
        self.waiting.retain(|d| d.entry.id != id);
    }
}

/// Makes one entry, or all, try now; answers how many.
#[derive(Message)]
#[rtype(result = "Result<usize, String>")]
pub struct KickEntries(pub Option<QueueId>);

impl Handler<KickEntries> for DeliveryManager {
    type Result = Result<usize, String>;

    fn handle(&mut self, KickEntries(id): KickEntries, _: &mut Context<Self>) -> Self::Result {
        match id {
            Some(id) => {
                let actor = self
                    .entries
                    .get(&id)
                    .ok_or_else(|| format!("no queue entry {}", id.0))?;
                actor.do_send(Kick);
                Ok(1)
            }
            None => {
                for actor in self.entries.values() {
                    actor.do_send(Kick);
                }
                Ok(self.entries.len())
            }
        }
    }
}

/// Removes an entry without delivering it; answers the entry.
#[derive(Message)]
#[rtype(result = "Result<QueueEntry, String>")]
pub struct DropQueued(pub QueueId);

impl Handler<DropQueued> for DeliveryManager {
    type Result = ResponseFuture<Result<QueueEntry, String>>;

    fn handle(&mut self, DropQueued(id): DropQueued, _: &mut Context<Self>) -> Self::Result {
        let actor = self.entries.get(&id).cloned();
        Box::pin(async move {
            let actor = actor.ok_or_else(|| format!("no queue entry {}", id.0))?;
            actor.send(DropEntry).await.map_err(|e| e.to_string())?
        })
    }
}
