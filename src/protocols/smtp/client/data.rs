//! Sending the message: DATA with dot-stuffing, or BDAT chunks (RFC 3030).

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

use super::dotstuff::DotStuffer;
use super::error::{ClientError, Step};
use super::session::Client;
use super::transaction::Message;
use crate::protocols::smtp::Reply;

/// Bytes per BDAT chunk.
pub const CHUNK_SIZE: usize = 1 << 20;
/// Bytes of message read, stuffed and written at a time with DATA.
const DATA_BLOCK: usize = 64 * 1024;

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Client<S> {
    /// DATA, the stuffed message, the final dot; the final reply.
    pub(super) async fn data(&mut self, message: Message<'_>) -> Result<Reply, ClientError> {
        let t = self.timeouts;
        self.conn.command(Step::Data, "DATA", t.data_init).await?;
        let reply = self.conn.read_reply(Step::Data, t.data_init).await?;
        if reply.code != 354 {
            return Err(ClientError::Reply {
                step: Step::Data,
                reply,
            });
        }
        let mut source = message.prefix.chain(message.body);
        let mut stuffer = DotStuffer::default();
        let mut block = vec![0u8; DATA_BLOCK];
        let mut out = Vec::with_capacity(DATA_BLOCK + DATA_BLOCK / 8);
        loop {
            let n = match source.read(&mut block).await {
                Ok(n) => n,
                Err(e) => {
                    // Half a message is on its way; only closing the connection stops it.
                    self.conn.mark_broken();
                    return Err(ClientError::Message(std::sync::Arc::new(e)));
                }
            };
            let Some(read) = block.get(..n).filter(|r| !r.is_empty()) else {
                break;
            };
            stuffer.stuff(read, &mut out);
            if out.len() >= DATA_BLOCK {
                self.conn.write(Step::Data, &out, t.data_block).await?;
                out.clear();
            }
        }
        stuffer.finish(&mut out);
        self.conn.write(Step::Dot, &out, t.data_block).await?;
        tracing::debug!("smtp client wrote message data");
        final_reply(self.conn.read_reply(Step::Dot, t.data_end).await?)
    }

    /// The message in BDAT chunks, the last one `BDAT n LAST`; the final reply.
    pub(super) async fn bdat(&mut self, message: Message<'_>) -> Result<Reply, ClientError> {
        let t = self.timeouts;
        let capacity = CHUNK_SIZE.min(usize::try_from(message.size()).unwrap_or(CHUNK_SIZE));
        let mut source = message.prefix.chain(message.body);
        let mut chunk = Vec::with_capacity(capacity);
        loop {
            chunk.clear();
            if let Err(e) = (&mut source)
                .take(CHUNK_SIZE as u64)
                .read_to_end(&mut chunk)
                .await
            {
                self.conn.mark_broken();
                return Err(ClientError::Message(std::sync::Arc::new(e)));
            }
            // A short chunk is the end. A full one may be too: then a `BDAT 0 LAST` follows
            // (RFC 3030 §2 allows an empty last chunk).
            let last = chunk.len() < CHUNK_SIZE;
            let command = format!("BDAT {}{}", chunk.len(), if last { " LAST" } else { "" });
            tracing::debug!(command, "smtp client write");
            let mut out = Vec::with_capacity(command.len() + 2 + chunk.len());
            out.extend_from_slice(command.as_bytes());
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&chunk);
            let step = if last { Step::Dot } else { Step::Bdat };
            self.conn.write(step, &out, t.data_block).await?;
            if last {
                return final_reply(self.conn.read_reply(step, t.data_end).await?);
            }
            let reply = self.conn.read_reply(step, t.data_block).await?;
            if reply.code / 100 != 2 {
                return Err(ClientError::Reply { step, reply });
            }
        }
    }
}

fn final_reply(reply: Reply) -> Result<Reply, ClientError> {
    if reply.code / 100 == 2 {
        Ok(reply)
    } else {
        Err(ClientError::Reply {
            step: Step::Dot,
            reply,
        })
    }
}
