//! Changes to `domains.toml` asked for through `moxctl` (accounts, addresses, domains). The file
//! is edited in place with toml_edit, so the operator's comments and layout stay; the result is
//! validated as a whole (the same loader as at start), written next to the file, made durable
//! and renamed over it, and only then is the running configuration reloaded. Edits are
//! serialized: two moxctl commands never interleave their read-modify-write.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use toml_edit::{Array, DocumentMut, Item, Table};

use super::{Config, ConfigError, DynamicConfig, load_dynamic};
use crate::address::{Address, Domain};
use crate::config::dynamic::valid_account_name;

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("reading {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path} is not valid TOML: {error}")]
    Parse {
        path: PathBuf,
        error: toml_edit::TomlError,
    },
    /// The change itself makes no sense (an unknown account, a name taken, ...).
    #[error("{0}")]
    Refused(String),
    #[error("the changed configuration is not valid:\n{0}")]
    Invalid(ConfigError),
    #[error("writing {path}: {error}")]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
}

fn refused(message: impl Into<String>) -> EditError {
    EditError::Refused(message.into())
}

/// One edit at a time, for the whole process.
static EDITING: Mutex<()> = Mutex::new(());

/// Applies `change` to the dynamic file of `config` and reloads. `change` sees the document and
/// the configuration as it is now; what it returns is handed back. Blocking.
pub fn edit_dynamic<T>(
    config: &Config,
    change: impl FnOnce(&mut DomainsDoc, &DynamicConfig) -> Result<T, EditError>,
) -> Result<T, EditError> {
    let _guard = EDITING.lock().unwrap_or_else(|p| p.into_inner());
    let path = config.static_config.domains_file.clone();
    let text = std::fs::read_to_string(&path).map_err(|error| EditError::Read {
        path: path.clone(),
        error,
    })?;
    let doc = text
        .parse::<DocumentMut>()
        .map_err(|error| EditError::Parse {
            path: path.clone(),
            error,
        })?;
    // The file as it is on disk is the base, not the last snapshot: an operator's edit that
    // the watcher has not reloaded yet is not lost.
    let current = load_dynamic(&path).map_err(EditError::Invalid)?;
    let mut doc = DomainsDoc { doc };
    let result = change(&mut doc, &current)?;
    replace_validated(&path, &doc.doc.to_string())?;
    config.reload().map_err(EditError::Invalid)?;
    Ok(result)
}

/// Writes `text` beside `path`, checks it loads, makes it durable and renames it over `path`.
fn replace_validated(path: &Path, text: &str) -> Result<(), EditError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "domains.toml".into());
    // Same directory: key paths in it resolve the same, and the rename is atomic.
    let tmp = dir.join(format!(".{name}.moxctl-{}", std::process::id()));
    let write_err = |error| EditError::Write {
        path: tmp.clone(),
        error,
    };
    let result = (|| {
        let mut f = std::fs::File::create(&tmp).map_err(write_err)?;
        f.write_all(text.as_bytes()).map_err(write_err)?;
        f.sync_all().map_err(write_err)?;
        load_dynamic(&tmp).map_err(|e| {
            // Problems name the file they are in: the real one, not the temporary.
            EditError::Invalid(ConfigError(
                e.0.into_iter()
                    .map(|mut p| {
                        p.file = path.to_path_buf();
                        p
                    })
                    .collect(),
            ))
        })?;
        std::fs::rename(&tmp, path).map_err(|error| EditError::Write {
            path: path.to_path_buf(),
            error,
        })?;
        crate::store::files::fsync_dir(dir).map_err(|error| EditError::Write {
            path: dir.to_path_buf(),
            error,
        })
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The dynamic file as a document, with the changes moxctl makes.
pub struct DomainsDoc {
    doc: DocumentMut,
}

impl DomainsDoc {
    pub fn from_text(text: &str) -> Result<DomainsDoc, toml_edit::TomlError> {
        Ok(DomainsDoc { doc: text.parse()? })
    }

    pub fn to_text(&self) -> String {
        self.doc.to_string()
    }

    /// The table at `key` of the root, created (as a plain `[key]` parent) when missing.
    fn table(&mut self, key: &str) -> Result<&mut Table, EditError> {
        let item = self
            .doc
            .entry(key)
            .or_insert_with(|| Item::Table(implicit_table()));
        item.as_table_mut()
            .ok_or_else(|| refused(format!("{key} in the dynamic file is not a table")))
    }

    /// Adds account `name` with its first address; the address's domain becomes the account's
    /// domain.
    pub fn add_account(
        &mut self,
        current: &DynamicConfig,
        name: &str,
        address: &Address,
    ) -> Result<(), EditError> {
        if !valid_account_name(name) {
            return Err(refused(format!(
                "invalid account name {name:?}: letters, digits, '.', '_' and '-', not starting with '.'"
            )));
        }
        if current.accounts.contains_key(name) {
            return Err(refused(format!("account {name} exists already")));
        }
        check_address_free(current, address)?;
        let mut account = Table::new();
        account.insert("domain", toml_edit::value(address.domain.to_string()));
        let mut addresses = Array::new();
        addresses.push(address.to_string());
        account.insert("addresses", toml_edit::value(addresses));
        // New accounts learn junk from where their mail is moved (see config/junk.rs).
        let mut junk = toml_edit::InlineTable::new();
        junk.insert("enabled", true.into());
        account.insert("automatic_junk_flags", toml_edit::value(junk));
        self.table("accounts")?.insert(name, Item::Table(account));
        Ok(())
    }

    pub fn remove_account(&mut self, current: &DynamicConfig, name: &str) -> Result<(), EditError> {
        if !current.accounts.contains_key(name) {
            return Err(refused(format!("no account {name}")));
        }
        if current.postmaster.as_deref() == Some(name) {
            return Err(refused(format!(
                "account {name} is the postmaster: make another account the postmaster first"
            )));
        }
        self.table("accounts")?.remove(name);
        Ok(())
    }

    /// Adds `address` to `account`'s addresses.
    pub fn add_address(
        &mut self,
        current: &DynamicConfig,
        account: &str,
        address: &Address,
    ) -> Result<(), EditError> {
        if !current.accounts.contains_key(account) {
            return Err(refused(format!("no account {account}")));
        }
        check_address_free(current, address)?;
        self.addresses_of(account)?.push(address.to_string());
        Ok(())
    }

    /// Removes `address` from the account that has it; returns that account's name.
    pub fn remove_address(
        &mut self,
        current: &DynamicConfig,
        address: &Address,
    ) -> Result<String, EditError> {
        let key = address.lookup_key();
        let account = current
            .accounts
            .values()
            .find(|a| a.addresses.iter().any(|x| x.lookup_key() == key))
            .ok_or_else(|| refused(format!("no account has address {address}")))?;
        if account.addresses.len() == 1 {
            return Err(refused(format!(
                "{address} is the last address of account {}: remove the account instead",
                account.name
            )));
        }
        let domain = account.domain.clone();
        let name = account.name.clone();
        let list = self.addresses_of(&name)?;
        // Entries are written as "user@domain", a bare "user" of the account's domain, or
        // "@domain" (catch-all, never an address match).
        let position = list.iter().position(|v| {
            v.as_str().is_some_and(|text| {
                let parsed = if text.contains('@') {
                    Address::parse_simple(text).ok()
                } else {
                    crate::address::Localpart::new(text)
                        .ok()
                        .map(|localpart| Address {
                            localpart,
                            domain: domain.clone(),
                        })
                };
                parsed.is_some_and(|a| a.lookup_key() == key)
            })
        });
        match position {
            Some(i) => {
                list.remove(i);
                // The new first element keeps no space before it: `["a"]`, not `[ "a"]`.
                if i == 0
                    && let Some(first) = list.get_mut(0)
                {
                    let multiline = first
                        .decor()
                        .prefix()
                        .and_then(|p| p.as_str())
                        .is_some_and(|p| p.contains('\n'));
                    if !multiline {
                        first.decor_mut().set_prefix("");
                    }
                }
                Ok(name)
            }
            None => Err(refused(format!(
                "address {address} of account {name} is not written in a form moxctl can edit"
            ))),
        }
    }

    fn addresses_of(&mut self, account: &str) -> Result<&mut Array, EditError> {
        self.table("accounts")?
            .get_mut(account)
            .and_then(|a| a.as_table_like_mut())
            .and_then(|a| a.get_mut("addresses"))
            .and_then(|a| a.as_array_mut())
            .ok_or_else(|| refused(format!("account {account} has no addresses list to edit")))
    }

    /// Makes `account` the postmaster (it gets postmaster@ of every domain).
    pub fn set_postmaster(&mut self, account: &str) {
        self.doc.insert("postmaster", toml_edit::value(account));
    }

    /// Adds `domain`, with DKIM selectors (name, key file relative to the dynamic file) that
    /// all sign. No MTA-STS or other per-domain policy is added.
    pub fn add_domain(
        &mut self,
        current: &DynamicConfig,
        domain: &Domain,
        selectors: &[(String, String)],
    ) -> Result<(), EditError> {
        if current.is_local_domain(domain) {
            return Err(refused(format!("domain {domain} exists already")));
        }
        let mut table = Table::new();
        if !selectors.is_empty() {
            let mut dkim = Table::new();
            let mut sign = Array::new();
            let mut sels = implicit_table();
            for (name, file) in selectors {
                sign.push(name.as_str());
                let mut s = Table::new();
                s.insert("private_key_file", toml_edit::value(file.as_str()));
                sels.insert(name, Item::Table(s));
            }
            dkim.insert("sign", toml_edit::value(sign));
            dkim.insert("selectors", Item::Table(sels));
            table.insert("dkim", Item::Table(dkim));
        }
        self.table("domains")?
            .insert(&domain.to_string(), Item::Table(table));
        Ok(())
    }

    /// Removes `domain`; refused while an account or address still uses it.
    pub fn remove_domain(
        &mut self,
        current: &DynamicConfig,
        domain: &Domain,
    ) -> Result<(), EditError> {
        if !current.is_local_domain(domain) {
            return Err(refused(format!("no domain {domain}")));
        }
        let users: Vec<&str> = current
            .accounts
            .values()
            .filter(|a| a.domain == *domain || a.addresses.iter().any(|x| x.domain == *domain))
            .map(|a| a.name.as_str())
            .collect();
        if !users.is_empty() || current.has_catchall(domain) {
            return Err(refused(format!(
                "domain {domain} is still used by account(s) {}: remove their addresses first",
                users.join(", ")
            )));
        }
        let domains = self.table("domains")?;
        // The key may be written in Unicode or ASCII form.
        let key = domains
            .iter()
            .map(|(k, _)| k.to_string())
            .find(|k| Domain::parse(k).is_ok_and(|d| d == *domain));
        match key {
            Some(k) => {
                domains.remove(&k);
                Ok(())
            }
            None => Err(refused(format!("domain {domain} is not under [domains]"))),
        }
    }
}

/// A table that is written only through its sub-tables (`[accounts.x]`, not `[accounts]`).
fn implicit_table() -> Table {
    let mut t = Table::new();
    t.set_implicit(true);
    t
}

fn check_address_free(current: &DynamicConfig, address: &Address) -> Result<(), EditError> {
    if !current.is_local_domain(&address.domain) {
        return Err(refused(format!(
            "domain {} is not configured: add it with `moxctl domain add` first",
            address.domain
        )));
    }
    let key = address.lookup_key();
    if let Some(owner) = current
        .accounts
        .values()
        .find(|a| a.addresses.iter().any(|x| x.lookup_key() == key))
    {
        return Err(refused(format!(
            "address {address} belongs to account {} already",
            owner.name
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
