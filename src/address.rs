//! Domains, localparts and addresses, with internationalisation: a domain is kept in both its
//! Unicode and its ASCII (punycode, RFC 5891) form, and a localpart may hold UTF-8 (RFC 6531).
//! Logs show both forms of non-ASCII values (see [`Domain::log_ascii`]).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("empty domain")]
    EmptyDomain,
    #[error("invalid domain {0:?}: {1}")]
    BadDomain(String, &'static str),
    #[error("invalid localpart {0:?}: {1}")]
    BadLocalpart(String, &'static str),
    #[error("address {0:?} has no @")]
    NoAt(String),
}

/// A DNS domain name, lower-cased, in both forms.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Domain {
    ascii: String,
    unicode: String,
}

impl Domain {
    /// Parses a domain given in either form (U-labels or A-labels). Checks the rules for host
    /// names: labels of letters, digits and hyphens (after IDNA), 1-63 bytes, 253 in all.
    pub fn parse(s: &str) -> Result<Domain, AddressError> {
        let s = s.strip_suffix('.').unwrap_or(s);
        if s.is_empty() {
            return Err(AddressError::EmptyDomain);
        }
        let bad = |why| AddressError::BadDomain(s.to_string(), why);
        let ascii =
            idna::domain_to_ascii(s).map_err(|_| bad("not a valid internationalised name"))?;
        if ascii.len() > 253 {
            return Err(bad("longer than 253 bytes"));
        }
        for label in ascii.split('.') {
            if label.is_empty() || label.len() > 63 {
                return Err(bad("a label is empty or longer than 63 bytes"));
            }
            if !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                return Err(bad("only letters, digits and hyphens are allowed"));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(bad("a label starts or ends with a hyphen"));
            }
        }
        let (unicode, result) = idna::domain_to_unicode(&ascii);
        result.map_err(|_| bad("not a valid internationalised name"))?;
        Ok(Domain { ascii, unicode })
    }

    pub fn ascii(&self) -> &str {
        &self.ascii
    }

    pub fn unicode(&self) -> &str {
        &self.unicode
    }

    pub fn is_ascii(&self) -> bool {
        self.ascii == self.unicode
    }

    /// The ASCII form, when it differs from the Unicode one: the extra field logs carry.
    pub fn log_ascii(&self) -> Option<&str> {
        (!self.is_ascii()).then_some(self.ascii.as_str())
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.unicode)
    }
}

/// The part of an address before the @, unquoted. May hold UTF-8 (SMTPUTF8).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Localpart(String);

impl Localpart {
    /// Checks an unquoted localpart value: at most 64 bytes (RFC 5321 §4.5.3.1.1), no control
    /// characters.
    pub fn new(s: &str) -> Result<Localpart, AddressError> {
        if s.len() > 64 {
            return Err(AddressError::BadLocalpart(
                s.to_string(),
                "longer than 64 bytes",
            ));
        }
        if s.chars().any(|c| c.is_control()) {
            return Err(AddressError::BadLocalpart(
                s.to_string(),
                "control characters",
            ));
        }
        Ok(Localpart(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_ascii(&self) -> bool {
        self.0.is_ascii()
    }

    /// Whether this localpart must be written as a quoted string (it is not a dot-atom).
    pub fn needs_quotes(&self) -> bool {
        let atext =
            |c: char| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || !c.is_ascii();
        self.0.is_empty()
            || self.0.starts_with('.')
            || self.0.ends_with('.')
            || self.0.contains("..")
            || !self.0.chars().all(|c| c == '.' || atext(c))
    }

    /// The form used to look up configured addresses: lower-cased.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

impl fmt::Display for Localpart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.needs_quotes() {
            return f.write_str(&self.0);
        }
        f.write_str("\"")?;
        for c in self.0.chars() {
            if c == '"' || c == '\\' {
                f.write_str("\\")?;
            }
            write!(f, "{c}")?;
        }
        f.write_str("\"")
    }
}

/// An email address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    pub localpart: Localpart,
    pub domain: Domain,
}

impl Address {
    /// Parses a plain `localpart@domain` as found in configuration (no quoting).
    pub fn parse_simple(s: &str) -> Result<Address, AddressError> {
        let (local, domain) = s
            .rsplit_once('@')
            .ok_or_else(|| AddressError::NoAt(s.to_string()))?;
        if local.is_empty() {
            return Err(AddressError::BadLocalpart(s.to_string(), "empty"));
        }
        Ok(Address {
            localpart: Localpart::new(local)?,
            domain: Domain::parse(domain)?,
        })
    }

    pub fn is_ascii(&self) -> bool {
        self.localpart.is_ascii() && self.domain.is_ascii()
    }

    /// The address with its domain in ASCII (A-label) form, as DNS-based checks and non-SMTPUTF8
    /// peers need it; the localpart as is.
    pub fn with_ascii_domain(&self) -> String {
        format!("{}@{}", self.localpart, self.domain.ascii())
    }

    /// The address with its domain in ASCII form, when that differs: the extra field logs carry.
    pub fn log_ascii(&self) -> Option<String> {
        self.domain
            .log_ascii()
            .map(|d| format!("{}@{d}", self.localpart))
    }

    /// The key configured addresses are matched on.
    pub fn lookup_key(&self) -> String {
        format!("{}@{}", self.localpart.normalized(), self.domain.ascii())
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.localpart, self.domain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idna_domain_has_both_forms() {
        let d = Domain::parse("Møx.Example").unwrap();
        assert_eq!(d.unicode(), "møx.example");
        assert_eq!(d.ascii(), "xn--mx-lka.example");
        assert_eq!(d.log_ascii(), Some("xn--mx-lka.example"));
        assert_eq!(Domain::parse("xn--mx-lka.example.").unwrap(), d);
        let plain = Domain::parse("Example.COM").unwrap();
        assert_eq!((plain.ascii(), plain.log_ascii()), ("example.com", None));
    }

    #[test]
    fn bad_domains() {
        for bad in [
            "",
            ".",
            "a..b",
            "-a.b",
            "a_b.c",
            "a b.c",
            &"x".repeat(64),
            "a.b/c",
        ] {
            assert!(Domain::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn addresses() {
        let a = Address::parse_simple("Δοκιμή@παράδειγμα.δοκιμή").unwrap();
        assert_eq!(a.to_string(), "Δοκιμή@παράδειγμα.δοκιμή");
        assert_eq!(
            a.log_ascii().unwrap(),
            "Δοκιμή@xn--hxajbheg2az3al.xn--jxalpdlp"
        );
        assert_eq!(a.lookup_key(), "δοκιμή@xn--hxajbheg2az3al.xn--jxalpdlp");
        let q = Address {
            localpart: Localpart::new("a b").unwrap(),
            domain: Domain::parse("x.org").unwrap(),
        };
        assert_eq!(q.to_string(), "\"a b\"@x.org");
        assert!(Address::parse_simple("nobody").is_err());
        assert!(Address::parse_simple("@x.org").is_err());
    }
}
