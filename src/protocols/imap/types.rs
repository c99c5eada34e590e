//! Values IMAP commands carry: sequence sets, fetch items, body sections, search keys.

use crate::store::Flags;

/// A number in a sequence set: a value or `*`, the largest in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqNum {
    Value(u32),
    Star,
}

impl SeqSet {
    /// `$`: the result saved by a SEARCH with RETURN (SAVE) (RFC 5182). Written alone; it is the
    /// empty range list.
    pub fn saved() -> SeqSet {
        SeqSet(Vec::new())
    }

    pub fn is_saved(&self) -> bool {
        self.0.is_empty()
    }
}

/// A sequence set (RFC 9051 §9 "sequence-set"): ranges, each in either order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeqSet(pub Vec<(SeqNum, SeqNum)>);

impl SeqSet {
    /// Whether `n` is in the set, where `*` stands for `largest`.
    pub fn contains(&self, n: u32, largest: u32) -> bool {
        let value = |s: SeqNum| match s {
            SeqNum::Value(v) => v,
            SeqNum::Star => largest,
        };
        self.0.iter().any(|&(a, b)| {
            let (lo, hi) = (value(a).min(value(b)), value(a).max(value(b)));
            lo <= n && n <= hi
        })
    }

    /// Whether any range names a number above `largest` (other than through `*`).
    pub fn max_value(&self) -> u32 {
        self.0
            .iter()
            .flat_map(|&(a, b)| [a, b])
            .filter_map(|s| match s {
                SeqNum::Value(v) => Some(v),
                SeqNum::Star => None,
            })
            .max()
            .unwrap_or(0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreAction {
    Add,
    Remove,
    Replace,
}

/// What follows the part number in a section (RFC 9051 §6.4.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionPart {
    Header,
    HeaderFields(Vec<String>),
    HeaderFieldsNot(Vec<String>),
    Text,
    Mime,
}

/// A body section: a part path (empty for the whole message) and what of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    pub part: Vec<u32>,
    pub spec: Option<SectionPart>,
}

impl Section {
    /// The section as written in a FETCH response, e.g. `1.2.HEADER.FIELDS (SUBJECT)`.
    pub fn to_wire(&self) -> String {
        let mut s: Vec<String> = self.part.iter().map(u32::to_string).collect();
        match &self.spec {
            None => {}
            Some(SectionPart::Header) => s.push("HEADER".into()),
            Some(SectionPart::Text) => s.push("TEXT".into()),
            Some(SectionPart::Mime) => s.push("MIME".into()),
            Some(SectionPart::HeaderFields(f)) => {
                s.push(format!("HEADER.FIELDS ({})", f.join(" ")))
            }
            Some(SectionPart::HeaderFieldsNot(f)) => {
                s.push(format!("HEADER.FIELDS.NOT ({})", f.join(" ")))
            }
        }
        s.join(".")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchItem {
    Uid,
    Flags,
    Rfc822Size,
    InternalDate,
    ModSeq,
    /// BODY[section]<partial>, BODY.PEEK[...], and the RFC822 forms (`rfc822` holds the name to
    /// answer with).
    Body {
        section: Section,
        partial: Option<(u32, u32)>,
        peek: bool,
        rfc822: Option<&'static str>,
    },
    /// ENVELOPE (RFC 9051 §7.5.2).
    Envelope,
    /// BODYSTRUCTURE, or with `extensions` false the BODY item without a section (RFC 9051
    /// §6.4.5: "the non-extensible form of BODYSTRUCTURE").
    BodyStructure {
        extensions: bool,
    },
    /// BINARY[part]<partial> and BINARY.PEEK[...] (RFC 9051 §6.4.5, RFC 3516): the part's content
    /// with its transfer encoding removed. `part` is a part path only, empty for the whole
    /// message.
    Binary {
        part: Vec<u32>,
        partial: Option<(u32, u32)>,
        peek: bool,
    },
    /// BINARY.SIZE[part]: the size of what BINARY[part] returns.
    BinarySize {
        part: Vec<u32>,
    },
    /// SAVEDATE (RFC 8514): when the message was added to this mailbox.
    SaveDate,
}

/// A calendar date as SEARCH writes it (`d-Mon-yyyy`, RFC 9051 §9 "date"), always a valid date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

impl Date {
    /// The date if it exists in the Gregorian calendar.
    pub fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        let leap =
            year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        (1..=days)
            .contains(&day)
            .then_some(Date { year, month, day })
    }
}

/// A search criterion (RFC 9051 §6.4.4 and the extensions moxide supports), as a tree.
///
/// The parser writes every key in one canonical form: UNSEEN is `Not(Flag(SEEN))`, FROM x is
/// `Header("From", x)`, NEW is `And([Recent, Not(Flag(SEEN))])`, several keys in a row are `And`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    /// ALL: every message.
    All,
    /// All of these (keys in a row, or a parenthesised list).
    And(Vec<SearchKey>),
    Or(Box<SearchKey>, Box<SearchKey>),
    Not(Box<SearchKey>),
    /// A flag moxide keeps as a bit: ANSWERED, DELETED, DRAFT, FLAGGED, SEEN, and KEYWORD with a
    /// name [`Flags::from_name`] knows ($Junk, $Forwarded, ...).
    Flag(Flags),
    /// KEYWORD with any other name (compared case-insensitively).
    Keyword(String),
    /// A sequence set of message sequence numbers.
    SeqSet(SeqSet),
    /// UID with a sequence set of uids.
    UidSet(SeqSet),
    /// `$` or `UID $`: the messages of the saved search result (RFC 5182).
    Saved,
    /// RECENT (IMAP4rev1): moxide never has recent messages, so this matches nothing.
    Recent,
    /// LARGER n: RFC822.SIZE above n.
    Larger(u64),
    /// SMALLER n: RFC822.SIZE below n.
    Smaller(u64),
    /// BEFORE, ON, SINCE: the INTERNALDATE's date.
    Before(Date),
    On(Date),
    Since(Date),
    /// SENTBEFORE, SENTON, SENTSINCE: the Date header's date.
    SentBefore(Date),
    SentOn(Date),
    SentSince(Date),
    /// SAVEDBEFORE, SAVEDON, SAVEDSINCE: the SAVEDATE's date (RFC 8514).
    SavedBefore(Date),
    SavedOn(Date),
    SavedSince(Date),
    /// SAVEDATESUPPORTED (RFC 8514): every message, as every moxide mailbox keeps save dates.
    SaveDateSupported,
    /// OLDER n (RFC 5032): INTERNALDATE more than n seconds before now.
    Older(u32),
    /// YOUNGER n (RFC 5032): INTERNALDATE at most n seconds before now.
    Younger(u32),
    /// MODSEQ n (RFC 7162 §3.1.5): mod-sequence at least n. The optional entry name and type are
    /// checked by the parser and not kept: moxide has one mod-sequence per message.
    ModSeq(u64),
    /// HEADER name value, and BCC, CC, FROM, SUBJECT, TO: a field of that name whose decoded
    /// value contains the string (an empty string: any message with the field).
    Header(String, String),
    /// BODY: the decoded text of the body contains the string.
    Body(String),
    /// TEXT: the decoded header or body contains the string.
    Text(String),
}

/// The RETURN options of a SEARCH (RFC 4731 §3.1, SAVE from RFC 5182).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SearchReturn {
    pub min: bool,
    pub max: bool,
    pub all: bool,
    pub count: bool,
    pub save: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_set_contains() {
        let s = SeqSet(vec![
            (SeqNum::Value(5), SeqNum::Value(3)),
            (SeqNum::Value(10), SeqNum::Star),
        ]);
        assert!(s.contains(4, 20) && s.contains(10, 20) && s.contains(20, 20));
        assert!(!s.contains(6, 20) && !s.contains(2, 20));
        // `*` in an empty range list position: 10:* with largest 8 is 8:10.
        assert!(s.contains(9, 8));
        assert_eq!(s.max_value(), 10);
    }
}
