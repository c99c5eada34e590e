//! `moxide localserve`: a mail server for developing and testing against, with no set-up. It
//! creates (or reuses) a configuration and data directory, listens on loopback only, delivers
//! every message to its one account, and never rejects or delays mail because of DNS (without a
//! `[dns]` section it does not ask any name server at all).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use crate::actors::supervisor::{self, StartOptions};
use crate::config::{Mode, Protocol};

/// The account, address and password mox's localserve uses, so existing client set-ups work.
pub const ACCOUNT: &str = "mox";
pub const ADDRESS: &str = "mox@localhost";
pub const PASSWORD: &str = "moxmoxmox";

#[derive(Args)]
pub struct LocalserveArgs {
    /// Directory for the configuration and data.
    #[arg(long, default_value = "localserve")]
    pub dir: PathBuf,
    /// Password of the account (set at every start).
    #[arg(long, default_value = PASSWORD)]
    pub password: String,
    /// SMTP port (0 picks a free one).
    #[arg(long)]
    pub smtp_port: Option<u16>,
    /// Submission port (0 picks a free one).
    #[arg(long)]
    pub submission_port: Option<u16>,
    /// IMAP port (0 picks a free one).
    #[arg(long)]
    pub imap_port: Option<u16>,
    /// Submission port with implicit TLS (0 picks a free one).
    #[arg(long)]
    pub submissions_port: Option<u16>,
    /// IMAP port with implicit TLS (0 picks a free one).
    #[arg(long)]
    pub imaps_port: Option<u16>,
}

const STATIC_FILE: &str = r#"# moxide localserve: a mail server for developing and testing mail software against.
# Listens on loopback only; every message is delivered to the one account.
hostname = "localhost"
data_dir = "data"
log_level = "info"

[listeners.local]
ips = ["127.0.0.1"]
# A self-signed certificate, made at the first start, for STARTTLS and the implicit-TLS ports.
tls = { cert_file = "localserve-cert.pem", key_file = "localserve-key.pem" }
smtp = { port = 1025 }
submission = { port = 1587 }
submissions = { port = 1465 }
imap = { port = 1143 }
imaps = { port = 1993 }

# Incoming mail is authenticated (SPF, DKIM, DMARC, iprev) only when name servers are set here;
# localserve records the results in Authentication-Results and never refuses or delays mail
# because of them.
# [dns]
# nameservers = ["127.0.0.53"]
"#;

const DYNAMIC_FILE: &str = r#"# Domains and accounts of moxide localserve. Any address gets delivered to account "mox".
[domains.localhost]

[accounts.mox]
domain = "localhost"
addresses = ["mox@localhost"]
# Moving mail to Junk (or out of it) trains the junk filter.
automatic_junk_flags = { enabled = true }
"#;

/// Writes `text` to `path` unless the file exists.
fn write_default(path: &Path, text: &str) -> std::io::Result<()> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(mut f) => std::io::Write::write_all(&mut f, text.as_bytes()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

pub fn run(args: LocalserveArgs) -> ExitCode {
    if let Err(e) = crate::store::create_private_dir(&args.dir) {
        return super::fail(format!("creating {}: {e}", args.dir.display()));
    }
    let static_path = args.dir.join("moxide.toml");
    let (cert, key) = (
        args.dir.join("localserve-cert.pem"),
        args.dir.join("localserve-key.pem"),
    );
    if let Err(e) = crate::tls::ensure_self_signed(&cert, &key, &["localhost", "127.0.0.1"]) {
        return super::fail(e);
    }
    for (path, text) in [
        (&static_path, STATIC_FILE),
        (&args.dir.join("domains.toml"), DYNAMIC_FILE),
    ] {
        if let Err(e) = write_default(path, text) {
            return super::fail(format!("writing {}: {e}", path.display()));
        }
    }
    let mut config = match super::serve::load(
        &static_path,
        Mode::Localserve {
            account: ACCOUNT.into(),
        },
    ) {
        Ok(c) => c,
        Err(e) => {
            for p in &e.0 {
                eprintln!("moxide: config: {p}");
            }
            return ExitCode::FAILURE;
        }
    };
    if !config.dynamic().accounts.contains_key(ACCOUNT) {
        return super::fail(format!(
            "{}: localserve needs account {ACCOUNT:?}",
            config.static_config.domains_file.display()
        ));
    }
    for l in &mut config.static_config.listeners {
        if !l.ip.is_loopback() {
            return super::fail(format!(
                "{}: localserve listens on loopback addresses only, not {}",
                static_path.display(),
                l.ip
            ));
        }
        let port = match l.protocol {
            Protocol::Smtp => args.smtp_port,
            Protocol::Submission => args.submission_port,
            Protocol::Submissions => args.submissions_port,
            Protocol::Imap => args.imap_port,
            Protocol::Imaps => args.imaps_port,
        };
        if let Some(p) = port {
            l.port = p;
        }
    }
    crate::logging::init(&config.static_config.log_level, false);
    let options = StartOptions {
        password: Some((ACCOUNT.into(), args.password.clone())),
        banner: vec![format!("login {ADDRESS} {}", args.password)],
    };
    match supervisor::run(config, options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => super::fail(e),
    }
}
