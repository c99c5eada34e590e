//! SEARCH and UID SEARCH arguments (RFC 9051 §6.4.4): RETURN options (RFC 4731, SAVE from
//! RFC 5182), CHARSET, and the search keys, including `$` (RFC 5182), MODSEQ (RFC 7162 §3.1.5),
//! the SAVEDATE keys (RFC 8514), OLDER and YOUNGER (RFC 5032), and IMAP4rev1's NEW, OLD, RECENT.

use super::cursor::{Cursor, PResult};
use super::{CommandKind, Failure, SearchCommand};
use crate::protocols::imap::types::{Date, SearchKey, SearchReturn};
use crate::store::Flags;

/// How deep parentheses, NOT and OR may nest: deeper input is refused rather than allowed to
/// exhaust the stack of the parser or the evaluator.
pub const MAX_SEARCH_DEPTH: usize = 100;

/// The charsets a SEARCH may name (RFC 9051 §6.4.4: US-ASCII and UTF-8 must be supported).
const CHARSETS: [&str; 2] = ["UTF-8", "US-ASCII"];

impl Cursor<'_> {
    pub(super) fn search(&mut self, uid: bool) -> Result<CommandKind, Failure> {
        self.sp()?;
        let ret = if self.word_follows("RETURN") {
            let ret = self.search_return()?;
            self.sp()?;
            Some(ret)
        } else {
            None
        };
        if self.word_follows("CHARSET") {
            self.sp()?;
            let charset = match self.peek() {
                Some(b'"') => String::from_utf8_lossy(&self.quoted()?).into_owned(),
                _ => self.atom()?,
            };
            if !CHARSETS.iter().any(|c| c.eq_ignore_ascii_case(&charset)) {
                return Err(Failure::BadCharset(format!(
                    "charset {charset} not supported"
                )));
            }
            self.sp()?;
        }
        let mut keys = vec![self.search_key(0)?];
        while self.take(b' ') {
            keys.push(self.search_key(0)?);
        }
        Ok(CommandKind::Search(SearchCommand {
            uid,
            ret,
            key: all_of(keys),
        }))
    }

    /// Consumes `word` (case-insensitive) when it comes next as a whole keyword.
    fn word_follows(&mut self, word: &str) -> bool {
        let save = self.pos;
        match self.keyword() {
            Ok(k) if k == word => true,
            _ => {
                self.pos = save;
                false
            }
        }
    }

    /// `RETURN (option ...)`, after the word RETURN.
    fn search_return(&mut self) -> PResult<SearchReturn> {
        self.sp()?;
        self.expect(b'(')?;
        let mut ret = SearchReturn::default();
        if !self.take(b')') {
            loop {
                match self.keyword()?.as_str() {
                    "MIN" => ret.min = true,
                    "MAX" => ret.max = true,
                    "ALL" => ret.all = true,
                    "COUNT" => ret.count = true,
                    "SAVE" => ret.save = true,
                    other => return Err(format!("unknown SEARCH RETURN option {other}")),
                }
                if self.take(b')') {
                    break;
                }
                self.sp()?;
            }
        }
        if !(ret.min || ret.max || ret.all || ret.count || ret.save) {
            // RFC 4731 §3.1: RETURN () is RETURN (ALL).
            ret.all = true;
        }
        Ok(ret)
    }

    fn search_key(&mut self, depth: usize) -> PResult<SearchKey> {
        if depth >= MAX_SEARCH_DEPTH {
            return Err("search keys nested too deeply".into());
        }
        match self.peek() {
            Some(b'(') => {
                self.pos += 1;
                let mut keys = vec![self.search_key(depth + 1)?];
                while !self.take(b')') {
                    self.sp()?;
                    keys.push(self.search_key(depth + 1)?);
                }
                return Ok(all_of(keys));
            }
            Some(b'$') => {
                self.pos += 1;
                return Ok(SearchKey::Saved);
            }
            Some(b'*' | b'0'..=b'9') => return Ok(SearchKey::SeqSet(self.seq_set()?)),
            _ => {}
        }
        let name = self.keyword()?;
        let flag = |f: Flags| Ok(SearchKey::Flag(f));
        let not = |k: SearchKey| Ok(SearchKey::Not(Box::new(k)));
        match name.as_str() {
            "ALL" => Ok(SearchKey::All),
            "ANSWERED" => flag(Flags::ANSWERED),
            "DELETED" => flag(Flags::DELETED),
            "DRAFT" => flag(Flags::DRAFT),
            "FLAGGED" => flag(Flags::FLAGGED),
            "SEEN" => flag(Flags::SEEN),
            "UNANSWERED" => not(SearchKey::Flag(Flags::ANSWERED)),
            "UNDELETED" => not(SearchKey::Flag(Flags::DELETED)),
            "UNDRAFT" => not(SearchKey::Flag(Flags::DRAFT)),
            "UNFLAGGED" => not(SearchKey::Flag(Flags::FLAGGED)),
            "UNSEEN" => not(SearchKey::Flag(Flags::SEEN)),
            "RECENT" => Ok(SearchKey::Recent),
            "OLD" => not(SearchKey::Recent),
            // RFC 3501: NEW is RECENT UNSEEN.
            "NEW" => Ok(SearchKey::And(vec![
                SearchKey::Recent,
                SearchKey::Not(Box::new(SearchKey::Flag(Flags::SEEN))),
            ])),
            "KEYWORD" => self.arg(&name, Self::search_keyword),
            "UNKEYWORD" => not(self.arg(&name, Self::search_keyword)?),
            "BCC" | "CC" | "FROM" | "SUBJECT" | "TO" => {
                let field = match name.as_str() {
                    "BCC" => "Bcc",
                    "CC" => "Cc",
                    "FROM" => "From",
                    "SUBJECT" => "Subject",
                    _ => "To",
                };
                let value = self.arg(&name, Self::astring)?;
                Ok(SearchKey::Header(field.into(), value))
            }
            "HEADER" => {
                let field = self.arg(&name, Self::astring)?;
                let value = self.arg(&name, Self::astring)?;
                Ok(SearchKey::Header(field, value))
            }
            "BODY" => Ok(SearchKey::Body(self.arg(&name, Self::astring)?)),
            "TEXT" => Ok(SearchKey::Text(self.arg(&name, Self::astring)?)),
            "LARGER" => Ok(SearchKey::Larger(self.arg(&name, Self::number)?)),
            "SMALLER" => Ok(SearchKey::Smaller(self.arg(&name, Self::number)?)),
            "BEFORE" => Ok(SearchKey::Before(self.arg(&name, Self::search_date)?)),
            "ON" => Ok(SearchKey::On(self.arg(&name, Self::search_date)?)),
            "SINCE" => Ok(SearchKey::Since(self.arg(&name, Self::search_date)?)),
            "SENTBEFORE" => Ok(SearchKey::SentBefore(self.arg(&name, Self::search_date)?)),
            "SENTON" => Ok(SearchKey::SentOn(self.arg(&name, Self::search_date)?)),
            "SENTSINCE" => Ok(SearchKey::SentSince(self.arg(&name, Self::search_date)?)),
            "SAVEDBEFORE" => Ok(SearchKey::SavedBefore(self.arg(&name, Self::search_date)?)),
            "SAVEDON" => Ok(SearchKey::SavedOn(self.arg(&name, Self::search_date)?)),
            "SAVEDSINCE" => Ok(SearchKey::SavedSince(self.arg(&name, Self::search_date)?)),
            "SAVEDATESUPPORTED" => Ok(SearchKey::SaveDateSupported),
            "OLDER" => Ok(SearchKey::Older(self.arg(&name, Self::nz_number)?)),
            "YOUNGER" => Ok(SearchKey::Younger(self.arg(&name, Self::nz_number)?)),
            "MODSEQ" => Ok(SearchKey::ModSeq(self.arg(&name, Self::search_modseq)?)),
            "UID" => {
                self.sp()?;
                if self.take(b'$') {
                    Ok(SearchKey::Saved)
                } else {
                    Ok(SearchKey::UidSet(self.seq_set()?))
                }
            }
            "NOT" => {
                self.arg_sp(&name)?;
                not(self.search_key(depth + 1)?)
            }
            "OR" => {
                self.arg_sp(&name)?;
                let a = self.search_key(depth + 1)?;
                self.arg_sp(&name)?;
                let b = self.search_key(depth + 1)?;
                Ok(SearchKey::Or(Box::new(a), Box::new(b)))
            }
            other => Err(format!("unknown search key {other}")),
        }
    }

    /// The space before an argument of `key`.
    fn arg_sp(&mut self, key: &str) -> PResult<()> {
        self.sp().map_err(|_| format!("{key} needs an argument"))
    }

    /// SP and one argument of `key`, read by `read`.
    fn arg<T>(&mut self, key: &str, read: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        self.arg_sp(key)?;
        read(self).map_err(|e| format!("{key}: {e}"))
    }

    /// flag-keyword (RFC 9051 §9): the moxide flags by name, any other atom as a keyword.
    fn search_keyword(&mut self) -> PResult<SearchKey> {
        let name = self.atom()?;
        Ok(match Flags::from_name(&name) {
            Some(f) => SearchKey::Flag(f),
            None => SearchKey::Keyword(name),
        })
    }

    /// date (RFC 9051 §9): `d-Mon-yyyy`, optionally in double quotes.
    fn search_date(&mut self) -> PResult<Date> {
        const MONTHS: [&str; 12] = [
            "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
        ];
        let quoted = self.take(b'"');
        let day = self.take_while(|b| b.is_ascii_digit());
        let day = match day {
            [d] => d - b'0',
            [a, b] => (a - b'0') * 10 + (b - b'0'),
            _ => return Err("bad day in date".into()),
        };
        self.expect(b'-').map_err(|_| "bad date")?;
        let month = self
            .take_while(|b| b.is_ascii_alphabetic())
            .to_ascii_uppercase();
        let month = MONTHS
            .iter()
            .position(|m| m.as_bytes() == month)
            .ok_or("bad month in date")?;
        self.expect(b'-').map_err(|_| "bad date")?;
        let year = self.take_while(|b| b.is_ascii_digit());
        if year.len() != 4 {
            return Err("bad year in date".into());
        }
        let year = year.iter().fold(0u16, |y, d| y * 10 + u16::from(d - b'0'));
        if quoted {
            self.expect(b'"')?;
        }
        // `month` is below 12: MONTHS has twelve entries.
        Date::new(year, month as u8 + 1, day).ok_or_else(|| "no such date".into())
    }

    /// `[entry-name SP entry-type-req SP] mod-sequence-valzer` (RFC 7162 §3.1.5); the entry is
    /// checked and dropped.
    fn search_modseq(&mut self) -> PResult<u64> {
        if self.peek() == Some(b'"') {
            let entry = self.quoted()?;
            let flag = entry
                .get(..7)
                .filter(|p| p.eq_ignore_ascii_case(b"/flags/"))
                .and_then(|_| entry.get(7..))
                .unwrap_or_default();
            if flag.is_empty() {
                return Err("entry name must be \"/flags/<flag>\"".into());
            }
            self.sp()?;
            match self.keyword()?.as_str() {
                "PRIV" | "SHARED" | "ALL" => {}
                other => return Err(format!("bad entry type {other}")),
            }
            self.sp()?;
        }
        match self.number()? {
            n @ 0..=0x7fff_ffff_ffff_ffff => Ok(n),
            _ => Err("mod-sequence out of range".into()),
        }
    }
}

/// One key for a list of keys that must all match.
fn all_of(mut keys: Vec<SearchKey>) -> SearchKey {
    match keys.len() {
        1 => keys.pop().unwrap_or(SearchKey::All),
        _ => SearchKey::And(keys),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::imap::parse::{ParseErrorKind, parse_command};
    use crate::protocols::imap::types::{SeqNum, SeqSet};

    fn search(s: &str) -> SearchCommand {
        match parse_command(s.as_bytes()) {
            Ok(c) => match c.kind {
                CommandKind::Search(s) => s,
                other => panic!("{s}: not a search: {other:?}"),
            },
            Err(e) => panic!("{s}: {e}"),
        }
    }

    fn key(criteria: &str) -> SearchKey {
        search(&format!("a SEARCH {criteria}")).key
    }

    fn err(s: &str) -> String {
        match parse_command(s.as_bytes()) {
            Ok(c) => panic!("{s}: parsed as {c:?}"),
            Err(e) => {
                assert_eq!(e.kind, ParseErrorKind::Bad, "{s}");
                e.message
            }
        }
    }

    fn d(year: u16, month: u8, day: u8) -> Date {
        Date { year, month, day }
    }

    fn not(k: SearchKey) -> SearchKey {
        SearchKey::Not(Box::new(k))
    }

    fn header(f: &str, v: &str) -> SearchKey {
        SearchKey::Header(f.into(), v.into())
    }

    #[test]
    fn flag_keys() {
        use SearchKey::Flag;
        assert_eq!(key("ALL"), SearchKey::All);
        assert_eq!(key("answered"), Flag(Flags::ANSWERED));
        assert_eq!(key("DELETED"), Flag(Flags::DELETED));
        assert_eq!(key("DRAFT"), Flag(Flags::DRAFT));
        assert_eq!(key("FLAGGED"), Flag(Flags::FLAGGED));
        assert_eq!(key("SEEN"), Flag(Flags::SEEN));
        assert_eq!(key("UNANSWERED"), not(Flag(Flags::ANSWERED)));
        assert_eq!(key("UNDELETED"), not(Flag(Flags::DELETED)));
        assert_eq!(key("UNDRAFT"), not(Flag(Flags::DRAFT)));
        assert_eq!(key("UNFLAGGED"), not(Flag(Flags::FLAGGED)));
        assert_eq!(key("UNSEEN"), not(Flag(Flags::SEEN)));
        assert_eq!(key("RECENT"), SearchKey::Recent);
        assert_eq!(key("OLD"), not(SearchKey::Recent));
        assert_eq!(
            key("NEW"),
            SearchKey::And(vec![SearchKey::Recent, not(Flag(Flags::SEEN))])
        );
        assert_eq!(key("KEYWORD $junk"), Flag(Flags::JUNK));
        assert_eq!(key("KEYWORD $Forwarded"), Flag(Flags::FORWARDED));
        assert_eq!(key("KEYWORD custom"), SearchKey::Keyword("custom".into()));
        assert_eq!(key("UNKEYWORD $NotJunk"), not(Flag(Flags::NOTJUNK)));
        assert_eq!(
            key("UNKEYWORD work"),
            not(SearchKey::Keyword("work".into()))
        );
    }

    #[test]
    fn string_keys() {
        assert_eq!(key("BCC x"), header("Bcc", "x"));
        assert_eq!(key("CC \"a b\""), header("Cc", "a b"));
        assert_eq!(key("FROM {5}\r\nab cd"), header("From", "ab cd"));
        assert_eq!(key("SUBJECT \"\""), header("Subject", ""));
        assert_eq!(key("TO y@example.org"), header("To", "y@example.org"));
        assert_eq!(
            key("HEADER List-Id \"<x.example>\""),
            header("List-Id", "<x.example>")
        );
        assert_eq!(key("HEADER X-Spam \"\""), header("X-Spam", ""));
        assert_eq!(
            key("BODY \"caf\u{e9}\""),
            SearchKey::Body("caf\u{e9}".into())
        );
        assert!(err("a SEARCH BODY caf\u{e9}").starts_with("unexpected"));
        assert_eq!(key("TEXT \"x\\\"y\""), SearchKey::Text("x\"y".into()));
    }

    #[test]
    fn number_and_date_keys() {
        assert_eq!(key("LARGER 1000"), SearchKey::Larger(1000));
        assert_eq!(key("SMALLER 0"), SearchKey::Smaller(0));
        assert_eq!(key("BEFORE 1-Feb-1994"), SearchKey::Before(d(1994, 2, 1)));
        assert_eq!(key("ON \"29-feb-2024\""), SearchKey::On(d(2024, 2, 29)));
        assert_eq!(key("SINCE 31-DEC-1999"), SearchKey::Since(d(1999, 12, 31)));
        assert_eq!(
            key("SENTBEFORE 1-Jan-2000"),
            SearchKey::SentBefore(d(2000, 1, 1))
        );
        assert_eq!(key("SENTON 15-Jul-2020"), SearchKey::SentOn(d(2020, 7, 15)));
        assert_eq!(
            key("SENTSINCE 01-Mar-2021"),
            SearchKey::SentSince(d(2021, 3, 1))
        );
        assert_eq!(
            key("SAVEDBEFORE 2-Jan-2023"),
            SearchKey::SavedBefore(d(2023, 1, 2))
        );
        assert_eq!(key("SAVEDON 2-Jan-2023"), SearchKey::SavedOn(d(2023, 1, 2)));
        assert_eq!(
            key("SAVEDSINCE 2-Jan-2023"),
            SearchKey::SavedSince(d(2023, 1, 2))
        );
        assert_eq!(key("SAVEDATESUPPORTED"), SearchKey::SaveDateSupported);
        assert_eq!(key("OLDER 3600"), SearchKey::Older(3600));
        assert_eq!(key("YOUNGER 60"), SearchKey::Younger(60));
        assert_eq!(key("MODSEQ 0"), SearchKey::ModSeq(0));
        assert_eq!(
            key("MODSEQ \"/flags/\\\\draft\" all 620162338"),
            SearchKey::ModSeq(620162338)
        );
        assert_eq!(key("MODSEQ \"/FLAGS/$Junk\" priv 5"), SearchKey::ModSeq(5));
    }

    #[test]
    fn sets_and_structure() {
        let set = |ranges: Vec<(SeqNum, SeqNum)>| SeqSet(ranges);
        assert_eq!(
            key("1:3,*"),
            SearchKey::SeqSet(set(vec![
                (SeqNum::Value(1), SeqNum::Value(3)),
                (SeqNum::Star, SeqNum::Star)
            ]))
        );
        assert_eq!(
            key("UID 5:*"),
            SearchKey::UidSet(set(vec![(SeqNum::Value(5), SeqNum::Star)]))
        );
        assert_eq!(key("$"), SearchKey::Saved);
        assert_eq!(key("UID $"), SearchKey::Saved);
        assert_eq!(
            key("OR SEEN (FLAGGED NOT DELETED) UNDRAFT"),
            SearchKey::And(vec![
                SearchKey::Or(
                    Box::new(SearchKey::Flag(Flags::SEEN)),
                    Box::new(SearchKey::And(vec![
                        SearchKey::Flag(Flags::FLAGGED),
                        not(SearchKey::Flag(Flags::DELETED))
                    ]))
                ),
                not(SearchKey::Flag(Flags::DRAFT))
            ])
        );
        assert_eq!(key("((SEEN))"), SearchKey::Flag(Flags::SEEN));
        // Deep but within the limit.
        let deep = format!("{}SEEN{}", "(".repeat(99), ")".repeat(99));
        assert_eq!(key(&deep), SearchKey::Flag(Flags::SEEN));
        let nots = format!("{}SEEN", "NOT ".repeat(99));
        assert!(matches!(key(&nots), SearchKey::Not(_)));
    }

    #[test]
    fn return_and_charset() {
        let s = search("a UID SEARCH RETURN (MIN MAX COUNT ALL SAVE) CHARSET utf-8 SEEN");
        assert!(s.uid);
        assert_eq!(
            s.ret,
            Some(SearchReturn {
                min: true,
                max: true,
                all: true,
                count: true,
                save: true
            })
        );
        assert_eq!(s.key, SearchKey::Flag(Flags::SEEN));
        let s = search("a SEARCH RETURN () ALL");
        assert_eq!(
            s.ret,
            Some(SearchReturn {
                all: true,
                ..SearchReturn::default()
            })
        );
        let s = search("a search return (save) charset \"US-ASCII\" 1");
        assert!(!s.uid);
        assert_eq!(
            s.ret,
            Some(SearchReturn {
                save: true,
                ..SearchReturn::default()
            })
        );
        assert_eq!(search("a SEARCH ALL").ret, None);

        let e = parse_command(b"a7 SEARCH CHARSET ISO-8859-1 SUBJECT caf\xe9").unwrap_err();
        assert_eq!(e.kind, ParseErrorKind::BadCharset);
        assert_eq!(e.tag, "a7");
        assert_eq!(
            e.response(),
            "a7 NO [BADCHARSET (UTF-8 US-ASCII)] charset ISO-8859-1 not supported\r\n"
        );
        let e = parse_command(b"a8 UID SEARCH RETURN (ALL) CHARSET \"KOI8-R\" ALL").unwrap_err();
        assert_eq!(e.kind, ParseErrorKind::BadCharset);
        assert_eq!(
            parse_command(b"a9 BOGUS").unwrap_err().response(),
            "a9 BAD unknown command BOGUS\r\n"
        );
    }

    #[test]
    fn errors() {
        assert_eq!(err("a SEARCH FOO"), "unknown search key FOO");
        assert_eq!(err("a SEARCH SUBJECT"), "SUBJECT needs an argument");
        assert_eq!(err("a SEARCH HEADER X-A"), "HEADER needs an argument");
        assert_eq!(err("a SEARCH NOT"), "NOT needs an argument");
        assert_eq!(err("a SEARCH OR SEEN"), "OR needs an argument");
        assert_eq!(err("a SEARCH BEFORE 30-Feb-2024"), "BEFORE: no such date");
        assert_eq!(err("a SEARCH ON 1-Foo-2024"), "ON: bad month in date");
        assert_eq!(err("a SEARCH SINCE 123-Jan-2024"), "SINCE: bad day in date");
        assert_eq!(err("a SEARCH SINCE 1-Jan-24"), "SINCE: bad year in date");
        assert_eq!(err("a SEARCH SINCE 0-Jan-2024"), "SINCE: no such date");
        assert_eq!(
            err("a SEARCH LARGER x"),
            "LARGER: expected a number at position 16"
        );
        assert_eq!(err("a SEARCH OLDER 0"), "OLDER: number out of range");
        assert_eq!(
            err("a SEARCH KEYWORD \\Seen"),
            "KEYWORD: expected an atom at position 17"
        );
        assert_eq!(
            err("a SEARCH MODSEQ \"/x/y\" all 5"),
            "MODSEQ: entry name must be \"/flags/<flag>\""
        );
        assert_eq!(
            err("a SEARCH MODSEQ \"/flags/x\" any 5"),
            "MODSEQ: bad entry type ANY"
        );
        assert_eq!(
            err("a SEARCH MODSEQ 9223372036854775808"),
            "MODSEQ: mod-sequence out of range"
        );
        assert_eq!(
            err("a SEARCH RETURN (BOGUS) ALL"),
            "unknown SEARCH RETURN option BOGUS"
        );
        assert!(err("a SEARCH RETURN (MIN ALL").starts_with("expected"));
        assert!(err("a SEARCH").starts_with("expected"));
        assert!(err("a SEARCH ").starts_with("expected"));
        assert!(err("a SEARCH ()").starts_with("expected"));
        assert!(err("a SEARCH (SEEN").starts_with("expected"));
        assert!(err("a SEARCH SEEN ").starts_with("expected"));
        assert!(err("a SEARCH SEEN)").starts_with("unexpected"));
        assert!(err("a SEARCH CHARSET").starts_with("expected"));
        assert!(err("a SEARCH CHARSET UTF-8").starts_with("expected"));
        assert!(err("a SEARCH 0").contains("out of range"));
        assert!(err("a SEARCH UID").starts_with("expected"));
        assert!(err("a SEARCH $,1").starts_with("unexpected"));
        assert_eq!(
            err("a SEARCH SUBJECT \"\\xff\""),
            "SUBJECT: bad escape in quoted string"
        );
        let deep = format!("a SEARCH {}SEEN{}", "(".repeat(100), ")".repeat(100));
        assert_eq!(err(&deep), "search keys nested too deeply");
        let nots = format!("a SEARCH {}SEEN", "NOT ".repeat(100));
        assert_eq!(err(&nots), "search keys nested too deeply");
        let ors = format!("a SEARCH {}SEEN{}", "OR SEEN ".repeat(100), "");
        assert_eq!(err(&ors), "search keys nested too deeply");
        // A long run deep enough to overflow an unguarded recursion.
        let huge = format!("a SEARCH {}", "(".repeat(1_000_000));
        assert_eq!(err(&huge), "search keys nested too deeply");
    }

    #[test]
    fn random_input_never_panics() {
        let mut seed = 0x2545F4914F6CDD1Du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let words: [&[u8]; 24] = [
            b"a SEARCH ",
            b"UID ",
            b"RETURN (",
            b"MIN ",
            b"SAVE",
            b"CHARSET ",
            b"UTF-8 ",
            b"(",
            b")",
            b" ",
            b"NOT ",
            b"OR ",
            b"SEEN",
            b"HEADER ",
            b"\"",
            b"{3}\r\n",
            b"1-Jan-2024",
            b"\"31-Feb-2023\"",
            b"MODSEQ ",
            b"\"/flags/\\\\x\" all ",
            b"1:*,5",
            b"$",
            b"SUBJECT ",
            b"KEYWORD ",
        ];
        for _ in 0..50_000 {
            let mut input = b"a SEARCH ".to_vec();
            for _ in 0..(next() % 14) {
                if next() % 5 == 0 {
                    input.push(next() as u8);
                } else {
                    input.extend_from_slice(words[(next() % words.len() as u64) as usize]);
                }
            }
            let _ = parse_command(&input);
        }
    }
}
