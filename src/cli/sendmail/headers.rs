//! The header section of the submitted message: finding its fields, taking recipients from
//! To/Cc/Bcc for `-t`, removing Bcc, adding a From when there is none. The message is CRLF
//! (see `input`); the body is never touched.

use mail_parser::{HeaderName, MessageParser};

/// One header field: its name and where it is, continuation lines included.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Field {
    name: String,
    start: usize,
    end: usize,
}

/// The header section of a message.
#[derive(Debug)]
struct Section {
    fields: Vec<Field>,
    /// Where the fields end (the start of the empty line, or of the body when it has none).
    end: usize,
    /// Whether an empty line separates the header from the body (RFC 5322 §2.1); without one,
    /// the first line that is not a field starts the body.
    separated: bool,
}

fn section(message: &[u8]) -> Section {
    let mut fields: Vec<Field> = Vec::new();
    let mut pos = 0;
    while pos < message.len() {
        let line_end = memchr::memmem::find(&message[pos..], b"\r\n")
            .map(|i| pos + i + 2)
            .unwrap_or(message.len());
        let line = &message[pos..line_end];
        if line == b"\r\n" {
            return Section {
                fields,
                end: pos,
                separated: true,
            };
        }
        // RFC 5322 §2.2.3: a line starting with white space continues the field before it.
        let continues = matches!(line.first(), Some(b' ' | b'\t'));
        match fields.last_mut() {
            Some(field) if continues => field.end = line_end,
            _ => match field_name(line) {
                Some(name) => fields.push(Field {
                    name,
                    start: pos,
                    end: line_end,
                }),
                None => break,
            },
        }
        pos = line_end;
    }
    Section {
        fields,
        end: pos,
        separated: false,
    }
}

/// The name of the field this line starts (RFC 5322 §3.6.8: printable ASCII but colon, then a
/// colon; white space before the colon is obsolete syntax, §4.5).
fn field_name(line: &[u8]) -> Option<String> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = std::str::from_utf8(&line[..colon]).ok()?.trim_end();
    (!name.is_empty() && name.bytes().all(|b| (33..=126).contains(&b))).then(|| name.to_string())
}

/// The addresses in the To, Cc and Bcc fields, in order, each once.
pub fn recipients(message: &[u8]) -> Vec<String> {
    let header = &message[..section(message).end];
    let Some(parsed) = MessageParser::new().parse_headers(header) else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for name in [HeaderName::To, HeaderName::Cc, HeaderName::Bcc] {
        let addresses = parsed
            .header_values(name)
            .filter_map(|v| v.as_address())
            .flat_map(|a| a.iter())
            .filter_map(|a| a.address());
        for address in addresses {
            if !out.iter().any(|o| o.eq_ignore_ascii_case(address)) {
                out.push(address.to_string());
            }
        }
    }
    out
}

/// The message ready to submit: Bcc fields removed (RFC 5322 §3.6.3 lets the Bcc field go
/// entirely; the recipients must not learn who else got it, and the addresses are in the
/// envelope, from `-t` or the arguments), and `from` as a From field on top when the message has
/// none (RFC 5322 §3.6: From is required). A body not separated from the header gets its empty
/// line.
pub fn prepare(message: &[u8], from: &str) -> Vec<u8> {
    let section = section(message);
    let mut out = Vec::with_capacity(message.len() + 100);
    if !section
        .fields
        .iter()
        .any(|f| f.name.eq_ignore_ascii_case("From"))
    {
        out.extend_from_slice(format!("From: {from}\r\n").as_bytes());
    }
    let mut pos = 0;
    for field in &section.fields {
        if field.name.eq_ignore_ascii_case("Bcc") {
            out.extend_from_slice(&message[pos..field.start]);
            pos = field.end;
        }
    }
    out.extend_from_slice(&message[pos..section.end]);
    if !section.separated && section.end < message.len() {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(&message[section.end..]);
    out
}

/// The From field's value for `address` with an optional full name (`-F`): a phrase as is when
/// it is all atoms, else a quoted string, or an encoded word for non-ASCII (RFC 2047 §5(3)).
pub fn from_value(address: &str, name: Option<&str>) -> String {
    let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) else {
        return format!("<{address}>");
    };
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~ ".contains(c);
    let phrase = if name.chars().all(atext) {
        name.to_string()
    } else if name.is_ascii() && !name.chars().any(|c| c.is_ascii_control()) {
        let escaped: String = name
            .chars()
            .flat_map(|c| match c {
                '"' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        format!("\"{escaped}\"")
    } else {
        use base64::Engine;
        let clean: String = name.chars().filter(|c| !c.is_control()).collect();
        let encoded = base64::engine::general_purpose::STANDARD.encode(clean.as_bytes());
        format!("=?utf-8?b?{encoded}?=")
    };
    format!("{phrase} <{address}>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_from_fields() {
        let m = b"From: me@example.org\r\nTo: A <a@example.org>, b@example.org\r\nCc: \"C, c\" <c@example.org>,\r\n d@example.org\r\nBcc: e@example.org\r\nbcc: undisclosed: f@example.org;\r\nSubject: To: x@example.org\r\n\r\nTo: body@example.org\r\n";
        assert_eq!(
            recipients(m),
            [
                "a@example.org",
                "b@example.org",
                "c@example.org",
                "d@example.org",
                "e@example.org",
                "f@example.org"
            ]
        );
        assert!(recipients(b"Subject: none\r\n\r\nbody\r\n").is_empty());
    }

    #[test]
    fn bcc_removed() {
        let m = b"From: me@example.org\r\nBcc: e@example.org,\r\n\tf@example.org\r\nTo: a@example.org\r\nBCC: g@example.org\r\n\r\nBcc: body stays\r\n";
        let out = prepare(m, "x");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "From: me@example.org\r\nTo: a@example.org\r\n\r\nBcc: body stays\r\n"
        );
    }

    #[test]
    fn from_added() {
        let m = b"To: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n";
        assert_eq!(
            String::from_utf8(prepare(m, "<me@example.org>")).unwrap(),
            "From: <me@example.org>\r\nTo: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n"
        );
        // An existing From, in any case, is kept as is.
        let m = b"FROM: other@example.org\r\n\r\nbody\r\n";
        assert_eq!(prepare(m, "<me@example.org>"), m);
        // No header at all: the body gets its separating empty line.
        assert_eq!(
            String::from_utf8(prepare(b"just text\r\n", "<me@example.org>")).unwrap(),
            "From: <me@example.org>\r\n\r\njust text\r\n"
        );
        assert_eq!(
            String::from_utf8(prepare(b"", "<me@example.org>")).unwrap(),
            "From: <me@example.org>\r\n"
        );
    }

    #[test]
    fn from_with_name() {
        assert_eq!(from_value("me@example.org", None), "<me@example.org>");
        assert_eq!(
            from_value("me@example.org", Some("Cron Daemon")),
            "Cron Daemon <me@example.org>"
        );
        assert_eq!(
            from_value("me@example.org", Some("Doe, \"J\"")),
            "\"Doe, \\\"J\\\"\" <me@example.org>"
        );
        assert_eq!(
            from_value("me@example.org", Some("Jöh")),
            "=?utf-8?b?SsO2aA==?= <me@example.org>"
        );
    }
}
