//! An SMTP connection actor: holds the sans-IO [`Session`], spools message data, authenticates,
//! and hands complete messages to [`deliver`]. `250` is sent only after every copy of the
//! message is durable.

mod deliver;
mod policy;
mod received;
mod submission;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::net::TcpStream;

use super::Services;
use super::conn_io::{self, Closed, Input, Output, Setup, ShuttingDown, TlsStarted};
use super::limits::ConnectionSlot;
use super::login::{LoginError, login_secrets, verify_login};
use crate::config::ListenerConfig;
use crate::protocols::smtp::Reply;
use crate::protocols::smtp::server::{Action, AuthOutcome, SecretsLookup, Session, SessionConfig};
use crate::store::files::Spool;
use policy::ConnPolicy;
use received::Trace;

/// RFC 5321 §4.5.3.2.7: the server should wait at least 5 minutes for the next command.
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

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
    /// This connection's place in the per-address connection limit.
    _slot: Option<ConnectionSlot>,
    /// The server is shutting down: close once the message being received is answered.
    closing: bool,
}

impl SmtpConn {
    pub fn new(
        services: Arc<Services>,
        listener: Arc<ListenerConfig>,
        tls: Option<crate::tls::ServerTls>,
        stream: TcpStream,
        remote: SocketAddr,
        slot: Option<ConnectionSlot>,
    ) -> SmtpConn {
        let implicit_tls = listener.protocol.implicit_tls();
        let config = SessionConfig {
            hostname: listener.hostname.ascii().to_string(),
            max_message_size: listener.max_message_size,
            max_recipients: listener.max_recipients,
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
            _slot: slot,
            closing: false,
        }
    }

    fn policy(&self) -> ConnPolicy {
        ConnPolicy {
            dynamic: self.services.config.dynamic(),
            mode: self.services.config.mode.clone(),
            submission: self.listener.protocol.is_submission(),
            remote: self.remote.ip(),
            limits: self.services.ip_limits.clone(),
            hostname: self.listener.hostname.clone(),
        }
    }

    /// Runs the session's actions until it needs more input; `out` collects the replies.
    fn drive(&mut self, mut out: Vec<u8>) -> ResponseActFuture<Self, Output> {
        let policy = self.policy();
        let mut close = false;
        while let Some(action) = self.session.poll(&policy) {
            match action {
                Action::Reply(r) => {
                    if r.code >= 400 {
                        crate::metrics::smtp_reject(r.code, r.status);
                    }
                    out.extend(r.to_bytes())
                }
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
                    let complete = deliver::Complete {
                        spool,
                        txn: transaction,
                        trace: self.trace(),
                        spool_error: self.spool_error.take(),
                        submitter: self
                            .listener
                            .protocol
                            .is_submission()
                            .then(|| self.session.authenticated().map(str::to_string))
                            .flatten(),
                    };
                    let delivery = deliver::deliver(self.services.clone(), complete);
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
        let mut close = close || self.session.is_closed();
        if self.closing && !close && !self.session.in_data() {
            out.extend(shutdown_reply().to_bytes());
            close = true;
        }
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
            shutdown: Some(self.services.shutdown.clone()),
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

/// RFC 5321 §3.8: a server that must stop answers 421 and closes.
fn shutdown_reply() -> Reply {
    Reply::new(421, (4, 3, 2), "server shutting down, try again later")
}

impl Handler<ShuttingDown> for SmtpConn {
    type Result = Output;

    /// A message being received is finished (and answered) first; otherwise 421 now.
    fn handle(&mut self, _: ShuttingDown, _: &mut Context<Self>) -> Output {
        self.closing = true;
        if self.session.in_data() {
            return Output::default();
        }
        Output {
            bytes: shutdown_reply().to_bytes(),
            close: true,
            ..Output::default()
        }
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
