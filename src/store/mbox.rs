//! mbox files (RFC 4155) for `moxctl import` and `export`, in the mboxrd variant.
//!
//! Reading: a message starts at each line beginning with `From ` (the "From_ line", which holds
//! the envelope sender and a date, RFC 4155 §2); the empty line a writer puts after each message
//! is dropped; a line of one or more `>` followed by `From ` loses one `>` (mboxrd: the writer
//! added it, so that a body line cannot start a message); LF line endings become CRLF, as a mail
//! store keeps them (RFC 5322 §2.1). Flags come from the `Status:` (R: \Seen) and `X-Status:` (A:
//! \Answered, F: \Flagged, T: \Draft, D: \Deleted) fields that mutt, Thunderbird, Dovecot and
//! Python's `mailbox` write; the From_ line's date becomes the received time (RFC 4155 says it is
//! in UTC, in the form of C's asctime).
//!
//! Writing is the reverse: a From_ line (`From MAILER-DAEMON` and the received time: the envelope
//! sender is not kept), `Status:` and `X-Status:` fields with the message's flags in place of those
//! the message had, the message with CRLF turned into LF and `>`-quoted `From ` lines, a final
//! newline when it had none, and an empty line.
//!
//! mboxo writers (Python's `mailbox` among them) quote `From ` but not `>From `: a body line that
//! was `>From ` comes back as `From `. The format cannot tell the two apart; mboxrd is read here.

use std::io::{self, Write};

use super::Flags;

/// A message of an mbox file, as read by [`Splitter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The From_ line that started it, without its line ending. None for text before the first
    /// From_ line (a file that is not an mbox, or damaged at the start).
    pub from_line: Option<Vec<u8>>,
    /// The number of the line where the message starts (its From_ line), from 1.
    pub line: u64,
    /// The message, with CRLF line endings and the mboxrd quoting undone. Empty when oversized.
    pub data: Vec<u8>,
    /// The size of the message in bytes as it would be stored, counted also when it is oversized.
    pub size: u64,
    /// Larger than the limit the splitter was given: the data was not kept.
    pub oversized: bool,
}

impl Entry {
    fn new(from_line: Option<Vec<u8>>, line: u64) -> Entry {
        Entry {
            from_line,
            line,
            data: Vec::new(),
            size: 0,
            oversized: false,
        }
    }

    /// The date of the From_ line, seconds since the epoch.
    pub fn received(&self) -> Option<i64> {
        from_line_date(self.from_line.as_deref()?)
    }

    /// The flags in the message's `Status:` and `X-Status:` fields.
    pub fn flags(&self) -> Flags {
        status_flags(&self.data)
    }
}

/// Splits an mbox file into messages, a line at a time, keeping at most `max` bytes of any one
/// message in memory.
#[derive(Debug)]
pub struct Splitter {
    max: usize,
    line_no: u64,
    current: Option<Entry>,
}

impl Splitter {
    pub fn new(max: usize) -> Splitter {
        Splitter {
            max,
            line_no: 0,
            current: None,
        }
    }

    /// Takes the next line, with its LF (the last line of a file may have none). `cut` is the
    /// number of bytes of the line the reader did not keep (see [`LineReader`]). Returns the
    /// previous message when this line starts a new one.
    pub fn push_line(&mut self, line: &[u8], cut: u64) -> Option<Entry> {
        self.line_no += 1;
        if line.starts_with(b"From ") {
            let done = self.current.take().and_then(close);
            let from = line.strip_suffix(b"\n").unwrap_or(line);
            let from = from.strip_suffix(b"\r").unwrap_or(from);
            self.current = Some(Entry::new(Some(from.to_vec()), self.line_no));
            return done;
        }
        let line_no = self.line_no;
        let entry = self
            .current
            .get_or_insert_with(|| Entry::new(None, line_no));
        // RFC 4155 §2, mboxrd: ">From ", ">>From ", ... had one '>' added when written.
        let line = if is_quoted_from(line) {
            &line[1..]
        } else {
            line
        };
        let (text, lf) = match line.strip_suffix(b"\n") {
            Some(text) => (text.strip_suffix(b"\r").unwrap_or(text), true),
            None => (line, false),
        };
        entry.size += text.len() as u64 + if lf { 2 } else { 0 } + cut;
        if entry.size > self.max as u64 {
            entry.oversized = true;
            entry.data = Vec::new();
        }
        if !entry.oversized {
            entry.data.extend_from_slice(text);
            if lf {
                entry.data.extend_from_slice(b"\r\n");
            }
        }
        None
    }

    /// The last message, at the end of the file.
    pub fn finish(&mut self) -> Option<Entry> {
        self.current.take().and_then(close)
    }
}

/// Whether the line is `>`s followed by `From `.
fn is_quoted_from(line: &[u8]) -> bool {
    let quotes = line.iter().take_while(|b| **b == b'>').count();
    quotes > 0 && line[quotes..].starts_with(b"From ")
}

/// Finishes a message: drops the empty line that separates it from the next one (RFC 4155
/// §2: a writer ends each message with one), and text before the first From_ line that is only
/// blank lines.
fn close(mut entry: Entry) -> Option<Entry> {
    if entry.from_line.is_none()
        && !entry.oversized
        && entry.data.iter().all(u8::is_ascii_whitespace)
    {
        return None;
    }
    if !entry.oversized && (entry.data == b"\r\n" || entry.data.ends_with(b"\n\r\n")) {
        entry.data.truncate(entry.data.len() - 2);
        entry.size -= 2;
    }
    Some(entry)
}

/// Reads lines of at most `cap` bytes; the rest of a longer line is skipped and counted.
pub struct LineReader<R> {
    inner: R,
    cap: usize,
}

impl<R: io::BufRead> LineReader<R> {
    pub fn new(inner: R, cap: usize) -> LineReader<R> {
        LineReader { inner, cap }
    }

    /// Reads the next line into `line` (cleared first), with its LF (kept also when the line is
    /// cut); returns the number of bytes skipped beyond the cap, or None at the end of the input.
    pub fn next_line(&mut self, line: &mut Vec<u8>) -> io::Result<Option<u64>> {
        line.clear();
        let mut cut = 0u64;
        let mut any = false;
        loop {
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() {
                return Ok(any.then_some(cut));
            }
            any = true;
            let (part, done) = match memchr::memchr(b'\n', buf) {
                Some(i) => (&buf[..=i], true),
                None => (buf, false),
            };
            let room = self.cap.saturating_sub(line.len()).min(part.len());
            line.extend_from_slice(&part[..room]);
            cut += (part.len() - room) as u64;
            let n = part.len();
            self.inner.consume(n);
            if done {
                if cut > 0 {
                    line.push(b'\n');
                    cut -= 1;
                }
                return Ok(Some(cut));
            }
        }
    }
}

/// Splits a whole mbox in memory (for tests and the fuzzer; `moxctl` reads files a line at a
/// time with [`LineReader`]).
pub fn split(data: &[u8], max: usize) -> Vec<Entry> {
    let mut splitter = Splitter::new(max);
    let mut out = Vec::new();
    for line in data.split_inclusive(|b| *b == b'\n') {
        out.extend(splitter.push_line(line, 0));
    }
    out.extend(splitter.finish());
    out
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/// The date of a From_ line (`From sender Thu Nov 14 22:13:20 2023`), seconds since the epoch.
/// RFC 4155 §2 asks for asctime in UTC; variants with a zone (`+0100`) before or after the year,
/// or without seconds, are read too.
pub fn from_line_date(line: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(line).ok()?;
    let tokens: Vec<&str> = text.split_ascii_whitespace().skip(2).collect();
    let m = tokens
        .iter()
        .position(|t| MONTHS.iter().any(|m| m.eq_ignore_ascii_case(t)))?;
    let month = MONTHS
        .iter()
        .position(|mo| mo.eq_ignore_ascii_case(tokens[m]))?;
    let day: u8 = tokens.get(m + 1)?.parse().ok()?;
    let mut time = tokens.get(m + 2)?.split(':');
    let hour: u8 = time.next()?.parse().ok()?;
    let minute: u8 = time.next()?.parse().ok()?;
    let second: u8 = match time.next() {
        Some(s) => s.parse().ok()?,
        None => 0,
    };
    let mut year = None;
    let mut zone = (false, 0u8, 0u8);
    for t in tokens.iter().skip(m + 3).take(2) {
        if let Some(z) = t.strip_prefix(['+', '-'])
            && z.len() == 4
            && z.bytes().all(|b| b.is_ascii_digit())
        {
            let n: u16 = z.parse().ok()?;
            zone = (t.starts_with('-'), (n / 100) as u8, (n % 100) as u8);
        } else if t.len() == 4 {
            year = Some(t.parse::<u16>().ok()?);
        }
    }
    let date = mail_parser::DateTime {
        year: year?,
        month: month as u8 + 1,
        day,
        hour,
        minute,
        second,
        tz_before_gmt: zone.0,
        tz_hour: zone.1,
        tz_minute: zone.2,
    };
    date.is_valid().then(|| date.to_timestamp())
}

/// `Thu Nov 14 22:13:20 2023`: C's asctime of a time in UTC, as RFC 4155 wants in From_ lines.
pub fn asctime(unix: i64) -> String {
    let d = mail_parser::DateTime::from_timestamp(unix);
    format!(
        "{} {} {:2} {:02}:{:02}:{:02} {}",
        WEEKDAYS[usize::from(d.day_of_week()) % 7],
        MONTHS[usize::from(d.month.clamp(1, 12) - 1)],
        d.day,
        d.hour,
        d.minute,
        d.second,
        d.year
    )
}

/// The header fields of a message, each with its continuation lines: (start, end) offsets.
fn header_fields(message: &[u8]) -> Vec<(usize, usize)> {
    let mut fields: Vec<(usize, usize)> = Vec::new();
    let mut pos = 0;
    for line in message.split_inclusive(|b| *b == b'\n') {
        if line == b"\n" || line == b"\r\n" {
            break;
        }
        let end = pos + line.len();
        match fields.last_mut() {
            Some(last) if line.starts_with(b" ") || line.starts_with(b"\t") => last.1 = end,
            _ => fields.push((pos, end)),
        }
        pos = end;
    }
    fields
}

/// The field's name, if the text is a header field.
fn field_name(field: &[u8]) -> Option<&[u8]> {
    let colon = memchr::memchr(b':', field)?;
    Some(field[..colon].trim_ascii())
}

fn is_status_field(field: &[u8]) -> bool {
    field_name(field)
        .is_some_and(|n| n.eq_ignore_ascii_case(b"Status") || n.eq_ignore_ascii_case(b"X-Status"))
}

/// The flags in the `Status:` and `X-Status:` fields of a message's header.
pub fn status_flags(message: &[u8]) -> Flags {
    let mut flags = Flags::empty();
    for (start, end) in header_fields(message) {
        let field = &message[start..end];
        let Some(name) = field_name(field) else {
            continue;
        };
        let colon = memchr::memchr(b':', field).unwrap_or(0);
        let value = &field[colon + 1..];
        let letters: &[(u8, Flags)] = if name.eq_ignore_ascii_case(b"Status") {
            &[(b'R', Flags::SEEN)]
        } else if name.eq_ignore_ascii_case(b"X-Status") {
            &[
                (b'A', Flags::ANSWERED),
                (b'F', Flags::FLAGGED),
                (b'T', Flags::DRAFT),
                (b'D', Flags::DELETED),
            ]
        } else {
            continue;
        };
        for (letter, flag) in letters {
            if value.contains(letter) {
                flags = flags.union(*flag);
            }
        }
    }
    flags
}

/// Writes one message in mboxrd form: From_ line, flag fields, the message (its own Status and
/// X-Status fields left out) with LF line endings and `>`-quoting, and the separating empty line.
pub fn write_message(
    out: &mut impl Write,
    message: &[u8],
    received: i64,
    flags: Flags,
) -> io::Result<()> {
    writeln!(out, "From MAILER-DAEMON {}", asctime(received))?;
    if flags.contains(Flags::SEEN) {
        out.write_all(b"Status: RO\n")?;
    }
    let x_status: String = [
        (Flags::ANSWERED, 'A'),
        (Flags::FLAGGED, 'F'),
        (Flags::DRAFT, 'T'),
        (Flags::DELETED, 'D'),
    ]
    .iter()
    .filter(|(f, _)| flags.contains(*f))
    .map(|(_, c)| *c)
    .collect();
    if !x_status.is_empty() {
        writeln!(out, "X-Status: {x_status}")?;
    }
    let skip: Vec<(usize, usize)> = header_fields(message)
        .into_iter()
        .filter(|(s, e)| is_status_field(&message[*s..*e]))
        .collect();
    let mut pos = 0;
    let mut last_lf = true;
    for line in message.split_inclusive(|b| *b == b'\n') {
        let start = pos;
        pos += line.len();
        if skip.iter().any(|(s, e)| start >= *s && start < *e) {
            continue;
        }
        let line = match line.strip_suffix(b"\r\n") {
            Some(text) => {
                out.write_all(quote(text))?;
                out.write_all(text)?;
                out.write_all(b"\n")?;
                last_lf = true;
                continue;
            }
            None => line,
        };
        out.write_all(quote(line))?;
        out.write_all(line)?;
        last_lf = line.ends_with(b"\n");
    }
    if !last_lf {
        out.write_all(b"\n")?;
    }
    out.write_all(b"\n")
}

/// The `>` a line needs in front so that it is not read as a From_ line (mboxrd).
fn quote(line: &[u8]) -> &'static [u8] {
    if line.starts_with(b"From ") || is_quoted_from(line) {
        b">"
    } else {
        b""
    }
}

#[cfg(test)]
mod tests;
