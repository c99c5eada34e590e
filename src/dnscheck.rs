//! `moxide config dnscheck DOMAIN`: whether a domain's DNS says what this server needs — an MX
//! naming our host, which resolves to the addresses we listen on; an SPF record that every
//! address mail may leave from passes (the listeners' IPs, and each SOCKS transport's
//! `remote_ips`); each signing DKIM selector's key; a DMARC record. Each problem comes with the
//! record that would fix it.

use std::net::IpAddr;

use mail_auth::hickory_resolver::proto::rr::{Name, RData};
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{MessageAuthenticator, SpfResult};

use crate::address::Domain;
use crate::config::transports::Transport;
use crate::config::{DynamicConfig, StaticConfig};
use crate::delivery::mx;

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    Ok(String),
    Problem(String),
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::Ok(text) => write!(f, "ok: {text}"),
            Finding::Problem(text) => write!(f, "problem: {text}"),
        }
    }
}

/// The TXT records at `name`, each as one string; empty when there are none.
async fn txt_records(dns: &MessageAuthenticator, name: &str) -> Result<Vec<String>, String> {
    let fqdn = Name::from_str_relaxed(format!("{name}.")).map_err(|e| e.to_string())?;
    match dns.0.txt_lookup(fqdn).await {
        Ok(lookup) => Ok(lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::TXT(txt) => Some(
                    txt.txt_data
                        .iter()
                        .map(|part| String::from_utf8_lossy(part).into_owned())
                        .collect::<String>(),
                ),
                _ => None,
            })
            .collect()),
        Err(e) if e.is_no_records_found() => Ok(Vec::new()),
        Err(e) => Err(e.to_string()),
    }
}

/// The addresses mail from this server may come from: the listeners' (the host name's, for
/// listeners on every address), and each SOCKS transport's public ones.
async fn sending_ips(
    dns: &MessageAuthenticator,
    config: &StaticConfig,
    findings: &mut Vec<Finding>,
) -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = Vec::new();
    let mut any = false;
    for l in &config.listeners {
        if l.ip.is_unspecified() {
            any = true;
        } else {
            ips.push(l.ip);
        }
    }
    if any || ips.is_empty() {
        match mx::host_ips(dns, config.hostname.ascii()).await {
            Ok(found) => ips.extend(found),
            Err(e) => findings.push(Finding::Problem(format!(
                "the addresses of {} (listening on every address): {e}",
                config.hostname.ascii()
            ))),
        }
    }
    for t in config.transports.values() {
        if let Transport::Socks { remote_ips, .. } = t {
            ips.extend(remote_ips);
        }
    }
    let mut unique = Vec::with_capacity(ips.len());
    for ip in ips {
        if !unique.contains(&ip) {
            unique.push(ip);
        }
    }
    unique
}

fn record(name: &str, data: &str) -> String {
    format!("{name}. TXT \"{data}\"")
}

/// Checks the DNS of `domain` for this configuration.
pub async fn check(
    dns: &MessageAuthenticator,
    config: &StaticConfig,
    dynamic: &DynamicConfig,
    domain: &Domain,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let d = domain.ascii();
    let host = config.hostname.ascii();

    // MX (RFC 5321 §5.1).
    match mx::mail_hosts(dns, d).await {
        Ok(hosts) if hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) => {
            out.push(Finding::Ok(format!("MX of {d} names {host}")))
        }
        Ok(hosts) => out.push(Finding::Problem(format!(
            "MX of {d}: {} does not name {host}; publish: {d}. MX 10 {host}.",
            if hosts == [d.to_string()] {
                "no MX record".to_string()
            } else {
                format!("the MX hosts are {}", hosts.join(", "))
            }
        ))),
        Err(e) => out.push(Finding::Problem(format!(
            "MX of {d}: {e}; publish: {d}. MX 10 {host}."
        ))),
    }
    let ips = sending_ips(dns, config, &mut out).await;
    match mx::host_ips(dns, host).await {
        Ok(found) => {
            for ip in config.listeners.iter().map(|l| l.ip) {
                if !ip.is_unspecified() && !ip.is_loopback() && !found.contains(&ip) {
                    let kind = if ip.is_ipv4() { "A" } else { "AAAA" };
                    out.push(Finding::Problem(format!(
                        "{host} does not resolve to listener address {ip}; publish: {host}. {kind} {ip}"
                    )));
                }
            }
        }
        Err(e) => out.push(Finding::Problem(format!(
            "addresses of {host}: {e}; publish A/AAAA records for the addresses it listens on"
        ))),
    }

    // SPF (RFC 7208): one record, passing every sending address.
    match txt_records(dns, d).await {
        Err(e) => out.push(Finding::Problem(format!("SPF of {d}: DNS error: {e}"))),
        Ok(txts) => {
            let spf: Vec<&String> = txts
                .iter()
                .filter(|t| t.to_ascii_lowercase().starts_with("v=spf1"))
                .collect();
            let fix = || {
                let mechanisms: Vec<String> = ips
                    .iter()
                    .map(|ip| match ip {
                        IpAddr::V4(v4) => format!("ip4:{v4}"),
                        IpAddr::V6(v6) => format!("ip6:{v6}"),
                    })
                    .collect();
                record(d, &format!("v=spf1 mx {} ~all", mechanisms.join(" ")))
            };
            match spf.as_slice() {
                [] => out.push(Finding::Problem(format!(
                    "SPF of {d}: no record; publish: {}",
                    fix()
                ))),
                [one] => {
                    for ip in &ips {
                        let sender = format!("postmaster@{d}");
                        let result = dns
                            .verify_spf(SpfParameters::verify_mail_from(*ip, host, host, &sender))
                            .await;
                        if result.result() == SpfResult::Pass {
                            out.push(Finding::Ok(format!("SPF of {d} passes {ip}")));
                        } else {
                            out.push(Finding::Problem(format!(
                                "SPF of {d}: {ip} gets {} from \"{one}\"; publish: {}",
                                result.result(),
                                fix()
                            )));
                        }
                    }
                }
                _ => out.push(Finding::Problem(format!(
                    "SPF of {d}: {} records (RFC 7208 §4.5 allows one); keep one: {}",
                    spf.len(),
                    fix()
                ))),
            }
        }
    }

    // DKIM (RFC 6376 §3.6.2): each signing selector's public key.
    match dynamic.dkim_for(domain) {
        None => out.push(Finding::Problem(format!(
            "DKIM for {d}: no signing keys configured (moxctl domain add makes them)"
        ))),
        Some(dkim) => {
            for selector in &dkim.sign {
                let name = format!("{}._domainkey.{d}", selector.name);
                let expected = selector.dns_txt_record();
                let key = |t: &str| {
                    t.split(';')
                        .map(str::trim)
                        .find_map(|kv| kv.strip_prefix("p="))
                        .map(|p| p.split_whitespace().collect::<String>())
                };
                match txt_records(dns, &name).await {
                    Ok(txts) if txts.iter().any(|t| key(t) == key(&expected)) => {
                        out.push(Finding::Ok(format!("DKIM key at {name}")))
                    }
                    Ok(_) => out.push(Finding::Problem(format!(
                        "DKIM key at {name} missing or different; publish: {}",
                        record(&name, &expected)
                    ))),
                    Err(e) => out.push(Finding::Problem(format!("DKIM {name}: DNS error: {e}"))),
                }
            }
        }
    }

    // DMARC (RFC 7489 §6.1).
    let name = format!("_dmarc.{d}");
    match txt_records(dns, &name).await {
        Ok(txts) if txts.iter().any(|t| t.starts_with("v=DMARC1")) => {
            out.push(Finding::Ok(format!("DMARC record at {name}")))
        }
        Ok(_) => out.push(Finding::Problem(format!(
            "DMARC for {d}: no record; publish: {}",
            record(
                &name,
                &format!("v=DMARC1; p=reject; rua=mailto:postmaster@{d}")
            )
        ))),
        Err(e) => out.push(Finding::Problem(format!("DMARC {name}: DNS error: {e}"))),
    }
    out
}
