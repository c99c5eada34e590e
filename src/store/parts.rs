//! The parsed MIME structure of a message, computed once at delivery and kept in the store so that
//! FETCH ENVELOPE, BODYSTRUCTURE and BODY[section] never re-parse the message (RFC 9051 §7.5.2).

use mail_parser::{Address, HeaderValue, MessageParser, MimeHeaders, PartType};

/// The stored structure of one message: its parts in a flat list, the root first.
/// Offsets are into the message file; the header prefix added at receipt (Received, ...) is kept
/// in [`crate::store::Content`] and comes before them.
#[derive(
    Debug, Clone, PartialEq, Eq, Default, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
pub struct Part {
    pub header_start: u32,
    pub body_start: u32,
    pub end: u32,
    /// Number of lines in the body (BODYSTRUCTURE needs it for text/* and message/rfc822).
    pub body_lines: u32,
    /// Lower-cased media type and subtype, e.g. "text" and "plain".
    pub media_type: String,
    pub media_subtype: String,
    pub params: Vec<(String, String)>,
    pub content_id: Option<String>,
    pub description: Option<String>,
    pub transfer_encoding: Option<String>,
    pub disposition: Option<String>,
    pub disposition_params: Vec<(String, String)>,
    pub language: Vec<String>,
    pub location: Option<String>,
    /// For the root part of a message (the whole one, or one inside a message/rfc822 part): its
    /// envelope.
    pub envelope: Option<Envelope>,
    /// Indexes of the child parts: the parts of a multipart, or the root of an inner message.
    pub children: Vec<u32>,
}

/// The ENVELOPE fields of a message (RFC 9051 §7.5.2), as found in its header.
#[derive(
    Debug, Clone, PartialEq, Eq, Default, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
pub struct Envelope {
    pub date: Option<String>,
    pub subject: Option<String>,
    pub from: Vec<EnvelopeAddress>,
    pub sender: Vec<EnvelopeAddress>,
    pub reply_to: Vec<EnvelopeAddress>,
    pub to: Vec<EnvelopeAddress>,
    pub cc: Vec<EnvelopeAddress>,
    pub bcc: Vec<EnvelopeAddress>,
    pub in_reply_to: Option<String>,
    pub message_id: Option<String>,
}

/// One address of an envelope. A group start has only `mailbox` set, to the group name; a group
/// end has nothing set (RFC 9051 §7.5.2, "group syntax"). A display name without an address has
/// only `name` set.
#[derive(
    Debug, Clone, PartialEq, Eq, Default, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
)]
pub struct EnvelopeAddress {
    pub name: Option<String>,
    pub mailbox: Option<String>,
    pub host: Option<String>,
}

/// Parses `raw` into its part tree. Never fails: what cannot be parsed as MIME becomes a single
/// text/plain part, as RFC 2045 §5.2 says a part without a usable Content-Type is.
pub fn parse(raw: &[u8]) -> Vec<Part> {
    // mail-parser 0.11 can panic on malformed MIME (in debug builds a debug assertion fires on a
    // message/rfc822 part with an empty body followed by another one): a panic must not cost the
    // message its delivery.
    std::panic::catch_unwind(|| parse_mime(raw)).unwrap_or_else(|_| {
        tracing::warn!("MIME parser panicked: message stored as one text/plain part");
        vec![plain_part(raw)]
    })
}

fn parse_mime(raw: &[u8]) -> Vec<Part> {
    let mut parts = Vec::new();
    match MessageParser::default().parse(raw) {
        Some(message) if !message.parts.is_empty() => {
            add_message(&message, raw, &mut parts);
        }
        _ => parts.push(plain_part(raw)),
    }
    parts
}

fn plain_part(raw: &[u8]) -> Part {
    let len = clamp(raw.len());
    let body_start = header_end(raw);
    Part {
        header_start: 0,
        body_start,
        end: len,
        body_lines: count_lines(raw, body_start, len),
        media_type: "text".into(),
        media_subtype: "plain".into(),
        params: vec![("charset".into(), "us-ascii".into())],
        ..Part::default()
    }
}

/// Offset of the first byte after the empty line ending the header, or the end.
fn header_end(raw: &[u8]) -> u32 {
    if raw.starts_with(b"\r\n") {
        return 2;
    }
    if raw.starts_with(b"\n") {
        return 1;
    }
    let crlf = raw.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4);
    let lf = raw.windows(2).position(|w| w == b"\n\n").map(|p| p + 2);
    clamp(crlf.into_iter().chain(lf).min().unwrap_or(raw.len()))
}

fn clamp(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn count_lines(raw: &[u8], start: u32, end: u32) -> u32 {
    let slice = raw.get(start as usize..end as usize).unwrap_or_default();
    clamp(slice.iter().filter(|&&b| b == b'\n').count())
}

/// Adds the parts of `message` (its root first) and returns the index of its root.
fn add_message(message: &mail_parser::Message<'_>, raw: &[u8], out: &mut Vec<Part>) -> u32 {
    let root = add_part(message, 0, raw, out);
    if let Some(part) = out.get_mut(root as usize) {
        part.envelope = Some(envelope(message));
    }
    root
}

fn add_part(message: &mail_parser::Message<'_>, id: u32, raw: &[u8], out: &mut Vec<Part>) -> u32 {
    let index = clamp(out.len());
    let Some(mp) = message.parts.get(id as usize) else {
        out.push(plain_part(raw));
        return index;
    };
    let (media_type, media_subtype, params) = match mp.content_type() {
        Some(ct) => (
            ct.ctype().to_ascii_lowercase(),
            ct.subtype().unwrap_or("plain").to_ascii_lowercase(),
            attributes(ct),
        ),
        None => (
            "text".into(),
            "plain".into(),
            vec![("charset".into(), "us-ascii".into())],
        ),
    };
    let (disposition, disposition_params) = match mp.content_disposition() {
        Some(cd) => (Some(cd.ctype().to_ascii_lowercase()), attributes(cd)),
        None => (None, Vec::new()),
    };
    let language = match mp.content_language() {
        HeaderValue::Text(t) => vec![t.to_string()],
        HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    };
    let (header_start, body_start, end) = (mp.offset_header, mp.offset_body, mp.offset_end);
    out.push(Part {
        header_start,
        body_start,
        end,
        body_lines: count_lines(raw, body_start, end),
        media_type,
        media_subtype,
        params,
        content_id: mp.content_id().map(str::to_string),
        description: mp.content_description().map(str::to_string),
        transfer_encoding: mp.content_transfer_encoding().map(str::to_ascii_lowercase),
        disposition,
        disposition_params,
        language,
        location: mp.content_location().map(str::to_string),
        envelope: None,
        children: Vec::new(),
    });
    let children = match &mp.body {
        PartType::Multipart(ids) => ids
            .iter()
            .map(|&child| add_part(message, child, raw, out))
            .collect(),
        // An inner message sent with a transfer encoding was parsed from decoded bytes whose
        // offsets do not point into the file: keep it a leaf.
        PartType::Message(inner) if mp.encoding == mail_parser::Encoding::None => {
            vec![add_message(inner, raw, out)]
        }
        _ => Vec::new(),
    };
    if let Some(part) = out.get_mut(index as usize) {
        part.children = children;
    }
    index
}

fn attributes(ct: &mail_parser::ContentType<'_>) -> Vec<(String, String)> {
    ct.attributes()
        .unwrap_or_default()
        .iter()
        .map(|a| (a.name.to_ascii_lowercase(), a.value.to_string()))
        .collect()
}

fn envelope(message: &mail_parser::Message<'_>) -> Envelope {
    let raw = |name: &str| message.header_raw(name).map(unfold);
    let addresses = |a: Option<&Address<'_>>| a.map(envelope_addresses).unwrap_or_default();
    Envelope {
        date: raw("Date"),
        subject: raw("Subject"),
        from: addresses(message.from()),
        sender: addresses(message.sender()),
        reply_to: addresses(message.reply_to()),
        to: addresses(message.to()),
        cc: addresses(message.cc()),
        bcc: addresses(message.bcc()),
        in_reply_to: raw("In-Reply-To"),
        message_id: raw("Message-ID"),
    }
}

/// A raw header value with folding removed and surrounding space trimmed (RFC 5322 §2.2.3).
fn unfold(value: &str) -> String {
    value
        .replace("\r\n", "")
        .replace('\n', "")
        .trim()
        .to_string()
}

fn envelope_addresses(address: &Address<'_>) -> Vec<EnvelopeAddress> {
    fn one(a: &mail_parser::Addr<'_>) -> EnvelopeAddress {
        let (mailbox, host) = match a.address.as_deref().and_then(|s| s.rsplit_once('@')) {
            Some((local, domain)) => (Some(local.to_string()), Some(domain.to_string())),
            None => (a.address.as_deref().map(str::to_string), None),
        };
        EnvelopeAddress {
            name: a.name.as_deref().map(str::to_string),
            mailbox,
            host,
        }
    }
    match address {
        Address::List(list) => list.iter().map(one).collect(),
        Address::Group(groups) => {
            let mut out = Vec::new();
            for group in groups {
                match &group.name {
                    Some(name) => {
                        out.push(EnvelopeAddress {
                            name: None,
                            mailbox: Some(name.to_string()),
                            host: None,
                        });
                        out.extend(group.addresses.iter().map(one));
                        out.push(EnvelopeAddress::default());
                    }
                    None => out.extend(group.addresses.iter().map(one)),
                }
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_message() {
        let raw = b"From: A <a@example.org>\r\nTo: b@example.com\r\nSubject: hi\r\n there\r\n\r\nline1\r\nline2\r\n";
        let parts = parse(raw);
        assert_eq!(parts.len(), 1);
        let root = &parts[0];
        assert_eq!(
            (root.media_type.as_str(), root.media_subtype.as_str()),
            ("text", "plain")
        );
        assert_eq!(
            &raw[root.body_start as usize..root.end as usize],
            b"line1\r\nline2\r\n"
        );
        assert_eq!(root.body_lines, 2);
        let env = root.envelope.as_ref().unwrap();
        assert_eq!(env.subject.as_deref(), Some("hi there"));
        assert_eq!(env.from[0].name.as_deref(), Some("A"));
        assert_eq!(env.from[0].mailbox.as_deref(), Some("a"));
        assert_eq!(env.to[0].host.as_deref(), Some("example.com"));
    }

    #[test]
    fn multipart_with_inner_message() {
        let raw = concat!(
            "Content-Type: multipart/mixed; boundary=x\r\n\r\n",
            "--x\r\nContent-Type: text/plain\r\n\r\nhello\r\n",
            "--x\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body\r\n",
            "--x--\r\n"
        );
        let parts = parse(raw.as_bytes());
        let root = &parts[0];
        assert_eq!(root.media_subtype, "mixed");
        assert_eq!(root.children.len(), 2);
        let msg = &parts[root.children[1] as usize];
        assert_eq!(
            (msg.media_type.as_str(), msg.media_subtype.as_str()),
            ("message", "rfc822")
        );
        assert_eq!(msg.children.len(), 1);
        let inner = &parts[msg.children[0] as usize];
        assert_eq!(
            inner.envelope.as_ref().unwrap().subject.as_deref(),
            Some("inner")
        );
        assert_eq!(
            &raw.as_bytes()[inner.body_start as usize..inner.end as usize],
            b"inner body"
        ); // RFC 2046 §5.1.1: the CRLF before a boundary belongs to it
    }

    #[test]
    fn empty_inner_message_before_another() {
        // Found by fuzz/mime_parts: mail-parser 0.11.9 panics here in debug builds ("Invalid part
        // ID, could not find multipart").
        let raw = concat!(
            "Content-Type: multipart/mixed; boundary=x\r\n\r\n",
            "--x\r\nContent-Type: message/rfc822\r\n\r\n",
            "--x\r\nContent-Type: message/rfc822\r\n\r\nSubject: y\r\n\r\nbody\r\n",
            "--x--\r\n"
        );
        let parts = parse(raw.as_bytes());
        assert!(!parts.is_empty());
        assert!(parts.iter().all(|p| p.end as usize <= raw.len()));
    }

    #[test]
    fn garbage_never_panics() {
        for raw in [
            &b""[..],
            b"\r\n",
            b"no header at all",
            b"\xff\xfe\x00",
            b"Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n",
        ] {
            let parts = parse(raw);
            assert!(!parts.is_empty());
        }
    }
}
