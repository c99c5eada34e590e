//! Body sections (RFC 9051 §6.4.5): finds the bytes of `BODY[section]` in a message from its
//! stored part tree, without parsing the message again.

use super::types::{Section, SectionPart};
use crate::store::parts::Part;

/// A message as IMAP sees it: the prefix added at receipt, then the file.
pub struct MessageView<'a> {
    pub prefix: &'a [u8],
    pub file: &'a [u8],
    pub parts: &'a [Part],
}

impl MessageView<'_> {
    pub(super) fn len(&self) -> usize {
        self.prefix.len() + self.file.len()
    }

    /// Bytes `[start, end)` of the message (prefix included), clamped to what exists.
    pub(super) fn range(&self, start: usize, end: usize) -> Vec<u8> {
        let end = end.min(self.len());
        let start = start.min(end);
        let p = self.prefix.len();
        let mut out = Vec::with_capacity(end - start);
        if start < p {
            out.extend_from_slice(&self.prefix[start..end.min(p)]);
        }
        if end > p {
            out.extend_from_slice(&self.file[start.max(p) - p..end - p]);
        }
        out
    }

    /// Offsets of a part in the message: (header start, body start, end). The root's header
    /// starts at 0 so that it includes the prefix.
    pub(super) fn offsets(&self, index: usize, part: &Part) -> (usize, usize, usize) {
        let p = self.prefix.len();
        let header = if index == 0 {
            0
        } else {
            part.header_start as usize + p
        };
        (header, part.body_start as usize + p, part.end as usize + p)
    }

    fn part(&self, index: u32) -> Option<(usize, &Part)> {
        self.parts.get(index as usize).map(|p| (index as usize, p))
    }

    /// Follows a part path (RFC 9051 §6.4.5 part numbering): a number picks a part of a
    /// multipart; in a message that is not multipart, part 1 is the message's own body; a path
    /// that goes on past a message/rfc822 part continues in the message inside it. A part that
    /// is neither has no parts of its own, so `1.1` of a text part names nothing.
    pub(super) fn resolve(&self, path: &[u32]) -> Option<(usize, &Part)> {
        let mut current = self.part(0)?;
        // Whether `current` is the root of a message, whose body is its part 1.
        let mut message_root = true;
        for &n in path {
            if !message_root && is_message(current.1) {
                current = self.part(*current.1.children.first()?)?;
                message_root = true;
            }
            current = if current.1.media_type == "multipart" {
                self.part(*current.1.children.get((n as usize).checked_sub(1)?)?)?
            } else if n == 1 && message_root {
                current
            } else {
                return None;
            };
            message_root = false;
        }
        Some(current)
    }

    /// The bytes of `section`, or None when the message has no such part.
    pub fn section(&self, section: &Section) -> Option<Vec<u8>> {
        let (index, part) = self.resolve(&section.part)?;
        // HEADER, TEXT and HEADER.FIELDS of a nested part apply to the message inside it.
        let message = if section.part.is_empty() {
            Some((index, part))
        } else if is_message(part) {
            self.part(*part.children.first()?)
        } else {
            None
        };
        let (h, b, e) = self.offsets(index, part);
        match &section.spec {
            None if section.part.is_empty() => Some(self.range(0, self.len())),
            None => Some(self.range(b, e)),
            Some(SectionPart::Mime) => Some(self.range(h, b)),
            Some(SectionPart::Header) => {
                let (i, m) = message?;
                let (h, b, _) = self.offsets(i, m);
                Some(self.range(h, b))
            }
            Some(SectionPart::Text) => {
                let (i, m) = message?;
                let (_, b, e) = self.offsets(i, m);
                Some(self.range(b, e))
            }
            Some(SectionPart::HeaderFields(names)) | Some(SectionPart::HeaderFieldsNot(names)) => {
                let (i, m) = message?;
                let (h, b, _) = self.offsets(i, m);
                let keep = matches!(section.spec, Some(SectionPart::HeaderFields(_)));
                Some(header_fields(&self.range(h, b), names, keep))
            }
        }
    }
}

/// Whether `part` is a message/rfc822 or message/global part whose message was parsed: part
/// numbers and HEADER/TEXT then apply to the message inside (RFC 9051 §6.4.5).
pub(super) fn is_message(part: &Part) -> bool {
    part.media_type == "message"
        && matches!(part.media_subtype.as_str(), "rfc822" | "global")
        && !part.children.is_empty()
}

/// The fields of `header` whose names are (or, with `keep` false, are not) in `names`,
/// followed by the empty line.
pub fn header_fields(header: &[u8], names: &[String], keep: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut include = false;
    for line in header.split_inclusive(|&b| b == b'\n') {
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        if !line.starts_with(b" ") && !line.starts_with(b"\t") {
            let name = line.split(|&b| b == b':').next().unwrap_or_default();
            let name = String::from_utf8_lossy(name);
            let listed = names.iter().any(|n| n.eq_ignore_ascii_case(name.trim()));
            include = listed == keep;
        }
        if include {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::parts;

    const MSG: &str = concat!(
        "From: a@example.org\r\nSubject: test\r\n\tfolded\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n",
        "--b\r\nContent-Type: text/plain\r\n\r\nfirst\r\n",
        "--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner text\r\n",
        "--b--\r\n"
    );

    fn view<'a>(prefix: &'a [u8], parts: &'a [Part]) -> MessageView<'a> {
        MessageView {
            prefix,
            file: MSG.as_bytes(),
            parts,
        }
    }

    fn s(part: Vec<u32>, spec: Option<SectionPart>) -> Section {
        Section { part, spec }
    }

    #[test]
    fn sections() {
        let parts = parts::parse(MSG.as_bytes());
        let prefix = b"Received: x\r\n";
        let v = view(prefix, &parts);
        let text = |sec: Section| String::from_utf8(v.section(&sec).unwrap()).unwrap();
        assert_eq!(text(s(vec![], None)), format!("Received: x\r\n{MSG}"));
        assert!(text(s(vec![], Some(SectionPart::Header))).starts_with("Received: x\r\nFrom:"));
        assert!(text(s(vec![], Some(SectionPart::Header))).ends_with("boundary=b\r\n\r\n"));
        assert_eq!(text(s(vec![1], None)), "first");
        assert_eq!(
            text(s(vec![1], Some(SectionPart::Mime))),
            "Content-Type: text/plain\r\n\r\n"
        );
        assert_eq!(text(s(vec![2], None)), "Subject: inner\r\n\r\ninner text");
        assert_eq!(
            text(s(vec![2], Some(SectionPart::Header))),
            "Subject: inner\r\n\r\n"
        );
        assert_eq!(text(s(vec![2, 1], None)), "inner text");
        assert_eq!(
            text(s(
                vec![],
                Some(SectionPart::HeaderFields(vec!["SUBJECT".into()]))
            )),
            "Subject: test\r\n\tfolded\r\n\r\n"
        );
        assert_eq!(
            text(s(
                vec![],
                Some(SectionPart::HeaderFieldsNot(vec![
                    "subject".into(),
                    "received".into(),
                    "content-type".into()
                ]))
            )),
            "From: a@example.org\r\n\r\n"
        );
        assert!(v.section(&s(vec![3], None)).is_none());
        assert!(v.section(&s(vec![1], Some(SectionPart::Header))).is_none());
        assert!(v.section(&s(vec![2, 2], None)).is_none());
        // A text part has no part 1 of its own; the inner message's text part neither.
        assert!(v.section(&s(vec![1, 1], None)).is_none());
        assert!(v.section(&s(vec![2, 1, 1], None)).is_none());
    }

    #[test]
    fn message_global_is_a_message() {
        let raw = concat!(
            "Content-Type: multipart/mixed; boundary=b\r\n\r\n",
            "--b\r\nContent-Type: message/global\r\n\r\nSubject: \u{e9}t\u{e9}\r\n\r\nbody\r\n",
            "--b--\r\n"
        );
        let parts = parts::parse(raw.as_bytes());
        let v = MessageView {
            prefix: b"",
            file: raw.as_bytes(),
            parts: &parts,
        };
        assert_eq!(
            v.section(&s(vec![1], Some(SectionPart::Header))).unwrap(),
            "Subject: \u{e9}t\u{e9}\r\n\r\n".as_bytes()
        );
        assert_eq!(v.section(&s(vec![1, 1], None)).unwrap(), b"body");
    }

    #[test]
    fn single_part_message_has_part_one() {
        let raw = b"Subject: x\r\n\r\nbody\r\n";
        let parts = parts::parse(raw);
        let v = MessageView {
            prefix: b"",
            file: raw,
            parts: &parts,
        };
        assert_eq!(v.section(&s(vec![1], None)).unwrap(), b"body\r\n");
        assert_eq!(
            v.section(&s(vec![], Some(SectionPart::Text))).unwrap(),
            b"body\r\n"
        );
        assert!(v.section(&s(vec![1, 1], None)).is_none());
    }

    #[test]
    fn message_that_is_a_message_rfc822() {
        // Part 1 of a message whose body is an encapsulated message is that message; 1.1 is the
        // body of the message inside.
        let raw = b"Content-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\ninner\r\n";
        let parts = parts::parse(raw);
        let v = MessageView {
            prefix: b"",
            file: raw,
            parts: &parts,
        };
        assert_eq!(
            v.section(&s(vec![1], None)).unwrap(),
            b"Subject: in\r\n\r\ninner\r\n"
        );
        assert_eq!(v.section(&s(vec![1, 1], None)).unwrap(), b"inner\r\n");
        assert_eq!(
            v.section(&s(vec![1], Some(SectionPart::Header))).unwrap(),
            b"Subject: in\r\n\r\n"
        );
        assert!(v.section(&s(vec![2], None)).is_none());
    }
}
