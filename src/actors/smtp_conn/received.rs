//! The Received header field (RFC 5321 §4.4) and what it records about the connection.

use std::net::SocketAddr;

use crate::address::Address;

/// What the Received header records about the connection.
pub(super) struct Trace {
    pub cid: u64,
    pub remote: SocketAddr,
    pub helo: String,
    pub hostname: String,
    pub esmtp: bool,
    pub tls: bool,
    pub authenticated: bool,
}

/// The Received header field (RFC 5321 §4.4) for a delivery to `rcpts`. The "for" clause names
/// the recipient only when the account got a single one: others must not learn about Bcc.
pub(super) fn received_header(t: &Trace, smtputf8: bool, rcpts: &[&Address], now: i64) -> Vec<u8> {
    // RFC 3848 and RFC 6531 §3.7.3 protocol names.
    let mut with = if smtputf8 {
        "UTF8SMTP"
    } else if t.esmtp {
        "ESMTP"
    } else {
        "SMTP"
    }
    .to_string();
    if t.tls {
        with.push('S');
    }
    if t.authenticated {
        with.push('A');
    }
    let helo: String = t
        .helo
        .chars()
        .filter(|c| !c.is_control() && *c != '(' && *c != ')')
        .take(255)
        .collect();
    let date = mail_parser::DateTime::from_timestamp(now).to_rfc822();
    let mut h = format!(
        "Received: from {helo} ({})\r\n\tby {} (moxide) with {with} id {:x}-{:x}",
        t.remote.ip(),
        t.hostname,
        now,
        t.cid
    );
    if let [one] = rcpts {
        h.push_str(&format!("\r\n\tfor <{one}>"));
    }
    h.push_str(&format!(";\r\n\t{date}\r\n"));
    h.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_header_format() {
        let t = Trace {
            cid: 7,
            remote: "127.0.0.1:4000".parse().unwrap(),
            helo: "client.example".into(),
            hostname: "mail.example.com".into(),
            esmtp: true,
            tls: false,
            authenticated: false,
        };
        let a = Address::parse_simple("a@example.com").unwrap();
        let h = String::from_utf8(received_header(&t, false, &[&a], 0)).unwrap();
        assert_eq!(
            h,
            "Received: from client.example (127.0.0.1)\r\n\tby mail.example.com (moxide) with ESMTP id 0-7\r\n\tfor <a@example.com>;\r\n\tThu, 1 Jan 1970 00:00:00 +0000\r\n"
        );
        let b = Address::parse_simple("b@example.com").unwrap();
        let h = String::from_utf8(received_header(&t, true, &[&a, &b], 0)).unwrap();
        assert!(!h.contains("for <") && h.contains("with UTF8SMTP"));
    }
}
