//! Message flags: the system flags of RFC 9051 §2.3.2 and the well-known keywords moxide gives
//! meaning to, kept as one bit set. Other keywords are stored by name beside it.

/// A set of the flags moxide knows, as bits.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    Hash,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
pub struct Flags(pub u16);

impl Flags {
    pub const SEEN: Flags = Flags(1);
    pub const ANSWERED: Flags = Flags(1 << 1);
    pub const FLAGGED: Flags = Flags(1 << 2);
    pub const DELETED: Flags = Flags(1 << 3);
    pub const DRAFT: Flags = Flags(1 << 4);
    pub const FORWARDED: Flags = Flags(1 << 5);
    pub const JUNK: Flags = Flags(1 << 6);
    pub const NOTJUNK: Flags = Flags(1 << 7);
    pub const PHISHING: Flags = Flags(1 << 8);
    pub const MDNSENT: Flags = Flags(1 << 9);

    /// Every known flag with its IMAP name, in the order they are written.
    pub const NAMES: [(Flags, &'static str); 10] = [
        (Flags::SEEN, "\\Seen"),
        (Flags::ANSWERED, "\\Answered"),
        (Flags::FLAGGED, "\\Flagged"),
        (Flags::DELETED, "\\Deleted"),
        (Flags::DRAFT, "\\Draft"),
        (Flags::FORWARDED, "$Forwarded"),
        (Flags::JUNK, "$Junk"),
        (Flags::NOTJUNK, "$NotJunk"),
        (Flags::PHISHING, "$Phishing"),
        (Flags::MDNSENT, "$MDNSent"),
    ];

    pub const fn empty() -> Flags {
        Flags(0)
    }

    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    pub const fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    pub const fn without(self, other: Flags) -> Flags {
        Flags(self.0 & !other.0)
    }

    /// The flag with this IMAP name (case-insensitive, RFC 9051 §2.3.2), if moxide knows it.
    pub fn from_name(name: &str) -> Option<Flags> {
        Flags::NAMES
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|(f, _)| *f)
    }

    /// The IMAP names of the flags set, in a stable order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Flags::NAMES
            .into_iter()
            .filter(move |(f, _)| self.contains(*f))
            .map(|(_, n)| n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let f = Flags::SEEN.union(Flags::JUNK);
        let names: Vec<_> = f.names().collect();
        assert_eq!(names, ["\\Seen", "$Junk"]);
        assert_eq!(Flags::from_name("\\seen"), Some(Flags::SEEN));
        assert_eq!(Flags::from_name("$junk"), Some(Flags::JUNK));
        assert_eq!(Flags::from_name("custom"), None);
        assert_eq!(f.without(Flags::SEEN), Flags::JUNK);
    }
}
