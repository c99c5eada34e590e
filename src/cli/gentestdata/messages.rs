//! The messages of the generated data: deterministic (the same number gives the same bytes in
//! every run) and of many shapes, so that a store written by one version exercises what another
//! version must read: plain and 8-bit text, encoded words, raw UTF-8 headers, alternatives,
//! attachments, forwarded messages, and an occasional large one.

use std::sync::Arc;

use crate::store::files::MessageSource;
use crate::store::{Content, Flags, NewMessage, parts};

/// The first INTERNALDATE of the generated messages (2023-11-14T22:13:20Z); each next message is
/// an hour later.
pub const FIRST_RECEIVED: i64 = 1_700_000_000;

/// Who a generated message is from and to.
pub struct Envelope<'a> {
    pub from: &'a str,
    pub to: &'a str,
}

fn date(t: i64) -> String {
    mail_parser::DateTime::from_timestamp(t).to_rfc822()
}

/// The text of message `n` (the header and body as a client would have sent it).
pub fn text(n: usize, e: &Envelope) -> Vec<u8> {
    let received = FIRST_RECEIVED + n as i64 * 3600;
    let common = format!(
        "Date: {}\r\nMessage-ID: <gen{n}@moxide.example>\r\nTo: {}\r\n",
        date(received - 30),
        e.to
    );
    let mut out = match n % 6 {
        0 => format!(
            "From: {from}\r\n{common}Subject: Plain message {n}\r\n\r\nHello,\r\n\r\nthis is message {n}.\r\n",
            from = e.from
        ),
        1 => format!(
            "From: =?utf-8?q?J=C3=B8ran_Gr=C3=B6=C3=9Fe?= <{from}>\r\n{common}Subject: =?utf-8?b?{subject}?=\r\n\
             MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
             Grüße aus Møn, nummer {n}. Ελληνικά και 日本語.\r\n",
            from = e.from,
            subject = base64(format!("Größe {n} – ünïcode").as_bytes()),
        ),
        2 => format!(
            "From: {from}\r\n{common}Subject: Alternative {n}\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/alternative; boundary=\"alt{n}\"\r\n\r\n\
             --alt{n}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nPlain part {n}.\r\n\
             --alt{n}\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n<p>HTML part <b>{n}</b>.</p>\r\n\
             --alt{n}--\r\n",
            from = e.from
        ),
        3 => format!(
            "From: {from}\r\n{common}Subject: Attachment {n}\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"mix{n}\"\r\n\r\n\
             --mix{n}\r\nContent-Type: text/plain\r\n\r\nSee the attachment.\r\n\
             --mix{n}\r\nContent-Type: application/octet-stream; name=\"data{n}.bin\"\r\n\
             Content-Disposition: attachment; filename=\"data{n}.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
             {body}\r\n--mix{n}--\r\n",
            from = e.from,
            body = base64_lines(
                &(0..(200 + n * 7))
                    .map(|i| (i * 31 + n) as u8)
                    .collect::<Vec<_>>()
            ),
        ),
        4 => format!(
            "From: {from}\r\n{common}Subject: Fwd: forwarded {n}\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"fwd{n}\"\r\n\r\n\
             --fwd{n}\r\nContent-Type: text/plain\r\n\r\nForwarding this.\r\n\
             --fwd{n}\r\nContent-Type: message/rfc822\r\n\r\n\
             From: someone@example.org\r\nTo: {from}\r\nSubject: inner {n}\r\nDate: {inner}\r\n\r\nThe inner message.\r\n\
             --fwd{n}--\r\n",
            from = e.from,
            inner = date(received - 86_400),
        ),
        _ => format!(
            "From: Jøran <{from}>\r\n{common}Subject: UTF-8 header {n}: ünïcode δοκιμή\r\n\
             MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nRaw UTF-8 in the header (SMTPUTF8).\r\n",
            from = e.from
        ),
    };
    // Bodies of various lengths, and now and then a large one.
    let lines = if n % 50 == 49 { 3000 } else { n % 17 };
    for i in 0..lines {
        out.push_str(&format!(
            "line {i} of message {n}: the quick brown fox jumps over the lazy dog\r\n"
        ));
    }
    out.into_bytes()
}

/// A message to deliver or append: message `n`, received an hour after `n - 1`.
pub fn new_message(n: usize, e: &Envelope, hostname: &str, flags: Flags) -> NewMessage {
    let raw = text(n, e);
    let received = FIRST_RECEIVED + n as i64 * 3600;
    let prefix = format!(
        "Received: from client.example (192.0.2.{host})\r\n\tby {hostname} (moxide) with ESMTP id {received:x}-{n:x};\r\n\t{date}\r\n",
        host = n % 250 + 1,
        date = date(received),
    );
    NewMessage {
        content: Content {
            prefix: prefix.into_bytes(),
            file_size: raw.len() as u64,
            parts: parts::parse(&raw),
        },
        source: MessageSource::Bytes(Arc::new(raw)),
        flags,
        keywords: Vec::new(),
        received,
    }
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Base64 in lines of 76 characters (RFC 2045 §6.8).
fn base64_lines(bytes: &[u8]) -> String {
    let text = base64(bytes);
    text.as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_deterministic_and_parse() {
        let e = Envelope {
            from: "a@example.org",
            to: "b@example.org",
        };
        for n in 0..60 {
            assert_eq!(text(n, &e), text(n, &e));
            let m = new_message(n, &e, "mail.moxide.example", Flags::empty());
            assert!(!m.content.parts.is_empty(), "message {n}");
            assert_eq!(m.content.parts[0].end as u64, m.content.file_size);
        }
        assert!(text(49, &e).len() > 100_000);
        let forwarded = new_message(4, &e, "h", Flags::empty());
        assert!(
            forwarded.content.parts.len() >= 4,
            "{:?}",
            forwarded.content.parts
        );
    }
}
