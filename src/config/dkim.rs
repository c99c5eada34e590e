//! The DKIM section of a domain in `domains.toml`: its selectors, each with a private key and
//! signing options, and which of them sign outgoing mail (mox's layout: `selectors` and `sign`).
//! Every key is loaded and checked when the file is; a validated [`DomainDkim`] holds them.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mail_auth::dkim::Canonicalization;
use serde::Deserialize;

use super::Problems;
use crate::address::Domain;
use crate::msgauth::sign::key::DkimPrivateKey;

/// The header fields signed when a selector lists none: From (required, RFC 6376 §5.4), the
/// fields RFC 6376 §5.4.1 recommends and that a sender writes (addressing, subject, date,
/// message references, list fields), and the MIME fields that say how to read the body.
pub const DEFAULT_HEADERS: &[&str] = &[
    "From",
    "To",
    "Cc",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "List-Id",
    "List-Help",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "List-Subscribe",
    "List-Post",
    "List-Owner",
    "List-Archive",
];

/// Header fields that change in transit; signing them breaks signatures (RFC 6376 §5.4.1).
const NEVER_SIGNED: &[&str] = &["DKIM-Signature", "Received", "Return-Path"];

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DkimFile {
    /// Selectors that sign outgoing mail, in order; each must be under `selectors`. Others are
    /// kept for publishing ahead of a key rotation.
    #[serde(default)]
    pub sign: Vec<String>,
    #[serde(default)]
    pub selectors: BTreeMap<String, SelectorFile>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectorFile {
    /// PEM private key (PKCS#8 ed25519 or RSA, or PKCS#1 RSA), relative to the directory of the
    /// dynamic file.
    pub private_key_file: PathBuf,
    /// Only "sha256" (RFC 8301 §3.1 forbids signing with sha1).
    pub hash: Option<String>,
    /// "header/body", each "simple" or "relaxed"; "relaxed/relaxed" when absent.
    pub canonicalization: Option<String>,
    /// Header fields to sign; [`DEFAULT_HEADERS`] when absent. Must include From.
    pub headers: Option<Vec<String>>,
    /// Sign the header fields once more than they occur, so none can be added (RFC 6376 §8.15).
    #[serde(default = "yes")]
    pub oversign: bool,
    /// How long signatures are valid (the `x=` tag): "72h", "3d", "90m", "3600s", or seconds.
    pub expiration: Option<Expiration>,
}

fn yes() -> bool {
    true
}

/// A validity period in seconds, written as a number of seconds or as a duration string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiration(pub u64);

impl<'de> Deserialize<'de> for Expiration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Expiration, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Expiration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"72h\" or \"3d\", or a number of seconds")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Expiration, E> {
                if v == 0 {
                    return Err(E::custom("expiration must be more than 0 seconds"));
                }
                Ok(Expiration(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Expiration, E> {
                match u64::try_from(v) {
                    Ok(v) => self.visit_u64(v),
                    Err(_) => Err(E::custom("expiration must be more than 0 seconds")),
                }
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Expiration, E> {
                parse_duration(v).map(Expiration).map_err(E::custom)
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// Parses "72h", "3d", "1h30m", "3600s" or "3600" into seconds (more than 0).
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let bad = || {
        format!(
            "invalid duration {text:?}: numbers followed by s, m, h, d or w, like \"72h\" or \"1d12h\""
        )
    };
    let text = text.trim();
    if text.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = text.parse::<u64>() {
        return (secs > 0)
            .then_some(secs)
            .ok_or_else(|| "expiration must be more than 0 seconds".to_string());
    }
    let mut total: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (number, tail) = rest.split_at(digits);
        let mut chars = tail.chars();
        let unit = match chars.next() {
            Some('s') => 1,
            Some('m') => 60,
            Some('h') => 3600,
            Some('d') => 86400,
            Some('w') => 7 * 86400,
            _ => return Err(bad()),
        };
        let n: u64 = number.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|secs| total.checked_add(secs))
            .ok_or_else(bad)?;
        rest = chars.as_str();
    }
    if total == 0 {
        return Err("expiration must be more than 0 seconds".into());
    }
    Ok(total)
}

/// The validated DKIM configuration of one domain.
#[derive(Debug, Clone)]
pub struct DomainDkim {
    /// The signing domain (`d=`, written in ASCII form).
    pub domain: Domain,
    /// Every configured selector, by name.
    pub selectors: BTreeMap<String, Arc<DkimSelector>>,
    /// The selectors that sign, in order: one DKIM-Signature each.
    pub sign: Vec<Arc<DkimSelector>>,
}

/// A selector: a key published at `<name>._domainkey.<domain>` and how to sign with it.
#[derive(Debug)]
pub struct DkimSelector {
    pub name: String,
    /// The key file, resolved against the dynamic file's directory.
    pub key_file: PathBuf,
    pub key: DkimPrivateKey,
    pub header_canonicalization: Canonicalization,
    pub body_canonicalization: Canonicalization,
    /// Header fields to sign, as configured (case kept), From among them.
    pub headers: Vec<String>,
    pub oversign: bool,
    /// Validity period of signatures in seconds (`x=` = `t=` + this).
    pub expiration: Option<u64>,
}

impl DkimSelector {
    /// Whether a header field is signed once more than it occurs (RFC 6376 §5.4.2 and §8.15: a
    /// name in h= with no instance left stands for "no such field", so none can be added).
    /// List-* fields are not: a mailing list adds them, and a signature that survives a list
    /// which changes nothing else is worth keeping; they are signed when present.
    pub fn oversigns(&self, name: &str) -> bool {
        self.oversign
            && !name
                .get(..5)
                .is_some_and(|p| p.eq_ignore_ascii_case("list-"))
    }

    /// The TXT record to publish at `<name>._domainkey.<domain>`.
    pub fn dns_txt_record(&self) -> String {
        self.key.dns_txt_record()
    }
}

/// Whether `name` is a DNS label as selectors use them (RFC 6376 §3.1, host name rules):
/// letters, digits and hyphens, 1 to 63 of them, no hyphen first or last.
pub fn valid_selector(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// A header field name: printable ASCII except colon (RFC 5322 §3.6.8).
fn valid_field_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| (33..=126).contains(&b) && b != b':')
}

fn parse_canonicalization(text: &str) -> Option<(Canonicalization, Canonicalization)> {
    let one = |s: &str| {
        if s.eq_ignore_ascii_case("relaxed") {
            Some(Canonicalization::Relaxed)
        } else if s.eq_ignore_ascii_case("simple") {
            Some(Canonicalization::Simple)
        } else {
            None
        }
    };
    let (header, body) = text.split_once('/')?;
    Some((one(header)?, one(body)?))
}

/// Validates the `dkim` section of domain `domain` (configured as `domains.<name>`), loading
/// its keys from paths relative to `base` (the dynamic file's directory).
pub(crate) fn validate(
    name: &str,
    domain: &Domain,
    file: DkimFile,
    base: &Path,
    problems: &mut Problems,
) -> DomainDkim {
    let prefix = format!("domains.{name}.dkim");
    let mut selectors = BTreeMap::new();
    for (sel_name, sel) in &file.selectors {
        let key = |k: &str| format!("{prefix}.selectors.{sel_name}.{k}");
        if !valid_selector(sel_name) {
            problems.add(
                &format!("{prefix}.selectors.{sel_name}"),
                "a selector name is a DNS label: letters, digits and hyphens, at most 63, not starting or ending with a hyphen",
            );
            continue;
        }
        let mut ok = true;
        match sel.hash.as_deref() {
            None => {}
            Some(h) if h.eq_ignore_ascii_case("sha256") => {}
            Some(h) if h.eq_ignore_ascii_case("sha1") => {
                ok = false;
                problems.add(
                    &key("hash"),
                    "sha1 must not be used for signing (RFC 8301 §3.1); use sha256",
                );
            }
            Some(h) => {
                ok = false;
                problems.add(
                    &key("hash"),
                    format!("unknown hash {h:?}; only sha256 is supported"),
                );
            }
        }
        let (header_canonicalization, body_canonicalization) = match sel.canonicalization.as_deref()
        {
            None => (Canonicalization::Relaxed, Canonicalization::Relaxed),
            Some(text) => match parse_canonicalization(text) {
                Some(c) => c,
                None => {
                    ok = false;
                    problems.add(
                            &key("canonicalization"),
                            format!("invalid canonicalization {text:?}: \"header/body\", each \"simple\" or \"relaxed\", like \"relaxed/relaxed\""),
                        );
                    (Canonicalization::Relaxed, Canonicalization::Relaxed)
                }
            },
        };
        let headers: Vec<String> = match &sel.headers {
            None => DEFAULT_HEADERS.iter().map(|h| h.to_string()).collect(),
            Some(list) => list.clone(),
        };
        for (i, h) in headers.iter().enumerate() {
            let hkey = key(&format!("headers[{i}]"));
            if !valid_field_name(h) {
                ok = false;
                problems.add(
                    &hkey,
                    format!("{h:?} is not a header field name (printable ASCII, no colon)"),
                );
            } else if let Some(never) = NEVER_SIGNED.iter().find(|n| n.eq_ignore_ascii_case(h)) {
                ok = false;
                problems.add(
                    &hkey,
                    format!("{never} changes in transit and must not be signed (RFC 6376 §5.4.1)"),
                );
            } else if headers[..i].iter().any(|o| o.eq_ignore_ascii_case(h)) {
                ok = false;
                problems.add(
                    &hkey,
                    format!("{h} is listed twice (oversign adds the extra instance)"),
                );
            }
        }
        if !headers.iter().any(|h| h.eq_ignore_ascii_case("From")) {
            ok = false;
            problems.add(&key("headers"), "From must be signed (RFC 6376 §5.4)");
        }
        let key_file = base.join(&sel.private_key_file);
        let loaded = match std::fs::read(&key_file) {
            Ok(pem) => DkimPrivateKey::from_pem(&pem).map_err(|e| e.to_string()),
            Err(e) => Err(format!("cannot read {}: {e}", key_file.display())),
        };
        let key_pair = match loaded {
            Ok(k) => k,
            Err(message) => {
                problems.add(&key("private_key_file"), message);
                continue;
            }
        };
        if !ok {
            continue;
        }
        selectors.insert(
            sel_name.clone(),
            Arc::new(DkimSelector {
                name: sel_name.clone(),
                key_file,
                key: key_pair,
                header_canonicalization,
                body_canonicalization,
                headers,
                oversign: sel.oversign,
                expiration: sel.expiration.map(|e| e.0),
            }),
        );
    }
    let mut sign = Vec::new();
    for (i, s) in file.sign.iter().enumerate() {
        let skey = format!("{prefix}.sign[{i}]");
        if file.sign[..i].contains(s) {
            problems.add(&skey, format!("selector {s} is listed twice"));
        } else if let Some(sel) = selectors.get(s) {
            sign.push(sel.clone());
        } else if !file.selectors.contains_key(s) {
            problems.add(
                &skey,
                format!("unknown selector {s:?}: not under {prefix}.selectors"),
            );
        }
    }
    DomainDkim {
        domain: domain.clone(),
        selectors,
        sign,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("72h"), Ok(72 * 3600));
        assert_eq!(parse_duration("1d12h"), Ok(36 * 3600));
        assert_eq!(parse_duration("90m"), Ok(5400));
        assert_eq!(parse_duration("3600s"), Ok(3600));
        assert_eq!(parse_duration("3600"), Ok(3600));
        assert_eq!(parse_duration("2w"), Ok(14 * 86400));
        for bad in [
            "",
            "h",
            "0",
            "0h",
            "72x",
            "-1h",
            "1.5h",
            "h72",
            "99999999999999999999w",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn selector_names_and_field_names() {
        assert!(valid_selector("2026a"));
        assert!(valid_selector("a-b"));
        for bad in ["", "-a", "a-", "a.b", "a_b", "ø", &"x".repeat(64)] {
            assert!(!valid_selector(bad), "{bad:?}");
        }
        assert!(valid_field_name("X-Custom_1"));
        for bad in ["", "Sub ject", "A:B", "Tëst"] {
            assert!(!valid_field_name(bad), "{bad:?}");
        }
        assert_eq!(
            parse_canonicalization("Simple/relaxed"),
            Some((Canonicalization::Simple, Canonicalization::Relaxed))
        );
        assert_eq!(parse_canonicalization("relaxed"), None);
        assert_eq!(parse_canonicalization("relaxed/loose"), None);
    }
}
