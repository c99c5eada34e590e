//! Bytes → complete IMAP commands. Knows about literals (RFC 9051 §4.3): a synchronizing literal
//! `{n}` needs a "+" continuation before the client sends it, a non-synchronizing one `{n+}`
//! (LITERAL+, RFC 7888) follows at once. Enforces limits on line and literal sizes.

/// Longest line (between literals) accepted.
pub const MAX_LINE: usize = 8 * 1024;
/// How much a whole command may hold beyond its largest literal.
pub const MAX_EXTRA: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A complete command: its bytes, literals included, final CRLF removed.
    Command(Vec<u8>),
    /// Send a continuation request: the client waits for it before sending a literal.
    Continue,
    /// The command was refused before it was complete; reply with this tagged BAD/NO.
    /// The tag is "*" when none could be read.
    Refused { tag: String, text: String },
    /// The client broke the protocol beyond recovery (a non-synchronizing literal over the
    /// limit): send BYE and close.
    Fatal(String),
}

#[derive(Debug)]
enum State {
    Line,
    /// Reading `remaining` literal bytes.
    Literal {
        remaining: usize,
    },
    /// Discarding the rest of an over-long line.
    Skip,
}

#[derive(Debug)]
pub struct Receiver {
    buf: Vec<u8>,
    /// The command being assembled.
    command: Vec<u8>,
    /// Where scanning for the end of the current line resumes.
    scanned: usize,
    state: State,
    max_literal: usize,
}

impl Receiver {
    pub fn new(max_literal: usize) -> Receiver {
        Receiver {
            buf: Vec::new(),
            command: Vec::new(),
            scanned: 0,
            state: State::Line,
            max_literal,
        }
    }

    pub fn set_max_literal(&mut self, n: usize) {
        self.max_literal = n;
    }

    pub fn receive(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Whether bytes are buffered that were not turned into an event yet.
    pub fn has_buffered_input(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Drops buffered input (after STARTTLS: what was pipelined in plain text must not count).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.command.clear();
        self.scanned = 0;
        self.state = State::Line;
    }

    /// The next event, or None when more input is needed.
    pub fn next_event(&mut self) -> Option<Event> {
        loop {
            match self.state {
                State::Literal { remaining } => {
                    if self.buf.is_empty() {
                        return None;
                    }
                    let n = remaining.min(self.buf.len());
                    self.command.extend(self.buf.drain(..n));
                    if n == remaining {
                        self.state = State::Line;
                    } else {
                        self.state = State::Literal {
                            remaining: remaining - n,
                        };
                        return None;
                    }
                }
                State::Skip => match self.buf.iter().position(|&b| b == b'\n') {
                    Some(i) => {
                        self.buf.drain(..=i);
                        self.state = State::Line;
                    }
                    None => {
                        self.buf.clear();
                        return None;
                    }
                },
                State::Line => {
                    let Some(i) = self.buf[self.scanned..]
                        .iter()
                        .position(|&b| b == b'\n')
                        .map(|i| i + self.scanned)
                    else {
                        self.scanned = self.buf.len();
                        if self.buf.len() > MAX_LINE {
                            let tag = self.tag();
                            self.clear();
                            self.state = State::Skip;
                            return Some(Event::Refused {
                                tag,
                                text: "line too long".into(),
                            });
                        }
                        return None;
                    };
                    self.scanned = 0;
                    let mut line: Vec<u8> = self.buf.drain(..=i).collect();
                    line.pop();
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    if line.len() > MAX_LINE {
                        let tag = tag_of(&self.command, &line);
                        self.command.clear();
                        return Some(Event::Refused {
                            tag,
                            text: "line too long".into(),
                        });
                    }
                    match literal_announced(&line) {
                        None => {
                            self.command.extend_from_slice(&line);
                            return Some(Event::Command(std::mem::take(&mut self.command)));
                        }
                        Some((size, sync)) => {
                            let tag = tag_of(&self.command, &line);
                            // Each literal is bounded, and so is a command made of many.
                            let total = self.command.len() + line.len() + size;
                            if size > self.max_literal
                                || total > self.max_literal.saturating_add(MAX_EXTRA)
                            {
                                self.command.clear();
                                if sync {
                                    // RFC 9051 §7.1: TOOBIG. The client will not send the literal.
                                    return Some(Event::Refused {
                                        tag,
                                        text: "[TOOBIG] literal too large".into(),
                                    });
                                }
                                self.buf.clear();
                                return Some(Event::Fatal(
                                    "non-synchronizing literal too large".into(),
                                ));
                            }
                            self.command.extend_from_slice(&line);
                            self.command.extend_from_slice(b"\r\n");
                            self.state = State::Literal { remaining: size };
                            if sync {
                                return Some(Event::Continue);
                            }
                        }
                    }
                }
            }
        }
    }

    fn tag(&self) -> String {
        tag_of(&self.command, &self.buf)
    }
}

/// The tag of the command that starts with `first` (or `line` when nothing came before).
fn tag_of(first: &[u8], line: &[u8]) -> String {
    let start = if first.is_empty() { line } else { first };
    let tag: Vec<u8> = start
        .iter()
        .take_while(|&&b| b != b' ' && b > 0x20 && b < 0x7f)
        .copied()
        .collect();
    if tag.is_empty() || tag.len() > 64 {
        "*".into()
    } else {
        String::from_utf8_lossy(&tag).into_owned()
    }
}

/// Whether `line` ends with a literal announcement `{n}` or `{n+}` (also `~{n}` for BINARY),
/// and its size and whether it is synchronizing.
fn literal_announced(line: &[u8]) -> Option<(usize, bool)> {
    let body = line.strip_suffix(b"}")?;
    let open = body.iter().rposition(|&b| b == b'{')?;
    let mut digits = &body[open + 1..];
    let sync = match digits
        .strip_suffix(b"+")
        .or_else(|| digits.strip_suffix(b"-"))
    {
        Some(d) => {
            digits = d;
            false
        }
        None => true,
    };
    if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits)
        .ok()?
        .parse()
        .ok()
        .map(|n| (n, sync))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(r: &mut Receiver, input: &[u8]) -> Vec<Event> {
        r.receive(input);
        std::iter::from_fn(|| r.next_event()).collect()
    }

    #[test]
    fn lines_and_literals() {
        let mut r = Receiver::new(100);
        assert_eq!(
            events(&mut r, b"a1 NOOP\r\na2 LOGIN {3}\r\n"),
            [Event::Command(b"a1 NOOP".to_vec()), Event::Continue]
        );
        assert_eq!(events(&mut r, b"mox {9+}\r\nmoxmox"), []);
        assert_eq!(
            events(&mut r, b"mox\r\n"),
            [Event::Command(
                b"a2 LOGIN {3}\r\nmox {9+}\r\nmoxmoxmox".to_vec()
            )]
        );
    }

    #[test]
    fn literal_with_crlf_inside() {
        let mut r = Receiver::new(100);
        let ev = events(&mut r, b"a APPEND x {4+}\r\n\r\n\r\n\r\n");
        assert_eq!(
            ev,
            [Event::Command(b"a APPEND x {4+}\r\n\r\n\r\n".to_vec())]
        );
    }

    #[test]
    fn many_literals_cannot_grow_a_command_without_bound() {
        let mut r = Receiver::new(1000);
        let mut ev = events(&mut r, b"t1 X {1000+}\r\n");
        for _ in 0..70 {
            let mut chunk = vec![b'a'; 1000];
            chunk.extend_from_slice(b" {1000+}\r\n");
            ev.extend(events(&mut r, &chunk));
            if !ev.is_empty() {
                break;
            }
        }
        assert!(matches!(ev[..], [Event::Fatal(_)]), "{ev:?}");
    }

    #[test]
    fn limits() {
        let mut r = Receiver::new(10);
        assert_eq!(
            events(&mut r, b"t1 APPEND x {11}\r\n"),
            [Event::Refused {
                tag: "t1".into(),
                text: "[TOOBIG] literal too large".into()
            }]
        );
        assert_eq!(
            events(&mut r, b"t2 NOOP\r\n"),
            [Event::Command(b"t2 NOOP".to_vec())]
        );
        assert!(matches!(
            events(&mut r, b"t3 APPEND x {11+}\r\n")[..],
            [Event::Fatal(_)]
        ));
        let mut r = Receiver::new(10);
        let mut long = b"t4 ".to_vec();
        long.extend(std::iter::repeat_n(b'a', MAX_LINE + 1));
        assert_eq!(
            events(&mut r, &long),
            [Event::Refused {
                tag: "t4".into(),
                text: "line too long".into()
            }]
        );
        assert_eq!(
            events(&mut r, b"aaa\r\nt5 NOOP\r\n"),
            [Event::Command(b"t5 NOOP".to_vec())]
        );
    }
}
