//! `moxide serve`, `moxide config test`, `moxide config dnscheck` and (in service.rs)
//! `moxide config printservice`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::actors::supervisor::{self, StartOptions};
use crate::config::{self, Config, ConfigError, Mode};

/// Where the static configuration file is looked for by default.
pub const DEFAULT_CONFIG: &str = "config/moxide.toml";

#[derive(Args)]
pub struct ServeArgs {
    /// The static configuration file; the dynamic one is found through it.
    #[arg(long, default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
}

#[derive(Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    command: ConfigCommand,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validates the static and the dynamic configuration.
    Test {
        #[arg(long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// Checks the DNS records of DOMAIN: MX, SPF (every address mail leaves from must pass:
    /// the listeners' and each SOCKS transport's remote_ips), DKIM keys, DMARC; prints each
    /// problem with the record that fixes it.
    Dnscheck {
        domain: String,
        #[arg(long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// Prints a hardened systemd unit that runs this installation (absolute paths: this
    /// binary, the configuration file, the directories the server writes).
    Printservice {
        #[arg(long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
}

/// Loads and validates both files, reporting every problem.
pub fn load(file: &std::path::Path, mode: Mode) -> Result<Config, ConfigError> {
    let static_config = config::load_static(file)?;
    let dynamic = config::load_dynamic(&static_config.domains_file)?;
    config::check_routes(&static_config, &dynamic)?;
    Ok(Config::new(static_config, dynamic, mode))
}

fn report(e: &ConfigError) -> ExitCode {
    for p in &e.0 {
        eprintln!("moxide: config: {p}");
    }
    ExitCode::FAILURE
}

pub fn run(args: ServeArgs) -> ExitCode {
    let config = match load(&args.config, Mode::Serve) {
        Ok(c) => c,
        Err(e) => return report(&e),
    };
    crate::logging::init(&config.static_config.log_level, false);
    match supervisor::run(config, StartOptions::default()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => super::fail(e),
    }
}

pub fn config(args: ConfigArgs) -> ExitCode {
    match args.command {
        ConfigCommand::Test { config } => match load(&config, Mode::Serve) {
            Ok(c) => {
                println!("{}: ok", c.static_config.file.display());
                println!("{}: ok", c.static_config.domains_file.display());
                ExitCode::SUCCESS
            }
            Err(e) => report(&e),
        },
        ConfigCommand::Dnscheck { domain, config } => dnscheck(&domain, &config),
        ConfigCommand::Printservice { config } => super::service::print(&config),
    }
}

fn dnscheck(domain: &str, file: &std::path::Path) -> ExitCode {
    let c = match load(file, Mode::Serve) {
        Ok(c) => c,
        Err(e) => return report(&e),
    };
    let dynamic = c.dynamic();
    let domain = match crate::address::Domain::parse(domain) {
        Ok(d) if dynamic.is_local_domain(&d) => d,
        Ok(d) => {
            eprintln!("moxide: {d} is not a domain of this server (domains.toml)");
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("moxide: invalid domain {domain:?}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let dns = match crate::dns::resolver(&c.static_config.dns) {
        Ok(r) => r,
        Err(e) => return super::fail(e),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return super::fail(e),
    };
    let findings = runtime.block_on(crate::dnscheck::check(
        &dns,
        &c.static_config,
        &dynamic,
        &domain,
    ));
    let problems = findings
        .iter()
        .filter(|f| matches!(f, crate::dnscheck::Finding::Problem(_)))
        .count();
    for f in &findings {
        println!("{f}");
    }
    println!("{problems} problem(s)");
    if problems == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
