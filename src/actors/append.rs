//! Turning messages handed over by clients (IMAP APPEND, `moxctl import`) into messages for the
//! account actor, parsing large ones on the blocking pool.

use crate::store::incoming::IncomingMessage;
use crate::store::{NewMessage, StoreError};

/// Messages up to this size in total are parsed on the caller's thread.
const INLINE_PARSE_LIMIT: usize = 128 * 1024;

/// Parses `messages` for [`super::account::AppendMessages`], off the arbiter when they are large.
pub async fn prepare(messages: Vec<IncomingMessage>) -> Result<Vec<NewMessage>, StoreError> {
    let total: usize = messages.iter().map(|m| m.data.len()).sum();
    if total <= INLINE_PARSE_LIMIT {
        return Ok(messages
            .into_iter()
            .map(IncomingMessage::into_new_message)
            .collect());
    }
    let parse = move || {
        messages
            .into_iter()
            .map(IncomingMessage::into_new_message)
            .collect::<Vec<_>>()
    };
    actix_rt::task::spawn_blocking(parse)
        .await
        .map_err(|e| StoreError::CommitFailed(e.to_string()))
}
