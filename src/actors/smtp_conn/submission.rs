//! What submission (RFC 6409) checks and adds to a message from a logged-in client: the From
//! header must name the account's addresses, and a missing Message-ID or Date is added
//! (RFC 6409 §8.2, §8.3).

use mail_parser::{HeaderName, MessageParser};
use ring::rand::SecureRandom;

use crate::address::Address;
use crate::protocols::smtp::Reply;

/// The addresses of the message's one From header field.
pub(super) fn from_addresses(data: &[u8]) -> Result<Vec<Address>, Reply> {
    let invalid = |text: &str| Reply::new(554, (5, 6, 0), text);
    let message = MessageParser::new()
        .parse_headers(data)
        .ok_or_else(|| invalid("message has no header"))?;
    let froms: Vec<_> = message.header_values(HeaderName::From).collect();
    let list = match froms.as_slice() {
        [] => return Err(invalid("message has no From header (RFC 5322 section 3.6)")),
        [one] => one,
        _ => {
            return Err(invalid(
                "message has more than one From header (RFC 5322 section 3.6)",
            ));
        }
    };
    let mut addresses = Vec::new();
    if let Some(list) = list.as_address() {
        for addr in list.iter() {
            let text = addr.address.as_deref().unwrap_or_default();
            let parsed = Address::parse_simple(text)
                .map_err(|e| invalid(&format!("invalid From address {text:?}: {e}")))?;
            addresses.push(parsed);
        }
    }
    if addresses.is_empty() {
        return Err(invalid("From header holds no address"));
    }
    Ok(addresses)
}

/// Header fields to add in front of the message: Message-ID and Date when it has none. Also
/// returns the message's Message-ID (the existing or the new one), for logs and the queue.
pub(super) fn missing_headers(data: &[u8], hostname: &str, now: i64) -> (Vec<u8>, String) {
    let message = MessageParser::new().parse_headers(data);
    let has = |name: HeaderName| {
        message
            .as_ref()
            .is_some_and(|m| m.header_raw(name).is_some())
    };
    let mut added = Vec::new();
    let message_id = match message.as_ref().and_then(|m| m.message_id()) {
        Some(id) => id.to_string(),
        None => {
            let id = format!("{}@{hostname}", random_id());
            if !has(HeaderName::MessageId) {
                added.extend_from_slice(format!("Message-ID: <{id}>\r\n").as_bytes());
            }
            id
        }
    };
    if !has(HeaderName::Date) {
        let date = mail_parser::DateTime::from_timestamp(now).to_rfc822();
        added.extend_from_slice(format!("Date: {date}\r\n").as_bytes());
    }
    (added, message_id)
}

/// Whether the message says `TLS-Required: No` (RFC 8689 §5): deliver it even where a
/// policy (MTA-STS, DANE) asks for TLS that cannot be had.
pub(super) fn tls_required_no(data: &[u8]) -> bool {
    MessageParser::new()
        .parse_headers(data)
        .and_then(|m| {
            m.header_raw("TLS-Required")
                .map(|v| v.trim().eq_ignore_ascii_case("no"))
        })
        .unwrap_or(false)
}

/// 16 random bytes, hex: unique without coordination.
fn random_id() -> String {
    let mut bytes = [0u8; 16];
    // The system generator failing leaves zeros plus the time below: still unique enough for a
    // Message-ID, which is not a secret.
    let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
    let time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{hex}.{time:x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_header_rules() {
        let ok =
            from_addresses(b"From: Mjl <mjl@example.com>, other@example.com\r\n\r\nbody").unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[0].to_string(), "mjl@example.com");
        for (message, why) in [
            (&b"Subject: x\r\n\r\nbody"[..], "no From"),
            (
                b"From: a@example.com\r\nFrom: b@example.com\r\n\r\n",
                "more than one",
            ),
            (b"From: undisclosed-recipients:;\r\n\r\n", "no address"),
        ] {
            let err = from_addresses(message).unwrap_err();
            assert_eq!(err.code, 554, "{why}");
            assert!(err.lines[0].contains(why), "{why}: {:?}", err.lines);
        }
    }

    #[test]
    fn adds_only_what_is_missing() {
        let (added, id) = missing_headers(b"From: a@example.com\r\n\r\nhi", "mail.example.com", 0);
        let added = String::from_utf8(added).unwrap();
        assert!(added.starts_with("Message-ID: <") && added.contains("@mail.example.com>\r\n"));
        assert!(
            added.ends_with("Date: Thu, 1 Jan 1970 00:00:00 +0000\r\n"),
            "{added}"
        );
        assert!(id.ends_with("@mail.example.com"));
        let (added, id) = missing_headers(
            b"Message-ID: <x@y>\r\nDate: Thu, 1 Jan 1970 00:00:00 +0000\r\n\r\n",
            "h",
            0,
        );
        assert!(added.is_empty());
        assert_eq!(id, "x@y");
    }

    #[test]
    fn tls_required_header() {
        assert!(tls_required_no(b"TLS-Required: No\r\n\r\n"));
        assert!(tls_required_no(b"tls-required:  no \r\n\r\n"));
        assert!(!tls_required_no(b"TLS-Required: yes\r\n\r\n"));
        assert!(!tls_required_no(b"Subject: x\r\n\r\nTLS-Required: No\r\n"));
    }
}
