//! Modified UTF-7 (RFC 3501 §5.1.3), the mailbox name encoding of IMAP4rev1 clients that have
//! not enabled IMAP4rev2 or UTF8=ACCEPT. Printable ASCII stands for itself except `&`, written
//! `&-`; anything else is UTF-16 in a base64 variant (`,` for `/`, no padding) between `&` and
//! `-`.
//!
//! Decoding accepts only what an encoder following the RFC writes, so that every name has one
//! spelling: printable ASCII must not be encoded, encoded runs must not be adjacent, and the
//! bits left over at the end of a run must be fewer than six and zero.

/// Why a mailbox name is not valid modified UTF-7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Utf7Error {
    #[error("character {0:#04x} is not allowed in a modified UTF-7 mailbox name")]
    Character(u8),
    #[error("a modified base64 run is not ended by '-'")]
    Unterminated,
    #[error("character {0:?} is not modified base64")]
    Base64(char),
    #[error("a modified base64 run does not hold whole UTF-16 characters")]
    Incomplete,
    #[error("a modified base64 run holds an unpaired UTF-16 surrogate")]
    Surrogate,
    #[error("printable ASCII is encoded, or two encoded runs are adjacent: not the canonical form")]
    NotCanonical,
}

/// `name` in modified UTF-7.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut run: Vec<u16> = Vec::new();
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut run, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut units = [0u16; 2];
            run.extend_from_slice(c.encode_utf16(&mut units));
        }
    }
    flush(&mut run, &mut out);
    out
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// Writes `run` as `&...-` and empties it.
fn flush(run: &mut Vec<u16>, out: &mut String) {
    if run.is_empty() {
        return;
    }
    out.push('&');
    let (mut acc, mut bits) = (0u32, 0u32);
    for unit in run.drain(..) {
        acc = (acc << 16) | u32::from(unit);
        bits += 16;
        while bits >= 6 {
            bits -= 6;
            out.push(ALPHABET[((acc >> bits) & 0x3f) as usize] as char);
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (6 - bits)) & 0x3f) as usize] as char);
    }
    out.push('-');
}

/// The mailbox name that `s` encodes.
pub fn decode(s: &str) -> Result<String, Utf7Error> {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    // Whether the previous thing read was an encoded run (so another may not follow at once).
    let mut after_run = false;
    while let Some(&b) = bytes.get(i) {
        if !(0x20..=0x7e).contains(&b) {
            return Err(Utf7Error::Character(b));
        }
        if b != b'&' {
            out.push(b as char);
            after_run = false;
            i += 1;
            continue;
        }
        let rest = bytes.get(i + 1..).unwrap_or_default();
        let len = rest
            .iter()
            .position(|&c| c == b'-')
            .ok_or(Utf7Error::Unterminated)?;
        let run = &rest[..len];
        i += len + 2;
        if run.is_empty() {
            out.push('&');
            after_run = false;
            continue;
        }
        if after_run {
            return Err(Utf7Error::NotCanonical);
        }
        decode_run(run, &mut out)?;
        after_run = true;
    }
    Ok(out)
}

/// Decodes one modified base64 run (between `&` and `-`) into `out`.
fn decode_run(run: &[u8], out: &mut String) -> Result<(), Utf7Error> {
    let mut units = Vec::with_capacity(run.len() * 6 / 16);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in run {
        let v = ALPHABET
            .iter()
            .position(|&a| a == c)
            .ok_or(Utf7Error::Base64(c as char))?;
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 16 {
            bits -= 16;
            units.push((acc >> bits) as u16);
            acc &= (1 << bits) - 1;
        }
    }
    // What is left must be padding: fewer than six bits (else a character too many was
    // written), all zero, and not a byte or more (else a UTF-16 unit is cut off).
    if bits >= 6 || acc != 0 {
        return Err(if bits >= 8 {
            Utf7Error::Incomplete
        } else {
            Utf7Error::NotCanonical
        });
    }
    for c in char::decode_utf16(units) {
        let c = c.map_err(|_| Utf7Error::Surrogate)?;
        if (' '..='~').contains(&c) {
            return Err(Utf7Error::NotCanonical);
        }
        out.push(c);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names() {
        // RFC 3501 §5.1.3's example name, and other scripts.
        let cases = [
            ("INBOX", "INBOX"),
            ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
            ("Entwürfe", "Entw&APw-rfe"),
            ("Tom & Jerry", "Tom &- Jerry"),
            ("&", "&-"),
            ("Отправленные", "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-"),
            ("😀", "&2D3eAA-"),
            ("a\tb", "a&AAk-b"),
            ("", ""),
        ];
        for (name, wire) in cases {
            assert_eq!(encode(name), wire, "{name}");
            assert_eq!(decode(wire).as_deref(), Ok(name), "{wire}");
        }
    }

    #[test]
    fn invalid_forms() {
        use Utf7Error::*;
        let cases = [
            ("Entw&APw", Unterminated),
            ("&", Unterminated),
            ("a&b", Unterminated),
            ("&AP!-", Base64('!')),
            ("&AP/-", Base64('/')),
            ("&AP=-", Base64('=')),
            ("caf\u{e9}", Character(0xc3)),
            ("a\tb", Character(0x09)),
            // "A" encoded: printable ASCII must stand for itself.
            ("&AEE-", NotCanonical),
            // "&" encoded instead of written "&-".
            ("&ACY-", NotCanonical),
            // Two runs side by side instead of one.
            ("&APw-&APw-", NotCanonical),
            // Non-zero padding bits, or a character more than needed.
            ("&APx-", NotCanonical),
            ("&A-", NotCanonical),
            // Bits for half a UTF-16 unit.
            ("&APwA-", Incomplete),
            ("&AP-", Incomplete),
            ("&APwAA-", Incomplete),
            // A lone high surrogate, and a lone low one.
            ("&2D0-", Surrogate),
            ("&3gA-", Surrogate),
        ];
        for (wire, error) in cases {
            assert_eq!(decode(wire), Err(error), "{wire}");
        }
        // Runs split by a plain character are fine, as is an escaped '&' between runs.
        assert_eq!(decode("&APw-x&APw-").as_deref(), Ok("üxü"));
        assert_eq!(decode("&APw-&-&APw-").as_deref(), Ok("ü&ü"));
    }

    #[test]
    fn round_trips() {
        for name in [
            "ü",
            "üü",
            "üüü",
            "a&b&&c",
            "日本語/テスト",
            "mixed ü and 日本 and 😀😀 end",
            "\u{1}\u{7f}\u{80}\u{ffff}\u{10ffff}",
        ] {
            let wire = encode(name);
            assert!(wire.bytes().all(|b| (0x20..=0x7e).contains(&b)), "{wire}");
            assert_eq!(decode(&wire).as_deref(), Ok(name), "{wire}");
        }
    }

    #[test]
    fn random_input_never_panics() {
        let mut seed = 0x9E3779B97F4A7C15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet = "&-AZaz09+,/=!~ \u{e9}\u{0}ABCDEFGH2D3e";
        let chars: Vec<char> = alphabet.chars().collect();
        for _ in 0..50_000 {
            let len = next() % 16;
            let s: String = (0..len)
                .map(|_| chars[(next() % chars.len() as u64) as usize])
                .collect();
            if let Ok(name) = decode(&s) {
                // What decodes re-encodes to the same bytes: one spelling per name.
                assert_eq!(encode(&name), s);
            }
        }
    }
}
