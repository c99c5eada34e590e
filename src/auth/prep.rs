//! Password preparation, applied the same way wherever a password turns into key material:
//! when secrets are derived, when a PLAIN/LOGIN password is verified, and in our SASL clients.
//!
//! This is the mapping and normalisation of SASLprep (RFC 4013 §2.1–2.2): non-ASCII spaces
//! (RFC 3454 table C.1.2) become U+0020, characters "commonly mapped to nothing" (table B.1)
//! are removed, and the result is put in Unicode normalisation form KC. SCRAM clients apply
//! SASLprep to the password before hashing, so a stored SCRAM key only matches what they send
//! when the server prepared the password the same way. Of the prohibited output (RFC 4013 §2.3)
//! we refuse control characters, line and paragraph separators, private-use code points and
//! non-characters; the bidirectional check (§2.4) and the unassigned code point check are not
//! done. For ASCII passwords without control characters preparation changes nothing.

use unicode_normalization::UnicodeNormalization;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrepError {
    #[error("the password is empty")]
    Empty,
    #[error("the password contains a character not allowed in passwords (U+{0:04X})")]
    Prohibited(u32),
}

/// The prepared form of `password`.
pub fn prepare(password: &str) -> Result<String, PrepError> {
    let mapped: String = password
        .chars()
        .filter(|&c| !mapped_to_nothing(c))
        .map(|c| if non_ascii_space(c) { ' ' } else { c })
        .collect();
    let prepared: String = mapped.nfkc().collect();
    if let Some(c) = prepared.chars().find(|&c| prohibited(c)) {
        return Err(PrepError::Prohibited(c.into()));
    }
    if prepared.is_empty() {
        return Err(PrepError::Empty);
    }
    Ok(prepared)
}

/// RFC 3454 table C.1.2.
fn non_ascii_space(c: char) -> bool {
    matches!(
        c,
        '\u{00A0}' | '\u{1680}' | '\u{2000}'..='\u{200B}' | '\u{202F}' | '\u{205F}' | '\u{3000}'
    )
}

/// RFC 3454 table B.1 (U+200B is mapped to a space above, as table C.1.2 lists it too).
fn mapped_to_nothing(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{1806}'
            | '\u{180B}'..='\u{180D}'
            | '\u{200C}'
            | '\u{200D}'
            | '\u{2060}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
    )
}

/// A subset of RFC 4013 §2.3: controls (C.2.1, C.2.2's Cc part), separators, private use (C.3)
/// and non-characters (C.4).
fn prohibited(c: char) -> bool {
    let u = u32::from(c);
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}')
        || matches!(c, '\u{E000}'..='\u{F8FF}' | '\u{F0000}'..='\u{FFFFD}' | '\u{100000}'..='\u{10FFFD}')
        || matches!(c, '\u{FDD0}'..='\u{FDEF}')
        || (u & 0xFFFE) == 0xFFFE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_is_unchanged() {
        assert_eq!(prepare("pencil").unwrap(), "pencil");
        assert_eq!(prepare("a b~!").unwrap(), "a b~!");
    }

    #[test]
    fn rfc4013_examples() {
        // RFC 4013 §3: soft hyphen mapped to nothing, NFKC of ª and Ⅸ.
        assert_eq!(prepare("I\u{00AD}X").unwrap(), "IX");
        assert_eq!(prepare("user").unwrap(), "user");
        assert_eq!(prepare("\u{00AA}").unwrap(), "a");
        assert_eq!(prepare("\u{2168}").unwrap(), "IX");
        assert_eq!(prepare("\u{0007}"), Err(PrepError::Prohibited(7)));
    }

    #[test]
    fn spaces_and_composition() {
        assert_eq!(prepare("a\u{00A0}b").unwrap(), "a b");
        // A decomposed é is composed, so both spellings give the same keys.
        assert_eq!(prepare("e\u{0301}").unwrap(), "\u{00E9}");
        assert_eq!(prepare("\u{FEFF}"), Err(PrepError::Empty));
        assert_eq!(prepare(""), Err(PrepError::Empty));
        assert_eq!(prepare("a\u{E000}"), Err(PrepError::Prohibited(0xE000)));
        assert_eq!(prepare("a\u{FFFF}"), Err(PrepError::Prohibited(0xFFFF)));
    }
}
