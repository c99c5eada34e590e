//! An SMTP connection actor: holds the sans-IO [`Session`], spools message data, authenticates,
//! and delivers complete messages through the account actors. `250` is sent only after every
//! recipient account has committed the message durably.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use futures_util::future::join_all;
use tokio::net::TcpStream;

use super::Services;
use super::account::DeliverMessage;
use super::conn_io::{self, Closed, Input, Output, Setup, TlsStarted};
use super::login::{LoginError, login_secrets, verify_login};
use super::registry::OpenAccount;
use crate::address::Address;
use crate::config::{ListenerConfig, Mode};
use crate::protocols::smtp::Reply;
use crate::protocols::smtp::server::{
    Action, AuthOutcome, Policy, RcptDecision, SecretsLookup, Session, SessionConfig, Transaction,
};
use crate::store::files::Spool;
use crate::store::{Content, Flags, NewMessage, parts};

/// RFC 5321 §4.5.3.2.7: the server should wait at least 5 minutes for the next command.
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Messages up to this size are parsed on the connection's thread, larger ones on the blocking
/// pool.
const INLINE_PARSE_LIMIT: u64 = 128 * 1024;
/// Recipients per message (RFC 5321 §4.5.3.1.8 asks for at least 100).
const MAX_RECIPIENTS: usize = 1000;

pub struct SmtpConn {
    services: Arc<Services>,
    listener: Arc<ListenerConfig>,
    cid: u64,
    remote: SocketAddr,
    session: Session,
    stream: Option<TcpStream>,
    tls: Option<crate::tls::ServerTls>,
    spool: Option<Spool>,
    /// Set when writing the spool failed: the transaction answers 451 at its end.
    spool_error: Option<String>,
}

impl SmtpConn {
    pub fn new(
        services: Arc<Services>,
        listener: Arc<ListenerConfig>,
        tls: Option<crate::tls::ServerTls>,
        stream: TcpStream,
        remote: SocketAddr,
    ) -> SmtpConn {
        let implicit_tls = listener.protocol.implicit_tls();
        let config = SessionConfig {
            hostname: listener.hostname.ascii().to_string(),
            max_message_size: listener.max_message_size,
            max_recipients: MAX_RECIPIENTS,
            submission: listener.protocol.is_submission(),
            starttls_available: tls.is_some() && !implicit_tls,
            // Plain-text passwords only over TLS, or from this machine.
            auth_allowed: remote.ip().is_loopback(),
            sasl_key: services.sasl_key,
        };
        // With implicit TLS the session learns it is encrypted (and its channel bindings) from
        // the TlsStarted message sent right after the handshake, before any input.
        let session = Session::new(config);
        SmtpConn {
            services,
            listener,
            cid: super::next_cid(),
            remote,
            session,
            stream: Some(stream),
            tls,
            spool: None,
            spool_error: None,
        }
    }

    fn policy(&self) -> RecipientPolicy {
        RecipientPolicy {
            dynamic: self.services.config.dynamic(),
            mode: self.services.config.mode.clone(),
            submission: self.listener.protocol.is_submission(),
        }
    }

    /// Runs the session's actions until it needs more input; `out` collects the replies.
    fn drive(&mut self, mut out: Vec<u8>) -> ResponseActFuture<Self, Output> {
        let policy = self.policy();
        let mut close = false;
        while let Some(action) = self.session.poll(&policy) {
            match action {
                Action::Reply(r) => out.extend(r.to_bytes()),
                Action::Close => close = true,
                Action::Data(data) => {
                    if self.spool_error.is_some() {
                        continue;
                    }
                    let spool = self
                        .spool
                        .get_or_insert_with(|| Spool::new(self.services.data.tmp()));
                    if spool.in_memory_after(data.len()) {
                        if let Err(e) = spool.write(&data) {
                            self.spool_error = Some(e.to_string());
                        }
                        continue;
                    }
                    // Spooling to disk: off the actor thread.
                    let Some(mut spool) = self.spool.take() else {
                        continue;
                    };
                    let write = actix_rt::task::spawn_blocking(move || {
                        let result = spool.write(&data);
                        (spool, result)
                    });
                    return Box::pin(write.into_actor(self).then(move |joined, act, _| {
                        match joined {
                            Ok((spool, Ok(()))) => act.spool = Some(spool),
                            Ok((_, Err(e))) => act.spool_error = Some(e.to_string()),
                            Err(e) => act.spool_error = Some(e.to_string()),
                        }
                        act.drive(out)
                    }));
                }
                Action::DiscardData => {
                    self.spool = None;
                    self.spool_error = None;
                }
                Action::Deliver(transaction) => {
                    let spool = self
                        .spool
                        .take()
                        .unwrap_or_else(|| Spool::new(self.services.data.tmp()));
                    let failed = self.spool_error.take();
                    let delivery = deliver(
                        self.services.clone(),
                        spool,
                        transaction,
                        self.trace(),
                        failed,
                    );
                    return Box::pin(delivery.into_actor(self).then(move |reply, act, _| {
                        act.session.delivery_result(reply);
                        act.drive(out)
                    }));
                }
                Action::Authenticate(credentials) => {
                    let services = self.services.clone();
                    let (cid, remote) = (self.cid, self.remote);
                    let check = async move {
                        let result = verify_login(
                            &services,
                            remote.ip(),
                            &credentials.username,
                            &credentials.password,
                        )
                        .await;
                        match result {
                            Ok(account) => {
                                tracing::info!(cid, %remote, account = %account, "smtp authenticated");
                                AuthOutcome::Authenticated(account)
                            }
                            Err(LoginError::Invalid) => {
                                tracing::info!(cid, %remote, username = %credentials.username, "smtp authentication failed");
                                AuthOutcome::Invalid
                            }
                            Err(LoginError::RateLimited) => {
                                tracing::info!(cid, %remote, username = %credentials.username, "smtp authentication refused: too many failures");
                                AuthOutcome::TryLater
                            }
                        }
                    };
                    return Box::pin(check.into_actor(self).then(move |outcome, act, _| {
                        act.session.auth_result(outcome);
                        act.drive(out)
                    }));
                }
                Action::NeedSecrets { username } => {
                    let services = self.services.clone();
                    let remote = self.remote.ip();
                    let lookup = async move {
                        if services.auth_limiter.blocked(remote) {
                            return SecretsLookup::TryLater;
                        }
                        match login_secrets(&services, &username).await {
                            Some((account, secrets)) => SecretsLookup::Found {
                                account,
                                secrets: Box::new(secrets),
                            },
                            None => SecretsLookup::Unknown,
                        }
                    };
                    return Box::pin(lookup.into_actor(self).then(move |found, act, _| {
                        act.session.secrets_result(found);
                        act.drive(out)
                    }));
                }
                Action::AuthFinished { success } => {
                    self.services.auth_limiter.record(self.remote.ip(), success);
                    tracing::info!(cid = self.cid, remote = %self.remote, success, "smtp sasl authentication");
                }
                Action::StartTls => {
                    return Box::pin(fut::ready(Output {
                        bytes: out,
                        close,
                        start_tls: true,
                        ..Output::default()
                    }));
                }
            }
        }
        let close = close || self.session.is_closed();
        Box::pin(fut::ready(Output {
            bytes: out,
            close,
            ..Output::default()
        }))
    }

    fn trace(&self) -> Trace {
        Trace {
            cid: self.cid,
            remote: self.remote,
            helo: self.session.helo().unwrap_or("unknown").to_string(),
            hostname: self.listener.hostname.ascii().to_string(),
            esmtp: self.session.esmtp(),
            tls: self.session.is_tls(),
            authenticated: self.session.authenticated().is_some(),
        }
    }
}

impl Actor for SmtpConn {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        tracing::debug!(cid = self.cid, remote = %self.remote, protocol = self.listener.protocol.name(), "smtp connection");
        let Some(stream) = self.stream.take() else {
            ctx.stop();
            return;
        };
        let setup = Setup {
            greeting: self.session.greeting().to_bytes(),
            tls: self.tls.clone(),
            implicit_tls: self.listener.protocol.implicit_tls(),
            idle: IDLE_TIMEOUT,
            idle_bytes: Reply::new(421, (4, 4, 2), "idle too long, closing connection").to_bytes(),
            push: None,
        };
        ctx.spawn(conn_io::run(ctx.address(), stream, setup).into_actor(self));
    }
}

impl Handler<Input> for SmtpConn {
    type Result = ResponseActFuture<Self, Output>;

    fn handle(&mut self, Input(bytes): Input, _: &mut Context<Self>) -> Self::Result {
        self.session.receive(&bytes);
        self.drive(Vec::new())
    }
}

impl Handler<TlsStarted> for SmtpConn {
    type Result = ResponseActFuture<Self, Output>;

    fn handle(&mut self, tls: TlsStarted, _: &mut Context<Self>) -> Self::Result {
        tracing::debug!(cid = self.cid, starttls = tls.starttls, "tls established");
        self.session.tls_started(tls.bindings);
        self.drive(Vec::new())
    }
}

impl Handler<Closed> for SmtpConn {
    type Result = ();

    fn handle(&mut self, Closed(reason): Closed, ctx: &mut Context<Self>) {
        tracing::debug!(cid = self.cid, remote = %self.remote, reason, "smtp connection ended");
        // A partial message is dropped with the spool.
        self.spool = None;
        ctx.stop();
    }
}

/// Recipient decisions from the configuration.
struct RecipientPolicy {
    dynamic: Arc<crate::config::DynamicConfig>,
    mode: Mode,
    submission: bool,
}

impl Policy for RecipientPolicy {
    fn recipient(&self, rcpt: &Address, _authenticated: Option<&str>) -> RcptDecision {
        if let Mode::Localserve { account } = &self.mode {
            return RcptDecision::Local {
                account: account.clone(),
            };
        }
        if let Some(d) = self.dynamic.destination(rcpt) {
            return RcptDecision::Local { account: d.account };
        }
        if self.dynamic.is_local_domain(&rcpt.domain) {
            return RcptDecision::Reject(Reply::new(550, (5, 1, 1), "no such user"));
        }
        if self.submission {
            RcptDecision::Reject(Reply::new(
                550,
                (5, 7, 1),
                "delivery to other domains is not set up on this server",
            ))
        } else {
            RcptDecision::Reject(Reply::new(
                550,
                (5, 7, 1),
                "not accepting mail for this domain (no relaying)",
            ))
        }
    }
}

/// What the Received header records about the connection.
struct Trace {
    cid: u64,
    remote: SocketAddr,
    helo: String,
    hostname: String,
    esmtp: bool,
    tls: bool,
    authenticated: bool,
}

/// The Received header field (RFC 5321 §4.4) for a delivery to `rcpts`. The "for" clause names
/// the recipient only when the account got a single one: others must not learn about Bcc.
fn received_header(t: &Trace, smtputf8: bool, rcpts: &[&Address], now: i64) -> Vec<u8> {
    // RFC 3848 and RFC 6531 §3.7.3 protocol names.
    let mut with = if smtputf8 {
        "UTF8SMTP"
    } else if t.esmtp {
        "ESMTP"
    } else {
        "SMTP"
    }
    .to_string();
    if t.tls {
        with.push('S');
    }
    if t.authenticated {
        with.push('A');
    }
    let helo: String = t
        .helo
        .chars()
        .filter(|c| !c.is_control() && *c != '(' && *c != ')')
        .take(255)
        .collect();
    let date = mail_parser::DateTime::from_timestamp(now).to_rfc822();
    let mut h = format!(
        "Received: from {helo} ({})\r\n\tby {} (moxide) with {with} id {:x}-{:x}",
        t.remote.ip(),
        t.hostname,
        now,
        t.cid
    );
    if let [one] = rcpts {
        h.push_str(&format!("\r\n\tfor <{one}>"));
    }
    h.push_str(&format!(";\r\n\t{date}\r\n"));
    h.into_bytes()
}

/// Finishes the spool (durable file, parsed part tree) and delivers it to each recipient account.
async fn deliver(
    services: Arc<Services>,
    spool: Spool,
    txn: Transaction,
    trace: Trace,
    spool_error: Option<String>,
) -> Reply {
    let temporary = |why: &str| {
        tracing::error!(cid = trace.cid, error = why, "delivery failed");
        Reply::new(
            451,
            (4, 3, 0),
            "temporary failure storing the message, try again later",
        )
    };
    if let Some(e) = spool_error {
        return temporary(&e);
    }
    let inline = spool.len() <= INLINE_PARSE_LIMIT && spool.in_memory_after(0);
    let finish = move || {
        let (source, data) = spool.finish()?;
        Ok::<_, std::io::Error>((source, data.len() as u64, parts::parse(&data)))
    };
    // A small message in memory is parsed right here (tens of microseconds); a large or spooled
    // one on the blocking pool.
    let finished = if inline {
        finish()
    } else {
        actix_rt::task::spawn_blocking(finish)
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    };
    let (source, size, parts) = match finished {
        Ok(f) => f,
        Err(e) => return temporary(&e.to_string()),
    };
    let mut accounts: BTreeMap<&str, Vec<&Address>> = BTreeMap::new();
    for r in &txn.recipients {
        let list = accounts.entry(r.account.as_str()).or_default();
        if !list.contains(&&r.address) {
            list.push(&r.address);
        }
    }
    let now = crate::store::account::now();
    let deliveries = accounts.iter().map(|(account, rcpts)| {
        let message = NewMessage {
            source: source.clone(),
            content: Content {
                prefix: received_header(&trace, txn.params.smtputf8, rcpts, now),
                file_size: size,
                parts: parts.clone(),
            },
            flags: Flags::empty(),
            keywords: Vec::new(),
            received: now,
        };
        let registry = services.registry.clone();
        async move {
            let handle = registry
                .send(OpenAccount(account.to_string()))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            handle
                .addr
                .send(DeliverMessage {
                    mailbox: "INBOX".into(),
                    message,
                })
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())
        }
    });
    let results = join_all(deliveries).await;
    drop(source);
    let from = txn
        .mail_from
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    let from_ascii = txn.mail_from.as_ref().and_then(Address::log_ascii);
    let mut failed = false;
    for ((account, rcpts), result) in accounts.iter().zip(&results) {
        for rcpt in rcpts {
            match result {
                Ok(d) => tracing::info!(
                    cid = trace.cid, remote = %trace.remote, from = %from, from_ascii = from_ascii.as_deref().map(display), rcpt = %rcpt,
                    rcpt_ascii = rcpt.log_ascii().map(display),
                    account = %account, uid = d.uid.0, modseq = d.modseq.0, size, "delivered"
                ),
                Err(e) => {
                    failed = true;
                    tracing::error!(cid = trace.cid, rcpt = %rcpt, rcpt_ascii = rcpt.log_ascii().map(display), account = %account, error = %e, "delivery failed");
                }
            }
        }
    }
    if failed {
        Reply::new(
            451,
            (4, 3, 0),
            "temporary failure storing the message, try again later",
        )
    } else {
        Reply::new(
            250,
            (2, 0, 0),
            format!("message delivered, id {now:x}-{:x}", trace.cid),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_header_format() {
        let t = Trace {
            cid: 7,
            remote: "127.0.0.1:4000".parse().unwrap(),
            helo: "client.example".into(),
            hostname: "mail.example.com".into(),
            esmtp: true,
            tls: false,
            authenticated: false,
        };
        let a = Address::parse_simple("a@example.com").unwrap();
        let h = String::from_utf8(received_header(&t, false, &[&a], 0)).unwrap();
        assert_eq!(
            h,
            "Received: from client.example (127.0.0.1)\r\n\tby mail.example.com (moxide) with ESMTP id 0-7\r\n\tfor <a@example.com>;\r\n\tThu, 1 Jan 1970 00:00:00 +0000\r\n"
        );
        let b = Address::parse_simple("b@example.com").unwrap();
        let h = String::from_utf8(received_header(&t, true, &[&a, &b], 0)).unwrap();
        assert!(!h.contains("for <") && h.contains("with UTF8SMTP"));
    }
}
