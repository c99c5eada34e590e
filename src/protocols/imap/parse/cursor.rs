//! The tokenizer under the command parsers: atoms, strings (quoted and literal), numbers and
//! sequence sets (RFC 9051 §4, §9).

use crate::protocols::imap::types::{SeqNum, SeqSet};

pub(super) type PResult<T> = std::result::Result<T, String>;

pub(super) struct Cursor<'a> {
    pub(super) input: &'a [u8],
    pub(super) pos: usize,
}

pub(super) fn is_atom_char(b: u8) -> bool {
    // RFC 9051: ATOM-CHAR is any CHAR except atom-specials.
    b > 0x20 && b < 0x7f && !b"(){ %*\"\\]".contains(&b)
}

impl<'a> Cursor<'a> {
    pub(super) fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    pub(super) fn eof(&self) -> bool {
        self.pos >= self.input.len()
    }

    pub(super) fn expect(&mut self, b: u8) -> PResult<()> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected {:?} at position {}", b as char, self.pos))
        }
    }

    pub(super) fn take(&mut self, b: u8) -> bool {
        let found = self.peek() == Some(b);
        if found {
            self.pos += 1;
        }
        found
    }

    pub(super) fn sp(&mut self) -> PResult<()> {
        self.expect(b' ')
    }

    pub(super) fn end(&self) -> PResult<()> {
        if self.eof() {
            Ok(())
        } else {
            Err(format!("unexpected characters at position {}", self.pos))
        }
    }

    pub(super) fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        &self.input[start..self.pos]
    }

    pub(super) fn tag(&mut self) -> PResult<String> {
        let t = self.take_while(|b| is_atom_char(b) && b != b'+' || b == b']');
        if t.is_empty() {
            return Err("missing tag".into());
        }
        self.sp()?;
        Ok(String::from_utf8_lossy(t).into_owned())
    }

    /// Takes `NIL` (case-insensitive) if it is next.
    pub(super) fn take_nil(&mut self) -> bool {
        let nil = self
            .input
            .get(self.pos..self.pos + 3)
            .is_some_and(|b| b.eq_ignore_ascii_case(b"NIL"));
        if nil {
            self.pos += 3;
        }
        nil
    }

    pub(super) fn atom(&mut self) -> PResult<String> {
        let a = self.take_while(is_atom_char);
        if a.is_empty() {
            return Err(format!("expected an atom at position {}", self.pos));
        }
        Ok(String::from_utf8_lossy(a).into_owned())
    }

    /// An atom, upper-cased, with '.' '[' allowed (command and fetch item names).
    pub(super) fn keyword(&mut self) -> PResult<String> {
        let a =
            self.take_while(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'=');
        if a.is_empty() {
            return Err(format!("expected a keyword at position {}", self.pos));
        }
        Ok(String::from_utf8_lossy(a).to_ascii_uppercase())
    }

    pub(super) fn number(&mut self) -> PResult<u64> {
        let d = self.take_while(|b| b.is_ascii_digit());
        std::str::from_utf8(d)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("expected a number at position {}", self.pos))
    }

    pub(super) fn nz_number(&mut self) -> PResult<u32> {
        match self.number()? {
            n @ 1..=0xffff_ffff => Ok(n as u32),
            _ => Err("number out of range".into()),
        }
    }

    pub(super) fn quoted(&mut self) -> PResult<Vec<u8>> {
        self.expect(b'"')?;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err("unterminated quoted string".into()),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b @ (b'"' | b'\\')) => out.push(b),
                        _ => return Err("bad escape in quoted string".into()),
                    }
                    self.pos += 1;
                }
                Some(b'\r' | b'\n' | 0) => return Err("CR, LF or NUL in quoted string".into()),
                Some(b) => {
                    out.push(b);
                    self.pos += 1;
                }
            }
        }
    }

    pub(super) fn literal(&mut self) -> PResult<Vec<u8>> {
        self.take(b'~');
        self.expect(b'{')?;
        let n = self.number()?;
        let _ = self.take(b'+') || self.take(b'-');
        self.expect(b'}')?;
        self.expect(b'\r')?;
        self.expect(b'\n')?;
        let n = usize::try_from(n).map_err(|_| "literal too large")?;
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.input.len())
            .ok_or("literal shorter than announced")?;
        let data = self.input[self.pos..end].to_vec();
        self.pos = end;
        Ok(data)
    }

    pub(super) fn string_bytes(&mut self) -> PResult<Vec<u8>> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            Some(b'{' | b'~') => self.literal(),
            _ => Err(format!("expected a string at position {}", self.pos)),
        }
    }

    /// astring: atom (with ']' allowed) or string, as UTF-8.
    pub(super) fn astring(&mut self) -> PResult<String> {
        let bytes = match self.peek() {
            Some(b'"' | b'{' | b'~') => self.string_bytes()?,
            _ => {
                let a = self.take_while(|b| is_atom_char(b) || b == b']');
                if a.is_empty() {
                    return Err(format!("expected a string at position {}", self.pos));
                }
                a.to_vec()
            }
        };
        String::from_utf8(bytes).map_err(|_| "string is not UTF-8".into())
    }

    pub(super) fn mailbox(&mut self) -> PResult<String> {
        // RFC 9051 §5.1: mailbox names are UTF-8 (IMAP4rev1 clients' modified UTF-7 is decoded
        // once UTF8=ACCEPT or rev1 support grows to need it).
        let name = self.astring()?;
        if name.is_empty() {
            return Err("empty mailbox name".into());
        }
        Ok(name)
    }

    pub(super) fn seq_number(&mut self) -> PResult<SeqNum> {
        if self.take(b'*') {
            Ok(SeqNum::Star)
        } else {
            Ok(SeqNum::Value(self.nz_number()?))
        }
    }

    pub(super) fn seq_set(&mut self) -> PResult<SeqSet> {
        if self.take(b'$') {
            return Ok(SeqSet::saved());
        }
        let mut ranges = Vec::new();
        loop {
            let a = self.seq_number()?;
            let b = if self.take(b':') {
                self.seq_number()?
            } else {
                a
            };
            ranges.push((a, b));
            if !self.take(b',') {
                break;
            }
            if ranges.len() > 10_000 {
                return Err("sequence set too long".into());
            }
        }
        Ok(SeqSet(ranges))
    }
}
