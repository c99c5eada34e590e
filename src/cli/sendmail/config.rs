//! The sendmail configuration: where to submit and as whom. A TOML file, by default
//! `/etc/moxide/sendmail.toml`, `$MOXIDE_SENDMAIL_CONFIG` when set, or `--config`.
//!
//! ```toml
//! host = "mail.example.org"
//! port = 587                    # 465 with tls = "tls"
//! tls = "starttls"              # or "tls" (implicit), or "none" (localhost only)
//! username = "cron@example.org"
//! password_file = "/etc/moxide/sendmail.password"
//! mechanisms = ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]   # optional
//! from = "cron@example.org"     # default: username
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::address::Address;
use crate::config::{ConfigError, Problems, read_toml};
use crate::protocols::sasl::Mechanism;
use crate::protocols::sasl::client::ClientCredentials;

pub const DEFAULT_FILE: &str = "/etc/moxide/sendmail.toml";
pub const ENV_VAR: &str = "MOXIDE_SENDMAIL_CONFIG";

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// STARTTLS on the submission port (RFC 3207); refusing to go on without it.
    Starttls,
    /// TLS from the start (RFC 8314 §3.3, port 465).
    Tls,
    /// No TLS: only to this machine.
    None,
}

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    host: Option<String>,
    port: Option<u16>,
    tls: Option<TlsMode>,
    username: Option<String>,
    password: Option<String>,
    password_file: Option<PathBuf>,
    mechanisms: Option<Vec<String>>,
    from: Option<String>,
    ca_file: Option<PathBuf>,
    #[serde(default)]
    no_verify_tls: bool,
}

/// The configuration, checked.
#[derive(Debug, Clone)]
pub struct SendmailConfig {
    pub file: PathBuf,
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    /// None: submit without AUTH (a local server that relays for this machine).
    pub credentials: Option<ClientCredentials>,
    pub mechanisms: Option<Vec<Mechanism>>,
    pub from: Address,
    pub ca_file: Option<PathBuf>,
    pub no_verify_tls: bool,
}

/// The file to read: `--config`, else the environment variable, else the default.
pub fn path(explicit: Option<&Path>) -> PathBuf {
    if let Some(p) = explicit {
        return p.to_path_buf();
    }
    match std::env::var_os(ENV_VAR) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(DEFAULT_FILE),
    }
}

pub fn load(file: &Path) -> Result<SendmailConfig, ConfigError> {
    let raw: File = read_toml(file)?;
    validate(raw, file)
}

fn validate(raw: File, file: &Path) -> Result<SendmailConfig, ConfigError> {
    let mut problems = Problems::new(file);
    // Relative paths are relative to the configuration file.
    let dir = file.parent().unwrap_or(Path::new("."));
    let host = raw.host.unwrap_or_else(|| "localhost".to_string());
    let tls = raw.tls.unwrap_or(TlsMode::Starttls);
    if tls == TlsMode::None && !matches!(host.as_str(), "localhost" | "127.0.0.1" | "::1") {
        problems.add(
            "tls",
            format!("\"none\" is only allowed with host localhost, 127.0.0.1 or ::1, not {host:?}"),
        );
    }
    let port = raw.port.unwrap_or(match tls {
        TlsMode::Tls => 465,
        _ => 587,
    });

    let password = match (raw.password, raw.password_file) {
        (Some(_), Some(_)) => {
            problems.add(
                "password_file",
                "set either password or password_file, not both",
            );
            None
        }
        (Some(p), None) => Some(p),
        (None, Some(p)) => {
            let p = dir.join(p);
            match std::fs::read_to_string(&p) {
                // The first line, so a trailing newline from an editor does not count.
                Ok(s) => Some(s.lines().next().unwrap_or_default().to_string()),
                Err(e) => {
                    problems.add("password_file", format!("reading {}: {e}", p.display()));
                    None
                }
            }
        }
        (None, None) => None,
    };
    let credentials = match (&raw.username, password) {
        (Some(username), Some(password)) => Some(ClientCredentials {
            authzid: None,
            username: username.clone(),
            password,
        }),
        (Some(_), None) => {
            problems.add(
                "password",
                "a password (or password_file) is needed with username",
            );
            None
        }
        (None, Some(_)) => {
            problems.add("username", "a username is needed with a password");
            None
        }
        (None, None) => None,
    };

    let mechanisms = raw.mechanisms.map(|names| {
        if names.is_empty() {
            problems.add(
                "mechanisms",
                "an empty list allows no mechanism; leave it out for any",
            );
        }
        names
            .iter()
            .filter_map(|n| {
                let m = Mechanism::from_name(n);
                if m.is_none() {
                    problems.add("mechanisms", format!("unknown SASL mechanism {n:?}"));
                }
                m
            })
            .collect::<Vec<_>>()
    });

    // Last, as a problem here ends the checks with those found so far.
    let from = match raw.from.as_deref().or(raw.username.as_deref()) {
        Some(s) => Address::parse_simple(s).map_err(|e| {
            let key = if raw.from.is_some() {
                "from"
            } else {
                "username"
            };
            (
                key,
                format!("not an email address (needed as the sender): {e}"),
            )
        }),
        None => Err((
            "from",
            "the sender address is needed when there is no username".to_string(),
        )),
    };
    let from = from.map_err(|(key, message)| problems.fatal(key, message))?;
    problems.finish()?;
    Ok(SendmailConfig {
        file: file.to_path_buf(),
        host,
        port,
        tls,
        credentials,
        mechanisms,
        from,
        ca_file: raw.ca_file.map(|p| dir.join(p)),
        no_verify_tls: raw.no_verify_tls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_str(text: &str) -> Result<SendmailConfig, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sendmail.toml");
        std::fs::write(&file, text).unwrap();
        load(&file)
    }

    #[test]
    fn defaults() {
        let c = load_str("username = \"me@example.org\"\npassword = \"secret\"\n").unwrap();
        assert_eq!(c.host, "localhost");
        assert_eq!(c.port, 587);
        assert_eq!(c.tls, TlsMode::Starttls);
        assert_eq!(c.from.to_string(), "me@example.org");
        assert_eq!(c.mechanisms, None);
        let c = load_str("tls = \"tls\"\nfrom = \"me@example.org\"\n").unwrap();
        assert_eq!(c.port, 465);
        assert!(c.credentials.is_none());
    }

    #[test]
    fn problems_name_keys() {
        let e = load_str("host = \"x\"\nbogus = 1\n").unwrap_err();
        assert_eq!(e.0[0].key, "bogus", "{e}");
        let e = load_str(
            "host = \"mail.example.org\"\ntls = \"none\"\nusername = \"u\"\nmechanisms = [\"XYZ\"]\n",
        )
        .unwrap_err();
        let keys: Vec<&str> = e.0.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["tls", "password", "mechanisms", "username"], "{e}");
    }

    #[test]
    fn password_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pw"), "secret\n").unwrap();
        let file = dir.path().join("sendmail.toml");
        std::fs::write(
            &file,
            "username = \"me@example.org\"\npassword_file = \"pw\"\nmechanisms = [\"cram-md5\"]\n",
        )
        .unwrap();
        let c = load(&file).unwrap();
        assert_eq!(c.credentials.unwrap().password, "secret");
        assert_eq!(c.mechanisms, Some(vec![Mechanism::CramMd5]));
    }
}
