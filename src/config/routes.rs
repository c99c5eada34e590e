//! Routes (domains.toml): which transport an outgoing delivery attempt uses. Lists at three
//! levels, the sending account's, the sender's domain's and the global one, are evaluated in that
//! order for every attempt; the first route that matches wins, and no match means direct
//! delivery to the recipient domain's MX.
//!
//! ```toml
//! [[routes]]                       # global
//! to_domain = [".example.com"]     # example.com and its subdomains
//! minimum_attempts = 3             # from the 4th attempt on
//! transport = "relay"              # a [transports.relay] of moxide.toml
//! ```

use serde::Deserialize;

use super::Problems;
use crate::address::Domain;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteFile {
    /// Sender domains this route is for; empty for all. `.example.com` is example.com and its
    /// subdomains.
    #[serde(default)]
    pub from_domain: Vec<String>,
    /// Recipient domains, the same way.
    #[serde(default)]
    pub to_domain: Vec<String>,
    /// Attempts already made before this route applies (3: from the 4th attempt).
    #[serde(default)]
    pub minimum_attempts: u32,
    /// The name of a transport in moxide.toml.
    pub transport: String,
}

/// A domain a route matches, in ASCII.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainPattern {
    Exact(String),
    /// The domain and its subdomains.
    WithSubdomains(String),
}

impl DomainPattern {
    fn parse(text: &str) -> Result<DomainPattern, String> {
        let (sub, name) = match text.strip_prefix('.') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let domain = Domain::parse(name).map_err(|e| e.to_string())?;
        let ascii = domain.ascii().to_string();
        Ok(if sub {
            DomainPattern::WithSubdomains(ascii)
        } else {
            DomainPattern::Exact(ascii)
        })
    }

    /// Whether `domain` (ASCII, any case) matches.
    pub fn matches(&self, domain: &str) -> bool {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        match self {
            DomainPattern::Exact(d) => domain == *d,
            DomainPattern::WithSubdomains(d) => {
                domain == *d
                    || domain
                        .strip_suffix(d.as_str())
                        .is_some_and(|head| head.ends_with('.'))
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub from_domain: Vec<DomainPattern>,
    pub to_domain: Vec<DomainPattern>,
    pub minimum_attempts: u32,
    pub transport: String,
    /// Where it is configured (`routes[0]`, `accounts.mjl.routes[1]`), for messages.
    pub key: String,
}

impl Route {
    /// Whether this route applies to an attempt from `from_domain` to `to_domain` after
    /// `attempts` earlier attempts.
    pub fn matches(&self, from_domain: &str, to_domain: &str, attempts: u32) -> bool {
        let any = |patterns: &[DomainPattern], domain: &str| {
            patterns.is_empty() || patterns.iter().any(|p| p.matches(domain))
        };
        attempts >= self.minimum_attempts
            && any(&self.from_domain, from_domain)
            && any(&self.to_domain, to_domain)
    }
}

/// Validates a list of routes configured at `key` (e.g. `accounts.mjl.routes`).
pub(crate) fn validate(list: Vec<RouteFile>, key: &str, problems: &mut Problems) -> Vec<Route> {
    let mut routes = Vec::with_capacity(list.len());
    for (i, r) in list.into_iter().enumerate() {
        let key = format!("{key}[{i}]");
        let mut patterns = |texts: &[String], field: &str| {
            let mut out = Vec::new();
            for (j, text) in texts.iter().enumerate() {
                match DomainPattern::parse(text) {
                    Ok(p) => out.push(p),
                    Err(e) => problems.add(&format!("{key}.{field}[{j}]"), e),
                }
            }
            out
        };
        let from_domain = patterns(&r.from_domain, "from_domain");
        let to_domain = patterns(&r.to_domain, "to_domain");
        if r.transport.is_empty() {
            problems.add(&format!("{key}.transport"), "a transport name is needed");
        }
        routes.push(Route {
            from_domain,
            to_domain,
            minimum_attempts: r.minimum_attempts,
            transport: r.transport,
            key,
        });
    }
    routes
}

/// The first route of the lists, in order, that matches; None for direct delivery.
pub fn choose<'a>(
    lists: [&'a [Route]; 3],
    from_domain: &str,
    to_domain: &str,
    attempts: u32,
) -> Option<&'a Route> {
    lists
        .into_iter()
        .flatten()
        .find(|r| r.matches(from_domain, to_domain, attempts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(from: &[&str], to: &[&str], min: u32, transport: &str) -> Route {
        let mut problems = Problems::new(std::path::Path::new("domains.toml"));
        let file = RouteFile {
            from_domain: from.iter().map(|s| s.to_string()).collect(),
            to_domain: to.iter().map(|s| s.to_string()).collect(),
            minimum_attempts: min,
            transport: transport.into(),
        };
        let mut routes = validate(vec![file], "routes", &mut problems);
        problems.finish().unwrap();
        routes.remove(0)
    }

    #[test]
    fn patterns() {
        let sub = DomainPattern::parse(".example.com").unwrap();
        assert!(sub.matches("example.com") && sub.matches("a.b.EXAMPLE.com."));
        assert!(!sub.matches("badexample.com") && !sub.matches("example.org"));
        let exact = DomainPattern::parse("Example.com").unwrap();
        assert!(exact.matches("example.COM") && !exact.matches("a.example.com"));
        let idn = DomainPattern::parse("møx.example").unwrap();
        assert!(idn.matches("xn--mx-lka.example"));
        assert!(DomainPattern::parse("bad domain").is_err());
    }

    #[test]
    fn first_match_wins_account_then_domain_then_global() {
        let account = [route(&[], &["a.example"], 0, "acct")];
        let domain = [
            route(&[], &[".example"], 3, "domain-late"),
            route(&[], &["b.example"], 0, "domain"),
        ];
        let global = [route(&["moxide.test"], &[], 0, "global")];
        let pick = |to: &str, attempts| {
            choose([&account, &domain, &global], "moxide.test", to, attempts)
                .map(|r| r.transport.as_str())
        };
        assert_eq!(pick("a.example", 0), Some("acct"));
        assert_eq!(pick("b.example", 0), Some("domain"));
        assert_eq!(pick("b.example", 3), Some("domain-late"));
        assert_eq!(pick("c.example", 2), Some("global"));
        assert_eq!(
            choose([&[], &[], &global], "other.test", "c.example", 0),
            None
        );
    }

    #[test]
    fn problems_name_their_keys() {
        let mut problems = Problems::new(std::path::Path::new("domains.toml"));
        let file = RouteFile {
            from_domain: vec!["ok.example".into(), "not a domain".into()],
            to_domain: vec![],
            minimum_attempts: 0,
            transport: String::new(),
        };
        validate(vec![file], "accounts.mjl.routes", &mut problems);
        let text = problems.finish().unwrap_err().to_string();
        assert!(
            text.contains("accounts.mjl.routes[0].from_domain[1]"),
            "{text}"
        );
        assert!(text.contains("accounts.mjl.routes[0].transport"), "{text}");
    }
}
