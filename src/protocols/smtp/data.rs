//! The DATA phase (RFC 5321 §4.1.1.4, §4.5.2): undoes dot-stuffing, finds the end of the message
//! (only CRLF "." CRLF ends it, so that bare-LF tricks cannot smuggle a second message, see
//! RFC 5321 §2.3.8), counts the size and notes bare CR or LF.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineState {
    /// At the start of a line.
    Start,
    /// A '.' was the first byte of the line and nothing followed yet.
    Dot,
    /// Inside a line.
    Middle,
}

#[derive(Debug)]
pub struct DataReader {
    state: LineState,
    /// A CR was seen and its LF not yet.
    pending_cr: bool,
    /// The line held only the dot before the pending CR.
    cr_after_dot: bool,
    size: u64,
    max_size: u64,
    pub bare_line_ending: bool,
}

/// What feeding bytes did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DataProgress {
    /// Bytes of input used; the rest (after the end) belongs to the next command.
    pub consumed: usize,
    /// The end of the message was found.
    pub done: bool,
}

impl DataReader {
    pub fn new(max_size: u64) -> DataReader {
        DataReader {
            state: LineState::Start,
            pending_cr: false,
            cr_after_dot: false,
            size: 0,
            max_size,
            bare_line_ending: false,
        }
    }

    /// Whether the message grew over the maximum size (its bytes past that are dropped).
    pub fn too_large(&self) -> bool {
        self.size > self.max_size
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends message bytes, up to the maximum size: beyond it they are counted, not kept, and
    /// the output is the same however the input was cut into chunks.
    fn emit(&mut self, out: &mut Vec<u8>, bytes: &[u8]) {
        let room = self.max_size.saturating_sub(self.size);
        let keep = usize::try_from(room).map_or(bytes.len(), |room| room.min(bytes.len()));
        out.extend_from_slice(&bytes[..keep]);
        self.size += bytes.len() as u64;
    }

    /// Consumes `input`, appending message bytes to `out`.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> DataProgress {
        let mut i = 0;
        while let Some(&b) = input.get(i) {
            if self.pending_cr {
                self.pending_cr = false;
                if b == b'\n' {
                    i += 1;
                    if self.cr_after_dot {
                        return DataProgress {
                            consumed: i,
                            done: true,
                        };
                    }
                    self.emit(out, b"\r\n");
                    self.state = LineState::Start;
                    continue;
                }
                // A CR not followed by LF; `b` is looked at below.
                self.bare_line_ending = true;
                self.emit(out, b"\r");
                self.state = LineState::Middle;
            }
            match b {
                b'\r' => {
                    self.pending_cr = true;
                    self.cr_after_dot = self.state == LineState::Dot;
                    i += 1;
                }
                b'\n' => {
                    self.bare_line_ending = true;
                    self.emit(out, b"\n");
                    self.state = LineState::Start;
                    i += 1;
                }
                b'.' if self.state == LineState::Start => {
                    self.state = LineState::Dot;
                    i += 1;
                }
                _ => {
                    // The rest of the line up to its CR or LF, at once.
                    let end =
                        memchr::memchr2(b'\r', b'\n', &input[i..]).map_or(input.len(), |n| i + n);
                    self.emit(out, &input[i..end]);
                    self.state = LineState::Middle;
                    i = end;
                }
            }
        }
        DataProgress {
            consumed: input.len(),
            done: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(chunks: &[&[u8]], max: u64) -> (Vec<u8>, DataReader, usize) {
        let mut r = DataReader::new(max);
        let mut out = Vec::new();
        for (n, chunk) in chunks.iter().enumerate() {
            let p = r.feed(chunk, &mut out);
            if p.done {
                return (out, r, n * 1000 + p.consumed);
            }
        }
        panic!("no end found");
    }

    #[test]
    fn unstuffs_and_finds_end() {
        let (out, r, consumed) = read_all(&[b"Subject: x\r\n\r\n..dot\r\n.\r\nQUIT\r\n"], 1000);
        assert_eq!(out, b"Subject: x\r\n\r\n.dot\r\n");
        assert_eq!(consumed, 24);
        assert!(!r.bare_line_ending && !r.too_large());
    }

    #[test]
    fn end_split_across_chunks() {
        let (out, _, consumed) = read_all(&[b"a\r", b"\n.", b"\r", b"\nrest"], 1000);
        assert_eq!(out, b"a\r\n");
        assert_eq!(consumed, 3001);
    }

    #[test]
    fn empty_message() {
        let (out, _, _) = read_all(&[b".\r\n"], 1000);
        assert!(out.is_empty());
    }

    #[test]
    fn bare_lf_does_not_end_and_is_flagged() {
        let (out, r, _) = read_all(&[b"a\n.\nb\r\n.\r\n"], 1000);
        assert_eq!(out, b"a\n\nb\r\n");
        assert!(r.bare_line_ending);
        let (_, r, _) = read_all(&[b"a\rb\r\n.\r\n"], 1000);
        assert!(r.bare_line_ending);
    }

    #[test]
    fn limit_inside_a_line_is_independent_of_chunking() {
        // Found by fuzz/smtp_data once lines were emitted in runs.
        let input = b"56789\n01234567x9\r\n.\r\n";
        let (whole, _, _) = read_all(&[input], 8);
        let (chunked, _, _) = read_all(&[&input[..8], &input[8..]], 8);
        assert_eq!(whole, chunked);
        assert_eq!(whole, b"56789\n01");
    }

    #[test]
    fn too_large_keeps_reading_to_the_end() {
        let (out, r, _) = read_all(&[b"0123456789\r\n", b"more\r\n.\r\n"], 5);
        assert!(r.too_large());
        assert!(out.len() <= 5);
    }
}
