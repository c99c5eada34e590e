//! Outgoing delivery in moxide.toml: the queue's schedule and concurrency (`[queue]`), and the
//! transports routes can name (`[transports.NAME]`).
//!
//! ```toml
//! [transports.relay]               # a smarthost on port 25
//! type = "smtp"
//! host = "relay.example.net"
//!
//! [transports.provider]            # a provider's submission port, with SASL
//! type = "submission"              # or "submissions" (implicit TLS, port 465)
//! host = "smtp.provider.example"
//! username = "me@provider.example"
//! password_file = "provider-password"
//!
//! [transports.proxy]               # direct delivery through a SOCKS5 proxy
//! type = "socks"
//! address = "127.0.0.1:1080"
//! remote_ips = ["203.0.113.10"]    # where the proxy's connections come from (SPF)
//! remote_hostname = "mail.example.org"
//! ```

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::Problems;
use crate::address::Domain;
use crate::protocols::sasl::Mechanism;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueFile {
    /// Deliveries in progress at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Seconds to wait after each failed attempt (the first number after the first attempt);
    /// the last one repeats. A little jitter is added.
    #[serde(default = "default_retry_intervals")]
    pub retry_intervals_seconds: Vec<u64>,
    /// Failed attempts after which the message bounces.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Failed attempts after which the sender is told the message is delayed (once).
    #[serde(default = "default_delayed_dsn_after")]
    pub delayed_dsn_after: u32,
}

impl Default for QueueFile {
    fn default() -> Self {
        QueueFile {
            concurrency: default_concurrency(),
            retry_intervals_seconds: default_retry_intervals(),
            max_attempts: default_max_attempts(),
            delayed_dsn_after: default_delayed_dsn_after(),
        }
    }
}

fn default_concurrency() -> usize {
    10
}
/// As mox: 7.5 minutes, doubling up to 16 hours.
fn default_retry_intervals() -> Vec<u64> {
    vec![450, 900, 1800, 3600, 7200, 14400, 28800, 57600]
}
fn default_max_attempts() -> u32 {
    8
}
fn default_delayed_dsn_after() -> u32 {
    5
}

/// The validated `[queue]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueConfig {
    pub concurrency: usize,
    pub retry_intervals: Vec<Duration>,
    pub max_attempts: u32,
    pub delayed_dsn_after: u32,
}

impl QueueFile {
    pub(crate) fn validate(&self, problems: &mut Problems) -> QueueConfig {
        if self.concurrency == 0 {
            problems.add("queue.concurrency", "must be more than 0");
        }
        if self.retry_intervals_seconds.is_empty() {
            problems.add(
                "queue.retry_intervals_seconds",
                "at least one interval is needed",
            );
        }
        if self.max_attempts == 0 {
            problems.add("queue.max_attempts", "must be more than 0");
        }
        QueueConfig {
            concurrency: self.concurrency.max(1),
            retry_intervals: self
                .retry_intervals_seconds
                .iter()
                .map(|s| Duration::from_secs(*s))
                .collect(),
            max_attempts: self.max_attempts,
            delayed_dsn_after: self.delayed_dsn_after,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum TransportFile {
    /// To the recipient domain's MX hosts (what happens without a route).
    Direct {},
    /// A smarthost, port 25 unless set, STARTTLS when offered (`tls = "required"` to insist and
    /// verify the certificate, `"none"` never to start it).
    Smtp(RelayFile),
    /// Message submission with STARTTLS (required, certificate verified), port 587 unless set.
    Submission(RelayFile),
    /// Message submission over implicit TLS (RFC 8314), port 465 unless set.
    Submissions(RelayFile),
    /// Direct delivery with every connection dialed through a SOCKS5 proxy.
    Socks(SocksFile),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayFile {
    pub host: String,
    pub port: Option<u16>,
    /// Only for `smtp`.
    pub tls: Option<SmtpTls>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// A file holding the password (its first line), relative to moxide.toml.
    pub password_file: Option<PathBuf>,
    /// SASL mechanisms allowed, strongest first; by default the strongest both sides support
    /// (SCRAM-SHA-256-PLUS, SCRAM-SHA-256, SCRAM-SHA-1-PLUS, SCRAM-SHA-1, CRAM-MD5), PLAIN only
    /// when listed here.
    #[serde(default)]
    pub mechanisms: Vec<String>,
    /// PEM certificates to trust in place of the system's (a private relay), relative to
    /// moxide.toml.
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate. Only for a relay reached over a network you trust.
    #[serde(default)]
    pub no_verify_tls: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SocksFile {
    /// The proxy, `IP:port`.
    pub address: String,
    /// The public addresses the proxy's connections come from (they must pass SPF).
    pub remote_ips: Vec<IpAddr>,
    /// The host name those addresses have, announced in EHLO.
    pub remote_hostname: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// STARTTLS when offered, without verifying the certificate.
    #[default]
    Opportunistic,
    /// STARTTLS, with a verified certificate, or no delivery.
    Required,
    /// Never STARTTLS.
    None,
}

/// How a relay's connection is secured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayTls {
    /// Plain text all the way.
    None,
    /// STARTTLS when offered, any certificate.
    Opportunistic,
    /// STARTTLS, and the connection fails without it.
    StartTls(Trust),
    /// TLS from the first byte.
    Implicit(Trust),
}

/// Which certificates a relay may present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// The system's roots.
    System,
    /// Only those of this PEM file.
    CaFile(PathBuf),
    /// Any certificate.
    Any,
}

#[derive(Clone, PartialEq, Eq)]
pub struct RelayAuth {
    pub username: String,
    pub password: String,
    /// Empty: the strongest both support, without plaintext mechanisms.
    pub mechanisms: Vec<Mechanism>,
}

impl std::fmt::Debug for RelayAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayAuth")
            .field("username", &self.username)
            .field("mechanisms", &self.mechanisms)
            .finish_non_exhaustive()
    }
}

/// A validated transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    Direct,
    Relay {
        host: String,
        port: u16,
        tls: RelayTls,
        auth: Option<RelayAuth>,
    },
    Socks {
        proxy: SocketAddr,
        remote_ips: Vec<IpAddr>,
        remote_hostname: Domain,
    },
}

impl TransportFile {
    pub(crate) fn validate(self, name: &str, dir: &Path, problems: &mut Problems) -> Transport {
        let key = |k: &str| format!("transports.{name}.{k}");
        match self {
            TransportFile::Direct {} => Transport::Direct,
            TransportFile::Smtp(relay) => {
                let tls = match relay.tls.unwrap_or_default() {
                    SmtpTls::Opportunistic => RelayTls::Opportunistic,
                    SmtpTls::None => RelayTls::None,
                    SmtpTls::Required => RelayTls::StartTls(relay.trust(dir)),
                };
                relay.validate(name, dir, 25, tls, false, problems)
            }
            TransportFile::Submission(relay) => {
                let tls = RelayTls::StartTls(relay.trust(dir));
                relay.validate(name, dir, 587, tls, true, problems)
            }
            TransportFile::Submissions(relay) => {
                let tls = RelayTls::Implicit(relay.trust(dir));
                relay.validate(name, dir, 465, tls, true, problems)
            }
            TransportFile::Socks(socks) => {
                let proxy = socks.address.parse().unwrap_or_else(|_| {
                    problems.add(
                        &key("address"),
                        format!("{:?} is not IP:port", socks.address),
                    );
                    SocketAddr::from(([127, 0, 0, 1], 1080))
                });
                if socks.remote_ips.is_empty() {
                    problems.add(
                        &key("remote_ips"),
                        "the proxy's public IPs are needed (SPF)",
                    );
                }
                let remote_hostname = Domain::parse(&socks.remote_hostname).unwrap_or_else(|e| {
                    problems.add(&key("remote_hostname"), e.to_string());
                    Domain::parse("localhost").expect("a valid name")
                });
                Transport::Socks {
                    proxy,
                    remote_ips: socks.remote_ips,
                    remote_hostname,
                }
            }
        }
    }
}

impl RelayFile {
    fn trust(&self, dir: &Path) -> Trust {
        match (self.no_verify_tls, &self.ca_file) {
            (true, _) => Trust::Any,
            (false, Some(file)) => Trust::CaFile(dir.join(file)),
            (false, None) => Trust::System,
        }
    }

    fn validate(
        self,
        name: &str,
        dir: &Path,
        default_port: u16,
        tls: RelayTls,
        auth_required: bool,
        problems: &mut Problems,
    ) -> Transport {
        let key = |k: &str| format!("transports.{name}.{k}");
        if self.host.parse::<IpAddr>().is_err() && Domain::parse(&self.host).is_err() {
            problems.add(
                &key("host"),
                format!("{:?} is not a host name or IP", self.host),
            );
        }
        if self.tls.is_some() && auth_required {
            problems.add(
                &key("tls"),
                "only for type smtp: submission always uses TLS",
            );
        }
        let mut mechanisms = Vec::new();
        for (i, m) in self.mechanisms.iter().enumerate() {
            match Mechanism::from_name(m) {
                Some(m) => mechanisms.push(m),
                None => problems.add(
                    &key(&format!("mechanisms[{i}]")),
                    format!("unknown SASL mechanism {m:?}"),
                ),
            }
        }
        let auth = match self.username {
            None => {
                if auth_required {
                    problems.add(&key("username"), "a submission relay needs a username");
                } else if self.password.is_some() || self.password_file.is_some() {
                    problems.add(&key("username"), "a password without a username");
                }
                None
            }
            Some(username) => {
                let password = match (self.password, self.password_file) {
                    (Some(p), None) => p,
                    (None, Some(file)) => {
                        let path = dir.join(&file);
                        match std::fs::read_to_string(&path) {
                            Ok(text) => text.lines().next().unwrap_or_default().to_string(),
                            Err(e) => {
                                problems
                                    .add(&key("password_file"), format!("{}: {e}", path.display()));
                                String::new()
                            }
                        }
                    }
                    _ => {
                        problems.add(&key("password"), "set one of password and password_file");
                        String::new()
                    }
                };
                Some(RelayAuth {
                    username,
                    password,
                    mechanisms,
                })
            }
        };
        Transport::Relay {
            host: self.host,
            port: self.port.unwrap_or(default_port),
            tls,
            auth,
        }
    }
}

/// Validates every `[transports.NAME]`.
pub(crate) fn validate_all(
    files: BTreeMap<String, TransportFile>,
    dir: &Path,
    problems: &mut Problems,
) -> BTreeMap<String, Transport> {
    files
        .into_iter()
        .map(|(name, file)| {
            let t = file.validate(&name, dir, problems);
            (name, t)
        })
        .collect()
}
