//! IMAP command parsing (RFC 9051 §9 grammar): a complete command's bytes (from the
//! [`super::receiver::Receiver`]) into a typed [`Command`]. Never panics on any input.

mod cursor;
mod fetch;
mod store;

use cursor::{Cursor, PResult};

use super::types::{FetchItem, SeqSet, StoreAction};
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

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    /// The tag, when one could be read ("*" otherwise).
    pub tag: String,
    pub message: String,
}

/// Parses one complete command.
pub fn parse_command(input: &[u8]) -> Result<Command, ParseError> {
    let mut c = Cursor { input, pos: 0 };
    let tag = c.tag().map_err(|message| ParseError {
        tag: "*".into(),
        message,
    })?;
    let kind = c.command().map_err(|message| ParseError {
        tag: tag.clone(),
        message,
    })?;
    Ok(Command { tag, kind })
}

impl Cursor<'_> {
    fn command(&mut self) -> PResult<CommandKind> {
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
            "UID" => {
                self.sp()?;
                match self.keyword()?.as_str() {
                    "FETCH" => self.fetch(true)?,
                    "STORE" => self.store(true)?,
                    other => return Err(format!("unknown UID command {other}")),
                }
            }
            other => return Err(format!("unknown command {other}")),
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
