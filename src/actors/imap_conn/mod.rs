//! An IMAP connection actor: assembles commands from bytes (the sans-IO receiver and parser),
//! runs them against the account (reads with its own transactions on the blocking pool, writes
//! through the account actor), and announces other sessions' changes, pushed by the mailbox
//! actor, where RFC 9051 §7 allows. One file per group of commands.

mod auth;
mod fetch;
mod mailboxes;
mod messages;
mod search;
mod select;
mod store;
pub mod view;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::Services;
use super::account::UnwatchMailbox;
use super::conn_io::{
    self, Closed, Input, Output, PUSH_BACKLOG, Push, Setup, ShuttingDown, TlsStarted,
};
use super::mailbox::MailboxChanged;
use super::registry::AccountHandle;
use crate::config::ListenerConfig;
use crate::protocols::imap::parse::{Command, CommandKind, parse_command};
use crate::protocols::imap::receiver::{Event, Receiver};
use crate::store::{Change, MailboxId, ModSeq, UidValidity};
use view::View;

/// RFC 9051 §5.4: the autologout timer is at least 30 minutes.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Largest message APPEND accepts (APPENDLIMIT, RFC 7889), and so the largest literal.
pub const APPEND_LIMIT: usize = 50 << 20;
/// Failed logins before the connection is closed.
const MAX_LOGIN_FAILURES: u32 = 3;

/// The capabilities every session has, whatever its state.
const CAPABILITIES: &[&str] = &[
    "IMAP4rev2",
    "IMAP4rev1",
    "LITERAL+",
    "ENABLE",
    "ID",
    "IDLE",
    "NAMESPACE",
    "UNSELECT",
    "UIDPLUS",
    "MOVE",
    "CONDSTORE",
    "QRESYNC",
    "CHILDREN",
    "SPECIAL-USE",
    "CREATE-SPECIAL-USE",
    "LIST-EXTENDED",
    "LIST-STATUS",
    "STATUS=SIZE",
    "MULTIAPPEND",
    "ESEARCH",
    "SEARCHRES",
    "WITHIN",
    "BINARY",
    "SAVEDATE",
    "UTF8=ACCEPT",
    "COMPRESS=DEFLATE",
];

/// Extensions the client turned on with ENABLE (RFC 5161) or by using them.
#[derive(Debug, Default, Clone, Copy)]
pub struct Enabled {
    pub condstore: bool,
    pub qresync: bool,
    /// IMAP4rev2 semantics (no RECENT, LIST in SELECT, UTF-8 names).
    pub rev2: bool,
    pub utf8: bool,
}

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
    tls: Option<crate::tls::ServerTls>,
    /// The connection is encrypted.
    is_tls: bool,
    /// A STARTTLS was accepted: the handshake follows the reply.
    starting_tls: bool,
    /// COMPRESS=DEFLATE (RFC 4978): accepted, and then active.
    starting_compress: bool,
    compressed: bool,
    receiver: Receiver,
    state: State,
    enabled: Enabled,
    login_failures: u32,
    /// Our own address, for the mailbox actor to push changes to.
    me: Option<Addr<ImapConn>>,
    /// While a SELECT is in progress: changes pushed before the new view exists.
    selecting: Option<Vec<Arc<Vec<Change>>>>,
    /// In IDLE (RFC 2177): the tag of the IDLE command.
    idling: Option<String>,
    /// For sending updates while idling, and an unsolicited BYE.
    push: Option<mpsc::Sender<Push>>,
    /// An AUTHENTICATE exchange in progress: its tag and mechanism.
    authenticating: Option<(String, crate::protocols::sasl::ServerMechanism)>,
    /// The account whose secrets a SCRAM or CRAM-MD5 exchange is checking against.
    pending_account: Option<String>,
    /// TLS channel bindings, for SCRAM-*-PLUS.
    channel_bindings: Vec<crate::protocols::sasl::ChannelBinding>,
}

/// The future a command returns: its response bytes, untagged responses first and the tagged
/// one last.
type Reply = ResponseActFuture<ImapConn, Vec<u8>>;

fn done(bytes: impl Into<Vec<u8>>) -> Reply {
    Box::pin(fut::ready(bytes.into()))
}

/// Whether expunges may be announced while answering this command: not during FETCH, STORE
/// and SEARCH by sequence number, whose numbers must stay as the client knows them (RFC 9051
/// §7.5.1).
fn allows_expunge(kind: &CommandKind) -> bool {
    match kind {
        CommandKind::Fetch { uid, .. } => *uid,
        CommandKind::Store(s) => s.uid,
        CommandKind::Search(s) => s.uid,
        _ => true,
    }
}

/// Inserts `updates` before the last line of `response` (its tagged status line).
fn before_tagged(mut response: Vec<u8>, updates: Vec<u8>) -> Vec<u8> {
    if updates.is_empty() {
        return response;
    }
    let body = response.len().saturating_sub(2);
    let at = response[..body]
        .windows(2)
        .rposition(|w| w == b"\r\n")
        .map_or(0, |i| i + 2);
    response.splice(at..at, updates);
    response
}

impl ImapConn {
    pub fn new(
        services: Arc<Services>,
        listener: Arc<ListenerConfig>,
        tls: Option<crate::tls::ServerTls>,
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
            starting_compress: false,
            compressed: false,
            receiver: Receiver::new(APPEND_LIMIT),
            state: State::NotAuthenticated,
            enabled: Enabled::default(),
            login_failures: 0,
            me: None,
            selecting: None,
            idling: None,
            push: None,
            authenticating: None,
            pending_account: None,
            channel_bindings: Vec::new(),
        }
    }

    /// Plain-text passwords are refused on unencrypted connections except from this machine
    /// (RFC 9051 §6.2.3, LOGINDISABLED).
    fn login_allowed(&self) -> bool {
        self.is_tls || self.remote.ip().is_loopback()
    }

    fn capabilities(&self) -> String {
        let mut caps = CAPABILITIES.join(" ");
        caps.push_str(&format!(" APPENDLIMIT={APPEND_LIMIT}"));
        if self.tls.is_some() && !self.is_tls {
            caps.push_str(" STARTTLS");
        }
        if self.login_allowed() {
            caps.push_str(" SASL-IR");
            for m in crate::protocols::sasl::server_mechanisms(!self.channel_bindings.is_empty()) {
                caps.push_str(&format!(" AUTH={}", m.name()));
            }
        } else {
            caps.push_str(" LOGINDISABLED");
        }
        caps
    }

    fn output(bytes: Vec<u8>, close: bool, start_tls: bool) -> ResponseActFuture<Self, Output> {
        Box::pin(fut::ready(Output {
            bytes,
            close,
            start_tls,
            ..Output::default()
        }))
    }

    /// Handles events from the receiver until it needs more input.
    fn drive(&mut self, mut out: Vec<u8>) -> ResponseActFuture<Self, Output> {
        loop {
            if matches!(self.state, State::Logout) {
                return Self::output(out, true, false);
            }
            if self.starting_tls {
                // RFC 9051 §6.2.1: what the client pipelined after STARTTLS is not trusted.
                self.receiver.clear();
                return Self::output(out, false, true);
            }
            if self.starting_compress {
                // RFC 4978 §3: the client sends nothing more until it has the OK.
                self.starting_compress = false;
                self.compressed = true;
                self.receiver.clear();
                return Box::pin(fut::ready(Output {
                    bytes: out,
                    start_compress: true,
                    ..Output::default()
                }));
            }
            let Some(event) = self.receiver.next_event() else {
                return Self::output(out, false, false);
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
                Event::Command(bytes) if self.idling.is_some() => self.end_idle(&bytes, &mut out),
                Event::Command(bytes) if self.authenticating.is_some() => {
                    let reply = self.auth_response(&bytes);
                    return Box::pin(reply.then(move |bytes, act, _| {
                        out.extend(bytes);
                        act.drive(out)
                    }));
                }
                Event::Command(bytes) => match parse_command(&bytes) {
                    Err(e) => out.extend(e.response().into_bytes()),
                    Ok(command) => {
                        let allow_expunge = allows_expunge(&command.kind);
                        let reply = self.execute(command);
                        return Box::pin(reply.then(move |bytes, act, _| {
                            let updates = act.pending_updates(allow_expunge);
                            out.extend(before_tagged(bytes, updates));
                            act.drive(out)
                        }));
                    }
                },
            }
        }
    }

    /// The untagged responses for changes by others that may be sent now.
    fn pending_updates(&mut self, allow_expunge: bool) -> Vec<u8> {
        let mut out = Vec::new();
        if self.idling.is_none()
            && let State::Selected(_, s) = &mut self.state
        {
            s.view.flush(allow_expunge, &mut out);
        }
        out
    }

    /// Whether mailbox names go in modified UTF-7: the client has not said it takes UTF-8
    /// (IMAP4rev2 or UTF8=ACCEPT, RFC 9051 §5.1, RFC 3501 §5.1.3).
    fn utf7_names(&self) -> bool {
        !(self.enabled.rev2 || self.enabled.utf8)
    }

    /// Turns the mailbox names of a command into the names moxide stores (UTF-8).
    fn decode_names(&self, kind: &mut CommandKind) -> Result<(), String> {
        if !self.utf7_names() {
            return Ok(());
        }
        let decode = |name: &mut String| -> Result<(), String> {
            // A name with non-ASCII is UTF-8 sent anyway by a lax client: taken as it is.
            if name.is_ascii() {
                *name = crate::protocols::imap::utf7::decode(name)
                    .map_err(|e| format!("mailbox name {name:?}: {e}"))?;
            }
            Ok(())
        };
        match kind {
            CommandKind::Select(c) => decode(&mut c.mailbox),
            CommandKind::Create { mailbox, .. }
            | CommandKind::Delete { mailbox }
            | CommandKind::Subscribe { mailbox }
            | CommandKind::Unsubscribe { mailbox }
            | CommandKind::Status { mailbox, .. }
            | CommandKind::Append { mailbox, .. }
            | CommandKind::Copy { mailbox, .. }
            | CommandKind::Move { mailbox, .. } => decode(mailbox),
            CommandKind::Rename { from, to } => decode(from).and_then(|()| decode(to)),
            CommandKind::List(l) => {
                decode(&mut l.reference)?;
                l.patterns.iter_mut().try_for_each(decode)
            }
            _ => Ok(()),
        }
    }

    fn execute(&mut self, Command { tag, mut kind }: Command) -> Reply {
        if let Err(e) = self.decode_names(&mut kind) {
            return done(format!("{tag} BAD {e}\r\n"));
        }
        let authenticated = !matches!(self.state, State::NotAuthenticated);
        let selected = matches!(self.state, State::Selected(..));
        match kind {
            CommandKind::Capability => done(format!(
                "* CAPABILITY {}\r\n{tag} OK done\r\n",
                self.capabilities()
            )),
            CommandKind::Noop | CommandKind::Check => done(format!("{tag} OK done\r\n")),
            CommandKind::Id(_) => done(format!(
                "* ID (\"name\" \"moxide\" \"version\" \"{}\")\r\n{tag} OK done\r\n",
                env!("CARGO_PKG_VERSION")
            )),
            CommandKind::Logout => {
                self.leave_mailbox();
                self.state = State::Logout;
                done(format!("* BYE logging out\r\n{tag} OK done\r\n"))
            }
            // RFC 9051 §6.2.1: only before authentication, and only once.
            CommandKind::StartTls if self.tls.is_none() || self.is_tls || authenticated => {
                done(format!("{tag} BAD STARTTLS not available\r\n"))
            }
            CommandKind::StartTls => {
                self.starting_tls = true;
                done(format!("{tag} OK begin TLS negotiation now\r\n"))
            }
            CommandKind::Login { .. } | CommandKind::Authenticate { .. } if authenticated => {
                done(format!("{tag} BAD already authenticated\r\n"))
            }
            CommandKind::Login { username, password } => self.login(tag, username, password),
            CommandKind::Authenticate { mechanism, initial } => {
                self.authenticate(tag, mechanism, initial)
            }
            _ if !authenticated => done(format!("{tag} BAD log in first\r\n")),
            CommandKind::Enable(names) => done(self.enable(&tag, &names)),
            CommandKind::Namespace => done(format!(
                "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n{tag} OK done\r\n"
            )),
            CommandKind::Compress(_) if self.compressed => done(format!(
                "{tag} NO [COMPRESSIONACTIVE] already compressing\r\n"
            )),
            CommandKind::Compress(m) if m != "DEFLATE" => {
                done(format!("{tag} BAD unknown compression mechanism {m}\r\n"))
            }
            CommandKind::Compress(_) => {
                self.starting_compress = true;
                done(format!("{tag} OK DEFLATE active\r\n"))
            }
            CommandKind::Idle => self.start_idle(tag),
            CommandKind::Select(cmd) => self.select(tag, cmd),
            CommandKind::Create {
                mailbox,
                special_use,
            } => self.create(tag, mailbox, special_use),
            CommandKind::Delete { mailbox } => self.delete(tag, mailbox),
            CommandKind::Rename { from, to } => self.rename(tag, from, to),
            CommandKind::Subscribe { mailbox } => self.subscribe(tag, mailbox, true),
            CommandKind::Unsubscribe { mailbox } => self.subscribe(tag, mailbox, false),
            CommandKind::List(cmd) => self.list(tag, cmd),
            CommandKind::Status { mailbox, items } => self.status(tag, mailbox, items),
            CommandKind::Append { mailbox, messages } => self.append(tag, mailbox, messages),
            _ if !selected => done(format!("{tag} BAD select a mailbox first\r\n")),
            CommandKind::Fetch {
                uid,
                set,
                items,
                changed_since,
                vanished,
            } => self.fetch(tag, uid, set, items, changed_since, vanished),
            CommandKind::Store(store) => self.store(tag, store),
            CommandKind::Copy { uid, set, mailbox } => {
                self.copy_or_move(tag, uid, set, mailbox, false)
            }
            CommandKind::Move { uid, set, mailbox } => {
                self.copy_or_move(tag, uid, set, mailbox, true)
            }
            CommandKind::Expunge => self.expunge(tag, None, false),
            CommandKind::UidExpunge(set) => self.expunge(tag, Some(set), false),
            CommandKind::Close => self.expunge(tag, None, true),
            CommandKind::Search(cmd) => self.search(tag, cmd),
            CommandKind::Unselect => {
                self.leave_mailbox();
                done(format!("{tag} OK done\r\n"))
            }
        }
    }

    /// ENABLE (RFC 5161): answers `* ENABLED` with what was newly enabled.
    fn enable(&mut self, tag: &str, names: &[String]) -> String {
        let mut turned_on = Vec::new();
        for name in names {
            let flag = match name.as_str() {
                "CONDSTORE" => &mut self.enabled.condstore,
                // RFC 7162 §3.2.3: QRESYNC implies CONDSTORE.
                "QRESYNC" => {
                    self.enabled.condstore = true;
                    &mut self.enabled.qresync
                }
                "IMAP4REV2" => &mut self.enabled.rev2,
                "UTF8=ACCEPT" => &mut self.enabled.utf8,
                _ => continue,
            };
            if !*flag {
                *flag = true;
                turned_on.push(if name == "IMAP4REV2" {
                    "IMAP4rev2"
                } else {
                    name.as_str()
                });
            }
        }
        if let State::Selected(_, s) = &mut self.state {
            s.view.condstore |= self.enabled.condstore;
            s.view.qresync |= self.enabled.qresync;
        }
        // RFC 5161 section 4: `"*" SP "ENABLED" *(SP capability)`, no trailing space when empty.
        let enabled: String = turned_on.iter().map(|name| format!(" {name}")).collect();
        format!("* ENABLED{enabled}\r\n{tag} OK done\r\n")
    }

    /// IDLE (RFC 2177): updates are pushed as they come until the client sends DONE.
    fn start_idle(&mut self, tag: String) -> Reply {
        let mut updates = Vec::new();
        if let State::Selected(_, s) = &mut self.state {
            s.view.flush(true, &mut updates);
        }
        self.idling = Some(tag);
        // What is already pending follows the continuation as a push of its own, as later
        // updates do: clients that wait for new data after "+" see it.
        if !updates.is_empty() {
            self.push(updates, false);
        }
        done(b"+ idling\r\n".to_vec())
    }

    fn end_idle(&mut self, line: &[u8], out: &mut Vec<u8>) {
        let Some(tag) = self.idling.take() else {
            return;
        };
        if line.eq_ignore_ascii_case(b"DONE") {
            out.extend(format!("{tag} OK idle done\r\n").into_bytes());
        } else {
            out.extend(format!("{tag} BAD expected DONE\r\n").into_bytes());
        }
    }

    /// Sends bytes outside a command's response (IDLE updates, an unsolicited BYE). A client
    /// that lets [`PUSH_BACKLOG`] of them pile up is not reading: it is disconnected.
    fn push(&mut self, bytes: Vec<u8>, close: bool) {
        let Some(tx) = &self.push else { return };
        if tx.try_send(Push { bytes, close }).is_err() {
            tracing::info!(cid = self.cid, "client not reading its updates, closing");
            let _ = tx.try_send(Push {
                bytes: Vec::new(),
                close: true,
            });
            self.push = None;
            self.state = State::Logout;
        }
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
        crate::metrics::IMAP_SESSIONS.add(1);
        tracing::debug!(cid = self.cid, remote = %self.remote, "imap connection");
        let Some(stream) = self.stream.take() else {
            ctx.stop();
            return;
        };
        let (tx, rx) = mpsc::channel(PUSH_BACKLOG);
        self.push = Some(tx);
        let setup = Setup {
            greeting: format!("* OK [CAPABILITY {}] moxide ready\r\n", self.capabilities())
                .into_bytes(),
            tls: self.tls.clone(),
            implicit_tls: self.listener.protocol.implicit_tls(),
            idle: IDLE_TIMEOUT,
            idle_bytes: b"* BYE autologout, idle too long\r\n".to_vec(),
            push: Some(rx),
            shutdown: Some(self.services.shutdown.clone()),
        };
        ctx.spawn(conn_io::run(ctx.address(), stream, setup).into_actor(self));
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        crate::metrics::IMAP_SESSIONS.sub(1);
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

    fn handle(&mut self, tls: TlsStarted, _: &mut Context<Self>) -> Self::Result {
        tracing::debug!(cid = self.cid, starttls = tls.starttls, "tls established");
        self.channel_bindings = tls.bindings;
        if !tls.starttls {
            return Self::output(Vec::new(), false, false);
        }
        self.is_tls = true;
        self.starting_tls = false;
        self.drive(Vec::new())
    }
}

impl Handler<ShuttingDown> for ImapConn {
    type Result = Output;

    /// RFC 9051 §7.1.5: an unsolicited BYE, then the server closes.
    fn handle(&mut self, _: ShuttingDown, _: &mut Context<Self>) -> Output {
        self.leave_mailbox();
        self.state = State::Logout;
        Output {
            bytes: b"* BYE server shutting down\r\n".to_vec(),
            close: true,
            ..Output::default()
        }
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
        let Some((_, selected)) = self.selected() else {
            return;
        };
        if changes.first().is_none_or(|c| c.mailbox() != selected.id) {
            return;
        }
        if changes
            .iter()
            .any(|c| matches!(c, Change::MailboxDeleted(_)))
        {
            // The selected mailbox is gone: there is nothing left to be in sync with.
            self.state = State::Logout;
            self.push(b"* BYE the selected mailbox was deleted\r\n".to_vec(), true);
            return;
        }
        selected.view.queue(&changes);
        if self.idling.is_some() {
            let mut out = Vec::new();
            if let Some((_, s)) = self.selected() {
                s.view.flush(true, &mut out);
            }
            if !out.is_empty() {
                self.push(out, false);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_go_before_the_tagged_line() {
        let r = before_tagged(
            b"* 1 FETCH (BODY[] {5}\r\na\r\nb)\r\nt1 OK done\r\n".to_vec(),
            b"* 2 EXISTS\r\n".to_vec(),
        );
        assert_eq!(
            r,
            b"* 1 FETCH (BODY[] {5}\r\na\r\nb)\r\n* 2 EXISTS\r\nt1 OK done\r\n"
        );
        assert_eq!(
            before_tagged(b"t1 OK\r\n".to_vec(), b"* 1 EXISTS\r\n".to_vec()),
            b"* 1 EXISTS\r\nt1 OK\r\n"
        );
    }
}
