//! Where direct delivery goes (RFC 5321 §5.1): the recipient domain's MX hosts in preference
//! order (hosts of equal preference shuffled), the domain itself when it has no MX records, and
//! nowhere when it has a null MX (RFC 7505) or does not exist. Then each host's addresses.

use std::net::IpAddr;

use mail_auth::common::cache::NoCache;
use mail_auth::hickory_resolver::proto::op::ResponseCode;
use mail_auth::{MX, MessageAuthenticator, RecordSet};

/// Why a domain's mail hosts could not be found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// The domain says it takes no mail (RFC 7505): a permanent failure.
    #[error("{0} does not accept mail (null MX record)")]
    NullMx(String),
    /// NXDOMAIN: a permanent failure.
    #[error("domain {0} does not exist")]
    NoDomain(String),
    /// A host has no address records.
    #[error("host {0} has no address")]
    NoAddress(String),
    /// A DNS failure: try again later.
    #[error("DNS lookup of {name} failed: {error}")]
    Temporary { name: String, error: String },
}

impl LookupError {
    pub fn is_permanent(&self) -> bool {
        matches!(self, LookupError::NullMx(_) | LookupError::NoDomain(_))
    }
}

fn classify(name: &str, e: mail_auth::Error) -> Result<(), LookupError> {
    use mail_auth::{DnsError, Error};
    match e {
        Error::Dns(DnsError::RecordNotFound(ResponseCode::NXDomain)) => {
            Err(LookupError::NoDomain(name.to_string()))
        }
        // NOERROR without records (NODATA).
        Error::Dns(DnsError::RecordNotFound(ResponseCode::NoError)) => Ok(()),
        e => Err(LookupError::Temporary {
            name: name.to_string(),
            error: e.to_string(),
        }),
    }
}

/// The hosts to try for `domain` (ASCII), best first.
pub async fn mail_hosts(
    resolver: &MessageAuthenticator,
    domain: &str,
) -> Result<Vec<String>, LookupError> {
    let records = match resolver
        .mx_lookup(domain, None::<&NoCache<Box<str>, RecordSet<MX>>>)
        .await
    {
        Ok(r) => r.rrset.to_vec(),
        Err(e) => {
            classify(domain, e)?;
            Vec::new()
        }
    };
    hosts_from_records(domain, &records, super::schedule::random())
}

/// The hosts of MX records (sorted by preference), shuffling each preference's hosts by `seed`.
fn hosts_from_records(domain: &str, records: &[MX], seed: u32) -> Result<Vec<String>, LookupError> {
    if records.is_empty() {
        // RFC 5321 §5.1: no MX records, the domain is its own mail host.
        return Ok(vec![domain.to_string()]);
    }
    let is_null = |h: &str| h.is_empty() || h == ".";
    if records.len() == 1 && records[0].exchanges.iter().all(|h| is_null(h)) {
        return Err(LookupError::NullMx(domain.to_string()));
    }
    let mut hosts = Vec::new();
    for record in records {
        let mut group: Vec<String> = record
            .exchanges
            .iter()
            .filter(|h| !is_null(h))
            .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
            .collect();
        if !group.is_empty() {
            let n = group.len();
            group.rotate_left(seed as usize % n);
        }
        hosts.extend(group);
    }
    Ok(hosts)
}

/// The addresses of `host`: IPv4 first, then IPv6.
pub async fn host_ips(
    resolver: &MessageAuthenticator,
    host: &str,
) -> Result<Vec<IpAddr>, LookupError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    let mut ips = Vec::new();
    let mut failure = None;
    match resolver
        .ipv4_lookup(
            host,
            None::<&NoCache<Box<str>, RecordSet<std::net::Ipv4Addr>>>,
        )
        .await
    {
        Ok(r) => ips.extend(r.rrset.iter().copied().map(IpAddr::from)),
        Err(e) => {
            if let Err(e) = classify(host, e) {
                failure = Some(e);
            }
        }
    }
    match resolver
        .ipv6_lookup(
            host,
            None::<&NoCache<Box<str>, RecordSet<std::net::Ipv6Addr>>>,
        )
        .await
    {
        Ok(r) => ips.extend(r.rrset.iter().copied().map(IpAddr::from)),
        Err(e) => {
            if let Err(e) = classify(host, e) {
                failure.get_or_insert(e);
            }
        }
    }
    match (ips.is_empty(), failure) {
        (false, _) => Ok(ips),
        (true, Some(LookupError::NoDomain(_))) | (true, None) => {
            Err(LookupError::NoAddress(host.to_string()))
        }
        (true, Some(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mx(preference: u16, hosts: &[&str]) -> MX {
        MX {
            preference,
            exchanges: hosts.iter().map(|h| Box::from(*h)).collect(),
        }
    }

    #[test]
    fn hosts_in_preference_order() {
        let records = [
            mx(10, &["a.example.", "b.example."]),
            mx(20, &["C.example"]),
        ];
        assert_eq!(
            hosts_from_records("d.example", &records, 0).unwrap(),
            ["a.example", "b.example", "c.example"]
        );
        assert_eq!(
            hosts_from_records("d.example", &records, 1).unwrap(),
            ["b.example", "a.example", "c.example"]
        );
        assert_eq!(
            hosts_from_records("d.example", &[], 0).unwrap(),
            ["d.example"]
        );
        assert_eq!(
            hosts_from_records("d.example", &[mx(0, &["."])], 0),
            Err(LookupError::NullMx("d.example".into()))
        );
    }
}
