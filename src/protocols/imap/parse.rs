//! IMAP command parsing (RFC 9051 §9 grammar): a complete command's bytes (from the
//! [`super::receiver::Receiver`]) into a typed [`Command`]. Never panics on any input.

use super::types::{FetchItem, Section, SectionPart, SeqNum, SeqSet, StoreAction};
use crate::store::Flags;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub tag: String,
    pub kind: CommandKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandKind {
    Capability,
    Noop,
    Logout,
    StartTls,
    Login {
        username: String,
        password: String,
    },
    Select {
        mailbox: String,
        condstore: bool,
    },
    Examine {
        mailbox: String,
        condstore: bool,
    },
    Fetch {
        uid: bool,
        set: SeqSet,
        items: Vec<FetchItem>,
        changed_since: Option<u64>,
    },
    Store(StoreCommand),
    Expunge,
    Close,
    Unselect,
}

/// STORE and UID STORE (RFC 9051 §6.4.6, RFC 7162 §3.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreCommand {
    pub uid: bool,
    pub set: SeqSet,
    pub unchanged_since: Option<u64>,
    pub action: StoreAction,
    /// FLAGS.SILENT: no FETCH responses for the change.
    pub silent: bool,
    pub flags: Flags,
    pub keywords: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    /// The tag, when one could be read ("*" otherwise).
    pub tag: String,
    pub message: String,
}

/// Parses one complete command.
pub fn parse_command(input: &[u8]) -> Result<Command, ParseError> {
    let mut c = Cursor { input, pos: 0 };
    let tag = c.tag().map_err(|message| ParseError {
        tag: "*".into(),
        message,
    })?;
    let kind = c.command().map_err(|message| ParseError {
        tag: tag.clone(),
        message,
    })?;
    Ok(Command { tag, kind })
}

type PResult<T> = std::result::Result<T, String>;

struct Cursor<'a> {
    input: &'a [u8],
    pos: usize,
}

fn is_atom_char(b: u8) -> bool {
    // RFC 9051: ATOM-CHAR is any CHAR except atom-specials.
    b > 0x20 && b < 0x7f && !b"(){ %*\"\\]".contains(&b)
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn eof(&self) -> bool {
        self.pos >= self.input.len()
    }

    fn expect(&mut self, b: u8) -> PResult<()> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected {:?} at position {}", b as char, self.pos))
        }
    }

    fn take(&mut self, b: u8) -> bool {
        let found = self.peek() == Some(b);
        if found {
            self.pos += 1;
        }
        found
    }

    fn sp(&mut self) -> PResult<()> {
        self.expect(b' ')
    }

    fn end(&self) -> PResult<()> {
        if self.eof() {
            Ok(())
        } else {
            Err(format!("unexpected characters at position {}", self.pos))
        }
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        &self.input[start..self.pos]
    }

    fn tag(&mut self) -> PResult<String> {
        let t = self.take_while(|b| is_atom_char(b) && b != b'+' || b == b']');
        if t.is_empty() {
            return Err("missing tag".into());
        }
        self.sp()?;
        Ok(String::from_utf8_lossy(t).into_owned())
    }

    fn atom(&mut self) -> PResult<String> {
        let a = self.take_while(is_atom_char);
        if a.is_empty() {
            return Err(format!("expected an atom at position {}", self.pos));
        }
        Ok(String::from_utf8_lossy(a).into_owned())
    }

    /// An atom, upper-cased, with '.' '[' allowed (command and fetch item names).
    fn keyword(&mut self) -> PResult<String> {
        let a =
            self.take_while(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'=');
        if a.is_empty() {
            return Err(format!("expected a keyword at position {}", self.pos));
        }
        Ok(String::from_utf8_lossy(a).to_ascii_uppercase())
    }

    fn number(&mut self) -> PResult<u64> {
        let d = self.take_while(|b| b.is_ascii_digit());
        std::str::from_utf8(d)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("expected a number at position {}", self.pos))
    }

    fn nz_number(&mut self) -> PResult<u32> {
        match self.number()? {
            n @ 1..=0xffff_ffff => Ok(n as u32),
            _ => Err("number out of range".into()),
        }
    }

    fn quoted(&mut self) -> PResult<Vec<u8>> {
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

    fn literal(&mut self) -> PResult<Vec<u8>> {
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

    fn string_bytes(&mut self) -> PResult<Vec<u8>> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            Some(b'{' | b'~') => self.literal(),
            _ => Err(format!("expected a string at position {}", self.pos)),
        }
    }

    /// astring: atom (with ']' allowed) or string, as UTF-8.
    fn astring(&mut self) -> PResult<String> {
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

    fn mailbox(&mut self) -> PResult<String> {
        // RFC 9051 §5.1: mailbox names are UTF-8 (IMAP4rev1 clients' modified UTF-7 is decoded
        // once UTF8=ACCEPT or rev1 support grows to need it).
        let name = self.astring()?;
        if name.is_empty() {
            return Err("empty mailbox name".into());
        }
        Ok(name)
    }

    fn seq_number(&mut self) -> PResult<SeqNum> {
        if self.take(b'*') {
            Ok(SeqNum::Star)
        } else {
            Ok(SeqNum::Value(self.nz_number()?))
        }
    }

    fn seq_set(&mut self) -> PResult<SeqSet> {
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

    fn command(&mut self) -> PResult<CommandKind> {
        let name = self.keyword()?;
        let kind = match name.as_str() {
            "CAPABILITY" => CommandKind::Capability,
            "NOOP" => CommandKind::Noop,
            "LOGOUT" => CommandKind::Logout,
            "STARTTLS" => CommandKind::StartTls,
            "EXPUNGE" => CommandKind::Expunge,
            "CLOSE" => CommandKind::Close,
            "UNSELECT" => CommandKind::Unselect,
            "LOGIN" => {
                self.sp()?;
                let username = self.astring()?;
                self.sp()?;
                let password = self.astring()?;
                CommandKind::Login { username, password }
            }
            "SELECT" | "EXAMINE" => {
                self.sp()?;
                let mailbox = self.mailbox()?;
                let condstore = self.select_params()?;
                if name == "SELECT" {
                    CommandKind::Select { mailbox, condstore }
                } else {
                    CommandKind::Examine { mailbox, condstore }
                }
            }
            "FETCH" => self.fetch(false)?,
            "STORE" => self.store(false)?,
            "UID" => {
                self.sp()?;
                match self.keyword()?.as_str() {
                    "FETCH" => self.fetch(true)?,
                    "STORE" => self.store(true)?,
                    other => return Err(format!("unknown UID command {other}")),
                }
            }
            other => return Err(format!("unknown command {other}")),
        };
        self.end()?;
        Ok(kind)
    }

    /// `[SP "(" "CONDSTORE" ")"]` (RFC 7162 §3.1.8).
    fn select_params(&mut self) -> PResult<bool> {
        if !self.take(b' ') {
            return Ok(false);
        }
        self.expect(b'(')?;
        match self.keyword()?.as_str() {
            "CONDSTORE" => {}
            other => return Err(format!("unsupported SELECT parameter {other}")),
        }
        self.expect(b')')?;
        Ok(true)
    }

    fn fetch(&mut self, uid: bool) -> PResult<CommandKind> {
        self.sp()?;
        let set = self.seq_set()?;
        self.sp()?;
        let mut items = Vec::new();
        if self.take(b'(') {
            loop {
                items.push(self.fetch_item()?);
                if self.take(b')') {
                    break;
                }
                self.sp()?;
            }
        } else {
            let save = self.pos;
            match self.keyword()?.as_str() {
                "FAST" => items.extend([
                    FetchItem::Flags,
                    FetchItem::InternalDate,
                    FetchItem::Rfc822Size,
                ]),
                "ALL" | "FULL" => {
                    return Err("the ALL and FULL macros need ENVELOPE, not supported yet".into());
                }
                _ => {
                    self.pos = save;
                    items.push(self.fetch_item()?);
                }
            }
        }
        let mut changed_since = None;
        if self.take(b' ') {
            // RFC 7162 §3.1.4: (CHANGEDSINCE modseq).
            self.expect(b'(')?;
            match self.keyword()?.as_str() {
                "CHANGEDSINCE" => {
                    self.sp()?;
                    changed_since = Some(self.number()?);
                }
                other => return Err(format!("unsupported FETCH modifier {other}")),
            }
            self.expect(b')')?;
        }
        if uid && !items.contains(&FetchItem::Uid) {
            // RFC 9051 §6.4.9: UID FETCH always returns the UID.
            items.insert(0, FetchItem::Uid);
        }
        if changed_since.is_some() && !items.contains(&FetchItem::ModSeq) {
            items.push(FetchItem::ModSeq);
        }
        Ok(CommandKind::Fetch {
            uid,
            set,
            items,
            changed_since,
        })
    }

    fn fetch_item(&mut self) -> PResult<FetchItem> {
        let name = self.keyword()?;
        Ok(match name.as_str() {
            "UID" => FetchItem::Uid,
            "FLAGS" => FetchItem::Flags,
            "RFC822.SIZE" => FetchItem::Rfc822Size,
            "INTERNALDATE" => FetchItem::InternalDate,
            "MODSEQ" => FetchItem::ModSeq,
            "RFC822" => FetchItem::Body {
                section: Section::default(),
                partial: None,
                peek: false,
                rfc822: Some("RFC822"),
            },
            "RFC822.HEADER" => FetchItem::Body {
                section: Section {
                    part: vec![],
                    spec: Some(SectionPart::Header),
                },
                partial: None,
                peek: true,
                rfc822: Some("RFC822.HEADER"),
            },
            "RFC822.TEXT" => FetchItem::Body {
                section: Section {
                    part: vec![],
                    spec: Some(SectionPart::Text),
                },
                partial: None,
                peek: false,
                rfc822: Some("RFC822.TEXT"),
            },
            "BODY" | "BODY.PEEK" if self.peek() == Some(b'[') => {
                let section = self.section()?;
                let partial = self.partial()?;
                FetchItem::Body {
                    section,
                    partial,
                    peek: name == "BODY.PEEK",
                    rfc822: None,
                }
            }
            other => return Err(format!("unsupported fetch attribute {other}")),
        })
    }

    fn section(&mut self) -> PResult<Section> {
        self.expect(b'[')?;
        let mut part = Vec::new();
        let mut spec = None;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            part.push(self.nz_number()?);
            if !self.take(b'.') {
                break;
            }
        }
        if self.peek() != Some(b']') {
            let name = self.keyword()?;
            spec = Some(match name.as_str() {
                "HEADER" => SectionPart::Header,
                "TEXT" => SectionPart::Text,
                "MIME" if !part.is_empty() => SectionPart::Mime,
                "HEADER.FIELDS" | "HEADER.FIELDS.NOT" => {
                    self.sp()?;
                    self.expect(b'(')?;
                    let mut fields = Vec::new();
                    loop {
                        fields.push(self.astring()?);
                        if self.take(b')') {
                            break;
                        }
                        self.sp()?;
                    }
                    if name == "HEADER.FIELDS" {
                        SectionPart::HeaderFields(fields)
                    } else {
                        SectionPart::HeaderFieldsNot(fields)
                    }
                }
                other => return Err(format!("invalid section {other}")),
            });
        }
        self.expect(b']')?;
        Ok(Section { part, spec })
    }

    fn partial(&mut self) -> PResult<Option<(u32, u32)>> {
        if !self.take(b'<') {
            return Ok(None);
        }
        let start = u32::try_from(self.number()?).map_err(|_| "partial offset too large")?;
        self.expect(b'.')?;
        let len = self.nz_number()?;
        self.expect(b'>')?;
        Ok(Some((start, len)))
    }

    fn store(&mut self, uid: bool) -> PResult<CommandKind> {
        self.sp()?;
        let set = self.seq_set()?;
        self.sp()?;
        let mut unchanged_since = None;
        if self.take(b'(') {
            // RFC 7162 §3.1.3.
            match self.keyword()?.as_str() {
                "UNCHANGEDSINCE" => {
                    self.sp()?;
                    unchanged_since = Some(self.number()?);
                }
                other => return Err(format!("unsupported STORE modifier {other}")),
            }
            self.expect(b')')?;
            self.sp()?;
        }
        let action = if self.take(b'+') {
            StoreAction::Add
        } else if self.take(b'-') {
            StoreAction::Remove
        } else {
            StoreAction::Replace
        };
        let silent = match self.keyword()?.as_str() {
            "FLAGS" => false,
            "FLAGS.SILENT" => true,
            other => return Err(format!("expected FLAGS or FLAGS.SILENT, not {other}")),
        };
        self.sp()?;
        let (flags, keywords) = self.flag_list()?;
        Ok(CommandKind::Store(StoreCommand {
            uid,
            set,
            unchanged_since,
            action,
            silent,
            flags,
            keywords,
        }))
    }

    /// `(flag ...)` or flags separated by spaces without parentheses (RFC 9051 §6.4.6).
    fn flag_list(&mut self) -> PResult<(Flags, Vec<String>)> {
        let parens = self.take(b'(');
        let mut flags = Flags::empty();
        let mut keywords: Vec<String> = Vec::new();
        loop {
            if parens && self.take(b')') {
                break;
            }
            let system = self.take(b'\\');
            let name = self.atom()?;
            if system {
                let full = format!("\\{name}");
                match Flags::from_name(&full) {
                    Some(f) if !full.eq_ignore_ascii_case("\\Recent") => flags = flags.union(f),
                    _ => return Err(format!("unknown system flag {full}")),
                }
            } else if let Some(f) = Flags::from_name(&name) {
                flags = flags.union(f);
            } else if !keywords.iter().any(|k| k.eq_ignore_ascii_case(&name)) {
                keywords.push(name);
            }
            if self.eof() && !parens {
                break;
            }
            if parens && self.take(b')') {
                break;
            }
            self.sp()?;
        }
        Ok((flags, keywords))
    }
}

#[cfg(test)]
mod tests;
