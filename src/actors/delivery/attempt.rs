//! One attempt for a group of due entries (one message, one destination domain): each entry
//! records its attempt first; then the route of each is chosen for this attempt, and the
//! entries are delivered through their transport, together where they share it.

use std::sync::Arc;

use actix::Addr;

use super::entry::{AttemptDone, BeginAttempt, EntryActor};
use crate::actors::Services;
use crate::address::Address;
use crate::config::transports::Transport;
use crate::delivery::attempt::{Context, deliver};
use crate::protocols::smtp::client::Timeouts;
use crate::store::queue::QueueEntry;

/// The sender's domain in ASCII, for routes; empty for the null reverse path.
fn from_domain(entry: &QueueEntry) -> String {
    Address::parse_simple(&entry.mail_from)
        .map(|a| a.domain.ascii().to_string())
        .unwrap_or_default()
}

/// An entry whose attempt is recorded, and its actor.
type Live = (QueueEntry, Addr<EntryActor>);

pub async fn run_attempt(services: Arc<Services>, actors: Vec<Addr<EntryActor>>) {
    let mut live: Vec<Live> = Vec::new();
    for actor in actors {
        if let Ok(Some(entry)) = actor.send(BeginAttempt).await {
            live.push((entry, actor));
        }
    }
    // The route is chosen for this attempt, from the attempts made before it.
    let dynamic = services.config.dynamic();
    let mut by_transport: Vec<(Option<String>, Vec<Live>)> = Vec::new();
    for (entry, actor) in live {
        let route = dynamic
            .route(
                &entry.account,
                &from_domain(&entry),
                &entry.recipient_domain_ascii,
                entry.attempts.saturating_sub(1),
            )
            .map(|r| r.transport.clone());
        match by_transport.iter_mut().find(|(t, _)| *t == route) {
            Some((_, group)) => group.push((entry, actor)),
            None => by_transport.push((route, vec![(entry, actor)])),
        }
    }
    let config = &services.config.static_config;
    let hostname = config.hostname.ascii().to_string();
    for (name, group) in by_transport {
        let transport = match &name {
            None => &Transport::Direct,
            // Checked at start-up and at every reload.
            Some(n) => config.transports.get(n).unwrap_or(&Transport::Direct),
        };
        let entries: Vec<QueueEntry> = group.iter().map(|(e, _)| e.clone()).collect();
        let ctx = Context {
            hostname: &hostname,
            resolver: services.dns.as_deref(),
            file: services.queue_store.file_path(entries[0].file),
            timeouts: Timeouts::default(),
        };
        let transport_name = name.as_deref().unwrap_or("direct");
        tracing::debug!(transport = transport_name, domain = %entries[0].recipient_domain_ascii, recipients = entries.len(), "delivery attempt");
        let results = deliver(&ctx, transport, &entries).await;
        for ((_, actor), result) in group.into_iter().zip(results) {
            let _ = actor.send(AttemptDone(result)).await;
        }
    }
}
