//! SEARCH evaluation (RFC 9051 §6.4.4), sans-IO: whether one message matches a [`SearchKey`],
//! and the untagged response for the messages that did (`* SEARCH`, or `* ESEARCH` of RFC 4731).
//!
//! # How the session uses it
//!
//! For each message of the selected mailbox, in mailbox order, the session calls [`matches`]
//! with the message's record, its sequence number in the session's view, and a loader for its
//! content. The loader runs only when a key that reads the header or the body is reached (and at
//! most once): flag, size, date, set and MODSEQ keys never touch the message file. A search whose
//! outcome is decided by such cheap keys alone (`SUBJECT x UNSEEN` on a seen message) does not
//! load the message either. The session collects a [`Hit`] per match (sequence number, uid and
//! modseq: the evaluator never turns one into the other, the session's view does) and calls
//! [`respond`], which chooses the numbers (uids for UID SEARCH), writes the response and tells
//! what to save as `$` (RFC 5182).
//!
//! ```ignore
//! let ctx = SearchContext { max_seq: view.len(), max_uid, saved: &session.saved, now };
//! let mut hits = Vec::new();
//! for (seq, m) in messages {
//!     let load = || -> Result<Loaded, StoreError> {
//!         let content = reader.content(m.id)?.ok_or(..)?;
//!         Ok(Loaded { content, file: std::fs::read(reader.message_path(m.id))? })
//!     };
//!     if search::matches(&cmd.key, &ctx, &m, seq, load)? {
//!         hits.push(Hit::of(seq, &m));
//!     }
//! }
//! let r = search::respond(&tag, &cmd, &hits, imap4rev2_enabled);
//! out.extend(r.untagged);
//! if let Some(saved) = r.saved { session.saved = saved; }
//! ```
//!
//! # Matching rules
//!
//! * Strings match as case-insensitive substrings (Unicode lower-casing) of the decoded text, with
//!   every run of white space, line breaks included, read as one space, in the string and in the
//!   text alike, so a phrase matches across folded or wrapped lines.
//! * Header keys (BCC, CC, FROM, SUBJECT, TO, HEADER) look at every field of that name, the
//!   fields moxide added at receipt included, with RFC 2047 encoded words decoded. An empty
//!   string matches any message that has the field.
//! * BODY looks at the text of every text part, decoded from its transfer encoding and charset
//!   (HTML reduced to its text), and at the header of attached messages; TEXT at the header and
//!   the body.
//! * BEFORE, ON, SINCE compare the date of INTERNALDATE and SAVEDBEFORE, SAVEDON, SAVEDSINCE the
//!   date of SAVEDATE, both in UTC, the time zone moxide gives its dates. SENTBEFORE, SENTON,
//!   SENTSINCE compare the date written in the Date header, in that header's time zone; a message
//!   without a readable Date header matches none of them.
//! * LARGER and SMALLER compare RFC822.SIZE (the stored size, receipt fields included).

use std::panic::catch_unwind;

use mail_parser::decoders::html::html_to_text;
use mail_parser::parsers::MessageStream;
use mail_parser::{DateTime, HeaderValue, MessageParser, PartType};

use super::parse::SearchCommand;
use super::response;
use super::types::{Date, SearchKey, SearchReturn};
use crate::store::{Content, Message, ModSeq, Uid};

/// What a search needs to know about the mailbox and the session, besides the messages.
#[derive(Debug, Clone, Copy)]
pub struct SearchContext<'a> {
    /// The number of messages in the session's view: `*` in a sequence set.
    pub max_seq: u32,
    /// The largest uid in the mailbox: `*` in a UID set (0 when it is empty).
    pub max_uid: Uid,
    /// The saved search result, `$` (RFC 5182), in ascending order; empty when nothing is saved.
    pub saved: &'a [Uid],
    /// The current time, seconds since the epoch, for OLDER and YOUNGER (RFC 5032).
    pub now: i64,
}

/// A message's content record and file, as the loader given to [`matches`] returns them.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub content: Content,
    pub file: Vec<u8>,
}

/// Whether `message`, number `seq` in the session's view, matches `key`. `load` is called at
/// most once, and only when a key needs the message's header or body; its error is returned.
pub fn matches<E>(
    key: &SearchKey,
    ctx: &SearchContext<'_>,
    message: &Message,
    seq: u32,
    load: impl FnOnce() -> Result<Loaded, E>,
) -> Result<bool, E> {
    let mut eval = Eval {
        ctx,
        message,
        seq,
        load: Some(load),
        texts: None,
    };
    // Most searches are decided by flags, dates or sets alone: try without the content first.
    match eval.without_content(key) {
        Some(known) => Ok(known),
        None => eval.key(key),
    }
}

impl SearchKey {
    /// Whether this key, or one inside it, is MODSEQ: then the response carries the highest
    /// mod-sequence of the matches (RFC 7162 §3.1.5), and the command enables CONDSTORE.
    pub fn uses_modseq(&self) -> bool {
        self.any(&|k| matches!(k, SearchKey::ModSeq(_)))
    }

    /// Whether this key, or one inside it, is `$` (RFC 5182).
    pub fn uses_saved(&self) -> bool {
        self.any(&|k| matches!(k, SearchKey::Saved))
    }

    fn any(&self, f: &impl Fn(&SearchKey) -> bool) -> bool {
        f(self)
            || match self {
                SearchKey::And(keys) => keys.iter().any(|k| k.any(f)),
                SearchKey::Or(a, b) => a.any(f) || b.any(f),
                SearchKey::Not(k) => k.any(f),
                _ => false,
            }
    }
}

struct Eval<'a, F> {
    ctx: &'a SearchContext<'a>,
    message: &'a Message,
    seq: u32,
    load: Option<F>,
    texts: Option<Texts>,
}

impl<F, E> Eval<'_, F>
where
    F: FnOnce() -> Result<Loaded, E>,
{
    /// The outcome of `key` if the keys that need no content decide it, `None` otherwise.
    fn without_content(&self, key: &SearchKey) -> Option<bool> {
        match key {
            SearchKey::And(keys) => {
                let mut known = Some(true);
                for k in keys {
                    match self.without_content(k) {
                        Some(false) => return Some(false),
                        Some(true) => {}
                        None => known = None,
                    }
                }
                known
            }
            SearchKey::Or(a, b) => match (self.without_content(a), self.without_content(b)) {
                (Some(true), _) | (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            },
            SearchKey::Not(k) => self.without_content(k).map(|b| !b),
            k => self.cheap(k),
        }
    }

    /// Evaluates `key`, loading the content when a key needs it.
    fn key(&mut self, key: &SearchKey) -> Result<bool, E> {
        Ok(match key {
            SearchKey::And(keys) => {
                for k in keys {
                    if !self.key(k)? {
                        return Ok(false);
                    }
                }
                true
            }
            SearchKey::Or(a, b) => self.key(a)? || self.key(b)?,
            SearchKey::Not(k) => !self.key(k)?,
            SearchKey::Header(name, value) => {
                let needle = fold(value);
                self.texts()?
                    .fields()
                    .iter()
                    .any(|f| f.name.eq_ignore_ascii_case(name) && f.value.contains(&needle))
            }
            SearchKey::Body(s) => {
                let needle = fold(s);
                self.texts()?.body().iter().any(|t| t.contains(&needle))
            }
            SearchKey::Text(s) => {
                let needle = fold(s);
                let texts = self.texts()?;
                texts.fields().iter().any(|f| f.text.contains(&needle))
                    || texts.body().iter().any(|t| t.contains(&needle))
            }
            SearchKey::SentBefore(d) => self.sent()?.is_some_and(|s| s < *d),
            SearchKey::SentOn(d) => self.sent()?.is_some_and(|s| s == *d),
            SearchKey::SentSince(d) => self.sent()?.is_some_and(|s| s >= *d),
            k => self.cheap(k).unwrap_or(false),
        })
    }

    /// The keys that need only the message record; `None` for the others.
    fn cheap(&self, key: &SearchKey) -> Option<bool> {
        let m = self.message;
        let ctx = self.ctx;
        Some(match key {
            SearchKey::All | SearchKey::SaveDateSupported => true,
            SearchKey::Recent => false,
            SearchKey::Flag(f) => m.flags.contains(*f),
            SearchKey::Keyword(k) => m.keywords.iter().any(|w| w.eq_ignore_ascii_case(k)),
            SearchKey::SeqSet(set) => set.contains(self.seq, ctx.max_seq),
            SearchKey::UidSet(set) => set.contains(m.uid.0, ctx.max_uid.0),
            SearchKey::Saved => ctx.saved.binary_search(&m.uid).is_ok(),
            SearchKey::Larger(n) => m.size > *n,
            SearchKey::Smaller(n) => m.size < *n,
            SearchKey::Before(d) => utc_date(m.received) < *d,
            SearchKey::On(d) => utc_date(m.received) == *d,
            SearchKey::Since(d) => utc_date(m.received) >= *d,
            SearchKey::SavedBefore(d) => utc_date(m.saved) < *d,
            SearchKey::SavedOn(d) => utc_date(m.saved) == *d,
            SearchKey::SavedSince(d) => utc_date(m.saved) >= *d,
            SearchKey::Older(n) => m.received < ctx.now.saturating_sub(i64::from(*n)),
            SearchKey::Younger(n) => m.received >= ctx.now.saturating_sub(i64::from(*n)),
            SearchKey::ModSeq(n) => m.modseq.0 >= *n,
            SearchKey::And(_)
            | SearchKey::Or(..)
            | SearchKey::Not(_)
            | SearchKey::Header(..)
            | SearchKey::Body(_)
            | SearchKey::Text(_)
            | SearchKey::SentBefore(_)
            | SearchKey::SentOn(_)
            | SearchKey::SentSince(_) => return None,
        })
    }

    fn texts(&mut self) -> Result<&mut Texts, E> {
        if let Some(load) = self.load.take() {
            self.texts = Some(Texts::new(load()?));
        }
        Ok(self.texts.get_or_insert_with(Texts::default))
    }

    /// The date of the first Date field, as written (in its own time zone).
    fn sent(&mut self) -> Result<Option<Date>, E> {
        let texts = self.texts()?;
        let Some(field) = texts.fields().iter().find(|f| f.name == "date") else {
            return Ok(None);
        };
        let dt = DateTime::parse_rfc822(&field.value);
        Ok(dt.and_then(|dt| Date::new(dt.year, dt.month, dt.day)))
    }
}

/// A header field, decoded and folded (see [`fold`]).
struct Field {
    /// The name in lower case.
    name: String,
    value: String,
    /// `name: value`, what TEXT looks at.
    text: String,
}

/// The searchable text of a loaded message, each part computed when first needed.
#[derive(Default)]
struct Texts {
    loaded: Loaded,
    fields: Option<Vec<Field>>,
    body: Option<Vec<String>>,
}

impl Texts {
    fn new(loaded: Loaded) -> Texts {
        Texts {
            loaded,
            ..Texts::default()
        }
    }

    fn fields(&mut self) -> &[Field] {
        let loaded = &self.loaded;
        self.fields.get_or_insert_with(|| {
            let file = &loaded.file;
            let mut header = loaded.content.prefix.clone();
            header.extend_from_slice(file.get(..header_len(file)).unwrap_or_default());
            header_fields(&header)
        })
    }

    fn body(&mut self) -> &[String] {
        let file = &self.loaded.file;
        self.body.get_or_insert_with(|| body_texts(file))
    }
}

/// The length of the header of `raw`, the empty line ending it included.
fn header_len(raw: &[u8]) -> usize {
    let mut len = 0;
    for line in raw.split_inclusive(|&b| b == b'\n') {
        len += line.len();
        if line == b"\r\n" || line == b"\n" {
            break;
        }
    }
    len
}

/// The fields of a header, each with its value unfolded and RFC 2047 words decoded.
fn header_fields(header: &[u8]) -> Vec<Field> {
    let mut raw: Vec<(&[u8], Vec<u8>)> = Vec::new();
    let mut open = false;
    for line in header.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b" ") || line.starts_with(b"\t") {
            if let (true, Some((_, value))) = (open, raw.last_mut()) {
                value.extend_from_slice(line);
            }
            continue;
        }
        open = false;
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            raw.push((line[..colon].trim_ascii(), line[colon + 1..].to_vec()));
            open = true;
        }
    }
    raw.into_iter()
        .map(|(name, mut value)| {
            // The decoder reads up to the end of the field: a line break not followed by space.
            if !value.ends_with(b"\n") {
                value.extend_from_slice(b"\r\n");
            }
            let decoded = match MessageStream::new(&value).parse_unstructured() {
                HeaderValue::Text(t) => fold(&t),
                _ => String::new(),
            };
            let name = String::from_utf8_lossy(name).to_ascii_lowercase();
            Field {
                text: format!("{name}: {decoded}"),
                name,
                value: decoded,
            }
        })
        .collect()
}

/// How deep attached messages are searched.
const MAX_NESTED_MESSAGES: usize = 8;

/// The folded text of every text part of `raw`, and of the header of attached messages.
fn body_texts(raw: &[u8]) -> Vec<String> {
    // mail-parser has panicked on malformed MIME before (see store::parts): a search must not
    // take the session down with it.
    catch_unwind(|| {
        let mut out = Vec::new();
        if let Some(message) = MessageParser::default().parse(raw) {
            collect_texts(&message, 0, &mut out);
        }
        out
    })
    .unwrap_or_default()
}

fn collect_texts(message: &mail_parser::Message<'_>, depth: usize, out: &mut Vec<String>) {
    for part in &message.parts {
        match &part.body {
            PartType::Text(text) => out.push(fold(text)),
            PartType::Html(html) => out.push(fold(&html_to_text(html))),
            PartType::Message(inner) if depth < MAX_NESTED_MESSAGES => {
                // The header of an attached message is part of the body around it.
                if let Some(root) = inner.parts.first() {
                    let range = root.offset_header as usize..root.offset_body as usize;
                    if let Some(header) = inner.raw_message.get(range) {
                        out.extend(header_fields(header).into_iter().map(|f| f.text));
                    }
                }
                collect_texts(inner, depth + 1, out);
            }
            _ => {}
        }
    }
}

/// Text as it is compared: lower case, white space runs as one space, no space at either end.
fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            space = !out.is_empty();
        } else {
            if space {
                out.push(' ');
                space = false;
            }
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// The UTC date of a time in seconds since the epoch.
fn utc_date(unix: i64) -> Date {
    // Days since 1970-01-01 to a civil date, in 400-year eras of 146097 days starting on
    // 1 March, so that the leap day falls at the end of a year.
    let days = unix.div_euclid(86_400) + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153; // 0 = March
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = era * 400 + year_of_era + i64::from(month <= 2);
    Date {
        year: u16::try_from(year.clamp(0, 9999)).unwrap_or(0),
        // Both in range by construction: month 1..=12, day 1..=31.
        month: month as u8,
        day: day as u8,
    }
}

/// One message that matched: the session knows all three numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub seq: u32,
    pub uid: Uid,
    pub modseq: ModSeq,
}

impl Hit {
    pub fn of(seq: u32, message: &Message) -> Hit {
        Hit {
            seq,
            uid: message.uid,
            modseq: message.modseq,
        }
    }
}

/// What the session sends and keeps after a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchResponse {
    /// The untagged response, CRLF included; empty when RETURN (SAVE) was the only option
    /// (RFC 5182 §2.1). The tagged OK is the session's.
    pub untagged: Vec<u8>,
    /// With RETURN (SAVE): the new `$`, uids in ascending order. `None` leaves `$` as it was.
    /// (A SEARCH with SAVE that fails must set `$` to empty, RFC 5182 §2.1: that is the
    /// session's too.)
    pub saved: Option<Vec<Uid>>,
}

/// The response to `command` whose matches are `hits` (in any order). `imap4rev2`: the client
/// enabled IMAP4rev2, so a SEARCH without RETURN is answered with ESEARCH (RFC 9051 §6.4.4);
/// otherwise with the IMAP4rev1 `* SEARCH`.
pub fn respond(
    tag: &str,
    command: &SearchCommand,
    hits: &[Hit],
    imap4rev2: bool,
) -> SearchResponse {
    let mut hits = hits.to_vec();
    hits.sort_unstable_by_key(|h| h.uid);
    hits.dedup_by_key(|h| h.uid);
    let number = |h: &Hit| if command.uid { h.uid.0 } else { h.seq };
    let modseq = command.key.uses_modseq();

    let ret = match command.ret {
        Some(ret) => ret,
        None if imap4rev2 => SearchReturn {
            all: true,
            ..SearchReturn::default()
        },
        None => {
            let numbers: Vec<u32> = hits.iter().map(number).collect();
            let highest = hits.iter().map(|h| h.modseq).max().filter(|_| modseq);
            return SearchResponse {
                untagged: classic_search(&numbers, highest).into_bytes(),
                saved: None,
            };
        }
    };

    // RFC 4731 §3.1 with RFC 5182 §2.1 and RFC 7162 §3.1.5: MIN and/or MAX alone report (and
    // save, and give the mod-sequence of) only those messages; otherwise all of them count.
    let (first, last) = (hits.first(), hits.last());
    let only_ends = (ret.min || ret.max) && !(ret.all || ret.count);
    let reported: Vec<Hit> = if only_ends {
        let mut ends: Vec<Hit> = Vec::new();
        ends.extend(first.filter(|_| ret.min));
        ends.extend(last.filter(|_| ret.max));
        ends.dedup();
        ends
    } else {
        hits.clone()
    };
    let saved = ret.save.then(|| reported.iter().map(|h| h.uid).collect());
    if ret.save && !(ret.min || ret.max || ret.all || ret.count) {
        return SearchResponse {
            untagged: Vec::new(),
            saved,
        };
    }

    let mut line = b"* ESEARCH (TAG ".to_vec();
    response::string(&mut line, tag.as_bytes());
    line.push(b')');
    if command.uid {
        line.extend_from_slice(b" UID");
    }
    let mut text = String::new();
    if let (true, Some(h)) = (ret.min, first) {
        text.push_str(&format!(" MIN {}", number(h)));
    }
    if let (true, Some(h)) = (ret.max, last) {
        text.push_str(&format!(" MAX {}", number(h)));
    }
    if ret.count {
        text.push_str(&format!(" COUNT {}", hits.len()));
    }
    if ret.all && !hits.is_empty() {
        let numbers: Vec<u32> = hits.iter().map(number).collect();
        text.push_str(&format!(" ALL {}", sequence_set(&numbers)));
    }
    if let (true, Some(m)) = (modseq, reported.iter().map(|h| h.modseq).max()) {
        text.push_str(&format!(" MODSEQ {m}"));
    }
    line.extend_from_slice(text.as_bytes());
    line.extend_from_slice(b"\r\n");
    SearchResponse {
        untagged: line,
        saved,
    }
}

/// The IMAP4rev1 response: `* SEARCH 2 5 7`, with ` (MODSEQ n)` when `modseq` is given
/// (RFC 7162 §3.1.5; only when something matched).
pub fn classic_search(numbers: &[u32], modseq: Option<ModSeq>) -> String {
    let mut out = String::from("* SEARCH");
    for n in numbers {
        out.push_str(&format!(" {n}"));
    }
    if let (false, Some(m)) = (numbers.is_empty(), modseq) {
        out.push_str(&format!(" (MODSEQ {m})"));
    }
    out.push_str("\r\n");
    out
}

/// A sequence set naming `numbers` (ascending) with runs as ranges: `2,5:7`.
pub fn sequence_set(numbers: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while let Some(&start) = numbers.get(i) {
        let mut end = start;
        i += 1;
        while let Some(&n) = numbers.get(i) {
            if Some(n) != end.checked_add(1) {
                break;
            }
            end = n;
            i += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
    }
    out
}

#[cfg(test)]
mod tests;
