//! Reading server replies (RFC 5321 §4.2) with their enhanced status codes (RFC 3463), sans-IO:
//! feed received bytes, get whole replies back.

use crate::protocols::smtp::Reply;

/// Longest reply line accepted, CRLF included. RFC 5321 §4.5.3.1.5 asks for 512; servers'
/// texts are longer at times (EHLO lines with long AUTH lists, rejection explanations).
pub const MAX_LINE: usize = 2000;
/// Most lines in one reply.
pub const MAX_LINES: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error("reply line longer than {MAX_LINE} bytes")]
    LineTooLong,
    #[error("reply with more than {MAX_LINES} lines")]
    TooManyLines,
    #[error("malformed reply line: {0:?}")]
    Malformed(String),
    #[error("reply code changed within a multiline reply: {first} then {then}")]
    CodeChanged { first: u16, then: u16 },
}

/// Collects the lines of one reply at a time. Keep it for the connection: a reply may arrive
/// over several reads.
#[derive(Debug, Default)]
pub struct ReplyParser {
    code: Option<u16>,
    lines: Vec<String>,
}

impl ReplyParser {
    /// Consumes whole lines from `input` until a reply is complete. Returns the reply, if one
    /// completed, and how many bytes were used; the rest stays for the next call (with more
    /// bytes appended). An error leaves the parser unusable: the connection is broken.
    pub fn feed(&mut self, input: &[u8]) -> Result<(Option<Reply>, usize), ReplyError> {
        let mut used = 0;
        while let Some(rest) = input.get(used..) {
            let Some(end) = memchr::memchr(b'\n', rest) else {
                if rest.len() >= MAX_LINE {
                    return Err(ReplyError::LineTooLong);
                }
                break;
            };
            if end + 1 > MAX_LINE {
                return Err(ReplyError::LineTooLong);
            }
            used += end + 1;
            // Lenient: a bare LF ends a line too.
            let line = rest[..end].strip_suffix(b"\r").unwrap_or(&rest[..end]);
            if let Some(reply) = self.line(line)? {
                return Ok((Some(reply), used));
            }
        }
        Ok((None, used))
    }

    /// One line without its line ending.
    fn line(&mut self, line: &[u8]) -> Result<Option<Reply>, ReplyError> {
        let malformed = || ReplyError::Malformed(String::from_utf8_lossy(line).into_owned());
        let code = parse_code(line).ok_or_else(malformed)?;
        let last = match line.get(3) {
            None | Some(b' ') => true,
            Some(b'-') => false,
            Some(_) => return Err(malformed()),
        };
        let text = line.get(4..).unwrap_or_default();
        // RFC 5321 §4.2.1 leaves the charset of the text open; keep what is readable.
        let text = String::from_utf8_lossy(text).into_owned();
        match self.code {
            Some(first) if first != code => {
                return Err(ReplyError::CodeChanged { first, then: code });
            }
            _ => self.code = Some(code),
        }
        if self.lines.len() >= MAX_LINES {
            return Err(ReplyError::TooManyLines);
        }
        self.lines.push(text);
        if !last {
            return Ok(None);
        }
        self.code = None;
        Ok(Some(finish(code, std::mem::take(&mut self.lines))))
    }
}

/// A three digit reply code, 2xx to 5xx (RFC 5321 §4.2: the first digit is 2 to 5; we do
/// not insist on the second digit's range).
fn parse_code(line: &[u8]) -> Option<u16> {
    let digits = line.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) || !(b'2'..=b'5').contains(&digits[0]) {
        return None;
    }
    Some(
        digits
            .iter()
            .fold(0u16, |n, d| n * 10 + u16::from(d - b'0')),
    )
}

/// Takes the enhanced status code off the lines when the first one starts with one whose class
/// matches the reply code. RFC 2034 §4 puts it on every line; strip it wherever it repeats.
fn finish(code: u16, mut lines: Vec<String>) -> Reply {
    let status = lines
        .first()
        .and_then(|l| parse_status(l))
        .filter(|(s, _)| u16::from(s.0) == code / 100);
    if let Some((status, _)) = status {
        for line in &mut lines {
            if let Some((s, len)) = parse_status(line)
                && s == status
            {
                line.drain(..len);
            }
        }
    }
    Reply {
        code,
        status: status.map(|(s, _)| s),
        lines,
    }
}

/// `class.subject.detail` (RFC 3463 §2: class one digit 2, 4 or 5; subject and detail 1 to 3
/// digits) at the start of `text`, followed by a space or the end; with the length to remove.
fn parse_status(text: &str) -> Option<((u8, u16, u16), usize)> {
    let end = text.find(' ').unwrap_or(text.len());
    let mut parts = text[..end].split('.');
    let (Some(a), Some(b), Some(c), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let number = |s: &str, max: usize| {
        (!s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u16>().ok())
            .flatten()
    };
    let class = u8::try_from(number(a, 1)?).ok()?;
    if !matches!(class, 2 | 4 | 5) {
        return None;
    }
    let len = if end < text.len() { end + 1 } else { end };
    Some(((class, number(b, 3)?, number(c, 3)?), len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Result<Vec<Reply>, ReplyError> {
        let mut p = ReplyParser::default();
        let mut out = Vec::new();
        let mut at = 0;
        loop {
            let (reply, used) = p.feed(&input[at..])?;
            at += used;
            match reply {
                Some(r) => out.push(r),
                None => return Ok(out),
            }
        }
    }

    #[test]
    fn single_multiline_and_status() {
        let r = parse_all(b"220 mx.example ESMTP\r\n").unwrap();
        assert_eq!(r, vec![Reply::plain(220, vec!["mx.example ESMTP".into()])]);
        let r = parse_all(b"250-mx.example\r\n250-PIPELINING\r\n250 SIZE 100\r\n").unwrap();
        assert_eq!(r[0].lines, ["mx.example", "PIPELINING", "SIZE 100"]);
        let r = parse_all(b"451-4.7.1 greylisted\r\n451 4.7.1 come back later\r\n").unwrap();
        assert_eq!(r[0].status, Some((4, 7, 1)));
        assert_eq!(r[0].lines, ["greylisted", "come back later"]);
        // Bare LF, code alone, status alone, status of another class kept as text.
        let r = parse_all(b"250\n250 2.0.0\r\n550 4.1.1 odd\r\n").unwrap();
        assert_eq!(r[0].lines, [""]);
        assert_eq!(
            (r[1].status, r[1].lines.clone()),
            (Some((2, 0, 0)), vec![String::new()])
        );
        assert_eq!((r[2].status, r[2].lines[0].as_str()), (None, "4.1.1 odd"));
        // Base64 in a 334 is never a status.
        let r = parse_all(b"334 PDQxLjEyMzRAZXhhbXBsZT4=\r\n").unwrap();
        assert_eq!(r[0].status, None);
    }

    #[test]
    fn split_reads() {
        let input = b"250-a\r\n250 b\r\n220 c\r\n";
        let mut p = ReplyParser::default();
        let mut buf = Vec::new();
        let mut got = Vec::new();
        for &b in input {
            buf.push(b);
            let (reply, used) = p.feed(&buf).unwrap();
            buf.drain(..used);
            got.extend(reply);
        }
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].lines, ["a", "b"]);
        assert!(buf.is_empty());
    }

    #[test]
    fn garbage_is_an_error() {
        for bad in [
            &b"hello\r\n"[..],
            b"25\r\n",
            b"650 x\r\n",
            b"2x0 x\r\n",
            b"250x\r\n",
            b"250-a\r\n251 b\r\n",
        ] {
            assert!(parse_all(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse_all(&vec![b'2'; MAX_LINE]),
            Err(ReplyError::LineTooLong)
        );
        let many = "250-x\r\n".repeat(MAX_LINES + 1);
        assert_eq!(parse_all(many.as_bytes()), Err(ReplyError::TooManyLines));
    }
}
