//! The command line of `moxide` and `moxctl`: one file per subcommand family.

pub mod ctl;
pub mod gentestdata;
pub mod localserve;
pub mod quickstart;
pub mod retrain;
pub mod sendmail;
pub mod serve;
pub mod service;
pub mod verifydata;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "moxide",
    version,
    about = "A complete, self-hosted mail server"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the server from its configuration files.
    Serve(serve::ServeArgs),
    /// Runs a local server for developing and testing mail software: loopback ports, one account,
    /// no set-up.
    Localserve(localserve::LocalserveArgs),
    /// Makes a new installation for an email address: configuration, DKIM keys, a self-signed
    /// certificate to replace, the account with a new password; prints the DNS records to
    /// publish and how to start the service.
    Quickstart(quickstart::QuickstartArgs),
    /// Checks configuration files and prints each problem with its file and key.
    Config(serve::ConfigArgs),
    /// Checks a stopped server's data directory (or a backup) for damage and inconsistencies,
    /// without writing anything; prints each problem and a summary.
    Verifydata(verifydata::VerifydataArgs),
    /// Writes a complete test setup (configuration, accounts, mailboxes, messages, queue) into a
    /// new directory, through the stores' own write paths; for upgrade tests.
    Gentestdata(gentestdata::GentestdataArgs),
    /// Submits the message on stdin like sendmail, for cron and scripts: to the submission
    /// server in /etc/moxide/sendmail.toml. Also what a link named `sendmail` runs.
    Sendmail(sendmail::SendmailCommand),
    /// Rebuilds the junk filter of ACCOUNT (or all) from the messages' $Junk/$NotJunk flags,
    /// with the server stopped (`moxctl retrain` does it while it runs).
    Retrain(retrain::RetrainArgs),
    /// Prints the version.
    Version,
}

/// Entry point of `moxide`.
pub fn main() -> ExitCode {
    // Invoked as `sendmail` (a link to this binary): sendmail's command line, not ours.
    let mut args = std::env::args_os();
    let invoked_as = args.next();
    if invoked_as
        .as_deref()
        .and_then(|a| std::path::Path::new(a).file_name())
        .is_some_and(|name| name == "sendmail")
    {
        return sendmail::run_as_sendmail(args.collect());
    }
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Localserve(args) => localserve::run(args),
        Command::Quickstart(args) => quickstart::run(args),
        Command::Config(args) => serve::config(args),
        Command::Verifydata(args) => verifydata::run(args),
        Command::Gentestdata(args) => gentestdata::run(args),
        Command::Sendmail(command) => sendmail::run(command),
        Command::Retrain(args) => retrain::run(args),
        Command::Version => {
            println!("moxide {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
    }
}

/// Prints `error` for the user and returns a failing exit code.
pub fn fail(error: impl std::fmt::Display) -> ExitCode {
    eprintln!("moxide: {error}");
    ExitCode::FAILURE
}
