//! The two configuration files quickstart writes: a commented `moxide.toml` for a public
//! server and a `domains.toml` with the one domain (and its DKIM keys) and the one account.

use crate::address::{Address, Domain};
use crate::config::DynamicConfig;
use crate::config::edit::{DomainsDoc, EditError};
use crate::config::newkeys::NewKey;

/// Where the certificate and its key go, relative to the static file's directory.
pub const CERT_FILE: &str = "tls/cert.pem";
pub const KEY_FILE: &str = "tls/key.pem";

/// A TOML string (quoted and escaped).
fn quote(s: &str) -> String {
    toml_edit::Value::from(s).to_string().trim().to_string()
}

/// The static configuration: `hostname`, the data directory beside the config directory, every
/// service on every IPv4 address, TLS files under config/.
pub fn static_file(address: &Address, hostname: &Domain) -> String {
    let h = quote(&hostname.to_string());
    format!(
        r#"# moxide static configuration, written by `moxide quickstart {address}`.
# Changing it needs a restart; `moxide config test --config FILE` checks it. Paths are relative
# to the directory of this file.

# The host name this server announces (SMTP greeting, Received headers); the MX record of the
# domain points to it, and the TLS certificate must be for it.
hostname = {h}

# Accounts, message files, the outgoing queue and the control socket (for moxctl).
data_dir = "../data"

# Domains and accounts; reloaded while the server runs, edited by moxctl.
domains_file = "domains.toml"

# The server is started as root (to bind ports below 1024) and then runs as this user, which
# must exist (e.g. `useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin moxide`).
user = "moxide"

log_level = "info"

# DNS (SPF, DKIM, DMARC, MX of outgoing mail) goes to the system's resolver, /etc/resolv.conf.
# A local validating resolver (such as unbound) on the host is recommended.
[dns]
nameservers = []

[listeners.public]
# Every IPv4 address of the host. For IPv6, add the host's public IPv6 address(es) themselves
# (e.g. "2001:db8::25"): "::" would also take the IPv4 ports on Linux and collide with
# "0.0.0.0".
ips = ["0.0.0.0"]

# The certificate for STARTTLS (ports 25, 587, 143) and implicit TLS (465, 993), for the host
# name above. quickstart put a SELF-SIGNED certificate here so the server can start: mail clients
# warn about it and other servers may not trust it. Replace both files with a certificate from a
# certificate authority (PEM: the chain, leaf first, and its private key), for example from
# certbot, then restart. moxide does not get certificates itself (no ACME yet).
[listeners.public.tls]
cert_file = "{CERT_FILE}"
key_file = "{KEY_FILE}"

# Incoming mail from the internet (MX).
[listeners.public.smtp]
enabled = true
port = 25

# Mail from your own clients, with STARTTLS; requires authentication.
[listeners.public.submission]
enabled = true
port = 587

# Mail from your own clients, with TLS from the first byte (RFC 8314).
[listeners.public.submissions]
enabled = true
port = 465

# IMAP with STARTTLS. Passwords are only accepted after STARTTLS (or from loopback).
[listeners.public.imap]
enabled = true
port = 143

# IMAP with TLS from the first byte (RFC 8314).
[listeners.public.imaps]
enabled = true
port = 993
"#
    )
}

const DYNAMIC_HEADER: &str = r#"# moxide dynamic configuration, written by `moxide quickstart`: domains and accounts.
# Reloaded while the server runs; an invalid edit is logged and the previous version stays in use.
# Change it with moxctl (domain add, account add, address add, setpassword) or by hand.
#
# DKIM: mail from the domain is signed with both keys below (ed25519 and RSA); both must be
# published in DNS (quickstart printed the records; `moxide config dnscheck DOMAIN` checks them).
# The key files are relative to this file's directory.

"#;

/// The dynamic configuration's first stage: `domain` with its DKIM `keys`.
pub fn dynamic_doc(domain: &Domain, keys: &[NewKey]) -> Result<DomainsDoc, EditError> {
    let mut doc = DomainsDoc::from_text("")
        .map_err(|e| EditError::Refused(format!("an empty dynamic file: {e}")))?;
    let selectors: Vec<(String, String)> = keys
        .iter()
        .map(|k| (k.selector.clone(), k.file.clone()))
        .collect();
    doc.add_domain(&DynamicConfig::default(), domain, &selectors)?;
    Ok(doc)
}

/// The second stage: `account` with `address`, also the postmaster. `current` is the first
/// stage as loaded (the account's domain must be in it).
pub fn add_account(
    doc: &mut DomainsDoc,
    current: &DynamicConfig,
    account: &str,
    address: &Address,
) -> Result<(), EditError> {
    doc.add_account(current, account, address)?;
    // RFC 5321 requires a postmaster for every mail domain.
    doc.set_postmaster(account);
    Ok(())
}

/// The file's text: the explaining header, then the document.
pub fn dynamic_text(doc: &DomainsDoc) -> String {
    format!("{DYNAMIC_HEADER}{}", doc.to_text())
}
