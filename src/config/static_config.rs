//! The static configuration, `moxide.toml`: what needs a restart to change (host name, data
//! directory, listeners, TLS files, log level, service user).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::transports::{QueueConfig, QueueFile, Transport, TransportFile};
use super::{ConfigError, Problems};
use crate::address::Domain;

/// Default maximum message size: 100 MiB, as mox.
pub const DEFAULT_MAX_MESSAGE_SIZE: u64 = 100 << 20;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticFile {
    pub hostname: String,
    /// Data directory, relative to the directory of this file.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// The dynamic file, relative to the directory of this file.
    #[serde(default = "default_domains_file")]
    pub domains_file: PathBuf,
    /// Unprivileged user the server runs as after binding its ports when started as root.
    #[serde(default = "default_user")]
    pub user: String,
    /// Started as root, the server gives the data directory, the configuration files and keys
    /// to `user` with safe modes; true leaves owners and modes alone.
    #[serde(default)]
    pub no_fix_permissions: bool,
    /// A level (error, warn, info, debug, trace) or a tracing filter such as `info,moxide::store=debug`.
    #[serde(default = "default_log_level")]
    pub log_level: String,
    #[serde(default)]
    pub listeners: BTreeMap<String, ListenerFile>,
    /// How DNS is resolved (SPF, DKIM, DMARC, iprev; later MX lookups).
    #[serde(default)]
    pub dns: DnsFile,
    /// Limits on incoming SMTP per remote address.
    #[serde(default)]
    pub limits: LimitsFile,
    /// The outgoing queue's schedule and concurrency.
    #[serde(default)]
    pub queue: QueueFile,
    /// Ways outgoing mail can leave, named for routes (domains.toml).
    #[serde(default)]
    pub transports: BTreeMap<String, TransportFile>,
    /// The Prometheus endpoint, off unless set.
    pub metrics: Option<MetricsFile>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsFile {
    /// `IP:port` on a loopback address (the endpoint has no authentication).
    pub listen: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsFile {
    /// Name servers to ask, as `IP` or `IP:PORT`; the system's (/etc/resolv.conf) when empty.
    #[serde(default)]
    pub nameservers: Vec<String>,
    /// Seconds to wait for one answer before trying again or giving up.
    pub timeout_seconds: Option<u64>,
    /// Tries per question.
    pub attempts: Option<usize>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsFile {
    /// Incoming SMTP connections open at once from one address (an IPv6 /64 counts as one).
    #[serde(default = "default_connections_per_ip")]
    pub smtp_connections_per_ip: u32,
    /// Messages accepted from one address (an IPv6 /64) per minute on the smtp listeners.
    #[serde(default = "default_messages_per_ip_per_minute")]
    pub smtp_messages_per_ip_per_minute: u32,
}

impl Default for LimitsFile {
    fn default() -> Self {
        LimitsFile {
            smtp_connections_per_ip: default_connections_per_ip(),
            smtp_messages_per_ip_per_minute: default_messages_per_ip_per_minute(),
        }
    }
}

fn default_connections_per_ip() -> u32 {
    20
}
fn default_messages_per_ip_per_minute() -> u32 {
    300
}

fn default_data_dir() -> PathBuf {
    "data".into()
}
fn default_domains_file() -> PathBuf {
    "domains.toml".into()
}
fn default_user() -> String {
    "moxide".into()
}
fn default_log_level() -> String {
    "info".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerFile {
    pub ips: Vec<IpAddr>,
    /// Host name announced on this listener; the global one when absent.
    pub hostname: Option<String>,
    /// Certificate for STARTTLS and the implicit-TLS services.
    pub tls: Option<TlsFiles>,
    pub smtp: Option<SmtpService>,
    pub submission: Option<SmtpService>,
    /// Submission with implicit TLS (RFC 8314), port 465.
    pub submissions: Option<SmtpService>,
    pub imap: Option<Service>,
    /// IMAP with implicit TLS (RFC 8314), port 993.
    pub imaps: Option<Service>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// PEM certificate chain and key, relative to the directory of this file.
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpService {
    #[serde(default = "yes")]
    pub enabled: bool,
    pub port: Option<u16>,
    /// Largest message accepted, in bytes.
    #[serde(default = "default_max_message_size")]
    pub max_message_size: u64,
    /// Recipients per message; more get 452 and are sent again in another transaction.
    #[serde(default = "default_max_recipients")]
    pub max_recipients: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    #[serde(default = "yes")]
    pub enabled: bool,
    pub port: Option<u16>,
}

fn yes() -> bool {
    true
}
fn default_max_message_size() -> u64 {
    DEFAULT_MAX_MESSAGE_SIZE
}
/// RFC 5321 §4.5.3.1.8 asks for at least 100.
fn default_max_recipients() -> usize {
    1000
}

/// What a listener serves on a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// SMTP for incoming mail (MX), port 25.
    Smtp,
    /// Message submission (RFC 6409), port 587.
    Submission,
    /// Message submission over implicit TLS (RFC 8314), port 465.
    Submissions,
    /// IMAP, port 143.
    Imap,
    /// IMAP over implicit TLS (RFC 8314), port 993.
    Imaps,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Smtp => "smtp",
            Protocol::Submission => "submission",
            Protocol::Submissions => "submissions",
            Protocol::Imap => "imap",
            Protocol::Imaps => "imaps",
        }
    }

    /// TLS from the first byte (RFC 8314), rather than after STARTTLS.
    pub fn implicit_tls(self) -> bool {
        matches!(self, Protocol::Submissions | Protocol::Imaps)
    }

    pub fn is_imap(self) -> bool {
        matches!(self, Protocol::Imap | Protocol::Imaps)
    }

    /// Submission (with or without implicit TLS): authentication required.
    pub fn is_submission(self) -> bool {
        matches!(self, Protocol::Submission | Protocol::Submissions)
    }
}

/// One socket to listen on, after validation.
#[derive(Debug, Clone)]
pub struct ListenerConfig {
    pub name: String,
    pub protocol: Protocol,
    pub ip: IpAddr,
    /// 0 asks the system for a free port.
    pub port: u16,
    pub hostname: Domain,
    pub max_message_size: u64,
    pub max_recipients: usize,
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// Where DNS questions go, after validation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsConfig {
    /// Empty: the system's name servers.
    pub nameservers: Vec<std::net::SocketAddr>,
    pub timeout: Option<std::time::Duration>,
    pub attempts: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub smtp_connections_per_ip: u32,
    pub smtp_messages_per_ip_per_minute: u32,
}

/// The validated static configuration.
#[derive(Debug, Clone)]
pub struct StaticConfig {
    pub file: PathBuf,
    pub hostname: Domain,
    pub data_dir: PathBuf,
    pub domains_file: PathBuf,
    pub user: String,
    pub no_fix_permissions: bool,
    pub log_level: String,
    pub listeners: Vec<ListenerConfig>,
    pub dns: DnsConfig,
    pub limits: Limits,
    pub queue: QueueConfig,
    pub transports: BTreeMap<String, Transport>,
    /// Where `GET /metrics` is served.
    pub metrics: Option<std::net::SocketAddr>,
}

impl StaticFile {
    /// Checks values and resolves relative paths against `dir`, the directory of the file.
    pub fn validate(self, file: &Path) -> Result<StaticConfig, ConfigError> {
        let dir = file.parent().unwrap_or(Path::new("."));
        let mut problems = Problems::new(file);
        let hostname = match Domain::parse(&self.hostname) {
            Ok(d) => d,
            Err(e) => {
                problems.add("hostname", e.to_string());
                Domain::parse("localhost").map_err(|e| problems.fatal("hostname", e.to_string()))?
            }
        };
        if self.user.is_empty() || self.user.contains(['/', ':', '\n']) {
            problems.add("user", format!("{:?} is not a valid user name", self.user));
        }
        if let Err(e) = crate::logging::filter(&self.log_level) {
            problems.add("log_level", e);
        }
        let mut listeners = Vec::new();
        for (name, l) in &self.listeners {
            let key = |k: &str| format!("listeners.{name}.{k}");
            if l.ips.is_empty() {
                problems.add(&key("ips"), "at least one IP address is needed");
            }
            let hostname = match &l.hostname {
                None => hostname.clone(),
                Some(h) => Domain::parse(h).unwrap_or_else(|e| {
                    problems.add(&key("hostname"), e.to_string());
                    hostname.clone()
                }),
            };
            let tls = l.tls.as_ref().map(|t| {
                let cert = dir.join(&t.cert_file);
                let key_file = dir.join(&t.key_file);
                for (k, p) in [("tls.cert_file", &cert), ("tls.key_file", &key_file)] {
                    if !p.is_file() {
                        problems.add(&key(k), format!("{} is not a readable file", p.display()));
                    }
                }
                (cert, key_file)
            });
            let smtp = |s: &Option<SmtpService>| {
                s.as_ref()
                    .map(|s| (s.enabled, s.port, s.max_message_size, s.max_recipients))
            };
            let imap = |s: &Option<Service>| s.as_ref().map(|s| (s.enabled, s.port, 0, 0));
            let services = [
                (Protocol::Smtp, smtp(&l.smtp), 25),
                (Protocol::Submission, smtp(&l.submission), 587),
                (Protocol::Submissions, smtp(&l.submissions), 465),
                (Protocol::Imap, imap(&l.imap), 143),
                (Protocol::Imaps, imap(&l.imaps), 993),
            ];
            for (protocol, service, default_port) in services {
                let Some((true, port, max_message_size, max_recipients)) = service else {
                    continue;
                };
                if protocol.implicit_tls() && tls.is_none() {
                    problems.add(
                        &key(protocol.name()),
                        "needs a certificate: set tls.cert_file and tls.key_file",
                    );
                }
                if max_message_size == 0 && !protocol.is_imap() {
                    problems.add(
                        &key(&format!("{}.max_message_size", protocol.name())),
                        "must be more than 0",
                    );
                }
                if max_recipients < 100 && !protocol.is_imap() {
                    // RFC 5321 §4.5.3.1.8.
                    problems.add(
                        &key(&format!("{}.max_recipients", protocol.name())),
                        "must be at least 100 (RFC 5321 section 4.5.3.1.8)",
                    );
                }
                for ip in &l.ips {
                    listeners.push(ListenerConfig {
                        name: name.clone(),
                        protocol,
                        ip: *ip,
                        port: port.unwrap_or(default_port),
                        hostname: hostname.clone(),
                        max_message_size,
                        max_recipients,
                        tls: tls.clone(),
                    });
                }
            }
        }
        let dns = self.dns.validate(&mut problems);
        let queue = self.queue.validate(&mut problems);
        let transports = super::transports::validate_all(self.transports, dir, &mut problems);
        let metrics =
            self.metrics
                .as_ref()
                .and_then(|m| match m.listen.parse::<std::net::SocketAddr>() {
                    Ok(a) if a.ip().is_loopback() => Some(a),
                    Ok(_) => {
                        problems.add(
                            "metrics.listen",
                            "must be a loopback address: the endpoint has no authentication",
                        );
                        None
                    }
                    Err(_) => {
                        problems.add("metrics.listen", format!("{:?} is not IP:port", m.listen));
                        None
                    }
                });
        for (k, v) in [
            (
                "limits.smtp_connections_per_ip",
                self.limits.smtp_connections_per_ip,
            ),
            (
                "limits.smtp_messages_per_ip_per_minute",
                self.limits.smtp_messages_per_ip_per_minute,
            ),
        ] {
            if v == 0 {
                problems.add(k, "must be more than 0");
            }
        }
        problems.finish()?;
        Ok(StaticConfig {
            file: file.to_path_buf(),
            hostname,
            data_dir: dir.join(self.data_dir),
            domains_file: dir.join(self.domains_file),
            user: self.user,
            no_fix_permissions: self.no_fix_permissions,
            log_level: self.log_level,
            listeners,
            dns,
            limits: Limits {
                smtp_connections_per_ip: self.limits.smtp_connections_per_ip,
                smtp_messages_per_ip_per_minute: self.limits.smtp_messages_per_ip_per_minute,
            },
            queue,
            transports,
            metrics,
        })
    }
}

impl DnsFile {
    fn validate(&self, problems: &mut Problems) -> DnsConfig {
        let mut nameservers = Vec::new();
        for (i, text) in self.nameservers.iter().enumerate() {
            let parsed = text
                .parse::<std::net::SocketAddr>()
                .or_else(|_| text.parse::<IpAddr>().map(|ip| (ip, 53).into()));
            match parsed {
                Ok(a) => nameservers.push(a),
                Err(_) => problems.add(
                    &format!("dns.nameservers[{i}]"),
                    format!("{text:?} is not an IP address or IP:port"),
                ),
            }
        }
        if self.timeout_seconds == Some(0) {
            problems.add("dns.timeout_seconds", "must be more than 0");
        }
        if self.attempts == Some(0) {
            problems.add("dns.attempts", "must be more than 0");
        }
        DnsConfig {
            nameservers,
            timeout: self.timeout_seconds.map(std::time::Duration::from_secs),
            attempts: self.attempts,
        }
    }
}
