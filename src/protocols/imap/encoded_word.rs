//! RFC 2047 encoded-words, written for clients that may not receive UTF-8 (no UTF8=ACCEPT,
//! RFC 6855): the stored, decoded text of display names, subjects and descriptions goes back out
//! as `=?utf-8?b?...?=`.

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

const PREFIX: &str = "=?utf-8?b?";
const SUFFIX: &str = "?=";
/// RFC 2047 §2: an encoded-word is at most 75 characters. 75 - 12 characters of framing leaves
/// 63 for base64, so 15 groups of 4: 45 bytes of text.
const MAX_BYTES: usize = (75 - PREFIX.len() - SUFFIX.len()) / 4 * 3;

/// `text` with each run of words that are not ASCII replaced by encoded-words; ASCII words, and
/// encoded-words already in the text, stay as they are. Whitespace between two encoded-words is
/// dropped by decoders (RFC 2047 §6.2), so whitespace next to an encoded-word that was already
/// there is kept inside the new encoded-word.
pub fn encode_text(text: &str) -> Cow<'_, str> {
    if text.is_ascii() {
        return Cow::Borrowed(text);
    }
    let segments = split(text);
    let n = segments.len();
    let mut out = String::with_capacity(text.len() * 2);
    // Whitespace read but not yet written, and whether the last word written is an encoded-word.
    let mut pending: Option<Segment> = None;
    let mut after_encoded = false;
    let mut k = 0;
    while let Some(&seg) = segments.get(k) {
        if seg.space {
            pending = Some(seg);
            k += 1;
            continue;
        }
        let word = &text[seg.start..seg.end];
        if word.is_ascii() {
            if let Some(p) = pending.take() {
                out.push_str(&text[p.start..p.end]);
            }
            out.push_str(word);
            after_encoded = looks_encoded(word);
            k += 1;
            continue;
        }
        // A run of non-ASCII words with the whitespace between them.
        let mut last = k;
        while last + 2 < n && !text[segments[last + 2].start..segments[last + 2].end].is_ascii() {
            last += 2;
        }
        let mut start = seg.start;
        if let Some(p) = pending.take() {
            if after_encoded {
                out.push(' ');
                start = p.start;
            } else {
                out.push_str(&text[p.start..p.end]);
            }
        }
        let mut end = segments[last].end;
        let mut separate = false;
        if let (Some(space), Some(next)) = (segments.get(last + 1), segments.get(last + 2))
            && looks_encoded(&text[next.start..next.end])
        {
            end = space.end;
            last += 1;
            separate = true;
        }
        encode_words(&text[start..end], &mut out);
        if separate {
            out.push(' ');
        }
        after_encoded = true;
        k = last + 1;
    }
    if let Some(p) = pending {
        out.push_str(&text[p.start..p.end]);
    }
    Cow::Owned(out)
}

/// All of `s` as encoded-words separated by single spaces, none longer than 75 characters and
/// none splitting a character (RFC 2047 §5).
fn encode_words(s: &str, out: &mut String) {
    let mut chunk_start = 0;
    let mut first = true;
    let mut flush = |chunk: &str, out: &mut String| {
        if chunk.is_empty() {
            return;
        }
        if !first {
            out.push(' ');
        }
        first = false;
        out.push_str(PREFIX);
        out.push_str(&STANDARD.encode(chunk));
        out.push_str(SUFFIX);
    };
    for (i, c) in s.char_indices() {
        if i + c.len_utf8() - chunk_start > MAX_BYTES {
            flush(&s[chunk_start..i], out);
            chunk_start = i;
        }
    }
    flush(&s[chunk_start..], out);
}

fn looks_encoded(word: &str) -> bool {
    word.len() >= 4 && word.starts_with("=?") && word.ends_with("?=")
}

#[derive(Clone, Copy)]
struct Segment {
    start: usize,
    end: usize,
    space: bool,
}

/// `text` cut into alternating runs of whitespace and words.
fn split(text: &str) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::new();
    for (i, c) in text.char_indices() {
        let space = c == ' ' || c == '\t';
        match out.last_mut() {
            Some(last) if last.space == space => last.end = i + c.len_utf8(),
            _ => out.push(Segment {
                start: i,
                end: i + c.len_utf8(),
                space,
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes the encoded-words this module writes (and nothing else), for round trips.
    fn decode(s: &str) -> String {
        let mut out = String::new();
        let mut prev_encoded = false;
        let mut pending_space = String::new();
        for seg in split(s) {
            let w = &s[seg.start..seg.end];
            if seg.space {
                pending_space = w.to_string();
                continue;
            }
            let encoded = looks_encoded(w);
            if !(encoded && prev_encoded) {
                out.push_str(&pending_space);
            }
            pending_space.clear();
            if w.starts_with(PREFIX) && w.ends_with(SUFFIX) {
                let b = STANDARD
                    .decode(&w[PREFIX.len()..w.len() - SUFFIX.len()])
                    .unwrap();
                out.push_str(&String::from_utf8(b).unwrap());
            } else {
                out.push_str(w);
            }
            prev_encoded = encoded;
        }
        out + &pending_space
    }

    #[test]
    fn ascii_is_unchanged() {
        assert!(matches!(
            encode_text("plain text"),
            Cow::Borrowed("plain text")
        ));
        assert_eq!(encode_text(""), "");
    }

    #[test]
    fn words() {
        assert_eq!(encode_text("Jörg"), "=?utf-8?b?SsO2cmc=?=");
        assert_eq!(
            encode_text("Re: Grüße aus Köln"),
            "Re: =?utf-8?b?R3LDvMOfZQ==?= aus =?utf-8?b?S8O2bG4=?="
        );
        assert_eq!(
            encode_text("Dr. Jörg Müller"),
            "Dr. =?utf-8?b?SsO2cmcgTcO8bGxlcg==?="
        );
        // An encoded-word already there keeps its neighbour's space inside the new one.
        assert_eq!(
            encode_text("=?iso-8859-1?q?caf=E9?= über"),
            "=?iso-8859-1?q?caf=E9?= =?utf-8?b?IMO8YmVy?="
        );
        assert_eq!(decode(&encode_text("=?x?q?a?= über")), "=?x?q?a?= über");
        assert_eq!(
            encode_text("über =?x?q?a?="),
            "=?utf-8?b?w7xiZXIg?= =?x?q?a?="
        );
    }

    #[test]
    fn long_text_is_split_on_characters() {
        let text = "日本語のテキストはとても長いのでいくつかの単語に分けなければなりません";
        let encoded = encode_text(text);
        for word in encoded.split(' ') {
            assert!(word.len() <= 75, "{word}");
            assert!(word.starts_with(PREFIX) && word.ends_with(SUFFIX));
            let b = STANDARD
                .decode(&word[PREFIX.len()..word.len() - SUFFIX.len()])
                .unwrap();
            assert!(String::from_utf8(b).is_ok(), "a word splits a character");
        }
        assert!(encoded.split(' ').count() > 1);
        assert_eq!(decode(&encoded), text);
    }

    #[test]
    fn round_trips() {
        for text in [
            "  leading and trailing é  ",
            "a\tb ü c  d ß",
            "€",
            "x €€ y",
            "ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖ×ØÙÚÛÜÝÞßàáâãäåæçèéêëìíîïðñòóôõö÷øùúûüýþÿ",
        ] {
            assert_eq!(decode(&encode_text(text)), text, "{text}");
        }
    }
}
