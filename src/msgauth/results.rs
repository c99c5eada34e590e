//! The `Authentication-Results` header field (RFC 8601): one resinfo per method, values quoted
//! where they are not plain tokens, nothing from the client able to break the field.

use std::fmt::Write;
use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use mail_auth::common::crypto::Algorithm;
use mail_auth::dmarc::Policy;

use super::verify::DmarcSummary;

/// A method's result (RFC 8601 §2.7, the values registered for each method).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    SoftFail,
    Neutral,
    None,
    TempError,
    PermError,
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::SoftFail => "softfail",
            Outcome::Neutral => "neutral",
            Outcome::None => "none",
            Outcome::TempError => "temperror",
            Outcome::PermError => "permerror",
        }
    }
}

/// Builds the header field, method by method.
pub struct AuthResults {
    authserv_id: String,
    results: Vec<String>,
}

impl AuthResults {
    pub fn new(authserv_id: &str) -> AuthResults {
        AuthResults {
            authserv_id: clean(authserv_id),
            results: Vec::new(),
        }
    }

    pub fn iprev(&mut self, outcome: Outcome, ip: IpAddr) {
        self.results
            .push(format!("iprev={} policy.iprev={ip}", outcome.as_str()));
    }

    pub fn spf_mail_from(&mut self, outcome: Outcome, mail_from: &str) {
        self.results.push(format!(
            "spf={} smtp.mailfrom={}",
            outcome.as_str(),
            pvalue(mail_from)
        ));
    }

    /// SPF of the HELO identity, used when the reverse path is null (RFC 7208 §2.4).
    pub fn spf_helo(&mut self, outcome: Outcome, helo: &str) {
        self.results.push(format!(
            "spf={} smtp.mailfrom=<> smtp.helo={}",
            outcome.as_str(),
            pvalue(helo)
        ));
    }

    pub fn dkim_none(&mut self) {
        self.results.push("dkim=none".into());
    }

    pub fn dkim(&mut self, outcome: Outcome, signature: Option<&mail_auth::dkim::Signature>) {
        let mut r = format!("dkim={}", outcome.as_str());
        if let Some(sig) = signature {
            let algorithm = match sig.a {
                Algorithm::RsaSha1 => "rsa-sha1",
                Algorithm::RsaSha256 => "rsa-sha256",
                Algorithm::Ed25519Sha256 => "ed25519-sha256",
            };
            // RFC 6008: the first 8 characters of the signature tell signatures apart.
            let b: String = BASE64.encode(&sig.b).chars().take(8).collect();
            let _ = write!(
                r,
                " header.d={} header.s={} header.a={algorithm} header.b={}",
                pvalue(&sig.d),
                pvalue(&sig.s),
                pvalue(&b)
            );
        }
        self.results.push(r);
    }

    pub fn dmarc(&mut self, dmarc: &DmarcSummary) {
        let mut r = format!("dmarc={}", dmarc.outcome.as_str());
        if let Some(policy) = dmarc.policy {
            let p = match policy {
                Policy::Reject => "reject",
                Policy::Quarantine => "quarantine",
                Policy::None | Policy::Unspecified => "none",
            };
            let _ = write!(r, " (p={p})");
        }
        if !dmarc.domain.is_empty() {
            let _ = write!(r, " header.from={}", pvalue(&dmarc.domain));
        }
        self.results.push(r);
    }

    /// The whole field, folded one result per line, CRLF-terminated.
    pub fn to_header(&self) -> String {
        let mut h = format!("Authentication-Results: {}", self.authserv_id);
        if self.results.is_empty() {
            h.push_str("; none");
        }
        for r in &self.results {
            h.push_str(";\r\n\t");
            h.push_str(r);
        }
        h.push_str("\r\n");
        h
    }
}

/// The message without `Authentication-Results` fields that claim to come from us (RFC 8601
/// §5: a field with our authserv-id that we did not add is a forgery); None when it has none.
pub fn strip_forged(message: &[u8], authserv_id: &str) -> Option<Vec<u8>> {
    // Header fields, each with its continuation lines, up to the first empty line.
    let mut fields: Vec<(usize, usize)> = Vec::new();
    let mut header_end = message.len();
    let mut line_start = 0;
    while line_start < message.len() {
        let rest = &message[line_start..];
        if rest.starts_with(b"\r\n") || rest.starts_with(b"\n") {
            header_end = line_start;
            break;
        }
        let line_end = memchr::memchr(b'\n', rest).map_or(message.len(), |n| line_start + n + 1);
        let continues = matches!(rest.first(), Some(b' ' | b'\t'));
        match fields.last_mut() {
            Some(field) if continues => field.1 = line_end,
            _ => fields.push((line_start, line_end)),
        }
        line_start = line_end;
    }
    let forged = |field: &[u8]| {
        let Some(colon) = memchr::memchr(b':', field) else {
            return false;
        };
        if !field[..colon]
            .trim_ascii()
            .eq_ignore_ascii_case(b"Authentication-Results")
        {
            return false;
        }
        let value = String::from_utf8_lossy(&field[colon + 1..]);
        let id = without_comments(&value);
        let id = id.split(';').next().unwrap_or_default();
        let id = id.split_whitespace().next().unwrap_or_default();
        id.eq_ignore_ascii_case(authserv_id)
    };
    if !fields.iter().any(|&(a, b)| forged(&message[a..b])) {
        return None;
    }
    let mut out = Vec::with_capacity(message.len());
    for &(a, b) in &fields {
        if !forged(&message[a..b]) {
            out.extend_from_slice(&message[a..b]);
        }
    }
    out.extend_from_slice(&message[header_end..]);
    Some(out)
}

/// The text without its (possibly nested) comments, which may appear anywhere in the field.
fn without_comments(s: &str) -> String {
    let mut depth = 0usize;
    let mut escaped = false;
    let mut out = String::new();
    for c in s.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if depth > 0 => escaped = true,
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Drops what could end or fold the field.
fn clean(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(255).collect()
}

/// A property value (RFC 8601 §2.2): as is when it is a token or an address of tokens,
/// otherwise a quoted string.
fn pvalue(value: &str) -> String {
    let value = clean(value);
    let plain = |c: char| {
        c.is_alphanumeric()
            || "!#$%&'*+-/=?^_`{|}~.@".contains(c)
            || (!c.is_ascii() && !c.is_control())
    };
    if !value.is_empty() && value.chars().all(plain) {
        value
    } else {
        let escaped: String = value
            .chars()
            .flat_map(|c| match c {
                '"' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        format!("\"{escaped}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_format() {
        let mut r = AuthResults::new("mail.example.com");
        r.iprev(Outcome::Pass, "192.0.2.1".parse().unwrap());
        r.spf_mail_from(Outcome::SoftFail, "user@example.org");
        r.dkim_none();
        r.dmarc(&DmarcSummary {
            outcome: Outcome::Fail,
            policy: Some(Policy::Reject),
            domain: "example.org".into(),
        });
        assert_eq!(
            r.to_header(),
            "Authentication-Results: mail.example.com;\r\n\tiprev=pass policy.iprev=192.0.2.1;\r\n\tspf=softfail smtp.mailfrom=user@example.org;\r\n\tdkim=none;\r\n\tdmarc=fail (p=reject) header.from=example.org\r\n"
        );
        assert_eq!(
            AuthResults::new("h").to_header(),
            "Authentication-Results: h; none\r\n"
        );
    }

    #[test]
    fn forged_results_are_removed() {
        let m = b"Received: x\r\nAuthentication-Results: (comment) MX.example; spf=pass\r\n\tsmtp.mailfrom=a@b\r\nAuthentication-Results: other.example; dkim=pass\r\nSubject: s\r\n\r\nAuthentication-Results: mx.example; body\r\n";
        let out = strip_forged(m, "mx.example").unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Received: x\r\nAuthentication-Results: other.example; dkim=pass\r\nSubject: s\r\n\r\nAuthentication-Results: mx.example; body\r\n"
        );
        assert!(strip_forged(b"Subject: s\r\n\r\nbody", "mx.example").is_none());
        assert!(
            strip_forged(
                b"Authentication-Results: mx.example.org; none\r\n\r\n",
                "mx.example"
            )
            .is_none()
        );
        // No body, no final empty line.
        let out = strip_forged(
            b"Authentication-Results: mx.example; none\r\nA: b\r\n",
            "mx.example",
        );
        assert_eq!(out.unwrap(), b"A: b\r\n");
    }

    #[test]
    fn client_values_cannot_break_the_field() {
        let mut r = AuthResults::new("mx");
        r.spf_helo(Outcome::None, "evil\r\nX-Injected: 1 (\"x\")");
        let h = r.to_header();
        assert_eq!(h.matches("\r\n").count(), 2, "{h}");
        assert!(
            h.contains("smtp.helo=\"evilX-Injected: 1 (\\\"x\\\")\""),
            "{h}"
        );
        assert_eq!(
            pvalue("\"quoted local\"@example.org").chars().next(),
            Some('"')
        );
        assert_eq!(pvalue(""), "\"\"");
    }
}
