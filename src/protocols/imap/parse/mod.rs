//! IMAP command parsing (RFC 9051 §9 grammar): a complete command's bytes (from the
//! [`super::receiver::Receiver`]) into a typed [`Command`]. Never panics on any input.

mod cursor;
mod fetch;
mod search;
mod store;

use cursor::{Cursor, PResult};

use super::types::{FetchItem, SearchKey, SearchReturn, SeqSet, StoreAction};
use crate::store::Flags;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub tag: String,
    pub kind: CommandKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandKind {
    Capability,
    Noop,
    Logout,
    StartTls,
    Login {
        username: String,
        password: String,
    },
    Select {
        mailbox: String,
        condstore: bool,
    },
    Examine {
        mailbox: String,
        condstore: bool,
    },
    Fetch {
        uid: bool,
        set: SeqSet,
        items: Vec<FetchItem>,
        changed_since: Option<u64>,
    },
    Store(StoreCommand),
    Search(SearchCommand),
    Expunge,
    Close,
    Unselect,
}

/// STORE and UID STORE (RFC 9051 §6.4.6, RFC 7162 §3.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreCommand {
    pub uid: bool,
    pub set: SeqSet,
    pub unchanged_since: Option<u64>,
    pub action: StoreAction,
    /// FLAGS.SILENT: no FETCH responses for the change.
    pub silent: bool,
    pub flags: Flags,
    pub keywords: Vec<String>,
}

/// SEARCH and UID SEARCH (RFC 9051 §6.4.4, RFC 4731 ESEARCH, RFC 5182 SAVE and `$`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchCommand {
    pub uid: bool,
    /// The RETURN options; `None` when the command had no RETURN. Then an IMAP4rev1 client gets
    /// the classic `* SEARCH` response and an IMAP4rev2 client an ESEARCH with ALL
    /// (RFC 9051 §6.4.4). `RETURN ()` is read as `RETURN (ALL)` (RFC 4731 §3.1).
    pub ret: Option<SearchReturn>,
    /// The criteria: several keys in a row are one [`SearchKey::And`].
    pub key: SearchKey,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    /// The tag, when one could be read ("*" otherwise).
    pub tag: String,
    pub message: String,
    pub kind: ParseErrorKind,
}

/// How a command that could not be parsed is answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// `tag BAD message`.
    #[default]
    Bad,
    /// A SEARCH with a CHARSET moxide does not know: `tag NO [BADCHARSET (UTF-8 US-ASCII)]`
    /// (RFC 9051 §6.4.4, §7.1).
    BadCharset,
}

impl ParseError {
    /// The tagged response line, CRLF included.
    pub fn response(&self) -> String {
        match self.kind {
            ParseErrorKind::Bad => format!("{} BAD {}\r\n", self.tag, self.message),
            ParseErrorKind::BadCharset => format!(
                "{} NO [BADCHARSET (UTF-8 US-ASCII)] {}\r\n",
                self.tag, self.message
            ),
        }
    }
}

/// Why a command failed to parse, inside the parser: most failures are a BAD with a message
/// (the `String` errors of [`PResult`], converted by `?`).
enum Failure {
    Bad(String),
    BadCharset(String),
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure::Bad(message)
    }
}

/// Parses one complete command.
pub fn parse_command(input: &[u8]) -> Result<Command, ParseError> {
    let mut c = Cursor { input, pos: 0 };
    let tag = c.tag().map_err(|message| ParseError {
        tag: "*".into(),
        message,
        kind: ParseErrorKind::Bad,
    })?;
    let kind = c.command().map_err(|failure| {
        let (kind, message) = match failure {
            Failure::Bad(m) => (ParseErrorKind::Bad, m),
            Failure::BadCharset(m) => (ParseErrorKind::BadCharset, m),
        };
        ParseError {
            tag: tag.clone(),
            message,
            kind,
        }
    })?;
    Ok(Command { tag, kind })
}

impl Cursor<'_> {
    fn command(&mut self) -> Result<CommandKind, Failure> {
        let name = self.keyword()?;
        let kind = match name.as_str() {
            "CAPABILITY" => CommandKind::Capability,
            "NOOP" => CommandKind::Noop,
            "LOGOUT" => CommandKind::Logout,
            "STARTTLS" => CommandKind::StartTls,
            "EXPUNGE" => CommandKind::Expunge,
            "CLOSE" => CommandKind::Close,
            "UNSELECT" => CommandKind::Unselect,
            "LOGIN" => {
                self.sp()?;
                let username = self.astring()?;
                self.sp()?;
                let password = self.astring()?;
                CommandKind::Login { username, password }
            }
            "SELECT" | "EXAMINE" => {
                self.sp()?;
                let mailbox = self.mailbox()?;
                let condstore = self.select_params()?;
                if name == "SELECT" {
                    CommandKind::Select { mailbox, condstore }
                } else {
                    CommandKind::Examine { mailbox, condstore }
                }
            }
            "FETCH" => self.fetch(false)?,
            "STORE" => self.store(false)?,
            "SEARCH" => self.search(false)?,
            "UID" => {
                self.sp()?;
                match self.keyword()?.as_str() {
                    "FETCH" => self.fetch(true)?,
                    "STORE" => self.store(true)?,
                    "SEARCH" => self.search(true)?,
                    other => return Err(format!("unknown UID command {other}").into()),
                }
            }
            other => return Err(format!("unknown command {other}").into()),
        };
        self.end()?;
        Ok(kind)
    }

    /// `[SP "(" "CONDSTORE" ")"]` (RFC 7162 §3.1.8).
    fn select_params(&mut self) -> PResult<bool> {
        if !self.take(b' ') {
            return Ok(false);
        }
        self.expect(b'(')?;
        match self.keyword()?.as_str() {
            "CONDSTORE" => {}
            other => return Err(format!("unsupported SELECT parameter {other}")),
        }
        self.expect(b')')?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests;
