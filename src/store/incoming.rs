//! A message a client hands over to be stored as it is (IMAP APPEND, `moxctl import`), and how it
//! becomes a [`NewMessage`]: its part tree parsed once, its flags and INTERNALDATE kept.

use std::sync::Arc;

use super::files::MessageSource;
use super::{Content, Flags, NewMessage, parts};

/// The bytes of a message and what to set on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingMessage {
    pub data: Vec<u8>,
    pub flags: Flags,
    pub keywords: Vec<String>,
    /// INTERNALDATE, seconds since the epoch; None for now.
    pub received: Option<i64>,
}

impl IncomingMessage {
    /// Parses the part tree. Blocking for large messages: see [`crate::actors::append::prepare`].
    pub fn into_new_message(self) -> NewMessage {
        let data = Arc::new(self.data);
        NewMessage {
            content: Content {
                prefix: Vec::new(),
                file_size: data.len() as u64,
                parts: parts::parse(&data),
            },
            source: MessageSource::Bytes(data),
            flags: self.flags,
            keywords: self.keywords,
            received: self.received.unwrap_or_else(super::account::now),
        }
    }
}
