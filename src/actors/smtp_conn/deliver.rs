//! What happens to a complete message. Incoming mail (MX) is authenticated (SPF, DKIM, DMARC,
//! iprev), judged by the sender domain's DMARC policy and delivered with Received and
//! Authentication-Results fields; submitted mail is checked against the account, completed
//! (Message-ID, Date), DKIM-signed, and delivered locally or queued for other domains. The
//! reply is `250` only once every copy is durable.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;

use super::received::{Trace, received_header};
use super::submission;
use crate::actors::Services;
use crate::actors::account::DeliverMessage;
use crate::actors::queue::Enqueue;
use crate::actors::registry::OpenAccount;
use crate::address::Address;
use crate::config::Mode;
use crate::msgauth::results;
use crate::msgauth::sign::dkim_sign;
use crate::msgauth::verify::{self, Disposition, Inbound};
use crate::protocols::smtp::Reply;
use crate::protocols::smtp::server::{Destination, Transaction};
use crate::store::files::{MessageSource, Spool};
use crate::store::queue::NewQueued;
use crate::store::{Content, DeliveryMailbox, Flags, NewMessage, parts};

/// Messages up to this size are parsed on the connection's thread, larger ones on the blocking
/// pool.
const INLINE_PARSE_LIMIT: u64 = 128 * 1024;
/// How long the authentication checks of one message may take in localserve, where they are
/// only recorded; past it the message goes on with what is known.
const LOCALSERVE_AUTH_TIMEOUT: Duration = Duration::from_secs(3);
/// The same for `serve`, where running out of time is a temporary failure.
const AUTH_TIMEOUT: Duration = Duration::from_secs(60);

/// What the connection hands over when a message is complete.
pub(super) struct Complete {
    pub spool: Spool,
    pub txn: Transaction,
    pub trace: Trace,
    /// Set when spooling failed: the answer is a temporary failure.
    pub spool_error: Option<String>,
    /// The logged-in account, for submission.
    pub submitter: Option<String>,
}

/// A received message: where its bytes are, and the bytes.
struct Received {
    source: MessageSource,
    data: Arc<Vec<u8>>,
}

fn temporary(cid: u64, why: &str) -> Reply {
    tracing::error!(cid, error = why, "delivery failed");
    Reply::new(
        451,
        (4, 3, 0),
        "temporary failure storing the message, try again later",
    )
}

/// Delivers a complete message and returns the reply for the end of its data.
pub(super) async fn deliver(services: Arc<Services>, c: Complete) -> Reply {
    if let Some(e) = &c.spool_error {
        return temporary(c.trace.cid, e);
    }
    let spool = c.spool;
    // A spool still in memory finishes without touching a file.
    let in_memory = spool.in_memory_after(0);
    let finish = move || {
        let (source, data) = spool.finish()?;
        Ok::<_, std::io::Error>(Received { source, data })
    };
    let received = if in_memory {
        finish()
    } else {
        actix_rt::task::spawn_blocking(finish)
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    };
    let received = match received {
        Ok(r) => r,
        Err(e) => return temporary(c.trace.cid, &e.to_string()),
    };
    match c.submitter {
        Some(account) => submit(services, received, c.txn, c.trace, account).await,
        None => incoming(services, received, c.txn, c.trace).await,
    }
}

/// The part tree, parsed inline for small messages and on the blocking pool for large ones.
async fn parse_parts(data: Arc<Vec<u8>>) -> Vec<crate::store::parts::Part> {
    if data.len() as u64 <= INLINE_PARSE_LIMIT {
        parts::parse(&data)
    } else {
        actix_rt::task::spawn_blocking(move || parts::parse(&data))
            .await
            .unwrap_or_default()
    }
}

/// Mail from the internet.
async fn incoming(
    services: Arc<Services>,
    mut received: Received,
    txn: Transaction,
    trace: Trace,
) -> Reply {
    let localserve = matches!(services.config.mode, Mode::Localserve { .. });
    if let Some(cleaned) = results::strip_forged(&received.data, &trace.hostname) {
        tracing::info!(
            cid = trace.cid,
            "removed Authentication-Results fields claiming to be ours"
        );
        let data = Arc::new(cleaned);
        received = Received {
            source: MessageSource::Bytes(data.clone()),
            data,
        };
    }
    let mail_from = txn.mail_from.as_ref().map(Address::with_ascii_domain);
    let input = Inbound {
        remote_ip: trace.remote.ip(),
        helo: &trace.helo,
        mail_from: mail_from.as_deref(),
        hostname: &trace.hostname,
        message: &received.data,
    };
    let limit = if localserve {
        LOCALSERVE_AUTH_TIMEOUT
    } else {
        AUTH_TIMEOUT
    };
    let Some(dns) = &services.dns else {
        // localserve without a resolver: nothing to check with.
        let header = format!(
            "Authentication-Results: {}; none (localserve without DNS)\r\n",
            trace.hostname
        );
        return finish_incoming(
            &services,
            received,
            txn,
            trace,
            header,
            DeliveryMailbox::inbox(),
        )
        .await;
    };
    let (header, disposition) =
        match tokio::time::timeout(limit, verify::authenticate(dns, &input)).await {
            Ok(v) => {
                tracing::info!(
                    cid = trace.cid,
                    spf = v.spf.as_str(),
                    dkim = ?v.dkim.iter().map(|o| o.as_str()).collect::<Vec<_>>(),
                    dmarc = v.dmarc.outcome.as_str(),
                    dmarc_domain = %v.dmarc.domain,
                    iprev = v.iprev.as_str(),
                    "message authentication"
                );
                (v.header.clone(), v.disposition())
            }
            Err(_) => {
                tracing::warn!(cid = trace.cid, "message authentication timed out");
                let header = format!(
                    "Authentication-Results: {}; none (checks timed out)\r\n",
                    trace.hostname
                );
                (header, Disposition::TempFail)
            }
        };
    let mailbox = match disposition {
        Disposition::Accept => DeliveryMailbox::inbox(),
        Disposition::Junk => DeliveryMailbox::Junk,
        // localserve records the results but never refuses or delays mail because of them.
        Disposition::Reject | Disposition::TempFail if localserve => DeliveryMailbox::inbox(),
        Disposition::Reject => {
            tracing::info!(
                cid = trace.cid,
                "rejected by the sender domain's DMARC policy"
            );
            return Reply::new(
                550,
                (5, 7, 1),
                "rejected: DMARC policy of the From domain says reject (RFC 7489)",
            );
        }
        Disposition::TempFail => {
            return Reply::new(
                451,
                (4, 7, 0),
                "temporary DNS failure authenticating the message, try again later",
            );
        }
    };
    finish_incoming(&services, received, txn, trace, header, mailbox).await
}

/// Stores an incoming message, its `Authentication-Results` field decided, in `mailbox` of each
/// recipient's account.
async fn finish_incoming(
    services: &Services,
    received: Received,
    txn: Transaction,
    trace: Trace,
    header: String,
    mailbox: DeliveryMailbox,
) -> Reply {
    let parts = parse_parts(received.data.clone()).await;
    let mut accounts: BTreeMap<&str, Vec<&Address>> = BTreeMap::new();
    for r in &txn.recipients {
        if let Some(account) = r.account() {
            let list = accounts.entry(account).or_default();
            if !list.contains(&&r.address) {
                list.push(&r.address);
            }
        }
    }
    let now = crate::store::account::now();
    let copies = accounts
        .into_iter()
        .map(|(account, rcpts)| {
            let mut prefix = received_header(&trace, txn.params.smtputf8, &rcpts, now);
            prefix.extend_from_slice(header.as_bytes());
            Copy {
                account,
                rcpts,
                prefix,
            }
        })
        .collect();
    let delivered = deliver_local(
        services, &received, parts, copies, mailbox, now, &txn, &trace, true,
    )
    .await;
    drop(received);
    if delivered {
        Reply::new(
            250,
            (2, 0, 0),
            format!("message delivered, id {now:x}-{:x}", trace.cid),
        )
    } else {
        temporary(trace.cid, "storing in an account failed")
    }
}

/// One account's copy of a message.
struct Copy<'a> {
    account: &'a str,
    rcpts: Vec<&'a Address>,
    prefix: Vec<u8>,
}

/// Delivers each copy through its account actor; true when all are durable.
#[allow(clippy::too_many_arguments)]
async fn deliver_local(
    services: &Services,
    received: &Received,
    parts: Vec<crate::store::parts::Part>,
    copies: Vec<Copy<'_>>,
    mailbox: DeliveryMailbox,
    now: i64,
    txn: &Transaction,
    trace: &Trace,
    junk_check: bool,
) -> bool {
    let size = received.data.len() as u64;
    let data = received.data.clone();
    let cid = trace.cid;
    let deliveries = copies.iter().map(|copy| {
        let message = NewMessage {
            source: received.source.clone(),
            content: Content {
                prefix: copy.prefix.clone(),
                file_size: size,
                parts: parts.clone(),
            },
            flags: Flags::empty(),
            keywords: Vec::new(),
            received: now,
        };
        let registry = services.registry.clone();
        let mut mailbox = mailbox.clone();
        let account = copy.account.to_string();
        let data = data.clone();
        async move {
            let handle = registry
                .send(OpenAccount(account.clone()))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            // The account's junk filter decides between the Inbox and Junk.
            let mut junk_score = None;
            if junk_check && mailbox == DeliveryMailbox::inbox() {
                let store = handle.store.clone();
                let verdict =
                    actix_rt::task::spawn_blocking(move || store.read()?.junk_classify(&data))
                        .await;
                match verdict {
                    Ok(Ok(score)) => {
                        tracing::info!(cid, account = %account, score = score.probability, junk = score.is_junk, "junk filter");
                        if score.is_junk {
                            mailbox = DeliveryMailbox::Junk;
                        }
                        junk_score = Some(score.probability);
                    }
                    Ok(Err(e)) => tracing::warn!(cid, account = %account, error = %e, "junk filter"),
                    Err(e) => tracing::warn!(cid, account = %account, error = %e, "junk filter"),
                }
            }
            handle
                .addr
                .send(DeliverMessage {
                    mailbox,
                    message,
                    junk_score,
                })
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())
        }
    });
    let results = join_all(deliveries).await;
    let from = txn
        .mail_from
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    let from_ascii = txn.mail_from.as_ref().and_then(Address::log_ascii);
    let mut ok = true;
    for (copy, result) in copies.iter().zip(&results) {
        for rcpt in &copy.rcpts {
            match result {
                Ok(d) => tracing::info!(
                    cid = trace.cid, remote = %trace.remote, from = %from, from_ascii = from_ascii.as_deref().map(tracing::field::display), rcpt = %rcpt,
                    rcpt_ascii = rcpt.log_ascii().map(tracing::field::display),
                    account = %copy.account, uid = d.uid.0, modseq = d.modseq.0, size, "delivered"
                ),
                Err(e) => {
                    ok = false;
                    tracing::error!(cid = trace.cid, rcpt = %rcpt, rcpt_ascii = rcpt.log_ascii().map(tracing::field::display), account = %copy.account, error = %e, "delivery failed");
                }
            }
        }
    }
    ok
}

/// Mail from a logged-in client of `account`.
async fn submit(
    services: Arc<Services>,
    received: Received,
    txn: Transaction,
    trace: Trace,
    account: String,
) -> Reply {
    let dynamic = services.config.dynamic();
    let localserve = matches!(services.config.mode, Mode::Localserve { .. });
    let from = match submission::from_addresses(&received.data) {
        Ok(from) => from,
        Err(reply) => return reply,
    };
    if !localserve
        && let Some(other) = from
            .iter()
            .find(|a| !super::policy::belongs_to(&dynamic, a, &account))
    {
        return Reply::new(
            550,
            (5, 7, 1),
            format!("From address {other} is not an address of your account"),
        );
    }
    let now = crate::store::account::now();
    let (added, message_id) = submission::missing_headers(&received.data, &trace.hostname, now);
    let signatures = match dynamic.dkim_for(&from[0].domain) {
        Some(dkim) => {
            let (dkim, data, added) = (dkim.clone(), received.data.clone(), added.clone());
            // The signatures cover the message as it leaves: with the fields added here.
            let sign = move || {
                let mut message = added;
                message.extend_from_slice(&data);
                dkim_sign(&dkim, &message, now)
            };
            let signed = if received.data.len() as u64 <= INLINE_PARSE_LIMIT {
                sign()
            } else {
                match actix_rt::task::spawn_blocking(sign).await {
                    Ok(signed) => signed,
                    Err(e) => return temporary(trace.cid, &e.to_string()),
                }
            };
            match signed {
                Ok(s) => s,
                Err(e) => return temporary(trace.cid, &format!("DKIM signing: {e}")),
            }
        }
        None => Vec::new(),
    };
    let all: Vec<&Address> = txn.recipients.iter().map(|r| &r.address).collect();
    let mut prefix = received_header(&trace, txn.params.smtputf8, &all, now);
    prefix.extend_from_slice(&signatures);
    prefix.extend_from_slice(&added);

    let parts = parse_parts(received.data.clone()).await;
    let mut accounts: BTreeMap<&str, Vec<&Address>> = BTreeMap::new();
    let mut remote = Vec::new();
    for r in &txn.recipients {
        match &r.destination {
            Destination::Local { account } => {
                let list = accounts.entry(account).or_default();
                if !list.contains(&&r.address) {
                    list.push(&r.address);
                }
            }
            Destination::Remote => remote.push(&r.address),
        }
    }
    let copies = accounts
        .into_iter()
        .map(|(account, rcpts)| Copy {
            account,
            rcpts,
            prefix: prefix.clone(),
        })
        .collect();
    let local = deliver_local(
        &services,
        &received,
        parts,
        copies,
        DeliveryMailbox::inbox(),
        now,
        &txn,
        &trace,
        // A logged-in user's mail to a local account is not filtered.
        false,
    );
    let queued = async {
        if remote.is_empty() {
            return true;
        }
        let smtputf8 = txn.params.smtputf8;
        // The envelope as it will be sent: Unicode domains only where SMTPUTF8 allows them.
        let text = |a: &Address| {
            if smtputf8 {
                a.to_string()
            } else {
                a.with_ascii_domain()
            }
        };
        let requiretls = if txn.params.requiretls {
            Some(true)
        } else if submission::tls_required_no(&received.data) {
            Some(false)
        } else {
            None
        };
        let new = NewQueued {
            source: received.source.clone(),
            prefix: prefix.clone(),
            account: account.clone(),
            mail_from: txn.mail_from.as_ref().map(text).unwrap_or_default(),
            recipients: remote
                .iter()
                .map(|a| (text(a), a.domain.ascii().to_string()))
                .collect(),
            smtputf8,
            requiretls,
            message_id: message_id.clone(),
            now,
        };
        match services.queue.send(Enqueue(new)).await {
            Ok(Ok(_)) => true,
            Ok(Err(e)) => {
                tracing::error!(cid = trace.cid, error = %e, "queueing failed");
                false
            }
            Err(e) => {
                tracing::error!(cid = trace.cid, error = %e, "queueing failed");
                false
            }
        }
    };
    let (local, queued) = futures_util::join!(local, queued);
    if local && queued {
        Reply::new(
            250,
            (2, 0, 0),
            format!("message accepted, id {now:x}-{:x}", trace.cid),
        )
    } else {
        temporary(trace.cid, "storing or queueing failed")
    }
}
