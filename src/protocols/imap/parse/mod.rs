//! IMAP command parsing (RFC 9051 §9 grammar): a complete command's bytes (from the
//! [`super::receiver::Receiver`]) into a typed [`Command`]. Never panics on any input.

mod cursor;
mod fetch;
mod mailbox;
mod message;
mod search;
mod store;

pub use mailbox::{ListCommand, Qresync, SelectCommand, StatusItem};
pub use message::{AppendMessage, parse_date_time};

use cursor::{Cursor, PResult};

use super::types::{FetchItem, SearchKey, SearchReturn, SeqSet, StoreAction};
use crate::store::Flags;

/// ID fields (RFC 2971): names and values (NIL values as None).
pub type IdFields = Vec<(String, Option<String>)>;

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
    /// AUTHENTICATE mechanism [initial-response] (SASL-IR, RFC 4959): the response as sent,
    /// base64 or "=".
    Authenticate {
        mechanism: String,
        initial: Option<String>,
    },
    /// ENABLE (RFC 5161): the capability names, upper-cased.
    Enable(Vec<String>),
    /// ID (RFC 2971): the client's fields, or None for NIL.
    Id(Option<IdFields>),
    Namespace,
    Idle,
    /// COMPRESS (RFC 4978): the mechanism, upper-cased.
    Compress(String),
    Check,
    /// SELECT and EXAMINE.
    Select(SelectCommand),
    Create {
        mailbox: String,
        /// CREATE-SPECIAL-USE (RFC 6154 §3): the attributes asked for, e.g. `\Drafts`.
        special_use: Vec<String>,
    },
    Delete {
        mailbox: String,
    },
    Rename {
        from: String,
        to: String,
    },
    Subscribe {
        mailbox: String,
    },
    Unsubscribe {
        mailbox: String,
    },
    List(ListCommand),
    Status {
        mailbox: String,
        items: Vec<StatusItem>,
    },
    Append {
        mailbox: String,
        messages: Vec<AppendMessage>,
    },
    Copy {
        uid: bool,
        set: SeqSet,
        mailbox: String,
    },
    Move {
        uid: bool,
        set: SeqSet,
        mailbox: String,
    },
    /// UID EXPUNGE (RFC 4315 §2.1).
    UidExpunge(SeqSet),
    Fetch {
        uid: bool,
        set: SeqSet,
        items: Vec<FetchItem>,
        changed_since: Option<u64>,
        /// UID FETCH (CHANGEDSINCE n VANISHED): report expunges since n too (RFC 7162 §3.2.6).
        vanished: bool,
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

impl From<&str> for Failure {
    fn from(message: &str) -> Failure {
        Failure::Bad(message.to_string())
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
            "CHECK" => CommandKind::Check,
            "NAMESPACE" => CommandKind::Namespace,
            "IDLE" => CommandKind::Idle,
            "LOGIN" => {
                self.sp()?;
                let username = self.astring()?;
                self.sp()?;
                let password = self.astring()?;
                CommandKind::Login { username, password }
            }
            "AUTHENTICATE" => {
                self.sp()?;
                let mechanism = self.atom()?.to_ascii_uppercase();
                let initial = if self.take(b' ') {
                    let r = self.take_while(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b));
                    if r.is_empty() {
                        return Err("invalid initial response".into());
                    }
                    Some(String::from_utf8_lossy(r).into_owned())
                } else {
                    None
                };
                CommandKind::Authenticate { mechanism, initial }
            }
            "ENABLE" => {
                let mut names = Vec::new();
                while self.take(b' ') {
                    names.push(self.atom()?.to_ascii_uppercase());
                }
                if names.is_empty() {
                    return Err("ENABLE needs a capability".into());
                }
                CommandKind::Enable(names)
            }
            "ID" => {
                self.sp()?;
                CommandKind::Id(self.id_params()?)
            }
            "COMPRESS" => {
                self.sp()?;
                CommandKind::Compress(self.atom()?.to_ascii_uppercase())
            }
            "SELECT" => self.select(false)?,
            "EXAMINE" => self.select(true)?,
            "CREATE" => self.create()?,
            "DELETE" => {
                self.sp()?;
                CommandKind::Delete {
                    mailbox: self.mailbox()?,
                }
            }
            "RENAME" => {
                self.sp()?;
                let from = self.mailbox()?;
                self.sp()?;
                let to = self.mailbox()?;
                CommandKind::Rename { from, to }
            }
            "SUBSCRIBE" => {
                self.sp()?;
                CommandKind::Subscribe {
                    mailbox: self.mailbox()?,
                }
            }
            "UNSUBSCRIBE" => {
                self.sp()?;
                CommandKind::Unsubscribe {
                    mailbox: self.mailbox()?,
                }
            }
            "LIST" => self.list(false)?,
            "LSUB" => self.list(true)?,
            "STATUS" => self.status()?,
            "APPEND" => self.append()?,
            "FETCH" => self.fetch(false)?,
            "STORE" => self.store(false)?,
            "COPY" => self.copy_or_move(false, false)?,
            "MOVE" => self.copy_or_move(false, true)?,
            "SEARCH" => self.search(false)?,
            "UID" => {
                self.sp()?;
                match self.keyword()?.as_str() {
                    "FETCH" => self.fetch(true)?,
                    "STORE" => self.store(true)?,
                    "COPY" => self.copy_or_move(true, false)?,
                    "MOVE" => self.copy_or_move(true, true)?,
                    "EXPUNGE" => {
                        self.sp()?;
                        CommandKind::UidExpunge(self.seq_set()?)
                    }
                    "SEARCH" => self.search(true)?,
                    other => return Err(format!("unknown UID command {other}").into()),
                }
            }
            other => return Err(format!("unknown command {other}").into()),
        };
        self.end()?;
        Ok(kind)
    }

    /// `NIL` or `("key" "value" ...)` (RFC 2971 §3.1), at most 30 pairs.
    fn id_params(&mut self) -> PResult<Option<IdFields>> {
        if self.take_nil() {
            return Ok(None);
        }
        self.expect(b'(')?;
        let mut fields = Vec::new();
        while !self.take(b')') {
            if fields.len() >= 30 {
                return Err("too many ID fields".into());
            }
            let key = String::from_utf8_lossy(&self.string_bytes()?).into_owned();
            self.sp()?;
            let value = if self.take_nil() {
                None
            } else {
                Some(String::from_utf8_lossy(&self.string_bytes()?).into_owned())
            };
            fields.push((key, value));
            self.take(b' ');
        }
        Ok(Some(fields))
    }
}

#[cfg(test)]
mod tests;
