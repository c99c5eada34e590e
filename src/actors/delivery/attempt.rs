//! One attempt for a group of due entries (one message, one destination domain): each entry
//! records its attempt first; then the route of each is chosen for this attempt, and the
//! entries are delivered through their transport, together where they share it. The connection
//! that delivered them then takes the domain's other due messages that go the same way (asked
//! of the manager one group at a time), so a busy destination is not dialed once per message.

use std::sync::Arc;

use actix::Addr;
use futures_util::future::BoxFuture;

use super::entry::{AttemptDone, BeginAttempt, EntryActor};
use super::manager::{DeliveryManager, NextForDomain};
use crate::actors::Services;
use crate::address::Address;
use crate::config::transports::Transport;
use crate::delivery::attempt::{Batches, Context, RcptResult, deliver};
use crate::protocols::smtp::client::Timeouts;
use crate::store::queue::QueueEntry;

/// An entry whose attempt is recorded, and its actor.
type Live = (QueueEntry, Addr<EntryActor>);

/// The sender's domain in ASCII, for routes; empty for the null reverse path.
fn from_domain(entry: &QueueEntry) -> String {
    Address::parse_simple(&entry.mail_from)
        .map(|a| a.domain.ascii().to_string())
        .unwrap_or_default()
}

/// The transport name (None: direct) the route gives an entry for this attempt, chosen from the
/// attempts made before it.
fn route(services: &Services, entry: &QueueEntry) -> Option<String> {
    services
        .config
        .dynamic()
        .route(
            &entry.account,
            &from_domain(entry),
            &entry.recipient_domain_ascii,
            entry.attempts.saturating_sub(1),
        )
        .map(|r| r.transport.clone())
}

/// Records the attempt of each entry; those that may go ahead.
async fn begin(actors: Vec<Addr<EntryActor>>) -> Vec<Live> {
    let mut live = Vec::with_capacity(actors.len());
    for actor in actors {
        if let Ok(Some(entry)) = actor.send(BeginAttempt).await {
            live.push((entry, actor));
        }
    }
    live
}

async fn report(group: Vec<Live>, results: Vec<RcptResult>) {
    for ((_, actor), result) in group.into_iter().zip(results) {
        let _ = actor.send(AttemptDone(result)).await;
    }
}

/// Hands a connection the domain's further due messages that take the same transport.
struct DomainBatches {
    services: Arc<Services>,
    manager: Addr<DeliveryManager>,
    domain: String,
    transport: Option<String>,
    /// The entries of the batch on the wire.
    current: Vec<Live>,
    /// Entries taken from the manager that go another way: delivered after this connection.
    leftovers: Vec<Live>,
}

impl Batches for DomainBatches {
    fn next_batch(&mut self, results: Vec<RcptResult>) -> BoxFuture<'_, Option<Vec<QueueEntry>>> {
        Box::pin(async move {
            report(std::mem::take(&mut self.current), results).await;
            loop {
                let actors = self
                    .manager
                    .send(NextForDomain(self.domain.clone()))
                    .await
                    .ok()
                    .flatten()?;
                let (same, other): (Vec<Live>, Vec<Live>) =
                    begin(actors).await.into_iter().partition(|(e, _)| {
                        e.requiretls != Some(true) && route(&self.services, e) == self.transport
                    });
                self.leftovers.extend(other);
                if !same.is_empty() {
                    let entries = same.iter().map(|(e, _)| e.clone()).collect();
                    self.current = same;
                    return Some(entries);
                }
            }
        })
    }
}

pub async fn run_attempt(
    services: Arc<Services>,
    manager: Addr<DeliveryManager>,
    actors: Vec<Addr<EntryActor>>,
) {
    let mut pending = begin(actors).await;
    let hostname = services.config.static_config.hostname.ascii().to_string();
    while !pending.is_empty() {
        // Group what is pending by the transport its route gives it.
        let mut by_transport: Vec<(Option<String>, Vec<Live>)> = Vec::new();
        for (entry, actor) in pending.drain(..) {
            let name = route(&services, &entry);
            match by_transport.iter_mut().find(|(t, _)| *t == name) {
                Some((_, group)) => group.push((entry, actor)),
                None => by_transport.push((name, vec![(entry, actor)])),
            }
        }
        for (name, group) in by_transport {
            let config = &services.config.static_config;
            let transport = match &name {
                None => &Transport::Direct,
                // Checked at start-up and at every reload.
                Some(n) => config.transports.get(n).unwrap_or(&Transport::Direct),
            };
            let entries: Vec<QueueEntry> = group.iter().map(|(e, _)| e.clone()).collect();
            let domain = entries[0].recipient_domain_ascii.clone();
            let ctx = Context {
                hostname: &hostname,
                resolver: services.dns.as_deref(),
                queue: &services.queue_store,
                timeouts: Timeouts::default(),
            };
            tracing::debug!(transport = name.as_deref().unwrap_or("direct"), domain = %domain, recipients = entries.len(), "delivery attempt");
            let mut batches = DomainBatches {
                services: services.clone(),
                manager: manager.clone(),
                domain,
                transport: name.clone(),
                current: group,
                leftovers: Vec::new(),
            };
            let results = deliver(&ctx, transport, &entries, &mut batches).await;
            report(std::mem::take(&mut batches.current), results).await;
            pending.append(&mut batches.leftovers);
        }
    }
}
