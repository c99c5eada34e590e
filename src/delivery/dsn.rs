//! Delivery status notifications (RFC 3464): a multipart/report (RFC 6522) with a text part
//! for people, a machine-readable delivery-status part, and the header of the original message.
//! For internationalized addresses the status and headers parts are the global forms of RFC
//! 6533 (`message/global-delivery-status`, `message/global-headers`, `utf-8` address types).

use std::fmt::Write;

/// Whether the message failed for good or is only late.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DsnKind {
    Failed,
    Delayed,
}

/// What a DSN reports about one recipient.
#[derive(Debug, Clone)]
pub struct DsnInput<'a> {
    pub kind: DsnKind,
    /// This server's host name (Reporting-MTA, From).
    pub reporting_mta: &'a str,
    /// The original sender, who gets the DSN.
    pub sender: &'a str,
    pub recipient: &'a str,
    /// When the original was queued, seconds since the epoch.
    pub arrival: i64,
    pub last_attempt: Option<i64>,
    /// When a delayed message will be given up on.
    pub retry_until: Option<i64>,
    /// The server that answered, when one did.
    pub remote_mta: Option<&'a str>,
    /// The enhanced status code (RFC 3463), e.g. (5, 1, 1).
    pub status: (u8, u16, u16),
    /// The remote's reply, `550 5.1.1 no such user`, when the failure was one.
    pub smtp_reply: Option<&'a str>,
    /// What went wrong, for people.
    pub explanation: &'a str,
    /// The original message's header section (up to and without the empty line).
    pub original_header: &'a [u8],
    pub original_message_id: &'a str,
    /// Now, seconds since the epoch (Date).
    pub now: i64,
    /// A unique token for the boundary and Message-ID.
    pub unique: &'a str,
}

fn date(unix: i64) -> String {
    mail_parser::DateTime::from_timestamp(unix).to_rfc822()
}

/// Text for a header or status field: control characters become spaces, and it is cut to fit
/// a line.
fn field_text(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(900)
        .collect()
}

/// The header section of a message: up to the first empty line.
pub fn header_section(message: &[u8]) -> &[u8] {
    match memchr::memmem::find(message, b"\r\n\r\n") {
        Some(i) => &message[..i + 2],
        None => message,
    }
}

/// The DSN message, CRLF line endings.
pub fn build(d: &DsnInput) -> Vec<u8> {
    let global = !d.sender.is_ascii() || !d.recipient.is_ascii();
    let (status_type, headers_type, addr_type) = if global {
        (
            "message/global-delivery-status",
            "message/global-headers",
            "utf-8",
        )
    } else {
        ("message/delivery-status", "text/rfc822-headers", "rfc822")
    };
    let boundary = format!("=_moxide_{}", d.unique);
    let (subject, action) = match d.kind {
        DsnKind::Failed => ("Undelivered mail: delivery failed", "failed"),
        DsnKind::Delayed => ("Delayed mail: still trying to deliver", "delayed"),
    };
    let (c, s, t) = d.status;
    let mut out = String::new();
    // RFC 3464 §2: the DSN comes from the MTA, to the envelope sender; RFC 3834 marks it
    // automatic so that nothing auto-replies to it.
    let _ = write!(
        out,
        "From: Mail Delivery Subsystem <postmaster@{mta}>\r\n\
         To: <{sender}>\r\n\
         Subject: {subject}\r\n\
         Date: {date}\r\n\
         Message-ID: <dsn-{unique}@{mta}>\r\n\
         Auto-Submitted: auto-replied\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"{boundary}\"\r\n\
         \r\n\
         This is a delivery status notification (RFC 3464).\r\n\
         \r\n\
         --{boundary}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\
         \r\n",
        mta = d.reporting_mta,
        sender = field_text(d.sender),
        date = date(d.now),
        unique = d.unique,
    );
    match d.kind {
        DsnKind::Failed => {
            let _ = write!(
                out,
                "Your message could not be delivered to <{}>, and will not be tried again.\r\n",
                field_text(d.recipient)
            );
        }
        DsnKind::Delayed => {
            let _ = write!(
                out,
                "Your message has not been delivered to <{}> yet. Delivery will be tried again",
                field_text(d.recipient)
            );
            match d.retry_until {
                Some(until) => {
                    let _ = write!(out, " until {}.\r\n", date(until));
                }
                None => out.push_str(".\r\n"),
            }
            out.push_str("You do not need to send it again.\r\n");
        }
    }
    let _ = write!(out, "\r\nThe problem: {}\r\n", field_text(d.explanation));
    if !d.original_message_id.is_empty() {
        let _ = write!(
            out,
            "Original message: {}\r\n",
            field_text(d.original_message_id)
        );
    }
    // The per-message and per-recipient fields, RFC 3464 §2.2 and §2.3.
    let _ = write!(
        out,
        "\r\n--{boundary}\r\n\
         Content-Type: {status_type}\r\n\
         \r\n\
         Reporting-MTA: dns; {mta}\r\n\
         Arrival-Date: {arrival}\r\n\
         \r\n\
         Final-Recipient: {addr_type}; {rcpt}\r\n\
         Action: {action}\r\n\
         Status: {c}.{s}.{t}\r\n",
        mta = d.reporting_mta,
        arrival = date(d.arrival),
        rcpt = field_text(d.recipient),
    );
    if let Some(remote) = d.remote_mta {
        let _ = write!(out, "Remote-MTA: dns; {}\r\n", field_text(remote));
    }
    if let Some(reply) = d.smtp_reply {
        let _ = write!(out, "Diagnostic-Code: smtp; {}\r\n", field_text(reply));
    }
    if let Some(last) = d.last_attempt {
        let _ = write!(out, "Last-Attempt-Date: {}\r\n", date(last));
    }
    if let (DsnKind::Delayed, Some(until)) = (d.kind, d.retry_until) {
        let _ = write!(out, "Will-Retry-Until: {}\r\n", date(until));
    }
    let _ = write!(
        out,
        "\r\n--{boundary}\r\nContent-Type: {headers_type}\r\n\r\n"
    );
    let mut message = out.into_bytes();
    message.extend_from_slice(d.original_header);
    if !d.original_header.ends_with(b"\r\n") {
        message.extend_from_slice(b"\r\n");
    }
    message.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    message
}

/// The enhanced status code at the start of a reply's text (`550 5.1.1 ...`), else the generic
/// one for its class.
pub fn status_of(reply_code: Option<u16>, text: &str, permanent: bool) -> (u8, u16, u16) {
    let parsed = text
        .split_whitespace()
        .nth(usize::from(reply_code.is_some()))
        .and_then(|word| {
            let mut parts = word.split('.');
            let class: u8 = parts.next()?.parse().ok()?;
            let subject: u16 = parts.next()?.parse().ok()?;
            let detail: u16 = parts.next()?.parse().ok()?;
            (parts.next().is_none() && matches!(class, 2 | 4 | 5) && subject < 1000)
                .then_some((class, subject, detail))
        });
    parsed.unwrap_or(if permanent { (5, 0, 0) } else { (4, 0, 0) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MimeHeaders;

    fn input<'a>(kind: DsnKind, recipient: &'a str) -> DsnInput<'a> {
        DsnInput {
            kind,
            reporting_mta: "mail.moxide.test",
            sender: "mjl@moxide.test",
            recipient,
            arrival: 1_700_000_000,
            last_attempt: Some(1_700_000_900),
            retry_until: Some(1_700_400_000),
            remote_mta: Some("mx.remote.example"),
            status: (5, 1, 1),
            smtp_reply: Some("550 5.1.1 no such user"),
            explanation: "mx.remote.example said: 550 5.1.1 no such user",
            original_header: b"From: mjl@moxide.test\r\nSubject: hi\r\nMessage-ID: <a@b>\r\n",
            original_message_id: "<a@b>",
            now: 1_700_001_000,
            unique: "42",
        }
    }

    #[test]
    fn failure_report_parses_as_multipart_report() {
        let msg = build(&input(DsnKind::Failed, "nobody@remote.example"));
        let text = String::from_utf8(msg.clone()).unwrap();
        assert!(!text.replace("\r\n", "").contains('\n'));
        let parsed = mail_parser::MessageParser::default().parse(&msg).unwrap();
        let ct = parsed.content_type().unwrap();
        assert_eq!(ct.ctype(), "multipart");
        assert_eq!(ct.subtype(), Some("report"));
        assert_eq!(ct.attribute("report-type"), Some("delivery-status"));
        assert_eq!(parsed.parts.len(), 4);
        assert!(text.contains("Final-Recipient: rfc822; nobody@remote.example\r\nAction: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns; mx.remote.example\r\nDiagnostic-Code: smtp; 550 5.1.1 no such user\r\n"));
        assert!(text.contains(
            "Content-Type: text/rfc822-headers\r\n\r\nFrom: mjl@moxide.test\r\nSubject: hi\r\n"
        ));
        assert!(text.contains("Auto-Submitted: auto-replied\r\n"));
        assert!(!text.contains("Will-Retry-Until"));
    }

    #[test]
    fn delayed_and_international() {
        let msg = build(&input(DsnKind::Delayed, "ünï@remote.example"));
        let text = String::from_utf8(msg).unwrap();
        assert!(text.contains("Content-Type: message/global-delivery-status\r\n"));
        assert!(text.contains("Final-Recipient: utf-8; ünï@remote.example\r\nAction: delayed\r\n"));
        assert!(text.contains("Will-Retry-Until: "));
        assert!(text.contains("Content-Type: message/global-headers\r\n"));
    }

    #[test]
    fn status_codes_from_replies() {
        assert_eq!(
            status_of(Some(550), "550 5.1.1 no such user", true),
            (5, 1, 1)
        );
        assert_eq!(
            status_of(Some(451), "451 4.7.1 greylisted", false),
            (4, 7, 1)
        );
        assert_eq!(status_of(Some(550), "550 no such user", true), (5, 0, 0));
        assert_eq!(status_of(None, "connection refused", false), (4, 0, 0));
        assert_eq!(status_of(Some(550), "550 9.9.9 x", true), (5, 0, 0));
        assert_eq!(header_section(b"A: b\r\n\r\nbody"), b"A: b\r\n");
        assert_eq!(header_section(b"A: b\r\n"), b"A: b\r\n");
    }
}
