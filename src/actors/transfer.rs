//! The daemon's side of `moxctl import`, `export` and `queue dump`: streams over the control
//! connection (see [`crate::protocols::ctl::stream`]). Imported messages go to the account
//! actor in batches, like IMAP APPENDs, so sessions on the account keep working; exports read
//! a snapshot of the account, its message files held until the export is done.

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

use super::Services;
use super::account::{AppendMessages, CreateMailbox};
use super::append::prepare;
use super::registry::{AccountHandle, OpenAccount};
use crate::protocols::ctl::frame::MAX_CHUNK;
use crate::protocols::ctl::stream::{Piece, StreamError, StreamReceiver, StreamSender, json};
use crate::protocols::ctl::transfer::{
    ExportPiece, ImportMessage, MAX_MESSAGE, flag_names, flags_from_names,
};
use crate::protocols::ctl::{Response, write_frame};
use crate::store::incoming::IncomingMessage;
use crate::store::{AccountStore, QueueId, SpecialUse, StoreError};

/// Imported messages are stored in batches of at most this many bytes or messages.
const BATCH_BYTES: usize = 8 << 20;
const BATCH_MESSAGES: usize = 500;

/// How a streaming command ended: the connection can take the next request, or must close
/// (the stream broke, and the peer was told when it could be).
pub enum Outcome {
    Continue,
    Close,
}

pub(super) async fn answer(io: &mut (impl AsyncWrite + Unpin), response: Response) -> Outcome {
    match write_frame(io, &response).await {
        Ok(()) => Outcome::Continue,
        Err(_) => Outcome::Close,
    }
}

pub(super) async fn refuse(io: &mut (impl AsyncWrite + Unpin), message: String) -> Outcome {
    answer(io, Response::Error { message }).await
}

pub(super) fn ready() -> Response {
    Response::Ok {
        output: String::new(),
    }
}

pub(super) async fn open_account(
    services: &Services,
    account: &str,
) -> Result<AccountHandle, String> {
    if !services.config.dynamic().accounts.contains_key(account) {
        return Err(format!("no account {account:?}"));
    }
    services
        .registry
        .send(OpenAccount(account.to_string()))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

/// `moxctl import`: stores the streamed messages in `mailbox`, creating it when missing.
pub async fn import<S: AsyncRead + AsyncWrite + Unpin>(
    services: &Services,
    io: &mut S,
    account: String,
    mailbox: String,
) -> Outcome {
    let handle = match open_account(services, &account).await {
        Ok(h) => h,
        Err(e) => return refuse(io, e).await,
    };
    if let Err(e) = ensure_mailbox(&handle, &mailbox).await {
        return refuse(io, format!("mailbox {mailbox:?}: {e}")).await;
    }
    if let Outcome::Close = answer(io, ready()).await {
        return Outcome::Close;
    }
    let mut rx = StreamReceiver::new(io);
    let mut batch = Batch::default();
    let mut stored = 0u64;
    // Messages are stored as batches fill up, and the rest once the stream has ended.
    let mut ended = false;
    let mut failure = None;
    while failure.is_none() && !ended {
        match read_import_message(&mut rx).await {
            Ok(Some(message)) => batch.push(message),
            Ok(None) => ended = true,
            Err(e) => {
                tracing::warn!(account = %account, error = %e, "import stream failed");
                return Outcome::Close;
            }
        }
        if batch.is_full() || ended {
            match batch.store(&handle, &mailbox).await {
                Ok(n) => stored += n,
                Err(e) => failure = Some(e),
            }
        }
    }
    tracing::info!(account = %account, mailbox = %mailbox, stored, "messages imported");
    match failure {
        Some(e) => {
            let message = format!("storing messages failed after {stored} were imported: {e}");
            if ended {
                refuse(io, message).await
            } else {
                // In place of the Ack the sender waits for.
                rx.fail(&message).await;
                Outcome::Close
            }
        }
        None => {
            let output = format!("{stored} messages imported into {mailbox}\n");
            answer(io, Response::Ok { output }).await
        }
    }
}

async fn ensure_mailbox(handle: &AccountHandle, name: &str) -> Result<(), String> {
    let exists = handle
        .store
        .read()
        .and_then(|r| r.mailbox(name))
        .map_err(|e| e.to_string())?
        .is_some();
    if exists {
        return Ok(());
    }
    let created = handle
        .addr
        .send(CreateMailbox {
            name: name.to_string(),
            special_use: SpecialUse::NONE,
        })
        .await
        .map_err(|e| e.to_string())?;
    match created {
        Ok(_) | Err(StoreError::MailboxExists(_)) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// The next message of an import stream: its description and exactly its size in data; None
/// at the end of the stream.
async fn read_import_message<S: AsyncRead + AsyncWrite + Unpin>(
    rx: &mut StreamReceiver<'_, S>,
) -> Result<Option<IncomingMessage>, StreamError> {
    let header: ImportMessage = match rx.next().await? {
        Piece::End => return Ok(None),
        Piece::Json(body) => json(&body)?,
        Piece::Data(_) => return Err(violation(rx, "data without a message description").await),
    };
    if header.size > MAX_MESSAGE {
        let why = format!("message of {} bytes is over the limit", header.size);
        return Err(violation(rx, &why).await);
    }
    let mut data = Vec::with_capacity(header.size as usize);
    while (data.len() as u64) < header.size {
        match rx.next().await? {
            Piece::Data(chunk) if (data.len() + chunk.len()) as u64 <= header.size => {
                data.extend_from_slice(&chunk)
            }
            _ => return Err(violation(rx, "message data of the wrong size").await),
        }
    }
    let (flags, mut keywords) = flags_from_names(&header.flags);
    keywords.extend(header.keywords);
    Ok(Some(IncomingMessage {
        data,
        flags,
        keywords,
        received: header.received,
    }))
}

/// The peer broke the import protocol: tell it and end the stream.
async fn violation<S: AsyncRead + AsyncWrite + Unpin>(
    rx: &mut StreamReceiver<'_, S>,
    why: &str,
) -> StreamError {
    rx.fail(why).await;
    StreamError::Protocol(why.to_string())
}

#[derive(Default)]
struct Batch {
    messages: Vec<IncomingMessage>,
    bytes: usize,
}

impl Batch {
    fn push(&mut self, message: IncomingMessage) {
        self.bytes += message.data.len();
        self.messages.push(message);
    }

    fn is_full(&self) -> bool {
        self.bytes >= BATCH_BYTES || self.messages.len() >= BATCH_MESSAGES
    }

    /// Stores the batch (all or none) and empties it; answers how many were stored.
    async fn store(&mut self, handle: &AccountHandle, mailbox: &str) -> Result<u64, String> {
        if self.messages.is_empty() {
            return Ok(0);
        }
        let messages = std::mem::take(&mut self.messages);
        self.bytes = 0;
        let n = messages.len() as u64;
        let messages = prepare(messages).await.map_err(|e| e.to_string())?;
        handle
            .addr
            .send(AppendMessages {
                mailbox: mailbox.to_string(),
                messages,
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        Ok(n)
    }
}

/// A message to export, read from the snapshot.
struct Exported {
    id: u64,
    flags: Vec<String>,
    keywords: Vec<String>,
    received: i64,
    prefix: Vec<u8>,
    file_size: u64,
}

/// The mailboxes to export and their messages, from one read transaction.
fn snapshot(
    store: &AccountStore,
    only: Option<&str>,
) -> Result<Vec<(String, Vec<Exported>)>, String> {
    let reader = store.read().map_err(|e| e.to_string())?;
    let mut mailboxes = match only {
        Some(name) => vec![
            reader
                .mailbox(name)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no mailbox {name:?}"))?,
        ],
        None => reader.mailboxes().map_err(|e| e.to_string())?,
    };
    mailboxes.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = Vec::with_capacity(mailboxes.len());
    for mailbox in mailboxes {
        let mut messages = Vec::new();
        for message in reader.live(mailbox.id).map_err(|e| e.to_string())? {
            let message = message.map_err(|e| e.to_string())?;
            let content = reader
                .content(message.id)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("message {} has no content record", message.id.0))?;
            messages.push(Exported {
                id: message.id.0,
                flags: flag_names(message.flags),
                keywords: message.keywords,
                received: message.received,
                prefix: content.prefix,
                file_size: content.file_size,
            });
        }
        out.push((mailbox.name, messages));
    }
    Ok(out)
}

/// `moxctl export`: streams the messages of the account (or of one mailbox).
pub async fn export<S: AsyncRead + AsyncWrite + Unpin>(
    services: &Services,
    io: &mut S,
    account: String,
    mailbox: Option<String>,
) -> Outcome {
    let handle = match open_account(services, &account).await {
        Ok(h) => h,
        Err(e) => return refuse(io, e).await,
    };
    // Message files of messages expunged during the export stay until it is done.
    let _hold = handle.store.files().hold_removals();
    let store = handle.store.clone();
    let only = mailbox.clone();
    let listed = actix_rt::task::spawn_blocking(move || snapshot(&store, only.as_deref())).await;
    let mailboxes = match listed {
        Ok(Ok(m)) => m,
        Ok(Err(e)) => return refuse(io, e).await,
        Err(e) => return refuse(io, e.to_string()).await,
    };
    if let Outcome::Close = answer(io, ready()).await {
        return Outcome::Close;
    }
    let mut tx = StreamSender::new(io);
    match send_export(&mut tx, &handle.store, &mailboxes).await {
        Ok(()) => match tx.finish().await {
            Ok(()) => Outcome::Continue,
            Err(_) => Outcome::Close,
        },
        Err(ExportError::Stream(e)) => {
            tracing::warn!(account = %account, error = %e, "export stream failed");
            Outcome::Close
        }
        Err(ExportError::Local(why)) => {
            tracing::error!(account = %account, error = %why, "export failed");
            let _ = tx.fail(&why).await;
            Outcome::Close
        }
    }
}

enum ExportError {
    /// The stream broke: nothing more can be said.
    Stream(StreamError),
    /// Something here failed: the peer is told.
    Local(String),
}

impl From<StreamError> for ExportError {
    fn from(e: StreamError) -> ExportError {
        ExportError::Stream(e)
    }
}

async fn send_export<S: AsyncRead + AsyncWrite + Unpin>(
    tx: &mut StreamSender<'_, S>,
    store: &Arc<AccountStore>,
    mailboxes: &[(String, Vec<Exported>)],
) -> Result<(), ExportError> {
    let messages = mailboxes.iter().map(|(_, m)| m.len() as u64).sum();
    let bytes = mailboxes
        .iter()
        .flat_map(|(_, m)| m)
        .map(|m| m.prefix.len() as u64 + m.file_size)
        .sum();
    tx.send_json(&ExportPiece::Summary {
        mailboxes: mailboxes.len() as u64,
        messages,
        bytes,
    })
    .await?;
    for (name, messages) in mailboxes {
        tx.send_json(&ExportPiece::Mailbox { name: name.clone() })
            .await?;
        for m in messages {
            tx.send_json(&ExportPiece::Message {
                id: m.id,
                flags: m.flags.clone(),
                keywords: m.keywords.clone(),
                received: m.received,
                size: m.prefix.len() as u64 + m.file_size,
            })
            .await?;
            tx.send_data(&m.prefix).await?;
            let path = store.files().path(crate::store::MessageId(m.id));
            send_file(tx, &path, m.file_size).await?;
        }
    }
    Ok(())
}

/// Sends exactly `size` bytes of the file at `path`.
async fn send_file<S: AsyncRead + AsyncWrite + Unpin>(
    tx: &mut StreamSender<'_, S>,
    path: &std::path::Path,
    size: u64,
) -> Result<(), ExportError> {
    let local = |e: std::io::Error| ExportError::Local(format!("{}: {e}", path.display()));
    let file = tokio::fs::File::open(path).await.map_err(local)?;
    let mut file = file.take(size);
    let mut buf = vec![0u8; MAX_CHUNK];
    let mut sent = 0u64;
    loop {
        let n = file.read(&mut buf).await.map_err(local)?;
        if n == 0 {
            break;
        }
        tx.send_data(&buf[..n]).await?;
        sent += n as u64;
    }
    if sent != size {
        return Err(ExportError::Local(format!(
            "{}: {sent} bytes, the index says {size}",
            path.display()
        )));
    }
    Ok(())
}

/// `moxctl queue dump`: streams the message of a queue entry, as it will be sent.
pub async fn queue_dump<S: AsyncRead + AsyncWrite + Unpin>(
    services: &Services,
    io: &mut S,
    id: u64,
) -> Outcome {
    let queue = services.queue_store.clone();
    // Entries delivered or dropped meanwhile keep their file until the dump is sent.
    let _hold = queue.files().hold_removals();
    let found = actix_rt::task::spawn_blocking(move || queue.get(QueueId(id))).await;
    let entry = match found {
        Ok(Ok(Some(entry))) => entry,
        Ok(Ok(None)) => return refuse(io, format!("no queue entry {id}")).await,
        Ok(Err(e)) => return refuse(io, e.to_string()).await,
        Err(e) => return refuse(io, e.to_string()).await,
    };
    if let Outcome::Close = answer(io, ready()).await {
        return Outcome::Close;
    }
    let mut tx = StreamSender::new(io);
    let path = services.queue_store.file_path(entry.file);
    let file_size = entry.size.saturating_sub(entry.prefix.len() as u64);
    let sent = async {
        tx.send_data(&entry.prefix).await?;
        send_file(&mut tx, &path, file_size).await
    }
    .await;
    match sent {
        Ok(()) => match tx.finish().await {
            Ok(()) => Outcome::Continue,
            Err(_) => Outcome::Close,
        },
        Err(ExportError::Stream(_)) => Outcome::Close,
        Err(ExportError::Local(why)) => {
            let _ = tx.fail(&why).await;
            Outcome::Close
        }
    }
}
