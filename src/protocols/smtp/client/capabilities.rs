//! The SMTP extensions a server announces in its EHLO reply (RFC 5321 §4.1.1.1).

use crate::protocols::smtp::Reply;

/// What the server offers. After HELO (no EHLO), nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    pub starttls: bool,
    /// SIZE was announced (RFC 1870); [`Self::size_limit`] is its value when one was given.
    pub size: bool,
    /// The largest message accepted; None when unknown or unlimited (`SIZE 0` or plain `SIZE`).
    pub size_limit: Option<u64>,
    pub eight_bit_mime: bool,
    pub smtputf8: bool,
    pub pipelining: bool,
    pub chunking: bool,
    pub enhanced_status_codes: bool,
    pub requiretls: bool,
    pub dsn: bool,
    /// SASL mechanism names as announced, upper case, without duplicates.
    pub auth: Vec<String>,
}

impl Capabilities {
    /// From an EHLO reply: the first line is the server's name and greeting, each further line
    /// an extension keyword and its parameters.
    pub fn parse(reply: &Reply) -> Capabilities {
        let mut caps = Capabilities::default();
        for line in reply.lines.iter().skip(1) {
            let mut words = line.split_ascii_whitespace();
            let Some(keyword) = words.next() else {
                continue;
            };
            // The obsolete `AUTH=LOGIN PLAIN` form that some servers still send for clients
            // predating RFC 2554's final syntax.
            if let Some(first) = keyword
                .get(..5)
                .filter(|k| k.eq_ignore_ascii_case("AUTH="))
                .and_then(|_| keyword.get(5..))
            {
                caps.add_auth(std::iter::once(first).chain(words));
                continue;
            }
            match keyword.to_ascii_uppercase().as_str() {
                "STARTTLS" => caps.starttls = true,
                "SIZE" => {
                    caps.size = true;
                    caps.size_limit = words.next().and_then(|n| n.parse().ok()).filter(|&n| n > 0);
                }
                "8BITMIME" => caps.eight_bit_mime = true,
                "SMTPUTF8" => caps.smtputf8 = true,
                "PIPELINING" => caps.pipelining = true,
                "CHUNKING" => caps.chunking = true,
                "ENHANCEDSTATUSCODES" => caps.enhanced_status_codes = true,
                "REQUIRETLS" => caps.requiretls = true,
                "DSN" => caps.dsn = true,
                "AUTH" => caps.add_auth(words),
                _ => {}
            }
        }
        caps
    }

    fn add_auth<'a>(&mut self, names: impl Iterator<Item = &'a str>) {
        for name in names {
            let name = name.to_ascii_uppercase();
            if !name.is_empty() && !self.auth.contains(&name) {
                self.auth.push(name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_extensions() {
        let reply = Reply::plain(
            250,
            [
                "mx.example hello",
                "pipelining",
                "SIZE 1000",
                "8BITMIME",
                "SMTPUTF8",
                "CHUNKING",
                "ENHANCEDSTATUSCODES",
                "STARTTLS",
                "REQUIRETLS",
                "DSN",
                "AUTH SCRAM-SHA-256 plain",
                "AUTH=LOGIN PLAIN",
                "X-UNKNOWN foo",
                "",
            ]
            .map(String::from)
            .to_vec(),
        );
        let c = Capabilities::parse(&reply);
        assert!(c.pipelining && c.size && c.eight_bit_mime && c.smtputf8 && c.chunking);
        assert!(c.enhanced_status_codes && c.starttls && c.requiretls && c.dsn);
        assert_eq!(c.size_limit, Some(1000));
        assert_eq!(c.auth, ["SCRAM-SHA-256", "PLAIN", "LOGIN"]);

        let c = Capabilities::parse(&Reply::plain(250, vec!["x".into(), "SIZE".into()]));
        assert!(c.size && c.size_limit.is_none());
        let c = Capabilities::parse(&Reply::plain(250, vec!["x".into(), "SIZE 0".into()]));
        assert!(c.size && c.size_limit.is_none());
        // The first line is the greeting, never a keyword.
        let c = Capabilities::parse(&Reply::plain(250, vec!["STARTTLS".into()]));
        assert!(!c.starttls);
    }
}
