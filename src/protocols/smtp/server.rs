//! The SMTP server session as a sans-IO state machine: feed it received bytes, poll it for
//! [`Action`]s (replies to send, message bytes to spool, a transaction to deliver, credentials to
//! verify, TLS to start), and tell it the outcome of the actions that need the caller.

mod auth;
mod chunking;

use std::collections::VecDeque;

use super::command::{Command, CommandError, MailParams, parse_command};
use super::data::DataReader;
use super::reply::Reply;
use crate::address::Address;
use crate::protocols::sasl::{self, Credentials, ServerMechanism};
use chunking::Chunk;

/// Longest command line accepted, CRLF included. RFC 5321 §4.5.3.1.4 asks for at least 512;
/// SMTPUTF8 addresses and parameters can need more.
pub const MAX_LINE: usize = 4096;
/// Bad commands in a row before the connection is closed.
pub const MAX_ERRORS: u32 = 10;

/// How a credentials check came out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    /// Logged in to this account.
    Authenticated(String),
    Invalid,
    /// Refused without checking, e.g. after too many failures from the address.
    TryLater,
}

/// The answer to a secrets lookup for SCRAM or CRAM-MD5.
#[derive(Debug, Clone)]
pub enum SecretsLookup {
    Found {
        account: String,
        secrets: Box<crate::auth::PasswordSecrets>,
    },
    /// No such login (the exchange goes on and fails, so the client cannot tell).
    Unknown,
    /// Refused without looking (too many failures from the address).
    TryLater,
}

/// What a session needs to know about where it runs.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Our host name (ASCII form), for the greeting and replies.
    pub hostname: String,
    pub max_message_size: u64,
    pub max_recipients: usize,
    /// Message submission (RFC 6409): AUTH is offered and required before MAIL.
    pub submission: bool,
    /// STARTTLS can be offered (a certificate is configured and the connection is plain).
    pub starttls_available: bool,
    /// Plain-text authentication may happen on this connection (TLS, or loopback).
    pub auth_allowed: bool,
    /// For SASL: the server secret for unknown users' SCRAM salts (see `ServerContext`).
    pub sasl_key: [u8; 32],
}

/// Where an accepted recipient's copy goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Delivery into this local account.
    Local { account: String },
    /// The outgoing queue (submission to another domain).
    Remote,
}

/// The decision on one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcptDecision {
    Accept(Destination),
    Reject(Reply),
}

/// Decisions the session takes from outside (configuration, limits, later reputation).
pub trait Policy {
    /// Whether a transaction from this reverse path (None: `<>`) may start now.
    fn sender(&self, from: Option<&Address>, authenticated: Option<&str>) -> Result<(), Reply>;
    fn recipient(&self, rcpt: &Address, authenticated: Option<&str>) -> RcptDecision;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub address: Address,
    pub destination: Destination,
}

impl Recipient {
    /// The local account, for a local recipient.
    pub fn account(&self) -> Option<&str> {
        match &self.destination {
            Destination::Local { account } => Some(account),
            Destination::Remote => None,
        }
    }
}

/// A mail transaction, complete once its data has been received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// None for the null reverse-path `<>` (bounces).
    pub mail_from: Option<Address>,
    pub params: MailParams,
    pub recipients: Vec<Recipient>,
}

#[derive(Debug)]
pub enum Action {
    Reply(Reply),
    /// Message bytes, dot-unstuffed, to append to the message being received.
    Data(Vec<u8>),
    /// Drop the message being received: it will not be delivered.
    DiscardData,
    /// The message is complete: deliver it and call [`Session::delivery_result`].
    Deliver(Transaction),
    /// Check these credentials and call [`Session::auth_result`].
    Authenticate(Credentials),
    /// Look up the account of this login name and its password secrets (SCRAM, CRAM-MD5) and
    /// call [`Session::secrets_result`].
    NeedSecrets {
        username: String,
    },
    /// A SCRAM or CRAM-MD5 exchange ended: count it for the remote address's failure limit.
    AuthFinished {
        success: bool,
    },
    /// Start TLS on the connection, then call [`Session::tls_started`].
    StartTls,
    /// Close the connection (after sending what came before).
    Close,
}

#[derive(Debug)]
enum Phase {
    Command,
    /// Discarding the rest of an over-long line.
    SkipLine,
    Data(DataReader),
    /// Reading the bytes of a BDAT chunk (RFC 3030).
    Chunk(Chunk),
    Auth(ServerMechanism),
    /// Waiting for the secrets a mechanism asked for.
    AwaitSecrets(ServerMechanism),
    /// Waiting for the caller to finish an action (delivery, authentication, TLS).
    Waiting,
    Closed,
}

#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    input: Vec<u8>,
    phase: Phase,
    actions: VecDeque<Action>,
    helo: Option<String>,
    esmtp: bool,
    transaction: Option<Transaction>,
    authenticated: Option<String>,
    errors: u32,
    tls: bool,
    channel_bindings: Vec<sasl::ChannelBinding>,
    /// The account whose secrets a SCRAM or CRAM-MD5 exchange checks against.
    pending_account: Option<String>,
    /// What the BDAT chunks of the current transaction added up to so far.
    chunks: Option<chunking::Chunks>,
}

impl Session {
    pub fn new(config: SessionConfig) -> Session {
        Session {
            config,
            input: Vec::new(),
            phase: Phase::Command,
            actions: VecDeque::new(),
            helo: None,
            esmtp: false,
            transaction: None,
            authenticated: None,
            errors: 0,
            tls: false,
            channel_bindings: Vec::new(),
            pending_account: None,
            chunks: None,
        }
    }

    pub fn greeting(&self) -> Reply {
        Reply::plain(220, vec![format!("{} ESMTP moxide", self.config.hostname)])
    }

    /// The name the client gave in EHLO/HELO.
    pub fn helo(&self) -> Option<&str> {
        self.helo.as_deref()
    }

    pub fn esmtp(&self) -> bool {
        self.esmtp
    }

    pub fn authenticated(&self) -> Option<&str> {
        self.authenticated.as_deref()
    }

    pub fn is_tls(&self) -> bool {
        self.tls
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// Whether the session has buffered input it has not looked at yet.
    pub fn has_buffered_input(&self) -> bool {
        !self.input.is_empty()
    }

    /// Whether a message is being received (bytes go to the spool).
    pub fn in_data(&self) -> bool {
        matches!(self.phase, Phase::Data(_) | Phase::Chunk(_))
    }

    /// Adds received bytes.
    pub fn receive(&mut self, bytes: &[u8]) {
        if !self.is_closed() {
            self.input.extend_from_slice(bytes);
        }
    }

    /// The next thing to do, or None when more input (or the caller's answer) is needed.
    pub fn poll(&mut self, policy: &dyn Policy) -> Option<Action> {
        loop {
            if let Some(a) = self.actions.pop_front() {
                return Some(a);
            }
            match &mut self.phase {
                Phase::Waiting | Phase::AwaitSecrets(_) | Phase::Closed => return None,
                Phase::Data(reader) => {
                    if self.input.is_empty() {
                        return None;
                    }
                    let mut out = Vec::new();
                    let progress = reader.feed(&self.input, &mut out);
                    self.input.drain(..progress.consumed);
                    if !out.is_empty() {
                        self.actions.push_back(Action::Data(out));
                    }
                    if progress.done {
                        self.end_of_data();
                    }
                }
                Phase::Chunk(_) => {
                    if self.input.is_empty() {
                        return None;
                    }
                    self.read_chunk();
                }
                Phase::SkipLine => match self.input.iter().position(|&b| b == b'\n') {
                    Some(i) => {
                        self.input.drain(..=i);
                        self.phase = Phase::Command;
                    }
                    None => {
                        self.input.clear();
                        return None;
                    }
                },
                Phase::Command | Phase::Auth(_) => {
                    let Some(i) = self.input.iter().position(|&b| b == b'\n') else {
                        if self.input.len() >= MAX_LINE {
                            self.input.clear();
                            self.phase = Phase::SkipLine;
                            self.bad(Reply::new(500, (5, 5, 2), "line too long"));
                        }
                        return None;
                    };
                    let mut line: Vec<u8> = self.input.drain(..=i).collect();
                    // Counted with its line ending, as MAX_LINE is, so that a line is refused
                    // or not whatever packets it came in.
                    if line.len() > MAX_LINE {
                        self.bad(Reply::new(500, (5, 5, 2), "line too long"));
                        continue;
                    }
                    line.pop();
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    if matches!(self.phase, Phase::Auth(_)) {
                        self.auth_response(&line);
                    } else {
                        self.command(&line, policy);
                    }
                }
            }
        }
    }

    fn reply(&mut self, reply: Reply) {
        self.actions.push_back(Action::Reply(reply));
    }

    fn bad(&mut self, reply: Reply) {
        self.errors += 1;
        self.reply(reply);
        if self.errors >= MAX_ERRORS {
            self.reply(Reply::new(
                421,
                (4, 7, 0),
                "too many errors, closing connection",
            ));
            self.close();
        }
    }

    fn close(&mut self) {
        self.phase = Phase::Closed;
        self.input.clear();
        self.actions.push_back(Action::Close);
    }

    fn command(&mut self, line: &[u8], policy: &dyn Policy) {
        let cmd = match parse_command(line) {
            Ok(c) => c,
            Err(CommandError::Unknown) => {
                return self.bad(Reply::new(500, (5, 5, 2), "unknown command"));
            }
            Err(CommandError::UnknownParameter(p)) => {
                return self.bad(Reply::new(
                    555,
                    (5, 5, 4),
                    format!("unsupported parameter {p}"),
                ));
            }
            Err(e) => return self.bad(Reply::new(501, (5, 5, 4), e.to_string())),
        };
        self.errors = 0;
        match cmd {
            Command::Ehlo(name) => {
                self.helo = Some(name);
                self.esmtp = true;
                self.transaction = None;
                self.chunks = None;
                let reply = self.ehlo_reply();
                self.reply(reply);
            }
            Command::Helo(name) => {
                self.helo = Some(name);
                self.esmtp = false;
                self.transaction = None;
                self.chunks = None;
                let text = self.config.hostname.clone();
                self.reply(Reply::plain(250, vec![text]));
            }
            Command::Mail { from, params, utf8 } => self.mail(from, params, utf8, policy),
            Command::Rcpt { to: Some(to), utf8 } => self.rcpt(to, utf8, false, policy),
            Command::Rcpt { to: None, .. } => {
                // RFC 5321 §4.5.1: <Postmaster> without a domain reaches our postmaster.
                match Address::parse_simple(&format!("postmaster@{}", self.config.hostname)) {
                    Ok(to) => self.rcpt(to, false, true, policy),
                    Err(_) => self.reply(Reply::new(550, (5, 1, 1), "no postmaster here")),
                }
            }
            Command::Data => self.data(),
            Command::Bdat { size, last } => self.bdat(size, last),
            Command::Rset => {
                self.transaction = None;
                self.chunks = None;
                self.reply(Reply::new(250, (2, 0, 0), "reset"));
            }
            Command::Noop => self.reply(Reply::new(250, (2, 0, 0), "ok")),
            Command::Quit => {
                let text = format!("{} closing connection", self.config.hostname);
                self.reply(Reply::new(221, (2, 0, 0), text));
                self.close();
            }
            // RFC 5321 §3.5.3: 252 when we will not verify but will accept mail for it.
            Command::Vrfy => self.reply(Reply::new(
                252,
                (2, 5, 0),
                "not verifying addresses; try sending",
            )),
            Command::Help => self.reply(Reply::new(
                214,
                (2, 0, 0),
                "see RFC 5321; commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT",
            )),
            Command::StartTls => self.starttls(),
            Command::Auth { mechanism, initial } => self.auth(&mechanism, initial),
        }
    }

    fn ehlo_reply(&self) -> Reply {
        let mut lines = vec![
            self.config.hostname.clone(),
            "PIPELINING".into(),
            "8BITMIME".into(),
            "SMTPUTF8".into(),
            format!("SIZE {}", self.config.max_message_size),
            "ENHANCEDSTATUSCODES".into(),
            "CHUNKING".into(),
        ];
        if self.config.starttls_available && !self.tls {
            lines.push("STARTTLS".into());
        }
        // RFC 8689 §4: only offered where the connection itself is protected.
        if self.tls {
            lines.push("REQUIRETLS".into());
        }
        if self.config.submission && self.config.auth_allowed && self.authenticated.is_none() {
            let names: Vec<&str> = sasl::server_mechanisms(!self.channel_bindings.is_empty())
                .map(|m| m.name())
                .collect();
            lines.push(format!("AUTH {}", names.join(" ")));
        }
        lines.push("HELP".into());
        Reply::plain(250, lines)
    }

    fn mail(&mut self, from: Option<Address>, params: MailParams, utf8: bool, policy: &dyn Policy) {
        if self.helo.is_none() {
            return self.bad(Reply::new(503, (5, 5, 1), "send EHLO first"));
        }
        if self.transaction.is_some() {
            return self.bad(Reply::new(
                503,
                (5, 5, 1),
                "already in a transaction, send RSET first",
            ));
        }
        if self.config.submission && self.authenticated.is_none() {
            return self.reply(Reply::new(530, (5, 7, 0), "authentication required"));
        }
        if let Some(size) = params.size
            && size > self.config.max_message_size
        {
            let text = format!(
                "message larger than the maximum of {} bytes",
                self.config.max_message_size
            );
            return self.reply(Reply::new(552, (5, 3, 4), text));
        }
        if (params.smtputf8 || params.body_8bit || params.requiretls) && !self.esmtp {
            return self.bad(Reply::new(501, (5, 5, 4), "parameters need EHLO"));
        }
        if params.requiretls && !self.tls {
            // RFC 8689 §4.1.
            return self.reply(Reply::new(
                530,
                (5, 7, 10),
                "REQUIRETLS needs a TLS connection",
            ));
        }
        if utf8 && !params.smtputf8 {
            // RFC 6531 §3.4.
            return self.reply(Reply::new(
                553,
                (5, 6, 7),
                "non-ASCII address needs the SMTPUTF8 parameter",
            ));
        }
        if let Err(reply) = policy.sender(from.as_ref(), self.authenticated.as_deref()) {
            return self.reply(reply);
        }
        self.chunks = None;
        self.transaction = Some(Transaction {
            mail_from: from,
            params,
            recipients: Vec::new(),
        });
        self.reply(Reply::new(250, (2, 1, 0), "sender ok"));
    }

    /// `postmaster`: `to` stands for `<Postmaster>`, the postmaster of this host.
    fn rcpt(&mut self, to: Address, utf8: bool, postmaster: bool, policy: &dyn Policy) {
        let authenticated = self.authenticated.clone();
        let max = self.config.max_recipients;
        let Some(t) = &mut self.transaction else {
            return self.bad(Reply::new(503, (5, 5, 1), "send MAIL first"));
        };
        if utf8 && !t.params.smtputf8 {
            return self.reply(Reply::new(
                553,
                (5, 6, 7),
                "non-ASCII address needs the SMTPUTF8 parameter on MAIL",
            ));
        }
        if t.recipients.len() >= max {
            // RFC 5321 §4.5.3.1.10: 452 for too many recipients; the client sends the rest later.
            return self.reply(Reply::new(452, (4, 5, 3), "too many recipients"));
        }
        if self.chunks.is_some() {
            return self.bad(Reply::new(
                503,
                (5, 5, 1),
                "recipients must come before the first BDAT",
            ));
        }
        match policy.recipient(&to, authenticated.as_deref()) {
            // Our postmaster is a local mailbox or none: never the outgoing queue, which would
            // send it back here, and not "no relaying" to a client that named no domain. A
            // temporary refusal stays one.
            RcptDecision::Accept(Destination::Remote) if postmaster => {
                self.reply(Reply::new(550, (5, 1, 1), format!("no mailbox for {to}")))
            }
            RcptDecision::Reject(reply) if postmaster && reply.code >= 500 => {
                self.reply(Reply::new(550, (5, 1, 1), format!("no mailbox for {to}")))
            }
            RcptDecision::Accept(destination) => {
                t.recipients.push(Recipient {
                    address: to,
                    destination,
                });
                self.reply(Reply::new(250, (2, 1, 5), "recipient ok"));
            }
            RcptDecision::Reject(reply) => self.reply(reply),
        }
    }

    fn data(&mut self) {
        if self.chunks.is_some() {
            // RFC 3030 §3: DATA and BDAT do not mix in one transaction.
            return self.bad(Reply::new(503, (5, 5, 1), "DATA after BDAT"));
        }
        match &self.transaction {
            None => self.bad(Reply::new(503, (5, 5, 1), "send MAIL first")),
            Some(t) if t.recipients.is_empty() => {
                self.reply(Reply::new(554, (5, 5, 1), "no valid recipients"))
            }
            Some(_) => {
                self.phase = Phase::Data(DataReader::new(self.config.max_message_size));
                self.reply(Reply::plain(
                    354,
                    vec!["end data with <CR><LF>.<CR><LF>".into()],
                ));
            }
        }
    }

    fn end_of_data(&mut self) {
        let Phase::Data(reader) = std::mem::replace(&mut self.phase, Phase::Command) else {
            return;
        };
        self.message_complete(reader.too_large(), reader.bare_line_ending);
    }

    /// The whole message has arrived (DATA's end, or the last BDAT chunk): deliver it, or say
    /// why not.
    fn message_complete(&mut self, too_large: bool, bare_line_ending: bool) {
        self.chunks = None;
        let Some(transaction) = self.transaction.take() else {
            self.actions.push_back(Action::DiscardData);
            return;
        };
        if too_large {
            self.actions.push_back(Action::DiscardData);
            let text = format!(
                "message larger than the maximum of {} bytes",
                self.config.max_message_size
            );
            self.reply(Reply::new(552, (5, 3, 4), text));
        } else if bare_line_ending {
            self.actions.push_back(Action::DiscardData);
            self.reply(Reply::new(
                554,
                (5, 6, 0),
                "bare CR or LF in message: lines must end in CRLF (RFC 5321 §2.3.8)",
            ));
        } else {
            self.phase = Phase::Waiting;
            self.actions.push_back(Action::Deliver(transaction));
        }
    }

    /// The outcome of an [`Action::Deliver`]: the reply to the end of data.
    pub fn delivery_result(&mut self, reply: Reply) {
        if matches!(self.phase, Phase::Waiting) {
            self.phase = Phase::Command;
        }
        self.reply(reply);
    }

    fn starttls(&mut self) {
        if !self.config.starttls_available || self.tls {
            return self.bad(Reply::new(502, (5, 5, 1), "STARTTLS not available"));
        }
        // Anything pipelined after STARTTLS was sent in plain text: drop it (CVE-2011-0411).
        self.input.clear();
        self.reply(Reply::new(220, (2, 0, 0), "ready to start TLS"));
        self.phase = Phase::Waiting;
        self.actions.push_back(Action::StartTls);
    }

    /// TLS is established: the session starts over (RFC 3207 §4.2). `bindings` are the
    /// connection's channel bindings, for SCRAM-*-PLUS.
    pub fn tls_started(&mut self, bindings: Vec<sasl::ChannelBinding>) {
        self.tls = true;
        self.channel_bindings = bindings;
        self.config.auth_allowed = true;
        self.helo = None;
        self.esmtp = false;
        self.transaction = None;
        self.chunks = None;
        self.input.clear();
        self.phase = Phase::Command;
    }
}

#[cfg(test)]
mod tests;
