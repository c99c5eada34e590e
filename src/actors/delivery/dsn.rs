//! Sending a DSN: built from the queue entry and the failure, delivered straight into the
//! sender's account (its Inbox), or the postmaster's when that account is gone. Never for a
//! message with a null reverse path (RFC 3464 §2: a DSN is not answered with a DSN).

use tokio::io::AsyncReadExt;

use crate::actors::Services;
use crate::actors::account::DeliverMessage;
use crate::actors::registry::OpenAccount;
use crate::delivery::attempt::Failure;
use crate::delivery::dsn::{DsnInput, DsnKind, build, header_section};
use crate::delivery::schedule;
use crate::store::DeliveryMailbox;
use crate::store::account::now;
use crate::store::incoming::IncomingMessage;
use crate::store::queue::QueueEntry;

/// The original's header is read from at most this much of the message.
const HEADER_LIMIT: u64 = 256 * 1024;

/// The header section of the queued message (prefix and the file's header).
async fn original_header(services: &Services, entry: &QueueEntry) -> Vec<u8> {
    let mut data = entry.prefix.clone();
    let path = services.queue_store.file_path(entry.file);
    if let Ok(file) = tokio::fs::File::open(&path).await {
        let _ = file.take(HEADER_LIMIT).read_to_end(&mut data).await;
    }
    header_section(&data).to_vec()
}

pub async fn send_dsn(services: &Services, entry: &QueueEntry, kind: DsnKind, failure: &Failure) {
    if entry.mail_from.is_empty() {
        return;
    }
    let dynamic = services.config.dynamic();
    let account = if dynamic.accounts.contains_key(&entry.account) {
        entry.account.clone()
    } else if let Some(postmaster) = &dynamic.postmaster {
        postmaster.clone()
    } else {
        tracing::warn!(id = entry.id.0, account = %entry.account, "no account for a DSN (sender gone, no postmaster)");
        return;
    };
    let header = original_header(services, entry).await;
    let config = &services.config.static_config;
    let retry_until = match kind {
        DsnKind::Delayed => {
            let mut at = entry.next_attempt;
            for attempt in entry.attempts + 1..config.queue.max_attempts {
                at += schedule::interval(&config.queue, attempt).as_secs() as i64;
            }
            Some(at)
        }
        DsnKind::Failed => None,
    };
    let hostname = config.hostname.ascii().to_string();
    let unique = format!("{}-{}-{}", entry.id.0, entry.attempts, now());
    let message = build(&DsnInput {
        kind,
        reporting_mta: &hostname,
        sender: &entry.mail_from,
        recipient: &entry.recipient,
        arrival: entry.created,
        last_attempt: entry.last_attempt,
        retry_until,
        remote_mta: failure.remote.as_deref(),
        status: failure.status,
        smtp_reply: failure.reply.as_deref(),
        explanation: &failure.text,
        original_header: &header,
        original_message_id: &entry.message_id,
        now: now(),
        unique: &unique,
    });
    let incoming = IncomingMessage {
        data: message,
        flags: Default::default(),
        keywords: Vec::new(),
        received: None,
    };
    let delivered = async {
        let handle = services
            .registry
            .send(OpenAccount(account.clone()))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        handle
            .addr
            .send(DeliverMessage {
                junk_score: None,
                mailbox: DeliveryMailbox::inbox(),
                message: incoming.into_new_message(),
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
    };
    match delivered.await {
        Ok(_) => {
            crate::metrics::DSNS.add(1);
            tracing::info!(id = entry.id.0, account = %account, kind = ?kind, "DSN delivered")
        }
        Err(e) => {
            tracing::error!(id = entry.id.0, account = %account, error = %e, "delivering a DSN failed")
        }
    }
}
