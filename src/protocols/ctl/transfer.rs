//! What `moxctl import` and `export` stream (see [`super::stream`]): a JSON piece describing a
//! message, then its bytes as data pieces, exactly `size` of them in total.
//!
//! Import (moxctl sends): an [`ImportMessage`] and its data, for each message, then End; the
//! daemon answers with a [`super::Response`] once everything it read is stored.
//!
//! Export (the daemon sends): an [`ExportPiece::Summary`] first, then for each mailbox an
//! [`ExportPiece::Mailbox`] followed by an [`ExportPiece::Message`] and its data for each of its
//! messages, then End.

use serde::{Deserialize, Serialize};

use crate::store::Flags;

/// Largest message import and export carry (larger ones in an mbox or Maildir are reported and
/// skipped by moxctl).
pub const MAX_MESSAGE: u64 = 100 << 20;

/// A message moxctl imports; its `size` bytes follow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportMessage {
    /// IMAP names of system flags (`\Seen`, `$Junk`...).
    pub flags: Vec<String>,
    pub keywords: Vec<String>,
    /// Received time (INTERNALDATE), seconds since the epoch; None for the time of import.
    pub received: Option<i64>,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "piece", rename_all = "lowercase")]
pub enum ExportPiece {
    /// What is coming, for a progress bar.
    Summary {
        mailboxes: u64,
        messages: u64,
        bytes: u64,
    },
    /// The messages that follow are in this mailbox (until the next Mailbox piece).
    Mailbox { name: String },
    /// A message; its `size` bytes follow.
    Message {
        id: u64,
        flags: Vec<String>,
        keywords: Vec<String>,
        received: i64,
        size: u64,
    },
}

/// `moxctl retrain`'s progress: `done` of `total` messages of `account` trained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetrainProgress {
    pub account: String,
    pub done: u64,
    pub total: u64,
}

/// The IMAP names of `flags`.
pub fn flag_names(flags: Flags) -> Vec<String> {
    flags.names().map(str::to_string).collect()
}

/// Flags from their names; unknown names are returned apart (they are keywords).
pub fn flags_from_names(names: &[String]) -> (Flags, Vec<String>) {
    let mut flags = Flags::empty();
    let mut other = Vec::new();
    for name in names {
        match Flags::from_name(name) {
            Some(f) => flags = flags.union(f),
            None => other.push(name.clone()),
        }
    }
    (flags, other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_by_name_round_trip() {
        let flags = Flags::SEEN.union(Flags::JUNK).union(Flags::DRAFT);
        let names = flag_names(flags);
        assert_eq!(flags_from_names(&names), (flags, Vec::new()));
        let (f, other) = flags_from_names(&["\\seen".into(), "custom".into()]);
        assert_eq!((f, other), (Flags::SEEN, vec!["custom".to_string()]));
    }
}
