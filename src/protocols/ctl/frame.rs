//! The frames of the control protocol.
//!
//! Every frame starts with a 4-byte big-endian word: its top byte is the frame's kind, the low 24
//! bits the length of the body that follows. Kind 0 is a JSON document, so the frames of the
//! request/response commands are what they always were (a length below 16 MiB and a JSON body);
//! the other kinds carry streams (see [`super::stream`]):
//!
//! | kind | name  | body                                                    |
//! |------|-------|---------------------------------------------------------|
//! | 0    | Json  | a JSON document, up to [`MAX_JSON`] bytes               |
//! | 1    | Data  | 1 to [`MAX_CHUNK`] bytes of a stream, binary as they are |
//! | 2    | End   | empty: the stream is complete                           |
//! | 3    | Ack   | 8 bytes, big-endian: the number of stream pieces read so far |
//! | 4    | Error | UTF-8 text, up to [`MAX_CHUNK`] bytes: the stream failed, and why |
//!
//! Any other kind, or a length the kind does not allow, is refused before its body is read.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::FrameError;

/// Largest JSON body: what the 24 bits of a length can say.
pub const MAX_JSON: usize = (1 << 24) - 1;
/// Largest body of a data chunk (and of an error text).
pub const MAX_CHUNK: usize = 64 * 1024;

const KIND_JSON: u8 = 0;
const KIND_DATA: u8 = 1;
const KIND_END: u8 = 2;
const KIND_ACK: u8 = 3;
const KIND_ERROR: u8 = 4;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Json(Vec<u8>),
    Data(Vec<u8>),
    End,
    Ack(u64),
    Error(String),
}

impl Frame {
    /// What the frame is, for error messages.
    pub fn name(&self) -> &'static str {
        match self {
            Frame::Json(_) => "a JSON message",
            Frame::Data(_) => "a data chunk",
            Frame::End => "an end of stream",
            Frame::Ack(_) => "an acknowledgement",
            Frame::Error(_) => "an error",
        }
    }
}

/// The kind and body length of a frame header, checked against what the kind allows.
fn parse_header(header: [u8; 4]) -> Result<(u8, usize), FrameError> {
    let kind = header[0];
    let len = usize::from(header[1]) << 16 | usize::from(header[2]) << 8 | usize::from(header[3]);
    let ok = match kind {
        KIND_JSON => true,
        KIND_DATA => {
            if len > MAX_CHUNK {
                return Err(FrameError::TooLarge(len));
            }
            len > 0
        }
        KIND_END => len == 0,
        KIND_ACK => len == 8,
        KIND_ERROR => {
            if len > MAX_CHUNK {
                return Err(FrameError::TooLarge(len));
            }
            true
        }
        _ => {
            return Err(FrameError::Unexpected(format!("unknown frame kind {kind}")));
        }
    };
    if !ok {
        return Err(FrameError::Unexpected(format!(
            "frame of kind {kind} with a body of {len} bytes"
        )));
    }
    Ok((kind, len))
}

/// Reads one frame; None at a clean end of the connection (before the first byte of a frame).
pub async fn read(r: &mut (impl AsyncRead + Unpin)) -> Result<Option<Frame>, FrameError> {
    let mut header = [0u8; 4];
    if r.read(&mut header[..1]).await? == 0 {
        return Ok(None);
    }
    r.read_exact(&mut header[1..]).await?;
    let (kind, len) = parse_header(header)?;
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).await?;
    Ok(Some(match kind {
        KIND_JSON => Frame::Json(body),
        KIND_DATA => Frame::Data(body),
        KIND_END => Frame::End,
        KIND_ACK => {
            let mut n = [0u8; 8];
            n.copy_from_slice(&body);
            Frame::Ack(u64::from_be_bytes(n))
        }
        _ => Frame::Error(String::from_utf8_lossy(&body).into_owned()),
    }))
}

/// Writes one frame and flushes it. An error text longer than a chunk is cut (at a character
/// boundary); any other body over its limit is an error.
pub async fn write(w: &mut (impl AsyncWrite + Unpin), frame: &Frame) -> Result<(), FrameError> {
    let ack;
    let (kind, body): (u8, &[u8]) = match frame {
        Frame::Json(b) => (KIND_JSON, b),
        Frame::Data(b) => (KIND_DATA, b),
        Frame::End => (KIND_END, &[]),
        Frame::Ack(n) => {
            ack = n.to_be_bytes();
            (KIND_ACK, &ack)
        }
        Frame::Error(text) => {
            let mut end = text.len().min(MAX_CHUNK);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            (KIND_ERROR, &text.as_bytes()[..end])
        }
    };
    let len = body.len();
    let max = if kind == KIND_JSON {
        MAX_JSON
    } else {
        MAX_CHUNK
    };
    if len > max {
        return Err(FrameError::TooLarge(len));
    }
    if kind == KIND_DATA && len == 0 {
        return Err(FrameError::Unexpected("empty data chunk".into()));
    }
    let header = (u32::from(kind) << 24 | len as u32).to_be_bytes();
    w.write_all(&header).await?;
    w.write_all(body).await?;
    w.flush().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_kind_round_trips() {
        let frames = [
            Frame::Json(b"{\"command\":\"status\"}".to_vec()),
            Frame::Data(vec![0, 1, 2, 255]),
            Frame::Data(vec![7; MAX_CHUNK]),
            Frame::End,
            Frame::Ack(u64::MAX - 1),
            Frame::Error("no account \"x\" ✗".into()),
        ];
        let mut wire = Vec::new();
        for f in &frames {
            write(&mut wire, f).await.unwrap();
        }
        // A JSON frame is the old frame: length, then the document.
        assert_eq!(&wire[..4], &20u32.to_be_bytes());
        let mut r = wire.as_slice();
        for f in &frames {
            assert_eq!(read(&mut r).await.unwrap().as_ref(), Some(f));
        }
        assert_eq!(read(&mut r).await.unwrap(), None);
    }

    #[tokio::test]
    async fn bad_headers_are_refused_before_the_body() {
        for (header, what) in [
            ([1u8, 1, 0, 1], "too large"),
            ([4, 1, 0, 1], "too large"),
            ([1, 0, 0, 0], "empty data"),
            ([2, 0, 0, 1], "end with a body"),
            ([3, 0, 0, 4], "short ack"),
            ([9, 0, 0, 0], "unknown kind"),
            ([255, 255, 255, 255], "unknown kind"),
        ] {
            // No body follows: the reader must not wait for one.
            let mut r = header.as_slice();
            assert!(read(&mut r).await.is_err(), "{what}");
        }
        let mut r = [0u8, 0, 0, 5, b'{'].as_slice();
        assert!(
            matches!(read(&mut r).await, Err(FrameError::Io(_))),
            "cut body"
        );
        let mut r = [0u8, 0].as_slice();
        assert!(
            matches!(read(&mut r).await, Err(FrameError::Io(_))),
            "cut header"
        );
        let mut sink = Vec::new();
        assert!(matches!(
            write(&mut sink, &Frame::Data(vec![0; MAX_CHUNK + 1])).await,
            Err(FrameError::TooLarge(_))
        ));
        assert!(write(&mut sink, &Frame::Data(Vec::new())).await.is_err());
        write(&mut sink, &Frame::Error("é".repeat(MAX_CHUNK)))
            .await
            .unwrap();
        let Some(Frame::Error(text)) = read(&mut sink.as_slice()).await.unwrap() else {
            panic!("not an error frame");
        };
        assert_eq!(text.len(), MAX_CHUNK);
    }
}
