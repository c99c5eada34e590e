//! BINARY, BINARY.PEEK and BINARY.SIZE (RFC 3516, RFC 9051 §6.4.5 and §7.5.2): the content of a
//! part with its Content-Transfer-Encoding removed, found through the stored part tree.
//!
//! Decoding is tolerant, as RFC 2045 asks of decoders: base64 skips characters outside its
//! alphabet (§6.8), quoted-printable keeps a malformed `=` as it is and drops the whitespace that
//! transports add at line ends (§6.7). Neither can fail or panic on any input.

use super::section::MessageView;

/// Why BINARY cannot be answered for a section.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BinaryError {
    /// The message has no such part.
    #[error("no such body part")]
    NoSuchPart,
    /// The section is a multipart: it has no content of its own to decode.
    #[error("BINARY needs a single part, not a multipart")]
    Multipart,
    /// The part has a transfer encoding this server cannot decode: RFC 9051 §7.5.2 wants the
    /// command to fail with `NO [UNKNOWN-CTE]`.
    #[error("unknown content transfer encoding {0}")]
    UnknownCte(String),
}

impl MessageView<'_> {
    /// The decoded content of the part at `part` (a part path as in `BINARY[1.2]`). The empty
    /// path is the whole message, sent as it is: a message has no transfer encoding of its own.
    /// Text and message parts get CRLF line ends (RFC 9051 §7.5.2).
    pub fn binary(&self, part: &[u32]) -> Result<Vec<u8>, BinaryError> {
        if part.is_empty() {
            return Ok(self.range(0, self.len()));
        }
        let (index, p) = self.resolve(part).ok_or(BinaryError::NoSuchPart)?;
        if p.media_type == "multipart" {
            return Err(BinaryError::Multipart);
        }
        let (_, body, end) = self.offsets(index, p);
        let decoded = decode(p.transfer_encoding.as_deref(), &self.range(body, end))?;
        Ok(if matches!(p.media_type.as_str(), "text" | "message") {
            crlf(&decoded)
        } else {
            decoded
        })
    }

    /// BINARY.SIZE: the length of what [`MessageView::binary`] returns.
    pub fn binary_size(&self, part: &[u32]) -> Result<usize, BinaryError> {
        self.binary(part).map(|d| d.len())
    }
}

/// `data` with the transfer encoding `encoding` (lower-cased, as stored; None is 7bit) removed.
pub fn decode(encoding: Option<&str>, data: &[u8]) -> Result<Vec<u8>, BinaryError> {
    match encoding.unwrap_or("7bit") {
        "7bit" | "8bit" | "binary" => Ok(data.to_vec()),
        "base64" => Ok(decode_base64(data)),
        "quoted-printable" => Ok(decode_quoted_printable(data)),
        other => Err(BinaryError::UnknownCte(other.to_string())),
    }
}

/// Appends decoded data as RFC 9051 wants it: a literal, or a `literal8` (`~{n}`) when it holds
/// a NUL octet, which a literal cannot (§9 `CHAR8`).
pub fn write_binary(out: &mut Vec<u8>, data: &[u8]) {
    if data.contains(&0) {
        out.push(b'~');
    }
    out.extend_from_slice(format!("{{{}}}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
}

/// Base64 (RFC 2045 §6.8): characters outside the alphabet are skipped; `=` ends a group of
/// four, so that pieces encoded separately and put together still decode.
pub fn decode_base64(input: &[u8]) -> Vec<u8> {
    fn value(b: u8) -> Option<u32> {
        Some(match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    fn flush(out: &mut Vec<u8>, acc: u32, n: u32) {
        match n {
            2 => out.push((acc >> 4) as u8),
            3 => out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]),
            // One character is 6 bits, less than a byte: nothing to write.
            _ => {}
        }
    }
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let (mut acc, mut n) = (0u32, 0u32);
    for &b in input {
        if b == b'=' {
            flush(&mut out, acc, n);
            (acc, n) = (0, 0);
            continue;
        }
        let Some(v) = value(b) else { continue };
        acc = (acc << 6) | v;
        n += 1;
        if n == 4 {
            out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]);
            (acc, n) = (0, 0);
        }
    }
    flush(&mut out, acc, n);
    out
}

/// Quoted-printable (RFC 2045 §6.7): `=XX` is an octet (lower-case hex accepted), `=` at a line
/// end is a soft line break, whitespace at a line end is dropped, and any other `=` is kept.
pub fn decode_quoted_printable(input: &[u8]) -> Vec<u8> {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let blank = |b: u8| b == b' ' || b == b'\t';
    // The length of the line end at `i` (CRLF or a bare LF), with the end of input as a line end.
    let line_end = |i: usize| -> Option<usize> {
        match (input.get(i), input.get(i + 1)) {
            (None, _) => Some(0),
            (Some(b'\n'), _) => Some(1),
            (Some(b'\r'), Some(b'\n')) => Some(2),
            _ => None,
        }
    };
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        if b == b'=' {
            let mut j = i + 1;
            while input.get(j).is_some_and(|&c| blank(c)) {
                j += 1;
            }
            if let Some(n) = line_end(j) {
                i = j + n;
                continue;
            }
            if let (Some(hi), Some(lo)) = (
                input.get(i + 1).and_then(|&c| hex(c)),
                input.get(i + 2).and_then(|&c| hex(c)),
            ) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
            out.push(b'=');
            i += 1;
        } else if blank(b) {
            let mut j = i;
            while input.get(j).is_some_and(|&c| blank(c)) {
                j += 1;
            }
            if line_end(j).is_none() {
                out.extend_from_slice(&input[i..j]);
            }
            i = j;
        } else {
            out.push(b);
            i += 1;
        }
    }
    out
}

/// `data` with every line end a CRLF: bare LFs and bare CRs become CRLF.
fn crlf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 32);
    for (i, &b) in data.iter().enumerate() {
        match b {
            b'\n' if i == 0 || data[i - 1] != b'\r' => out.extend_from_slice(b"\r\n"),
            b'\r' if data.get(i + 1) != Some(&b'\n') => out.extend_from_slice(b"\r\n"),
            _ => out.push(b),
        }
    }
    out
}

#[cfg(test)]
mod tests;
