//! The BODYSTRUCTURE and BODY fetch items (RFC 9051 §7.5.2, §9 `body`), written from the stored
//! part tree: sizes come from the stored offsets, the message is never read.
//!
//! Media types, subtypes, parameter names, dispositions and encodings are sent upper-case, as in
//! RFC 9051's examples (the grammar's literals are case-insensitive, and the store keeps them
//! lower-cased); parameter values go out as stored.

use super::envelope::{phrase, write_envelope};
use super::response::{ntext, text};
use crate::store::parts::Part;

/// Deeper nesting than this is written as if the part had no children; parsers stop far earlier,
/// so this only guards against a corrupt record.
const MAX_DEPTH: usize = 100;

/// The BODYSTRUCTURE (`extensions` true) or BODY (false, "a form of BODYSTRUCTURE without
/// extension data") of the message whose parts are `parts`. With `utf8` false, non-ASCII text
/// is encoded as RFC 2047 encoded-words (descriptions) and RFC 2231 values (parameters).
pub fn body_structure(parts: &[Part], extensions: bool, utf8: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let w = Writer {
        parts,
        extensions,
        utf8,
    };
    match parts.first() {
        Some(_) => w.part(&mut out, 0, 0),
        None => w.empty(&mut out),
    }
    out
}

struct Writer<'a> {
    parts: &'a [Part],
    extensions: bool,
    utf8: bool,
}

impl Writer<'_> {
    /// The children of part `index` that exist. They always come after their parent in the list;
    /// one that does not is ignored, so a corrupt record cannot make a cycle.
    fn children(&self, index: usize, part: &Part, depth: usize) -> Vec<usize> {
        if depth >= MAX_DEPTH {
            return Vec::new();
        }
        part.children
            .iter()
            .map(|&c| c as usize)
            .filter(|&c| c > index && c < self.parts.len())
            .collect()
    }

    fn part(&self, out: &mut Vec<u8>, index: usize, depth: usize) {
        let Some(part) = self.parts.get(index) else {
            return self.empty(out);
        };
        if part.media_type == "multipart" {
            self.multipart(out, index, part, depth);
        } else {
            self.single(out, index, part, depth);
        }
    }

    /// `body-type-mpart`: the children, the subtype, then the extension data.
    fn multipart(&self, out: &mut Vec<u8>, index: usize, part: &Part, depth: usize) {
        out.push(b'(');
        let children = self.children(index, part, depth);
        if children.is_empty() {
            // The grammar needs at least one body: a multipart without parts is written with one
            // empty text part.
            self.empty(out);
        }
        for child in children {
            self.part(out, child, depth + 1);
        }
        out.push(b' ');
        self.upper(out, &part.media_subtype);
        if self.extensions {
            out.push(b' ');
            self.params(out, &part.params);
            self.common_extensions(out, part);
        }
        out.push(b')');
    }

    /// `body-type-basic`, `body-type-msg` or `body-type-text`, then the extension data.
    fn single(&self, out: &mut Vec<u8>, index: usize, part: &Part, depth: usize) {
        out.push(b'(');
        self.upper(out, &part.media_type);
        out.push(b' ');
        self.upper(out, &part.media_subtype);
        out.push(b' ');
        self.params(out, &part.params);
        out.push(b' ');
        // The stored id is the one between the angle brackets of Content-ID; the field value the
        // client gets has them.
        let id = part.content_id.as_deref().map(|id| {
            if id.starts_with('<') {
                id.to_string()
            } else {
                format!("<{id}>")
            }
        });
        ntext(out, id.as_deref(), self.utf8);
        out.push(b' ');
        let description = part.description.as_deref().map(|d| phrase(d, self.utf8));
        ntext(out, description.as_deref(), self.utf8);
        out.push(b' ');
        self.upper(out, part.transfer_encoding.as_deref().unwrap_or("7bit"));
        let size = part.end.saturating_sub(part.body_start);
        out.extend_from_slice(format!(" {size}").as_bytes());
        if is_message_type(part) {
            // The envelope and structure of the encapsulated message, then its size in lines.
            out.push(b' ');
            let inner = self.children(index, part, depth).first().copied();
            match inner.and_then(|i| self.parts.get(i).map(|p| (i, p))) {
                Some((i, root)) => {
                    write_envelope(out, root.envelope.as_ref(), self.utf8);
                    out.push(b' ');
                    self.part(out, i, depth + 1);
                }
                None => {
                    // Not parsed (sent with a transfer encoding, against RFC 2046 §5.2.1): the
                    // grammar still wants an envelope and a body.
                    write_envelope(out, None, self.utf8);
                    out.push(b' ');
                    self.empty(out);
                }
            }
            out.extend_from_slice(format!(" {}", part.body_lines).as_bytes());
        } else if part.media_type == "text" {
            out.extend_from_slice(format!(" {}", part.body_lines).as_bytes());
        }
        if self.extensions {
            // body-fld-md5: not computed.
            out.extend_from_slice(b" NIL");
            self.common_extensions(out, part);
        }
        out.push(b')');
    }

    /// Disposition, language and location: the extension data both kinds of part share.
    fn common_extensions(&self, out: &mut Vec<u8>, part: &Part) {
        out.push(b' ');
        match &part.disposition {
            Some(d) => {
                out.push(b'(');
                self.upper(out, d);
                out.push(b' ');
                self.params(out, &part.disposition_params);
                out.push(b')');
            }
            None => out.extend_from_slice(b"NIL"),
        }
        out.push(b' ');
        match part.language.as_slice() {
            [] => out.extend_from_slice(b"NIL"),
            [one] => text(out, one, self.utf8),
            many => {
                out.push(b'(');
                for (i, l) in many.iter().enumerate() {
                    if i > 0 {
                        out.push(b' ');
                    }
                    text(out, l, self.utf8);
                }
                out.push(b')');
            }
        }
        out.push(b' ');
        ntext(out, part.location.as_deref(), self.utf8);
    }

    /// `body-fld-param`: `("NAME" "value" ...)` or NIL. The store keeps values decoded (RFC 2231
    /// continuations joined, charsets converted to UTF-8); for a client that takes no UTF-8 a
    /// non-ASCII value is encoded again as an RFC 2231 extended value under the name with `*`.
    fn params(&self, out: &mut Vec<u8>, params: &[(String, String)]) {
        if params.is_empty() {
            out.extend_from_slice(b"NIL");
            return;
        }
        out.push(b'(');
        for (i, (name, value)) in params.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            if self.utf8 || value.is_ascii() {
                self.upper(out, name);
                out.push(b' ');
                text(out, value, self.utf8);
            } else {
                self.upper(out, &format!("{name}*"));
                out.push(b' ');
                text(out, &rfc2231(value), false);
            }
        }
        out.push(b')');
    }

    fn upper(&self, out: &mut Vec<u8>, s: &str) {
        text(out, &s.to_ascii_uppercase(), self.utf8);
    }

    /// An empty text/plain body, for places the grammar needs a body and the message has none.
    fn empty(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(br#"("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 0 0"#);
        if self.extensions {
            out.extend_from_slice(b" NIL NIL NIL NIL");
        }
        out.push(b')');
    }
}

/// message/rfc822 and message/global take the `body-type-msg` form (RFC 9051 §9 `media-message`).
fn is_message_type(part: &Part) -> bool {
    part.media_type == "message" && matches!(part.media_subtype.as_str(), "rfc822" | "global")
}

/// `utf-8''` and the value percent-encoded (RFC 2231 §4 `extended-initial-value`).
fn rfc2231(value: &str) -> String {
    let mut out = String::from("utf-8''");
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests;
