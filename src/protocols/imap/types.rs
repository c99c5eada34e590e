//! Values IMAP commands carry: sequence sets, fetch items, body sections.

/// A number in a sequence set: a value or `*`, the largest in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqNum {
    Value(u32),
    Star,
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
