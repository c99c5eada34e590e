//! Streams over the control connection: large data (import, export, later backup progress and
//! `queue dump`) in either direction, in pieces, with flow control that cannot deadlock.
//!
//! A stream is a sequence of *pieces* — JSON documents and data chunks of at most
//! [`MAX_CHUNK`] bytes, binary as they are — sent by one side, ended by an End frame, or by an
//! Error frame from either side. Which side sends, and what the pieces mean, is up to the command
//! that starts the stream (`transfer.rs` for import and export).
//!
//! Flow control is a window of one piece, and the turn to speak alternates:
//!
//! - The sender writes one piece, then reads until it gets that piece's Ack (or an Error).
//! - The receiver reads a piece, hands it to its consumer, and sends the Ack only when the
//!   consumer asks for the next piece: **a piece is acknowledged only after it was read** (and
//!   taken), never before. So the receiver never writes while the sender is writing, and the two
//!   never wait on each other's buffers, even over a connection that holds no byte in flight
//!   (the tests use such a pipe). It also bounds what the receiver holds to the piece at hand.
//! - The receiver refuses in place of an Ack: it writes Error when it owes one. When it owes
//!   none (before the first piece), the sender may be in the middle of writing one, so the
//!   receiver reads that piece first, then answers Error.
//! - The sender gives up by writing Error in place of its next piece.
//! - A connection closed in the middle of a stream is [`StreamError::Closed`] on the other side,
//!   whether it is noticed reading or writing, never a wait.
//! - A frame that breaks these rules (an oversized chunk, a JSON message where a piece or an Ack
//!   belongs, an Ack with the wrong number) ends the stream with an error; the side that saw it
//!   says why with an Error frame if the peer takes it within [`ERROR_GRACE`], and closes.
//!
//! One stream at a time per connection. A window of one costs a round trip per piece: on the
//! local socket that is tens of microseconds, against the 64 KiB each chunk carries.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncWrite};

use super::FrameError;
use super::frame::{self, Frame, MAX_CHUNK};

/// How long a side that broke off a stream waits to tell the peer why, before closing.
pub const ERROR_GRACE: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("the other side closed the connection in the middle of a stream")]
    Closed,
    /// The other side's Error frame.
    #[error("{0}")]
    Peer(String),
    #[error("protocol error: {0}")]
    Protocol(String),
}

fn closed(e: FrameError) -> StreamError {
    use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset, UnexpectedEof};
    match e {
        FrameError::Io(io)
            if matches!(
                io.kind(),
                BrokenPipe | ConnectionAborted | ConnectionReset | UnexpectedEof
            ) =>
        {
            StreamError::Closed
        }
        e => StreamError::Frame(e),
    }
}

/// Decodes a JSON piece.
pub fn json<T: DeserializeOwned>(body: &[u8]) -> Result<T, StreamError> {
    serde_json::from_slice(body).map_err(|e| StreamError::Frame(FrameError::Json(e)))
}

/// Writes an Error frame, giving up after [`ERROR_GRACE`] (a peer that is itself writing and
/// never reads would otherwise hold us forever).
async fn write_error(io: &mut (impl AsyncWrite + Unpin), message: &str) {
    let frame = Frame::Error(message.to_string());
    let _ = tokio::time::timeout(ERROR_GRACE, frame::write(io, &frame)).await;
}

/// The sending side of a stream.
pub struct StreamSender<'a, S> {
    io: &'a mut S,
    sent: u64,
}

impl<'a, S: AsyncRead + AsyncWrite + Unpin> StreamSender<'a, S> {
    pub fn new(io: &'a mut S) -> StreamSender<'a, S> {
        StreamSender { io, sent: 0 }
    }

    /// Sends a JSON piece and waits for its Ack.
    pub async fn send_json<T: Serialize>(&mut self, value: &T) -> Result<(), StreamError> {
        let body = serde_json::to_vec(value).map_err(FrameError::Json)?;
        self.send_piece(Frame::Json(body)).await
    }

    /// Sends `data` in chunks of at most [`MAX_CHUNK`] bytes, each waiting for its Ack.
    pub async fn send_data(&mut self, data: &[u8]) -> Result<(), StreamError> {
        for chunk in data.chunks(MAX_CHUNK) {
            self.send_piece(Frame::Data(chunk.to_vec())).await?;
        }
        Ok(())
    }

    async fn send_piece(&mut self, piece: Frame) -> Result<(), StreamError> {
        if let Err(e) = frame::write(self.io, &piece).await {
            return Err(self.write_failed(e).await);
        }
        self.sent += 1;
        match frame::read(self.io).await {
            Ok(Some(Frame::Ack(n))) if n == self.sent => Ok(()),
            Ok(Some(Frame::Ack(n))) => Err(self
                .broken(format!(
                    "acknowledgement of piece {n}, expected {}",
                    self.sent
                ))
                .await),
            Ok(Some(Frame::Error(message))) => Err(StreamError::Peer(message)),
            Ok(Some(other)) => Err(self
                .broken(format!("{} where an acknowledgement belongs", other.name()))
                .await),
            Ok(None) => Err(StreamError::Closed),
            Err(e) => {
                let e = closed(e);
                if !matches!(e, StreamError::Closed) {
                    write_error(self.io, &e.to_string()).await;
                }
                Err(e)
            }
        }
    }

    /// A write failed: the peer may have said why before it closed (it refused what we were
    /// sending); read that if it is there.
    async fn write_failed(&mut self, e: FrameError) -> StreamError {
        let e = closed(e);
        if matches!(e, StreamError::Closed)
            && let Ok(Ok(Some(Frame::Error(message)))) =
                tokio::time::timeout(ERROR_GRACE, frame::read(self.io)).await
        {
            return StreamError::Peer(message);
        }
        e
    }

    async fn broken(&mut self, why: String) -> StreamError {
        write_error(self.io, &why).await;
        StreamError::Protocol(why)
    }

    /// Ends the stream: every piece was sent.
    pub async fn finish(self) -> Result<(), StreamError> {
        frame::write(self.io, &Frame::End).await.map_err(closed)
    }

    /// Ends the stream with an error of this side, in place of the next piece. After an error
    /// from a `send_` method there is nothing to fail: that stream is over (a broken protocol
    /// was answered with an Error frame already), and the caller closes the connection.
    pub async fn fail(self, message: &str) -> Result<(), StreamError> {
        frame::write(self.io, &Frame::Error(message.to_string()))
            .await
            .map_err(closed)
    }
}

/// A piece of a stream as the receiver gets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Json(Vec<u8>),
    Data(Vec<u8>),
    /// The sender finished: nothing more comes in this stream.
    End,
}

/// The receiving side of a stream.
pub struct StreamReceiver<'a, S> {
    io: &'a mut S,
    received: u64,
    /// An Ack is owed for the last piece handed out.
    owed: bool,
    state: ReceiverState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReceiverState {
    Open,
    /// End was read: the sender waits for the command's answer.
    Ended,
    /// The stream failed: an Error was read or written, or the connection is closed.
    Over,
}

impl<'a, S: AsyncRead + AsyncWrite + Unpin> StreamReceiver<'a, S> {
    pub fn new(io: &'a mut S) -> StreamReceiver<'a, S> {
        StreamReceiver {
            io,
            received: 0,
            owed: false,
            state: ReceiverState::Open,
        }
    }

    /// Acknowledges the previous piece (it has been taken) and reads the next one. A frame that
    /// breaks the protocol is answered with an Error frame here; the caller closes the connection
    /// after any error.
    pub async fn next(&mut self) -> Result<Piece, StreamError> {
        if self.state != ReceiverState::Open {
            return Err(StreamError::Protocol("the stream is over".into()));
        }
        if self.owed {
            self.owed = false;
            if let Err(e) = frame::write(self.io, &Frame::Ack(self.received)).await {
                self.state = ReceiverState::Over;
                return Err(closed(e));
            }
        }
        let result = self.read_piece().await;
        if let Err(e) = &result {
            self.state = ReceiverState::Over;
            if !matches!(e, StreamError::Peer(_) | StreamError::Closed) {
                write_error(self.io, &e.to_string()).await;
            }
        }
        result
    }

    async fn read_piece(&mut self) -> Result<Piece, StreamError> {
        let piece = match frame::read(self.io).await.map_err(closed)? {
            Some(Frame::Json(body)) => Piece::Json(body),
            Some(Frame::Data(body)) => Piece::Data(body),
            Some(Frame::End) => {
                self.state = ReceiverState::Ended;
                return Ok(Piece::End);
            }
            Some(Frame::Error(message)) => return Err(StreamError::Peer(message)),
            Some(other) => {
                return Err(StreamError::Protocol(format!(
                    "{} in the middle of a stream",
                    other.name()
                )));
            }
            None => return Err(StreamError::Closed),
        };
        self.received += 1;
        self.owed = true;
        Ok(piece)
    }

    /// Ends the stream with an error, in place of the Ack the sender waits for (or of the
    /// command's answer after End). Nothing to do when the stream already failed.
    pub async fn fail(&mut self, message: &str) {
        let state = std::mem::replace(&mut self.state, ReceiverState::Over);
        match state {
            ReceiverState::Over => return,
            ReceiverState::Open if !self.owed => {
                // The sender may be writing its first piece: take it, then it listens.
                match frame::read(self.io).await {
                    Ok(Some(Frame::Error(_))) | Ok(None) | Err(_) => return,
                    Ok(Some(_)) => {}
                }
            }
            ReceiverState::Open | ReceiverState::Ended => {}
        }
        write_error(self.io, message).await;
    }
}

#[cfg(test)]
mod tests;
