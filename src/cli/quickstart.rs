//! `moxide quickstart user@example.com`: a new installation in one command. Writes the static
//! and dynamic configuration under `DIR/config/`, DKIM keys for the domain (as `moxctl domain
//! add` does), a self-signed certificate to be replaced, and the data directory with the account
//! and a generated password (written offline through the account store, as the account actor
//! would). Then prints what to do next: the DNS records to publish, certificates, the account's
//! password and how to start the service. It never changes an existing installation.

mod files;
mod password;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use crate::address::{Address, AddressError, Domain};
use crate::auth::PasswordSecrets;
use crate::config::dynamic::valid_account_name;
use crate::config::edit::EditError;
use crate::config::newkeys::{self, NewKey, NewKeyError};
use crate::config::records::dns_records;
use crate::config::{ConfigError, Mode};
use crate::store::server::ServerStore;
use crate::store::{AccountStore, DataDir, StoreError, WriteOp};
use crate::tls::TlsError;

#[derive(Args)]
pub struct QuickstartArgs {
    /// The first account's email address; its domain becomes the server's mail domain.
    pub address: String,
    /// The server's host name, the target of the domain's MX record [default: mail.DOMAIN].
    #[arg(long)]
    pub hostname: Option<String>,
    /// The directory to install into: config/ and data/ are made in it.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// The account's name [default: the address's localpart].
    #[arg(long)]
    pub account: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum QuickstartError {
    #[error("invalid address {text:?}: {error}")]
    Address { text: String, error: AddressError },
    #[error("invalid host name {text:?}: {error}")]
    Hostname { text: String, error: AddressError },
    #[error(
        "{0:?} cannot be an account name (letters, digits, '.', '_' and '-', not starting with '.'): give one with --account"
    )]
    AccountName(String),
    #[error("{0} exists: quickstart only makes a new installation; nothing was changed")]
    Exists(PathBuf),
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("DKIM keys: {0}")]
    Keys(#[from] NewKeyError),
    #[error("TLS certificate: {0}")]
    Tls(#[from] TlsError),
    #[error("the dynamic configuration: {0}")]
    Edit(#[from] EditError),
    #[error("the generated configuration does not load (a bug in quickstart):\n{0}")]
    Config(ConfigError),
    #[error("{what}: {error}")]
    Store { what: String, error: StoreError },
    #[error("the password: {0}")]
    Password(String),
}

/// What quickstart made, for the notes it prints.
pub struct Installed {
    pub static_file: PathBuf,
    pub files: Vec<PathBuf>,
    pub data_dir: PathBuf,
    pub domain: Domain,
    pub hostname: Domain,
    pub account: String,
    pub address: Address,
    pub password: String,
    pub records: String,
    /// Whether the certificate is the self-signed one quickstart made.
    pub self_signed: bool,
}

/// What has been written so far, removed again when a later step fails.
#[derive(Default)]
struct Written {
    files: Vec<PathBuf>,
    /// Directories made here, removed when empty (deepest first).
    dirs: Vec<PathBuf>,
    /// The data directory, empty or missing before: what is in it was made here.
    data_dir: Option<PathBuf>,
}

impl Written {
    fn undo(&self) {
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
        if let Some(d) = &self.data_dir
            && let Ok(entries) = std::fs::read_dir(d)
        {
            // Its contents only: it may be a mount point.
            for e in entries.flatten() {
                let p = e.path();
                let _ = if p.is_dir() {
                    std::fs::remove_dir_all(&p)
                } else {
                    std::fs::remove_file(&p)
                };
            }
            let _ = std::fs::remove_dir(d);
        }
        for d in self.dirs.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }

    /// Makes `dir` (and its parents), remembering those that did not exist.
    fn make_dir(&mut self, dir: &Path) -> Result<(), QuickstartError> {
        let mut missing: Vec<PathBuf> = dir
            .ancestors()
            .take_while(|d| !d.exists())
            .map(Path::to_path_buf)
            .collect();
        std::fs::create_dir_all(dir).map_err(|error| QuickstartError::Io {
            path: dir.to_path_buf(),
            error,
        })?;
        missing.reverse();
        self.dirs.extend(missing);
        Ok(())
    }

    /// Writes over a file written here before.
    fn replace(&mut self, path: &Path, text: &str) -> Result<(), QuickstartError> {
        std::fs::write(path, text).map_err(|error| QuickstartError::Io {
            path: path.to_path_buf(),
            error,
        })
    }

    /// Writes a new file; never over an existing one.
    fn write(&mut self, path: &Path, text: &str) -> Result<(), QuickstartError> {
        use std::io::Write;
        let io = |error| QuickstartError::Io {
            path: path.to_path_buf(),
            error,
        };
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(io)?;
        self.files.push(path.to_path_buf());
        f.write_all(text.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)
    }
}

/// Makes the installation under `args.dir`; on failure nothing it wrote stays.
pub fn install(args: &QuickstartArgs) -> Result<Installed, QuickstartError> {
    let address =
        Address::parse_simple(&args.address).map_err(|error| QuickstartError::Address {
            text: args.address.clone(),
            error,
        })?;
    let domain = address.domain.clone();
    let hostname_text = args
        .hostname
        .clone()
        .unwrap_or_else(|| format!("mail.{domain}"));
    let hostname = Domain::parse(&hostname_text).map_err(|error| QuickstartError::Hostname {
        text: hostname_text.clone(),
        error,
    })?;
    let account = args
        .account
        .clone()
        .unwrap_or_else(|| address.localpart.to_string());
    if !valid_account_name(&account) {
        return Err(QuickstartError::AccountName(account));
    }
    let dir = std::path::absolute(&args.dir).map_err(|error| QuickstartError::Io {
        path: args.dir.clone(),
        error,
    })?;
    let config_dir = dir.join("config");
    let static_file = config_dir.join("moxide.toml");
    let dynamic_file = config_dir.join("domains.toml");
    let data_dir = dir.join("data");
    for p in [&static_file, &dynamic_file] {
        if p.exists() {
            return Err(QuickstartError::Exists(p.clone()));
        }
    }
    // An empty data directory is fine: a container's volume is mounted there before.
    let data_in_use = std::fs::read_dir(&data_dir).map(|mut d| d.next().is_some());
    if data_in_use.unwrap_or(data_dir.exists()) {
        return Err(QuickstartError::Exists(data_dir));
    }
    let (cert, key) = (
        config_dir.join(files::CERT_FILE),
        config_dir.join(files::KEY_FILE),
    );
    // A certificate the operator put in place first is kept; half of one is not completed.
    let self_signed = match (cert.exists(), key.exists()) {
        (true, true) => false,
        (false, false) => true,
        (true, false) => return Err(QuickstartError::Exists(cert)),
        (false, true) => return Err(QuickstartError::Exists(key)),
    };

    let mut written = Written::default();
    let result = write_all(
        &mut written,
        Plan {
            address: &address,
            hostname: &hostname,
            account: &account,
            config_dir: &config_dir,
            cert: &cert,
            key: &key,
            self_signed,
            data_dir: &data_dir,
        },
    );
    match result {
        Ok((keys, password, records)) => {
            let mut files = vec![static_file.clone(), dynamic_file];
            files.extend(keys.into_iter().map(|k| k.path));
            if self_signed {
                files.extend([cert, key]);
            }
            Ok(Installed {
                static_file,
                files,
                data_dir,
                domain,
                hostname,
                account,
                address,
                password,
                records,
                self_signed,
            })
        }
        Err(e) => {
            written.undo();
            Err(e)
        }
    }
}

struct Plan<'a> {
    address: &'a Address,
    hostname: &'a Domain,
    account: &'a str,
    config_dir: &'a Path,
    cert: &'a Path,
    key: &'a Path,
    self_signed: bool,
    data_dir: &'a Path,
}

/// The steps that write: configuration, keys, certificate, a check that it all loads, then the
/// data directory with the account. Returns the keys, the password and the DNS records.
fn write_all(
    written: &mut Written,
    plan: Plan,
) -> Result<(Vec<NewKey>, String, String), QuickstartError> {
    let domain = &plan.address.domain;
    written.make_dir(plan.config_dir)?;
    written.make_dir(&plan.config_dir.join("dkim").join(domain.ascii()))?;
    let keys = newkeys::write_domain_keys(plan.config_dir, domain, &newkeys::today())?;
    written.files.extend(keys.iter().map(|k| k.path.clone()));
    if plan.self_signed {
        if let Some(tls_dir) = plan.cert.parent() {
            written.make_dir(tls_dir)?;
        }
        written.files.extend([plan.cert.into(), plan.key.into()]);
        crate::tls::ensure_self_signed(plan.cert, plan.key, &[plan.hostname.ascii()])?;
    }
    let static_file = plan.config_dir.join("moxide.toml");
    written.write(
        &static_file,
        &files::static_file(plan.address, plan.hostname),
    )?;
    // The domain first, loaded as the base the account is added to (as moxctl does).
    let dynamic_file = plan.config_dir.join("domains.toml");
    let mut doc = files::dynamic_doc(domain, &keys)?;
    written.write(&dynamic_file, &files::dynamic_text(&doc))?;
    let current = crate::config::load_dynamic(&dynamic_file).map_err(QuickstartError::Config)?;
    files::add_account(&mut doc, &current, plan.account, plan.address)?;
    written.replace(&dynamic_file, &files::dynamic_text(&doc))?;
    // What the server will load: a generated configuration that does not is a bug here.
    let config = super::serve::load(&static_file, Mode::Serve).map_err(QuickstartError::Config)?;
    let dynamic = config.dynamic();
    let selectors: Vec<(String, String)> = dynamic
        .dkim_for(domain)
        .map(|d| {
            d.sign
                .iter()
                .map(|s| (s.name.clone(), s.dns_txt_record()))
                .collect()
        })
        .unwrap_or_default();
    let records = dns_records(domain, plan.hostname, &selectors);

    written.data_dir = Some(plan.data_dir.to_path_buf());
    let password = password::generate().map_err(|e| QuickstartError::Password(e.to_string()))?;
    create_account(plan.data_dir, plan.account, &password)?;
    Ok((keys, password, records))
}

/// Makes the data directory as the server expects it and the account in it, with `password`
/// set, through the stores' own write paths.
fn create_account(data_dir: &Path, name: &str, password: &str) -> Result<(), QuickstartError> {
    let store_err = |what: &str| {
        let what = what.to_string();
        move |error| QuickstartError::Store { what, error }
    };
    let data = DataDir::new(data_dir);
    let _lock = data
        .prepare()
        .map_err(store_err("preparing the data directory"))?;
    let server =
        ServerStore::open(&data.server_env()).map_err(store_err("opening the server store"))?;
    let what = format!("account {name}");
    let store = AccountStore::open(&data.account(name), name).map_err(store_err(&what))?;
    server.register_account(name).map_err(store_err(&what))?;
    let secrets =
        PasswordSecrets::derive(password).map_err(|e| QuickstartError::Password(e.to_string()))?;
    for outcome in store.apply(vec![WriteOp::SetPassword(secrets)]).outcomes {
        outcome.map_err(store_err(&what))?;
    }
    Ok(())
}

/// The notes printed after a successful quickstart.
fn notes(i: &Installed) -> String {
    let config = i.static_file.display();
    let mut out = String::from("moxide quickstart: a new installation.\n\nFiles written:\n");
    for f in &i.files {
        out.push_str(&format!("  {}\n", f.display()));
    }
    out.push_str(&format!(
        "  {}/ (data directory, with account {})\n",
        i.data_dir.display(),
        i.account
    ));
    out.push_str(&format!(
        "\nDNS records to publish for {domain} (zone-file form; MX, SPF, DKIM, DMARC):\n\n{records}\n",
        domain = i.domain,
        records = i.records
    ));
    out.push_str(&format!(
        "Also ask the hosting provider for a reverse DNS (PTR) record of the server's IP address(es)\n\
         naming {host}.\n\n",
        host = i.hostname.ascii()
    ));
    out.push_str("TLS certificate:\n");
    if i.self_signed {
        out.push_str(&format!(
            "  A SELF-SIGNED certificate for {host} was written so the server can start; replace it.\n\
             \x20 moxide does not request certificates itself (no ACME yet). Get one for {host} from a\n\
             \x20 certificate authority (e.g. certbot certonly --standalone -d {host}, before moxide\n\
             \x20 runs, or with its webroot/DNS methods), then put the chain (leaf first) in\n\
             \x20   {cert}\n\
             \x20 and its private key in\n\
             \x20   {key}\n\
             \x20 (PEM, key mode 0600) and restart moxide. Renew it before it expires.\n\n",
            host = i.hostname.ascii(),
            cert = i
                .static_file
                .with_file_name(files::CERT_FILE)
                .display(),
            key = i.static_file.with_file_name(files::KEY_FILE).display(),
        ));
    } else {
        out.push_str("  The certificate already in config/tls/ is used.\n\n");
    }
    out.push_str(&format!(
        "Account {account}:\n  address:  {address} (also the postmaster)\n  login:    {address} or {account}\n  password: {password}\n\
         Write the password down now: only a derived form is stored. Change it with\n\
         `moxctl setpassword {account}`.\n\n",
        account = i.account,
        address = i.address,
        password = i.password,
    ));
    out.push_str(&format!(
        "Start the service with systemd (as root):\n\
         \x20 useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin moxide\n\
         \x20 moxide config test --config {config}\n\
         \x20 moxide config printservice --config {config} > /etc/systemd/system/moxide.service\n\
         \x20 systemctl daemon-reload\n\
         \x20 systemctl enable --now moxide\n\
         Then, once the DNS records are published:\n\
         \x20 moxide config dnscheck {domain} --config {config}\n",
        domain = i.domain,
    ));
    out
}

pub fn run(args: QuickstartArgs) -> ExitCode {
    match install(&args) {
        Ok(installed) => {
            print!("{}", notes(&installed));
            ExitCode::SUCCESS
        }
        Err(e) => super::fail(format!("quickstart: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(dir: &Path) -> QuickstartArgs {
        QuickstartArgs {
            address: "mjl@møx.example".into(),
            hostname: None,
            dir: dir.to_path_buf(),
            account: None,
        }
    }

    #[test]
    fn installs_once_and_loads() {
        let tmp = tempfile::tempdir().unwrap();
        let i = install(&args(tmp.path())).unwrap();
        assert_eq!(i.hostname.ascii(), "mail.xn--mx-lka.example");
        assert_eq!(i.account, "mjl");
        assert!(i.self_signed);
        assert_eq!(i.records.matches("._domainkey.").count(), 2);
        let config = super::super::serve::load(&i.static_file, Mode::Serve).unwrap();
        assert_eq!(config.dynamic().postmaster.as_deref(), Some("mjl"));
        assert_eq!(
            config.static_config.data_dir,
            tmp.path().join("config/../data")
        );
        assert!(tmp.path().join("data/accounts/mjl").is_dir());
        let before = std::fs::read(&i.static_file).unwrap();
        assert!(matches!(
            install(&args(tmp.path())),
            Err(QuickstartError::Exists(_))
        ));
        assert_eq!(std::fs::read(&i.static_file).unwrap(), before);
    }

    #[test]
    fn bad_input_writes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let mut a = args(tmp.path());
        a.address = "no-at-sign".into();
        assert!(matches!(install(&a), Err(QuickstartError::Address { .. })));
        let mut a = args(tmp.path());
        a.address = "jøran@example.com".into();
        assert!(matches!(install(&a), Err(QuickstartError::AccountName(_))));
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    }
}
