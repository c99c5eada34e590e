//! The dynamic configuration, `domains.toml`: domains, accounts and their addresses. Reloaded
//! while running.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::dkim::{DkimFile, DomainDkim};
use super::routes::{self, Route, RouteFile};
use super::{ConfigError, Problems};
use crate::address::{Address, Domain, Localpart};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DynamicFile {
    /// The account that gets mail for postmaster@ of every domain (RFC 5321 §4.5.1) when no
    /// account lists that address itself, and for `<Postmaster>` without a domain.
    pub postmaster: Option<String>,
    #[serde(default)]
    pub domains: BTreeMap<String, DomainFile>,
    #[serde(default)]
    pub accounts: BTreeMap<String, AccountFile>,
    /// Global routes for outgoing mail, after those of the account and of the sender's domain.
    #[serde(default)]
    pub routes: Vec<RouteFile>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainFile {
    #[serde(default)]
    pub description: String,
    /// DKIM selectors and keys for signing outgoing mail from this domain.
    pub dkim: Option<DkimFile>,
    /// Routes for outgoing mail from this domain, after the account's.
    #[serde(default)]
    pub routes: Vec<RouteFile>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountFile {
    /// The account's main domain: bare localparts in `addresses` belong to it.
    pub domain: String,
    /// `user@domain`, a bare `user` (of the account's domain) or `@domain` (catch-all: every
    /// address of that domain not configured elsewhere).
    pub addresses: Vec<String>,
    #[serde(default)]
    pub full_name: String,
    /// Routes for this account's outgoing mail, evaluated first.
    #[serde(default)]
    pub routes: Vec<RouteFile>,
    /// $Junk/$NotJunk from the mailbox messages are put in (see `junk.rs`).
    pub automatic_junk_flags: Option<super::junk::AutoJunkFile>,
}

#[derive(Debug, Clone)]
pub struct AccountConfig {
    pub name: String,
    pub domain: Domain,
    pub addresses: Vec<Address>,
    pub full_name: String,
    pub routes: Vec<Route>,
    /// None: disabled.
    pub junk_flags: Option<std::sync::Arc<super::junk::AutoJunkFlags>>,
}

/// Where mail for an address goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub account: String,
}

/// The validated dynamic configuration.
#[derive(Debug, Clone, Default)]
pub struct DynamicConfig {
    pub file: PathBuf,
    pub domains: BTreeMap<String, Domain>,
    pub accounts: BTreeMap<String, AccountConfig>,
    /// Address lookup key → account.
    addresses: HashMap<String, String>,
    /// ASCII domain → catch-all account.
    catchall: HashMap<String, String>,
    /// ASCII domain → its DKIM selectors and loaded keys.
    dkim: HashMap<String, DomainDkim>,
    /// The postmaster account.
    pub postmaster: Option<String>,
    /// ASCII domain → its routes.
    domain_routes: HashMap<String, Vec<Route>>,
    /// The global routes.
    pub routes: Vec<Route>,
}

/// Whether `name` can name an account: it is also a directory name.
pub fn valid_account_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

impl DynamicFile {
    pub fn validate(self, file: &Path) -> Result<DynamicConfig, ConfigError> {
        let mut problems = Problems::new(file);
        let mut config = DynamicConfig {
            file: file.to_path_buf(),
            ..DynamicConfig::default()
        };
        // Key files are relative to the directory of this file.
        let base = file.parent().unwrap_or(Path::new("."));
        for (name, domain_file) in self.domains {
            match Domain::parse(&name) {
                Ok(d) => {
                    let key = format!("domains.{name}.routes");
                    let list = routes::validate(domain_file.routes, &key, &mut problems);
                    if !list.is_empty() {
                        config.domain_routes.insert(d.ascii().to_string(), list);
                    }
                    if let Some(dkim) = domain_file.dkim {
                        let dkim = super::dkim::validate(&name, &d, dkim, base, &mut problems);
                        config.dkim.insert(d.ascii().to_string(), dkim);
                    }
                    if config.domains.insert(d.ascii().to_string(), d).is_some() {
                        problems.add(
                            &format!("domains.{name}"),
                            "configured twice (in Unicode and ASCII form?)",
                        );
                    }
                }
                Err(e) => problems.add(&format!("domains.{name}"), e.to_string()),
            }
        }
        for (name, a) in self.accounts {
            let key = |k: &str| format!("accounts.{name}.{k}");
            if !valid_account_name(&name) {
                problems.add(
                    &format!("accounts.{name}"),
                    "account names are letters, digits, '.', '_' and '-', not starting with '.'",
                );
                continue;
            }
            let domain = match Domain::parse(&a.domain) {
                Ok(d) if config.domains.contains_key(d.ascii()) => d,
                Ok(d) => {
                    problems.add(
                        &key("domain"),
                        format!("domain {d} is not configured under [domains]"),
                    );
                    continue;
                }
                Err(e) => {
                    problems.add(&key("domain"), e.to_string());
                    continue;
                }
            };
            if a.addresses.is_empty() {
                problems.add(&key("addresses"), "an account needs at least one address");
            }
            let mut addresses = Vec::new();
            for (i, text) in a.addresses.iter().enumerate() {
                let akey = key(&format!("addresses[{i}]"));
                if let Some(catchall) = text.strip_prefix('@') {
                    match Domain::parse(catchall) {
                        Ok(d) if config.domains.contains_key(d.ascii()) => {
                            if let Some(other) =
                                config.catchall.insert(d.ascii().to_string(), name.clone())
                            {
                                problems.add(
                                    &akey,
                                    format!("catch-all for {d} also set for account {other}"),
                                );
                            }
                        }
                        Ok(d) => problems.add(
                            &akey,
                            format!("domain {d} is not configured under [domains]"),
                        ),
                        Err(e) => problems.add(&akey, e.to_string()),
                    }
                    continue;
                }
                let parsed = if text.contains('@') {
                    Address::parse_simple(text)
                } else {
                    Localpart::new(text).map(|localpart| Address {
                        localpart,
                        domain: domain.clone(),
                    })
                };
                match parsed {
                    Ok(addr) if !config.domains.contains_key(addr.domain.ascii()) => {
                        problems.add(
                            &akey,
                            format!("domain {} is not configured under [domains]", addr.domain),
                        );
                    }
                    Ok(addr) if addr.localpart.as_str().is_empty() => {
                        problems.add(&akey, "empty localpart")
                    }
                    Ok(addr) => {
                        match config.addresses.insert(addr.lookup_key(), name.clone()) {
                            Some(other) if other == name => {
                                problems.add(&akey, format!("address {addr} is listed twice"))
                            }
                            Some(other) => problems.add(
                                &akey,
                                format!("address {addr} also belongs to account {other}"),
                            ),
                            None => {}
                        }
                        addresses.push(addr);
                    }
                    Err(e) => problems.add(&akey, e.to_string()),
                }
            }
            let routes = routes::validate(a.routes, &key("routes"), &mut problems);
            let junk_flags = a
                .automatic_junk_flags
                .as_ref()
                .and_then(|f| f.validate(&key("automatic_junk_flags"), &mut problems))
                .map(std::sync::Arc::new);
            config.accounts.insert(
                name.clone(),
                AccountConfig {
                    name,
                    domain,
                    addresses,
                    full_name: a.full_name,
                    routes,
                    junk_flags,
                },
            );
        }
        config.routes = routes::validate(self.routes, "routes", &mut problems);
        if let Some(account) = &self.postmaster {
            if config.accounts.contains_key(account) {
                config.postmaster = Some(account.clone());
            } else {
                problems.add("postmaster", format!("no account {account:?}"));
            }
        }
        problems.finish()?;
        Ok(config)
    }
}

impl DynamicConfig {
    /// The account mail for `address` goes to: its configured address, else the catch-all of
    /// its domain.
    pub fn destination(&self, address: &Address) -> Option<Destination> {
        let postmaster = || {
            self.postmaster
                .as_ref()
                .filter(|_| address.localpart.normalized() == "postmaster")
                .filter(|_| self.is_local_domain(&address.domain))
        };
        self.addresses
            .get(&address.lookup_key())
            .or_else(postmaster)
            .or_else(|| self.catchall.get(address.domain.ascii()))
            .map(|account| Destination {
                account: account.clone(),
            })
    }

    /// The DKIM configuration for signing mail from `domain` (the From header's domain; the
    /// caller decides), if it has one.
    pub fn dkim_for(&self, domain: &Domain) -> Option<&DomainDkim> {
        self.dkim.get(domain.ascii())
    }

    /// Whether an account takes every otherwise unknown address of `domain`.
    pub fn has_catchall(&self, domain: &Domain) -> bool {
        self.catchall.contains_key(domain.ascii())
    }

    /// Whether mail for `domain` is ours.
    pub fn is_local_domain(&self, domain: &Domain) -> bool {
        self.domains.contains_key(domain.ascii())
    }

    /// The route of an outgoing delivery attempt (account, then the sender's domain, then
    /// global; the first match); None for direct delivery. Domains in ASCII.
    pub fn route(
        &self,
        account: &str,
        from_domain: &str,
        to_domain: &str,
        attempts: u32,
    ) -> Option<&Route> {
        let account = self.accounts.get(account).map(|a| a.routes.as_slice());
        let domain = self
            .domain_routes
            .get(&from_domain.to_ascii_lowercase())
            .map(Vec::as_slice);
        routes::choose(
            [account.unwrap_or(&[]), domain.unwrap_or(&[]), &self.routes],
            from_domain,
            to_domain,
            attempts,
        )
    }

    /// Every route with where it is configured, to check their transports exist.
    pub fn all_routes(&self) -> impl Iterator<Item = &Route> {
        self.accounts
            .values()
            .flat_map(|a| &a.routes)
            .chain(self.domain_routes.values().flatten())
            .chain(&self.routes)
    }

    /// The account a login name (an address or an account name) belongs to.
    pub fn login_account(&self, login: &str) -> Option<&AccountConfig> {
        if let Some(account) = self.accounts.get(login) {
            return Some(account);
        }
        let address = Address::parse_simple(login).ok()?;
        let account = self.addresses.get(&address.lookup_key())?;
        self.accounts.get(account)
    }
}
