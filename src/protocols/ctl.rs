//! The control protocol between `moxctl` and the daemon, over the Unix socket in the data
//! directory: frames of a 4-byte big-endian length and a JSON document, a request answered by a
//! response; commands that move large data stream it in chunks (`frame.rs` has the frame kinds,
//! `stream.rs` the flow control, `transfer.rs` import and export).

pub mod frame;
#[cfg(test)]
mod rendezvous;
pub mod stream;
pub mod transfer;

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::store::queue::QueueEntry;

/// Largest JSON frame accepted.
pub const MAX_FRAME: usize = frame::MAX_JSON;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "lowercase")]
pub enum Request {
    /// Version, uptime, open accounts, counters.
    Status,
    /// Lists the configured accounts.
    Accounts,
    SetPassword {
        account: String,
        password: String,
    },
    /// Reloads the dynamic configuration now.
    Reload,
    /// Lists the outgoing queue (see [`queue_listing`]).
    QueueList,
    /// Adds an account with its first address (domains.toml).
    AccountAdd {
        name: String,
        address: String,
    },
    /// Removes an account from domains.toml; its data is moved aside, not deleted.
    AccountRemove {
        name: String,
    },
    AddressAdd {
        address: String,
        account: String,
    },
    AddressRemove {
        address: String,
    },
    /// Lists the configured domains.
    Domains,
    /// Adds a domain with new DKIM keys (ed25519 and RSA-2048); answers the DNS records.
    DomainAdd {
        domain: String,
    },
    DomainRemove {
        domain: String,
    },
    /// Makes queue entries due now: one, or all when `id` is None.
    QueueKick {
        id: Option<u64>,
    },
    /// Removes a queue entry without delivering it.
    QueueDrop {
        id: u64,
    },
    /// A consistent snapshot of the running server into `dest` (absolute; must not exist).
    Backup {
        dest: String,
    },
    /// Sets the log level (or filter) of the running daemon.
    LogLevel {
        level: String,
    },
    /// Messages into `mailbox` of `account` (created when missing): answered Ok when the
    /// daemon is ready, then moxctl streams [`transfer::ImportMessage`]s, each followed by its
    /// data; the final answer says how many were stored.
    Import {
        account: String,
        mailbox: String,
    },
    /// The messages of `account` (of one mailbox, or all): answered Ok, then the daemon streams
    /// [`transfer::ExportPiece`]s, each message followed by its data.
    Export {
        account: String,
        mailbox: Option<String>,
    },
    /// The message of a queue entry as it will be sent: answered Ok, then the daemon streams
    /// its data.
    QueueDump {
        id: u64,
    },
    /// Rebuilds the junk filter of an account (or all) from the messages' flags: answered Ok,
    /// then the daemon streams [`transfer::RetrainProgress`] pieces.
    Retrain {
        account: Option<String>,
    },
    /// The state of an account's junk filter.
    JunkStats {
        account: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "lowercase")]
pub enum Response {
    /// Success, with text for the user (may be empty).
    Ok {
        output: String,
    },
    Error {
        message: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    #[error("frame of {0} bytes is over the limit")]
    TooLarge(usize),
    #[error("malformed message: {0}")]
    Json(#[from] serde_json::Error),
    #[error("unexpected frame: {0}")]
    Unexpected(String),
}

pub async fn write_frame<T: Serialize>(
    w: &mut (impl AsyncWrite + Unpin),
    value: &T,
) -> Result<(), FrameError> {
    frame::write(w, &frame::Frame::Json(serde_json::to_vec(value)?)).await
}

/// Reads one JSON frame; None at a clean end of the connection.
pub async fn read_frame<T: for<'de> Deserialize<'de>>(
    r: &mut (impl AsyncRead + Unpin),
) -> Result<Option<T>, FrameError> {
    match frame::read(r).await? {
        None => Ok(None),
        Some(frame::Frame::Json(body)) => Ok(Some(serde_json::from_slice(&body)?)),
        Some(other) => Err(FrameError::Unexpected(format!(
            "{} where a message belongs",
            other.name()
        ))),
    }
}

/// The text of `moxctl queue list`: one line per entry, in queueing order, fields separated by
/// two spaces (a stable format, for people and scripts):
///
/// `ID  CREATED  ATTEMPTS  NEXT  SIZE  <FROM> -> <RCPT>[  error: LAST ERROR]`
///
/// CREATED and NEXT (the next attempt) are RFC 3339 in UTC (`2023-11-14T22:13:20Z`), SIZE is in
/// bytes as sent (prefix and file), FROM is empty (`<>`) for a null reverse path, and the last
/// error appears once an attempt failed. Control characters in the text fields become spaces, so
/// an entry is always one line. An empty queue is the line `queue is empty`.
pub fn queue_listing(entries: &[QueueEntry]) -> String {
    if entries.is_empty() {
        return "queue is empty\n".into();
    }
    let mut out = String::new();
    for e in entries {
        out.push_str(&format!(
            "{}  {}  {}  {}  {}  <{}> -> <{}>",
            e.id,
            rfc3339(e.created),
            e.attempts,
            rfc3339(e.next_attempt),
            e.size,
            one_line(&e.mail_from),
            one_line(&e.recipient),
        ));
        if let Some(error) = &e.last_error {
            out.push_str("  error: ");
            out.push_str(&one_line(error));
        }
        out.push('\n');
    }
    out
}

fn rfc3339(unix: i64) -> String {
    mail_parser::DateTime::from_timestamp(unix).to_rfc3339()
}

fn one_line(s: &str) -> Cow<'_, str> {
    if s.chars().any(char::is_control) {
        Cow::Owned(
            s.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{QueueFileId, QueueId};
    use tokio::io::AsyncWriteExt;

    #[test]
    fn queue_listing_is_one_line_per_entry() {
        assert_eq!(queue_listing(&[]), "queue is empty\n");
        let fresh = QueueEntry {
            id: QueueId(7),
            file: QueueFileId(3),
            account: "mox".into(),
            mail_from: "mox@localhost".into(),
            recipient: "ünï@møx.example".into(),
            recipient_domain_ascii: "xn--mx-lka.example".into(),
            smtputf8: true,
            requiretls: None,
            created: 1_700_000_000,
            next_attempt: 1_700_000_000,
            attempts: 0,
            last_attempt: None,
            last_error: None,
            size: 1234,
            prefix: Vec::new(),
            message_id: "<a@b>".into(),
        };
        let failed = QueueEntry {
            id: QueueId(8),
            mail_from: String::new(),
            recipient: "x@example.org".into(),
            attempts: 2,
            next_attempt: 1_700_003_600,
            last_attempt: Some(1_700_000_900),
            last_error: Some("451 4.7.1 greylisted,\r\n try later".into()),
            ..fresh.clone()
        };
        assert_eq!(
            queue_listing(&[fresh, failed]),
            "7  2023-11-14T22:13:20Z  0  2023-11-14T22:13:20Z  1234  <mox@localhost> -> <ünï@møx.example>\n\
             8  2023-11-14T22:13:20Z  2  2023-11-14T23:13:20Z  1234  <> -> <x@example.org>  error: 451 4.7.1 greylisted,   try later\n"
        );
    }

    #[tokio::test]
    async fn frames_round_trip_and_limits() {
        let (mut a, mut b) = tokio::io::duplex(64);
        let req = Request::SetPassword {
            account: "mox".into(),
            password: "p w".into(),
        };
        let sent = req.clone();
        let writer = tokio::spawn(async move { write_frame(&mut a, &sent).await.unwrap() });
        assert_eq!(read_frame::<Request>(&mut b).await.unwrap(), Some(req));
        writer.await.unwrap();
        assert_eq!(read_frame::<Request>(&mut b).await.unwrap(), None);

        let (mut a, mut b) = tokio::io::duplex(64);
        a.write_all(&u32::MAX.to_be_bytes()).await.unwrap();
        assert!(matches!(
            read_frame::<Request>(&mut b).await,
            Err(FrameError::Unexpected(_))
        ));
        assert!(matches!(
            write_frame(&mut a, &"x".repeat(MAX_FRAME)).await,
            Err(FrameError::TooLarge(_))
        ));
        let (mut a, mut b) = tokio::io::duplex(64);
        a.write_all(&3u32.to_be_bytes()).await.unwrap();
        a.write_all(b"{x}").await.unwrap();
        assert!(matches!(
            read_frame::<Request>(&mut b).await,
            Err(FrameError::Json(_))
        ));
    }
}
