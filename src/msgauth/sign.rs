//! DKIM signing of outgoing messages (RFC 6376 §5): one DKIM-Signature header field per selector a
//! domain signs with, ed25519-sha256 (RFC 8463) or rsa-sha256 (RFC 8301), made by mail-auth's
//! `DkimSigner`.
//!
//! ```ignore
//! let headers = dkim_sign(dkim, &message, now)?; // dkim = config.dkim_for(&from_domain)
//! let mut signed = headers; signed.extend_from_slice(&message);
//! ```

pub mod generate;
pub mod key;

use mail_auth::AuthenticatedMessage;
use mail_auth::common::crypto::SigningKey;
use mail_auth::common::headers::{HeaderStream, Writable, Writer};
use mail_auth::dkim::canonicalize::CanonicalHeaders;
use mail_auth::dkim::{DkimSigner, Signature};

use crate::config::{DkimSelector, DomainDkim};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("message has no From header field, which a DKIM signature must cover (RFC 6376 §5.4)")]
    NoFrom,
    #[error("signing with selector {selector}: {reason}")]
    Crypto { selector: String, reason: String },
}

/// Signs `message` (the complete message as it will be sent: header, blank line, body, with
/// CRLF line ends) with each selector of `config.sign`, in order. Returns the DKIM-Signature
/// header fields, each folded and CRLF-terminated, to prepend to `message` unchanged; empty when
/// the domain signs with no selector. `now` (Unix seconds) becomes `t=`, and `x=` is `now` plus
/// the selector's expiration.
pub fn dkim_sign(config: &DomainDkim, message: &[u8], now: i64) -> Result<Vec<u8>, SignError> {
    let mut out = Vec::new();
    if config.sign.is_empty() {
        return Ok(out);
    }
    // Split with the parser mail-auth's verifier uses, so signer and verifier see the same fields.
    let parsed =
        AuthenticatedMessage::parse_with_opts(message, None, false).ok_or(SignError::NoFrom)?;
    if !parsed
        .headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case(b"From"))
    {
        return Err(SignError::NoFrom);
    }
    let body = message.get(parsed.body_offset()..).unwrap_or_default();
    let now = u64::try_from(now).unwrap_or(0);
    for selector in &config.sign {
        sign_one(config, selector, &parsed.headers, body, now)?.write(&mut out, true);
    }
    Ok(out)
}

fn sign_one<'x>(
    config: &DomainDkim,
    selector: &DkimSelector,
    fields: &[(&'x [u8], &'x [u8])],
    body: &'x [u8],
    now: u64,
) -> Result<Signature, SignError> {
    // mail-auth signs every instance of each listed field, bottom-up (RFC 6376 §5.4.2), and
    // lists a name once more for each time it is given but has no instance left: a name with
    // no instance stands for "no such field" (§5.4.2), which is how oversigning (§8.15) works.
    // So: the configured fields that are present, then each oversigned field again.
    // (mail-auth unwraps `str::from_utf8` of each matched field name: a match differs from a
    // configured name, a String, only in ASCII case, so it is UTF-8 too and cannot panic.)
    let present = |name: &&String| {
        fields
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
    };
    let mut h: Vec<&str> = selector
        .headers
        .iter()
        .filter(present)
        .map(String::as_str)
        .collect();
    h.extend(
        selector
            .headers
            .iter()
            .filter(|name| selector.oversigns(name))
            .map(String::as_str),
    );
    let mut signer = DkimSigner::from_key(selector.key.clone())
        .domain(config.domain.ascii())
        .selector(selector.name.as_str())
        .headers(h)
        .header_canonicalization(selector.header_canonicalization)
        .body_canonicalization(selector.body_canonicalization);
    if let Some(secs) = selector.expiration {
        signer = signer.expiration(secs);
    }

    // `DkimSigner::sign` reads the system clock and its `sign_stream(.., now)` is private; these
    // are its steps, with our `now`.
    let template = &signer.template;
    let (_, headers, signed_names, canonical_body) = template.canonicalize(Fields {
        fields: fields.iter(),
        body,
    });
    let mut signature = template.clone();
    signature.bh = signer.key.hash(canonical_body).as_ref().to_vec();
    signature.t = now;
    signature.x = if template.x > 0 {
        now.saturating_add(template.x)
    } else {
        0
    };
    signature.h = signed_names;
    // RFC 6376 §3.7: the signed data is the canonicalized fields, then this DKIM-Signature
    // field itself with an empty b= and no trailing CRLF.
    signature.b = signer
        .key
        .sign(SignedData {
            headers,
            signature: &signature,
        })
        .map_err(|e| SignError::Crypto {
            selector: selector.name.clone(),
            reason: e.to_string(),
        })?;
    Ok(signature)
}

/// Already split header fields and the body, as mail-auth's canonicalization takes them.
struct Fields<'a, 'x> {
    fields: std::slice::Iter<'a, (&'x [u8], &'x [u8])>,
    body: &'x [u8],
}

impl<'x> HeaderStream<'x> for Fields<'_, 'x> {
    fn next_header(&mut self) -> Option<(&'x [u8], &'x [u8])> {
        self.fields.next().copied()
    }

    fn body(&mut self) -> &'x [u8] {
        self.body
    }
}

struct SignedData<'a> {
    headers: CanonicalHeaders<'a>,
    signature: &'a Signature,
}

impl Writable for SignedData<'_> {
    fn write(self, writer: &mut impl Writer) {
        self.headers.write(writer);
        self.signature.write(writer, false);
    }
}

#[cfg(test)]
pub(crate) mod tests;
