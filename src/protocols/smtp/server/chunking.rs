//! CHUNKING (RFC 3030): `BDAT size [LAST]` followed by exactly `size` bytes of message, which
//! are not dot-stuffed. The bytes of a chunk are always read, even when the command is refused,
//! so that the session stays in step with the client.

use super::{Action, Phase, Session};
use crate::protocols::smtp::Reply;

/// The chunk being read.
#[derive(Debug)]
pub(super) struct Chunk {
    remaining: u64,
    last: bool,
    /// Why the chunk is refused: its bytes are read and dropped, then this is the reply.
    refused: Option<Reply>,
}

/// What the chunks of one transaction added up to.
#[derive(Debug, Default)]
pub(super) struct Chunks {
    size: u64,
    /// A CR was the last byte of the previous chunk.
    pending_cr: bool,
    /// A CR or LF not part of a CRLF pair was seen (the message must be 7bit/8bit MIME with
    /// CRLF line endings: BINARYMIME is not offered).
    bare_line_ending: bool,
    too_large: bool,
}

impl Chunks {
    fn scan(&mut self, bytes: &[u8]) {
        for &b in bytes {
            match b {
                b'\n' if self.pending_cr => self.pending_cr = false,
                b'\n' => self.bare_line_ending = true,
                _ if self.pending_cr => {
                    self.bare_line_ending = true;
                    self.pending_cr = b == b'\r';
                }
                b'\r' => self.pending_cr = true,
                _ => {}
            }
        }
    }
}

impl Session {
    pub(super) fn bdat(&mut self, size: u64, last: bool) {
        let refused = match &self.transaction {
            None => Some(Reply::new(503, (5, 5, 1), "send MAIL first")),
            Some(t) if t.recipients.is_empty() => {
                Some(Reply::new(554, (5, 5, 1), "no valid recipients"))
            }
            Some(_) => None,
        };
        if refused.is_some() {
            self.errors += 1;
        } else {
            self.chunks.get_or_insert_with(Chunks::default);
        }
        self.phase = Phase::Chunk(Chunk {
            remaining: size,
            last,
            refused,
        });
        if size == 0 {
            self.chunk_complete();
        }
    }

    /// Takes what input there is of the chunk being read.
    pub(super) fn read_chunk(&mut self) {
        let Phase::Chunk(chunk) = &mut self.phase else {
            return;
        };
        let take = usize::try_from(chunk.remaining)
            .unwrap_or(usize::MAX)
            .min(self.input.len());
        chunk.remaining -= take as u64;
        let bytes: Vec<u8> = self.input.drain(..take).collect();
        let done = chunk.remaining == 0;
        let refused = chunk.refused.is_some();
        if !refused && let Some(chunks) = &mut self.chunks {
            chunks.scan(&bytes);
            let room = self.config.max_message_size.saturating_sub(chunks.size);
            chunks.size = chunks.size.saturating_add(bytes.len() as u64);
            if chunks.size > self.config.max_message_size {
                chunks.too_large = true;
            }
            let keep = usize::try_from(room).map_or(bytes.len(), |r| r.min(bytes.len()));
            if keep > 0 {
                let mut bytes = bytes;
                bytes.truncate(keep);
                self.actions.push_back(Action::Data(bytes));
            }
        }
        if done {
            self.chunk_complete();
        }
    }

    fn chunk_complete(&mut self) {
        let Phase::Chunk(chunk) = std::mem::replace(&mut self.phase, Phase::Command) else {
            return;
        };
        if let Some(reply) = chunk.refused {
            return self.reply(reply);
        }
        let Some(chunks) = &self.chunks else {
            return;
        };
        if chunks.too_large && !chunk.last {
            // RFC 3030 §4: a failed chunk ends the transaction; later chunks are refused.
            self.chunks = None;
            self.transaction = None;
            self.actions.push_back(Action::DiscardData);
            let text = format!(
                "message larger than the maximum of {} bytes",
                self.config.max_message_size
            );
            return self.reply(Reply::new(552, (5, 3, 4), text));
        }
        if chunk.last {
            let (too_large, bare) = (
                chunks.too_large,
                chunks.bare_line_ending || chunks.pending_cr,
            );
            self.message_complete(too_large, bare);
        } else {
            let text = format!("{} bytes received", chunks.size);
            self.reply(Reply::new(250, (2, 0, 0), text));
        }
    }
}
