//! Dot-stuffing for DATA (RFC 5321 §4.5.2), over a message that arrives in pieces.

/// Adds a `.` before every line that starts with one, and ends the data with `CRLF.CRLF`.
#[derive(Debug, Clone)]
pub struct DotStuffer {
    /// The next byte starts a line.
    line_start: bool,
    /// The last two bytes of the input so far (for the final CRLF).
    last: [u8; 2],
}

impl Default for DotStuffer {
    fn default() -> Self {
        DotStuffer {
            line_start: true,
            // An empty message needs no CRLF before the final dot.
            last: *b"\r\n",
        }
    }
}

impl DotStuffer {
    /// Appends `input`, stuffed, to `out`. A line starts after any LF: the message should be
    /// CRLF throughout, but a bare LF followed by a dot must not become an end of data for
    /// servers that accept LF line ends (an extra dot is the lesser harm).
    pub fn stuff(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len() + 8);
        let mut rest = input;
        while !rest.is_empty() {
            if self.line_start && rest.first() == Some(&b'.') {
                out.push(b'.');
            }
            let (line, tail) = match memchr::memchr(b'\n', rest) {
                Some(i) => rest.split_at(i + 1),
                None => (rest, &[][..]),
            };
            out.extend_from_slice(line);
            self.line_start = line.last() == Some(&b'\n');
            rest = tail;
        }
        match input {
            [] => {}
            [b] => self.last = [self.last[1], *b],
            [.., a, b] => self.last = [*a, *b],
        }
    }

    /// The end of data: a CRLF if the message did not end with one, then `.CRLF`.
    pub fn finish(&self, out: &mut Vec<u8>) {
        if self.last != *b"\r\n" {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stuff_in_pieces(pieces: &[&[u8]]) -> Vec<u8> {
        let mut s = DotStuffer::default();
        let mut out = Vec::new();
        for p in pieces {
            s.stuff(p, &mut out);
        }
        s.finish(&mut out);
        out
    }

    #[test]
    fn stuffs_and_terminates() {
        assert_eq!(stuff_in_pieces(&[]), b".\r\n");
        assert_eq!(stuff_in_pieces(&[b"a\r\n"]), b"a\r\n.\r\n");
        assert_eq!(stuff_in_pieces(&[b"a"]), b"a\r\n.\r\n");
        assert_eq!(
            stuff_in_pieces(&[b".x\r\n..\r\n.\r\nend"]),
            b"..x\r\n...\r\n..\r\nend\r\n.\r\n"
        );
        // Lines and CRLFs split across pieces.
        assert_eq!(
            stuff_in_pieces(&[b"a\r", b"\n", b".", b"b\r\n", b"", b"\r"]),
            b"a\r\n..b\r\n\r\r\n.\r\n"
        );
        // A bare LF at the end still gets a CRLF before the dot; a dot after it is stuffed.
        assert_eq!(stuff_in_pieces(&[b"a\n.b\n"]), b"a\n..b\n\r\n.\r\n");
        assert_eq!(stuff_in_pieces(&[b"\r\n"]), b"\r\n.\r\n");
        assert_eq!(stuff_in_pieces(&[b"\n"]), b"\n\r\n.\r\n");
    }
}
