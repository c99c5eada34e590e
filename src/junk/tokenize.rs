//! The tokens of a message: the words the filter counts.
//!
//! # Where words come from
//!
//! - The From, To, Cc, Reply-To and Subject fields of the message's header, decoded (RFC 2047).
//!   Their words are prefixed by the lowercased field name (`subject:viagra`, `from:alice`): a
//!   word in a sender's name says something else than the same word in a body. Address fields
//!   also give the address's whole domain (`from:example.com`), the best single sender signal,
//!   when it is a dotted host name of at most [`MAX_WORD`] characters.
//! - Every text part, whatever the MIME structure (multipart/alternative gives both the plain
//!   and the HTML version, the set removes the overlap): text/* parts decoded from their
//!   transfer encoding and charset to UTF-8, text/html turned into its text (tags, styles and
//!   scripts dropped, entities decoded). Attached messages (message/rfc822) are walked too, up
//!   to [`MAX_NESTED`] deep, and their header fields above become plain body words.
//!
//! A message mail-parser cannot make sense of (or that makes it panic), or in which it finds no
//! word at all, is read as one raw text instead.
//!
//! # What a word is
//!
//! Text is lowercased and split into runs of letters and digits (Unicode `alphanumeric`), so
//! punctuation, markup left-overs and URL separators split words. Scripts written without spaces
//! (Han, Hiragana, Katakana, Thai) would give whole sentences as one word; their runs are cut
//! into overlapping two-character words instead, the usual approach for CJK text. A word is kept
//! when it:
//! - has at least 3 characters if it is ASCII, at least 2 otherwise (many non-Latin words are
//!   short, and one CJK character pair is already a word);
//! - has at most [`MAX_WORD`] characters (longer runs are encoded data, not language);
//! - is not all digits (dates, times, amounts and ids change with every message);
//! - does not look random: a word with digits is dropped when letters and digits alternate 3
//!   times or more (`a1b2`, `x7k9q`, most hex or base64 ids), or when digits are more than two
//!   thirds of a word longer than 4 (`20020821t`, `7106643c34`). Words such as `mp3`, `x86`, `ipv6`, `win2000`
//!   stay.
//!
//! With [`Params::twograms`] / [`Params::threegrams`], consecutive kept words of one field or
//! one text also form `"w1 w2"` and `"w1 w2 w3"` tokens (prefixed like their words).
//! [`Params::onegrams`] off leaves single words out. Each token counts once per message.

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};

use mail_parser::decoders::html::html_to_text;
use mail_parser::{HeaderValue, Message, MessageParser, PartType};

use super::filter::Params;

/// Header fields whose words are tokens, as their lowercased names.
const FIELDS: [&str; 5] = ["from", "to", "cc", "reply-to", "subject"];

/// Words longer than this (in characters) are dropped.
pub const MAX_WORD: usize = 40;

/// How deep attached messages are read.
pub const MAX_NESTED: usize = 8;

/// The distinct tokens of `message`, in sorted order.
pub fn tokenize(params: &Params, message: &[u8]) -> BTreeSet<String> {
    let texts = catch_unwind(AssertUnwindSafe(|| {
        let parsed = MessageParser::default().parse(message)?;
        let mut texts = Vec::new();
        collect(&parsed, 0, &mut texts);
        Some(texts)
    }));
    let mut tokens = BTreeSet::new();
    if let Ok(Some(texts)) = texts {
        for piece in texts {
            add_tokens(params, piece, &mut tokens);
        }
    }
    if tokens.is_empty() {
        let raw = Text {
            prefix: None,
            text: String::from_utf8_lossy(message).into_owned(),
        };
        add_tokens(params, Piece::Words(raw), &mut tokens);
    }
    tokens
}

/// What [`collect`] finds in a message.
enum Piece {
    /// A text to split into words.
    Words(Text),
    /// A finished token.
    Token(String),
}

/// A text whose words are tokens, with the field name its words are prefixed with.
struct Text {
    prefix: Option<&'static str>,
    text: String,
}

fn collect(message: &Message<'_>, depth: usize, out: &mut Vec<Piece>) {
    for header in message.headers() {
        let name = header.name();
        let Some(field) = FIELDS.iter().find(|f| f.eq_ignore_ascii_case(name)) else {
            continue;
        };
        // Fields of an attached message are part of the text around it.
        let prefix = (depth == 0).then_some(*field);
        let mut text = String::new();
        match header.value() {
            HeaderValue::Text(t) => text.push_str(t),
            HeaderValue::TextList(list) => {
                for t in list {
                    text.push_str(t);
                    text.push(' ');
                }
            }
            HeaderValue::Address(addresses) => {
                for addr in addresses.iter() {
                    if let Some(name) = &addr.name {
                        text.push_str(name);
                        text.push(' ');
                    }
                    if let Some(address) = &addr.address {
                        text.push_str(address);
                        text.push(' ');
                        if let (Some(prefix), Some((_, domain))) =
                            (prefix, address.rsplit_once('@'))
                        {
                            let domain = domain.trim().to_lowercase();
                            if is_domain(&domain) {
                                out.push(Piece::Token(format!("{prefix}:{domain}")));
                            }
                        }
                    }
                }
            }
            _ => {
                let raw = message.raw_message();
                let range = header.offset_start() as usize..header.offset_end() as usize;
                if let Some(bytes) = raw.get(range) {
                    text.push_str(&String::from_utf8_lossy(bytes));
                }
            }
        }
        out.push(Piece::Words(Text { prefix, text }));
    }
    for part in &message.parts {
        match &part.body {
            PartType::Text(t) => out.push(Piece::Words(Text {
                prefix: None,
                text: t.to_string(),
            })),
            PartType::Html(h) => out.push(Piece::Words(Text {
                prefix: None,
                text: html_to_text(h),
            })),
            PartType::Message(inner) if depth < MAX_NESTED => collect(inner, depth + 1, out),
            _ => {}
        }
    }
}

fn add_tokens(params: &Params, piece: Piece, tokens: &mut BTreeSet<String>) {
    let text = match piece {
        Piece::Token(t) => {
            tokens.insert(t);
            return;
        }
        Piece::Words(text) => text,
    };
    let token = |words: &[&str]| -> String {
        let mut t = String::new();
        if let Some(prefix) = text.prefix {
            t.push_str(prefix);
            t.push(':');
        }
        for (i, w) in words.iter().enumerate() {
            if i > 0 {
                t.push(' ');
            }
            t.push_str(w);
        }
        t
    };
    let lower = text.text.to_lowercase();
    let words = words(&lower);
    for (i, w) in words.iter().enumerate() {
        if params.onegrams {
            tokens.insert(token(&[w]));
        }
        if params.twograms && i >= 1 {
            tokens.insert(token(&words[i - 1..=i]));
        }
        if params.threegrams && i >= 2 {
            tokens.insert(token(&words[i - 2..=i]));
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum CharKind {
    Separator,
    Word,
    /// A script written without spaces between words.
    Unspaced,
}

fn kind(c: char) -> CharKind {
    if is_unspaced(c) {
        CharKind::Unspaced
    } else if c.is_alphanumeric() {
        CharKind::Word
    } else {
        CharKind::Separator
    }
}

fn is_unspaced(c: char) -> bool {
    matches!(c,
        '\u{0E00}'..='\u{0EFF}'       // Thai, Lao
        | '\u{3040}'..='\u{30FF}'     // Hiragana, Katakana
        | '\u{3400}'..='\u{4DBF}'     // CJK extension A
        | '\u{4E00}'..='\u{9FFF}'     // CJK unified ideographs
        | '\u{F900}'..='\u{FAFF}'     // CJK compatibility ideographs
        | '\u{20000}'..='\u{3134F}'   // CJK extensions B to G
    )
}

/// The kept words of lowercased `text`, in order.
fn words(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut current = CharKind::Separator;
    for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
        let k = kind(c);
        if k == current {
            continue;
        }
        match current {
            CharKind::Word => {
                let word = &text[start..i];
                if keep(word) {
                    out.push(word);
                }
            }
            CharKind::Unspaced => bigrams(&text[start..i], &mut out),
            CharKind::Separator => {}
        }
        start = i;
        current = k;
    }
    out
}

/// Overlapping two-character words of a run of an unspaced script.
fn bigrams<'t>(run: &'t str, out: &mut Vec<&'t str>) {
    let bounds: Vec<usize> = run
        .char_indices()
        .map(|(i, _)| i)
        .chain([run.len()])
        .collect();
    for w in bounds.windows(3) {
        out.push(&run[w[0]..w[2]]);
    }
}

/// Whether a lowercased domain is worth a token of its own: a dotted host name of at most
/// [`MAX_WORD`] characters.
fn is_domain(domain: &str) -> bool {
    domain.contains('.')
        && domain.chars().count() <= MAX_WORD
        && domain.split('.').all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

/// Whether a word (letters and digits only) is worth counting.
fn keep(word: &str) -> bool {
    let len = word.chars().count();
    let min = if word.is_ascii() { 3 } else { 2 };
    if len < min || len > MAX_WORD {
        return false;
    }
    let digits = word.chars().filter(|c| c.is_numeric()).count();
    if digits == len {
        return false;
    }
    if digits == 0 {
        return true;
    }
    let mut switches = 0;
    let mut prev: Option<bool> = None;
    for c in word.chars() {
        let d = c.is_numeric();
        if prev.is_some_and(|p| p != d) {
            switches += 1;
        }
        prev = Some(d);
    }
    switches < 3 && !(len > 4 && digits * 3 > len * 2)
}
