//! Writers for IMAP response values (RFC 9051 §4, §9): strings (quoted or literal), flag lists,
//! dates.

use crate::store::Flags;

/// Appends `s` as a quoted string when that is possible, else as a literal.
pub fn string(out: &mut Vec<u8>, s: &[u8]) {
    let quotable = s.len() < 1024 && s.iter().all(|&b| (0x20..0x7f).contains(&b));
    if quotable {
        out.push(b'"');
        for &b in s {
            if b == b'"' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        literal(out, s);
    }
}

/// Appends `s` as an astring: an atom when it is one (RFC 9051 §9 ASTRING-CHAR), else a string.
pub fn astring(out: &mut Vec<u8>, s: &[u8]) {
    let atom = !s.is_empty()
        && !s.eq_ignore_ascii_case(b"NIL")
        && s.iter()
            .all(|&b| b > 0x20 && b < 0x7f && !b"(){%*\"\\".contains(&b));
    if atom {
        out.extend_from_slice(s);
    } else {
        string(out, s);
    }
}

/// Appends text as a string. With `utf8` (the session may send UTF-8: the client enabled
/// UTF8=ACCEPT, RFC 6855 §3) a quoted string may hold UTF-8 (RFC 9051 §9 `QUOTED-CHAR`); without it, text that is
/// not printable ASCII goes out as a literal, as [`string`] does. Callers that must not send UTF-8
/// to such a client encode it first (RFC 2047, RFC 2231).
pub fn text(out: &mut Vec<u8>, s: &str, utf8: bool) {
    let quotable = utf8 && s.len() < 1024 && s.chars().all(|c| c >= ' ' && c != '\x7f');
    if quotable {
        out.push(b'"');
        for &b in s.as_bytes() {
            if b == b'"' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        string(out, s.as_bytes());
    }
}

/// Appends `s` as a text string, or `NIL` for None (RFC 9051 §9 `nstring`).
pub fn ntext(out: &mut Vec<u8>, s: Option<&str>, utf8: bool) {
    match s {
        Some(s) => text(out, s, utf8),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// Appends `s` as a literal `{n}\r\n...`.
pub fn literal(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(format!("{{{}}}\r\n", s.len()).as_bytes());
    out.extend_from_slice(s);
}

/// `(\Seen $Junk keyword ...)`.
pub fn flag_list(flags: Flags, keywords: &[String]) -> String {
    let mut names: Vec<&str> = flags.names().collect();
    names.extend(keywords.iter().map(String::as_str));
    format!("({})", names.join(" "))
}

/// INTERNALDATE form: `"17-Jul-1996 02:44:25 +0000"` (RFC 9051 §9 date-time), in UTC.
pub fn date_time(unix: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let d = mail_parser::DateTime::from_timestamp(unix);
    let month = MONTHS
        .get((d.month as usize).wrapping_sub(1))
        .unwrap_or(&"Jan");
    format!(
        "\"{:02}-{month}-{:04} {:02}:{:02}:{:02} +0000\"",
        d.day, d.year, d.hour, d.minute, d.second
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn astrings() {
        let a = |s: &[u8]| {
            let mut out = Vec::new();
            astring(&mut out, s);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(a(b"INBOX"), "INBOX");
        assert_eq!(a(b"lists/rust"), "lists/rust");
        assert_eq!(a(b"Sent Items"), "\"Sent Items\"");
        assert_eq!(a(b""), "\"\"");
        assert_eq!(a(b"nil"), "\"nil\"");
        assert_eq!(a(b"50%"), "\"50%\"");
    }

    #[test]
    fn strings() {
        let mut out = Vec::new();
        string(&mut out, b"a \"b\"\\");
        assert_eq!(out, b"\"a \\\"b\\\"\\\\\"");
        let mut out = Vec::new();
        string(&mut out, b"line\r\nbreak");
        assert_eq!(out, b"{11}\r\nline\r\nbreak");
    }

    #[test]
    fn utf8_text() {
        let mut out = Vec::new();
        text(&mut out, "Jörg \"J\"", true);
        assert_eq!(out, "\"Jörg \\\"J\\\"\"".as_bytes());
        let mut out = Vec::new();
        text(&mut out, "Jörg", false);
        assert_eq!(out, "{5}\r\nJörg".as_bytes());
        let mut out = Vec::new();
        text(&mut out, "a\tb", true);
        assert_eq!(out, b"{3}\r\na\tb");
        let mut out = Vec::new();
        ntext(&mut out, None, true);
        ntext(&mut out, Some("x"), false);
        assert_eq!(out, b"NIL\"x\"");
    }

    #[test]
    fn dates_and_flags() {
        assert_eq!(date_time(0), "\"01-Jan-1970 00:00:00 +0000\"");
        assert_eq!(date_time(1_700_000_000), "\"14-Nov-2023 22:13:20 +0000\"");
        assert_eq!(
            flag_list(Flags::SEEN.union(Flags::FLAGGED), &["x".into()]),
            "(\\Seen \\Flagged x)"
        );
    }
}
