//! An IMAP connection actor: assembles commands from bytes (the sans-IO receiver and parser),
//! runs them against the account (reads with its own transactions on the blocking pool, writes
//! through the account actor), and announces other sessions' changes, pushed by the mailbox
//! actor, where RFC 9051 §7 allows.

mod fetch;
mod select;
mod store;
pub mod view;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::net::TcpStream;

use super::Services;
use super::account::UnwatchMailbox;
use super::conn_io::{self, Closed, Input, Output, Setup, TlsStarted};
use super::mailbox::MailboxChanged;
use super::registry::{AccountHandle, OpenAccount};
use crate::config::ListenerConfig;
use crate::protocols::imap::parse::{Command, CommandKind, parse_command};
use crate::protocols::imap::receiver::{Event, Receiver};
use crate::store::{MailboxId, ModSeq, UidValidity};
use view::View;

/// RFC 9051 §5.4: the autologout timer is at least 30 minutes.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Largest literal accepted (APPEND will use the message size limit).
const MAX_LITERAL: usize = 64 * 1024;
/// Failed logins before the connection is closed.
const MAX_LOGIN_FAILURES: u32 = 3;

pub const CAPABILITIES: &str = "IMAP4rev2 IMAP4rev1 LITERAL+ CONDSTORE UNSELECT";

/// The mailbox a session has selected.
pub struct Selected {
    pub id: MailboxId,
    pub name: String,
    pub uidvalidity: UidValidity,
    pub read_only: bool,
    pub view: View,
    /// HIGHESTMODSEQ as reported at SELECT (later ones come through the view).
    pub highest_modseq: ModSeq,
}

enum State {
    NotAuthenticated,
    Authenticated(AccountHandle),
    Selected(AccountHandle, Selected),
    Logout,
}

pub struct ImapConn {
    services: Arc<Services>,
    listener: Arc<ListenerConfig>,
    cid: u64,
    remote: SocketAddr,
    stream: Option<TcpStream>,
    /// The certificate for STARTTLS (or the implicit TLS of port 993).
    tls: Option<tokio_rustls::TlsAcceptor>,
    /// The connection is encrypted.
    is_tls: bool,
    /// A STARTTLS was accepted: the handshake follows the reply.
    starting_tls: bool,
    receiver: Receiver,
    state: State,
    login_failures: u32,
    /// Our own address, for the mailbox actor to push changes to.
    me: Option<Addr<ImapConn>>,
    /// While a SELECT is in progress: changes pushed before the new view exists.
    selecting: Option<Vec<Arc<Vec<crate::store::Change>>>>,
}

/// The future a command returns: its response bytes (untagged and tagged).
type Reply = ResponseActFuture<ImapConn, Vec<u8>>;

fn done(bytes: impl Into<Vec<u8>>) -> Reply {
    Box::pin(fut::ready(bytes.into()))
}

impl ImapConn {
    pub fn new(
        services: Arc<Services>,
        listener: Arc<ListenerConfig>,
        tls: Option<tokio_rustls::TlsAcceptor>,
        stream: TcpStream,
        remote: SocketAddr,
    ) -> ImapConn {
        ImapConn {
            services,
            is_tls: listener.protocol.implicit_tls(),
            listener,
            cid: super::next_cid(),
            remote,
            stream: Some(stream),
            tls,
            starting_tls: false,
            receiver: Receiver::new(MAX_LITERAL),
            state: State::NotAuthenticated,
            login_failures: 0,
            me: None,
            selecting: None,
        }
    }

    /// Plain-text passwords are refused on unencrypted connections except from this machine
    /// (RFC 9051 §6.2.3, LOGINDISABLED).
    fn login_allowed(&self) -> bool {
        self.is_tls || self.remote.ip().is_loopback()
    }

    fn capabilities(&self) -> String {
        let mut caps = CAPABILITIES.to_string();
        if self.tls.is_some() && !self.is_tls {
            caps.push_str(" STARTTLS");
        }
        if !self.login_allowed() {
            caps.push_str(" LOGINDISABLED");
        }
        caps
    }

    /// Handles events from the receiver until it needs more input.
    fn drive(&mut self, mut out: Vec<u8>) -> ResponseActFuture<Self, Output> {
        loop {
            if matches!(self.state, State::Logout) {
                return Box::pin(fut::ready(Output {
                    bytes: out,
                    close: true,
                    start_tls: false,
                }));
            }
            if self.starting_tls {
                // RFC 9051 §6.2.1: what the client pipelined after STARTTLS is not trusted.
                self.receiver.clear();
                return Box::pin(fut::ready(Output {
                    bytes: out,
                    close: false,
                    start_tls: true,
                }));
            }
            let Some(event) = self.receiver.next_event() else {
                return Box::pin(fut::ready(Output {
                    bytes: out,
                    close: false,
                    start_tls: false,
                }));
            };
            match event {
                Event::Continue => out.extend_from_slice(b"+ ready for literal\r\n"),
                Event::Refused { tag, text } => {
                    out.extend(format!("{tag} BAD {text}\r\n").into_bytes())
                }
                Event::Fatal(text) => {
                    out.extend(format!("* BYE {text}\r\n").into_bytes());
                    self.state = State::Logout;
                }
                Event::Command(bytes) => match parse_command(&bytes) {
                    Err(e) => out.extend(format!("{} BAD {}\r\n", e.tag, e.message).into_bytes()),
                    Ok(command) => {
                        let reply = self.execute(command);
                        return Box::pin(reply.then(move |bytes, act, _| {
                            out.extend(bytes);
                            act.drive(out)
                        }));
                    }
                },
            }
        }
    }

    fn execute(&mut self, Command { tag, kind }: Command) -> Reply {
        let authenticated = !matches!(self.state, State::NotAuthenticated);
        let selected = matches!(self.state, State::Selected(..));
        match kind {
            CommandKind::Capability => done(format!(
                "* CAPABILITY {}\r\n{tag} OK done\r\n",
                self.capabilities()
            )),
            CommandKind::Noop => {
                let mut out = Vec::new();
                if let State::Selected(_, s) = &mut self.state {
                    s.view.flush(true, &mut out);
                }
                out.extend(format!("{tag} OK done\r\n").into_bytes());
                done(out)
            }
            // RFC 9051 §6.2.1: only before authentication, and only once.
            CommandKind::StartTls if self.tls.is_none() || self.is_tls || authenticated => {
                done(format!("{tag} BAD STARTTLS not available\r\n"))
            }
            CommandKind::StartTls => {
                self.starting_tls = true;
                done(format!("{tag} OK begin TLS negotiation now\r\n"))
            }
            CommandKind::Logout => {
                self.leave_mailbox();
                self.state = State::Logout;
                done(format!("* BYE logging out\r\n{tag} OK done\r\n"))
            }
            CommandKind::Login { .. } if authenticated => {
                done(format!("{tag} BAD already authenticated\r\n"))
            }
            CommandKind::Login { username, password } => self.login(tag, username, password),
            _ if !authenticated => done(format!("{tag} BAD log in first\r\n")),
            CommandKind::Select { mailbox, condstore } => {
                self.select(tag, mailbox, false, condstore)
            }
            CommandKind::Examine { mailbox, condstore } => {
                self.select(tag, mailbox, true, condstore)
            }
            _ if !selected => done(format!("{tag} BAD select a mailbox first\r\n")),
            CommandKind::Fetch {
                uid,
                set,
                items,
                changed_since,
            } => self.fetch(tag, uid, set, items, changed_since),
            CommandKind::Store(store) => self.store(tag, store),
            CommandKind::Search(_) => done(format!("{tag} BAD SEARCH not available yet\r\n")),
            CommandKind::Expunge => self.expunge(tag, false),
            CommandKind::Close => self.expunge(tag, true),
            CommandKind::Unselect => {
                self.leave_mailbox();
                done(format!("{tag} OK done\r\n"))
            }
        }
    }

    fn login(&mut self, tag: String, username: String, password: String) -> Reply {
        if !self.login_allowed() {
            return done(format!(
                "{tag} NO [PRIVACYREQUIRED] login only over TLS\r\n"
            ));
        }
        let services = self.services.clone();
        let check = async move {
            let account = super::login::verify_login(&services, &username, &password).await;
            let handle = match &account {
                Some(a) => services
                    .registry
                    .send(OpenAccount(a.clone()))
                    .await
                    .ok()
                    .and_then(Result::ok),
                None => None,
            };
            (username, handle)
        };
        Box::pin(check.into_actor(self).map(move |(username, handle), act, _| match handle {
            Some(handle) => {
                tracing::info!(cid = act.cid, remote = %act.remote, account = %handle.name, "imap login");
                act.state = State::Authenticated(handle);
                format!("{tag} OK [CAPABILITY {}] logged in\r\n", act.capabilities()).into_bytes()
            }
            None => {
                act.login_failures += 1;
                tracing::info!(cid = act.cid, remote = %act.remote, username = %username, "imap login failed");
                if act.login_failures >= MAX_LOGIN_FAILURES {
                    act.state = State::Logout;
                    return format!("* BYE too many failed logins\r\n{tag} NO [AUTHENTICATIONFAILED] invalid credentials\r\n").into_bytes();
                }
                format!("{tag} NO [AUTHENTICATIONFAILED] invalid credentials\r\n").into_bytes()
            }
        }))
    }

    /// Stops watching the selected mailbox, if any, and returns to the authenticated state.
    fn leave_mailbox(&mut self) {
        let state = std::mem::replace(&mut self.state, State::Logout);
        self.state = match state {
            State::Selected(handle, selected) => {
                handle.addr.do_send(UnwatchMailbox {
                    mailbox: selected.id,
                    session: self.cid,
                });
                State::Authenticated(handle)
            }
            other => other,
        };
    }

    fn account(&self) -> Option<&AccountHandle> {
        match &self.state {
            State::Authenticated(h) | State::Selected(h, _) => Some(h),
            _ => None,
        }
    }

    fn selected(&mut self) -> Option<(&AccountHandle, &mut Selected)> {
        match &mut self.state {
            State::Selected(h, s) => Some((h, s)),
            _ => None,
        }
    }
}

impl Actor for ImapConn {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.me = Some(ctx.address());
        tracing::debug!(cid = self.cid, remote = %self.remote, "imap connection");
        let Some(stream) = self.stream.take() else {
            ctx.stop();
            return;
        };
        let setup = Setup {
            greeting: format!("* OK [CAPABILITY {}] moxide ready\r\n", self.capabilities())
                .into_bytes(),
            tls: self.tls.clone(),
            implicit_tls: self.listener.protocol.implicit_tls(),
            idle: IDLE_TIMEOUT,
            idle_bytes: b"* BYE autologout, idle too long\r\n".to_vec(),
        };
        ctx.spawn(conn_io::run(ctx.address(), stream, setup).into_actor(self));
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.leave_mailbox();
    }
}

impl Handler<Input> for ImapConn {
    type Result = ResponseActFuture<Self, Output>;

    fn handle(&mut self, Input(bytes): Input, _: &mut Context<Self>) -> Self::Result {
        self.receiver.receive(&bytes);
        self.drive(Vec::new())
    }
}

impl Handler<TlsStarted> for ImapConn {
    type Result = ResponseActFuture<Self, Output>;

    fn handle(&mut self, _: TlsStarted, _: &mut Context<Self>) -> Self::Result {
        tracing::debug!(cid = self.cid, "tls started");
        self.is_tls = true;
        self.starting_tls = false;
        self.drive(Vec::new())
    }
}

impl Handler<Closed> for ImapConn {
    type Result = ();

    fn handle(&mut self, Closed(reason): Closed, ctx: &mut Context<Self>) {
        tracing::debug!(cid = self.cid, remote = %self.remote, reason, "imap connection ended");
        ctx.stop();
    }
}

impl Handler<MailboxChanged> for ImapConn {
    type Result = ();

    fn handle(&mut self, MailboxChanged(changes): MailboxChanged, _: &mut Context<Self>) {
        if let Some(buffer) = &mut self.selecting {
            buffer.push(changes);
            return;
        }
        if let Some((_, selected)) = self.selected()
            && changes.first().is_some_and(|c| c.mailbox() == selected.id)
        {
            selected.view.queue(&changes);
        }
    }
}
