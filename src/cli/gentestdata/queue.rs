//! The generated outgoing queue, written through [`QueueStore`] as the queue actor would: entries
//! sharing a file, SMTPUTF8 and REQUIRETLS ones, a bounce (`<>`), some with failed attempts, and
//! a removed one (so its file is gone and a shared file stays).

use std::sync::Arc;

use crate::store::files::MessageSource;
use crate::store::queue::{NewQueued, QueueEntry, QueueStore};
use crate::store::server::ServerStore;
use crate::store::{DataDir, StoreError};

use super::GenError;
use super::messages::{Envelope, FIRST_RECEIVED, text};

/// When the generated submissions were queued: after every generated delivery.
const QUEUED: i64 = FIRST_RECEIVED + 400 * 3600;

/// (account, from, recipients, SMTPUTF8, REQUIRETLS) of each generated submission.
type Submission = (
    &'static str,
    &'static str,
    &'static [&'static str],
    bool,
    Option<bool>,
);

const SUBMISSIONS: [Submission; 7] = [
    (
        "mjl",
        "mjl@moxide.example",
        &["alice@example.org", "bob@example.net"],
        false,
        None,
    ),
    (
        "joran",
        "jøran@møx.example",
        &["ünïcode@exämple.org"],
        true,
        None,
    ),
    (
        "test.user",
        "δοκιμή@other.example",
        &["carol@example.com"],
        true,
        Some(true),
    ),
    (
        "mjl",
        "mjl@moxide.example",
        &["dave@example.org"],
        false,
        None,
    ),
    (
        "mjl",
        "info@moxide.example",
        &["erin@example.org", "frank@example.org", "grace@example.net"],
        false,
        Some(false),
    ),
    // A delivery status notification: null reverse path.
    ("mjl", "", &["bounced@example.org"], false, None),
    // Delivered (removed) below, and its file with it.
    (
        "mjl",
        "mjl@moxide.example",
        &["heidi@example.org"],
        false,
        None,
    ),
];

/// Queues the submissions; returns the entries left.
pub fn generate(
    data: &DataDir,
    server: &ServerStore,
    hostname: &str,
) -> Result<Vec<QueueEntry>, GenError> {
    let store_err = |what: &'static str| {
        move |error: StoreError| GenError::Store {
            what: what.to_string(),
            error,
        }
    };
    let queue =
        QueueStore::open(server, &data.queue_dir()).map_err(store_err("opening the queue"))?;
    let batch = SUBMISSIONS
        .iter()
        .enumerate()
        .map(|(i, (account, from, rcpts, smtputf8, requiretls))| {
            // Message numbers past those of the accounts; message 349 is a large one.
            let n = if i == 3 { 349 } else { 300 + i };
            let raw = text(
                n,
                &Envelope {
                    from: if from.is_empty() { "mailer-daemon@moxide.example" } else { from },
                    to: rcpts.first().copied().unwrap_or_default(),
                },
            );
            let now = QUEUED + i as i64 * 60;
            NewQueued {
                source: MessageSource::Bytes(Arc::new(raw)),
                prefix: format!(
                    "Received: from [127.0.0.1] by {hostname} (moxide) with ESMTPA id {now:x}-{i};\r\n\t{}\r\n",
                    mail_parser::DateTime::from_timestamp(now).to_rfc822()
                )
                .into_bytes(),
                account: account.to_string(),
                mail_from: from.to_string(),
                recipients: rcpts
                    .iter()
                    .map(|r| {
                        let domain = r.rsplit_once('@').map_or("", |(_, d)| d);
                        let ascii = idna::domain_to_ascii(domain).unwrap_or_else(|_| domain.to_string());
                        (r.to_string(), ascii)
                    })
                    .collect(),
                smtputf8: *smtputf8,
                requiretls: *requiretls,
                message_id: format!("<gen{n}@moxide.example>"),
                now,
            }
        })
        .collect();
    let mut entries = Vec::new();
    for outcome in queue.enqueue(batch) {
        entries.extend(outcome.map_err(store_err("queueing"))?);
    }
    // Failed attempts on some entries; one entry delivered (removed).
    for (k, e) in entries.iter_mut().enumerate().filter(|(k, _)| k % 2 == 1) {
        e.attempts = 1 + k as u32 % 3;
        e.last_attempt = Some(e.created + 300);
        e.next_attempt = e.created + 300 + 900 * i64::from(e.attempts);
        e.last_error = Some(format!(
            "451 4.3.0 temporary failure at {} (generated)",
            e.recipient_domain_ascii
        ));
        *e = queue.update(e).map_err(store_err("updating the queue"))?;
    }
    // Delivered: one of three sharing a file (the file stays), and one alone in its file.
    for rcpt in ["frank@example.org", "heidi@example.org"] {
        if let Some(k) = entries.iter().position(|e| e.recipient == rcpt) {
            let e = entries.remove(k);
            queue
                .remove(e.id)
                .map_err(store_err("removing from the queue"))?;
        }
    }
    Ok(entries)
}
