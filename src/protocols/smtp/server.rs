//! The SMTP server session as a sans-IO state machine: feed it received bytes, poll it for
//! [`Action`]s (replies to send, message bytes to spool, a transaction to deliver, credentials to
//! verify, TLS to start), and tell it the outcome of the actions that need the caller.

use std::collections::VecDeque;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::command::{Command, CommandError, MailParams, parse_command};
use super::data::DataReader;
use super::reply::Reply;
use crate::address::Address;
use crate::protocols::sasl::{self, Credentials, Next, ServerMechanism};

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

/// The decision on one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcptDecision {
    /// Local delivery into this account.
    Local {
        account: String,
    },
    Reject(Reply),
}

/// Decisions the session takes from outside (configuration, later reputation).
pub trait Policy {
    fn recipient(&self, rcpt: &Address, authenticated: Option<&str>) -> RcptDecision;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub address: Address,
    pub account: String,
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
        matches!(self.phase, Phase::Data(_))
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
                    line.pop();
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    if line.len() >= MAX_LINE {
                        self.bad(Reply::new(500, (5, 5, 2), "line too long"));
                        continue;
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
                let reply = self.ehlo_reply();
                self.reply(reply);
            }
            Command::Helo(name) => {
                self.helo = Some(name);
                self.esmtp = false;
                self.transaction = None;
                let text = self.config.hostname.clone();
                self.reply(Reply::plain(250, vec![text]));
            }
            Command::Mail { from, params, utf8 } => self.mail(from, params, utf8),
            Command::Rcpt { to, utf8 } => self.rcpt(to, utf8, policy),
            Command::Data => self.data(),
            Command::Rset => {
                self.transaction = None;
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
                "see RFC 5321; commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT",
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
        ];
        if self.config.starttls_available && !self.tls {
            lines.push("STARTTLS".into());
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

    fn mail(&mut self, from: Option<Address>, params: MailParams, utf8: bool) {
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
        if (params.smtputf8 || params.body_8bit) && !self.esmtp {
            return self.bad(Reply::new(501, (5, 5, 4), "parameters need EHLO"));
        }
        if utf8 && !params.smtputf8 {
            // RFC 6531 §3.4.
            return self.reply(Reply::new(
                553,
                (5, 6, 7),
                "non-ASCII address needs the SMTPUTF8 parameter",
            ));
        }
        self.transaction = Some(Transaction {
            mail_from: from,
            params,
            recipients: Vec::new(),
        });
        self.reply(Reply::new(250, (2, 1, 0), "sender ok"));
    }

    fn rcpt(&mut self, to: Address, utf8: bool, policy: &dyn Policy) {
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
        match policy.recipient(&to, authenticated.as_deref()) {
            RcptDecision::Local { account } => {
                t.recipients.push(Recipient {
                    address: to,
                    account,
                });
                self.reply(Reply::new(250, (2, 1, 5), "recipient ok"));
            }
            RcptDecision::Reject(reply) => self.reply(reply),
        }
    }

    fn data(&mut self) {
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
        let Some(transaction) = self.transaction.take() else {
            self.actions.push_back(Action::DiscardData);
            return;
        };
        if reader.too_large() {
            self.actions.push_back(Action::DiscardData);
            let text = format!(
                "message larger than the maximum of {} bytes",
                self.config.max_message_size
            );
            self.reply(Reply::new(552, (5, 3, 4), text));
        } else if reader.bare_line_ending {
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
        self.input.clear();
        self.phase = Phase::Command;
    }

    fn auth(&mut self, mechanism: &str, initial: Option<String>) {
        if !self.config.submission {
            return self.bad(Reply::new(
                503,
                (5, 5, 1),
                "authentication not available here",
            ));
        }
        if self.authenticated.is_some() {
            return self.bad(Reply::new(503, (5, 5, 1), "already authenticated"));
        }
        if self.transaction.is_some() {
            return self.bad(Reply::new(503, (5, 5, 1), "not during a transaction"));
        }
        if !self.config.auth_allowed {
            return self.reply(Reply::new(
                538,
                (5, 7, 11),
                "encryption required: use STARTTLS first",
            ));
        }
        let context = sasl::ServerContext {
            hostname: self.config.hostname.clone(),
            channel_bindings: self.channel_bindings.clone(),
            fake_salt_key: self.config.sasl_key,
        };
        let mut mech = match ServerMechanism::start(mechanism, &context) {
            Ok(m) => m,
            Err(e) => return self.bad(Reply::new(504, (5, 5, 4), e.to_string())),
        };
        // RFC 4954 §4: "=" is an empty initial response.
        let initial = match initial.as_deref() {
            None => None,
            Some("=") => Some(Vec::new()),
            Some(b64) => match BASE64.decode(b64) {
                Ok(v) => Some(v),
                Err(_) => return self.bad(Reply::new(501, (5, 5, 2), "invalid base64")),
            },
        };
        let next = mech.step(initial.as_deref());
        self.auth_next(mech, next);
    }

    fn auth_next(&mut self, mech: ServerMechanism, next: Result<Next, sasl::SaslError>) {
        let next = match next {
            Ok(next) => next,
            Err(e) => {
                self.pending_account = None;
                if e.is_credentials() {
                    self.actions
                        .push_back(Action::AuthFinished { success: false });
                    return self.bad(Reply::new(
                        535,
                        (5, 7, 8),
                        "authentication credentials invalid",
                    ));
                }
                return self.bad(Reply::new(501, (5, 5, 2), e.to_string()));
            }
        };
        match next {
            Next::Challenge(c) => {
                self.reply(Reply::plain(334, vec![BASE64.encode(c)]));
                self.phase = Phase::Auth(mech);
            }
            Next::Verify(credentials) => {
                // RFC 4616 §2: acting as another identity is not allowed.
                if credentials
                    .authzid
                    .as_ref()
                    .is_some_and(|z| *z != credentials.username)
                {
                    return self.bad(Reply::new(
                        535,
                        (5, 7, 8),
                        "acting as another user is not allowed",
                    ));
                }
                self.phase = Phase::Waiting;
                self.actions.push_back(Action::Authenticate(credentials));
            }
            Next::NeedSecrets { username } => {
                self.phase = Phase::AwaitSecrets(mech);
                self.actions.push_back(Action::NeedSecrets { username });
            }
            Next::Authenticated { username, authzid } => {
                let account = self.pending_account.take();
                let allowed = authzid.is_none_or(|z| z == username);
                self.actions.push_back(Action::AuthFinished {
                    success: allowed && account.is_some(),
                });
                match account {
                    Some(account) if allowed => {
                        self.auth_result(AuthOutcome::Authenticated(account))
                    }
                    _ => self.auth_result(AuthOutcome::Invalid),
                }
            }
        }
    }

    /// The answer to an [`Action::NeedSecrets`].
    pub fn secrets_result(&mut self, lookup: SecretsLookup) {
        let Phase::AwaitSecrets(mut mech) = std::mem::replace(&mut self.phase, Phase::Command)
        else {
            return;
        };
        let secrets = match lookup {
            SecretsLookup::Found { account, secrets } => {
                self.pending_account = Some(account);
                Some(*secrets)
            }
            SecretsLookup::Unknown => None,
            SecretsLookup::TryLater => return self.auth_result(AuthOutcome::TryLater),
        };
        let next = mech.supply_secrets(secrets.as_ref());
        self.auth_next(mech, next);
    }

    fn auth_response(&mut self, line: &[u8]) {
        let Phase::Auth(mut mech) = std::mem::replace(&mut self.phase, Phase::Command) else {
            return;
        };
        if line == b"*" {
            return self.reply(Reply::new(501, (5, 0, 0), "authentication cancelled"));
        }
        let Ok(decoded) = BASE64.decode(line) else {
            return self.bad(Reply::new(501, (5, 5, 2), "invalid base64"));
        };
        let next = mech.step(Some(&decoded));
        self.auth_next(mech, next);
    }

    /// The outcome of an [`Action::Authenticate`].
    pub fn auth_result(&mut self, outcome: AuthOutcome) {
        self.phase = Phase::Command;
        match outcome {
            AuthOutcome::Authenticated(account) => {
                self.authenticated = Some(account);
                self.reply(Reply::new(235, (2, 7, 0), "authentication successful"));
            }
            // RFC 4954 §6.
            AuthOutcome::Invalid => self.bad(Reply::new(
                535,
                (5, 7, 8),
                "authentication credentials invalid",
            )),
            AuthOutcome::TryLater => self.reply(Reply::new(
                454,
                (4, 7, 0),
                "too many failed authentications from your address, try again later",
            )),
        }
    }
}

#[cfg(test)]
mod tests;
