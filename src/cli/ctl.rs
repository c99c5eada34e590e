//! `moxctl`: asks the running daemon to do things over its control socket.

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::protocols::ctl::{Request, Response, read_frame, write_frame};

mod progress;
mod transfer;

use transfer::Format;

#[derive(Parser)]
#[command(name = "moxctl", version, about = "Administer a running moxide")]
pub struct CtlCli {
    /// A localserve directory or a data directory holding the control socket.
    #[arg(long, conflicts_with = "config")]
    dir: Option<PathBuf>,
    /// The static configuration file of the server.
    #[arg(long)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: CtlCommand,
}

#[derive(Subcommand)]
enum CtlCommand {
    /// Version, uptime and counters of the running server.
    Status,
    /// Lists the configured accounts and their addresses (the same as `account list`).
    Accounts,
    /// Accounts in domains.toml.
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
    /// Addresses of accounts in domains.toml.
    Address {
        #[command(subcommand)]
        command: AddressCommand,
    },
    /// Domains in domains.toml.
    Domain {
        #[command(subcommand)]
        command: DomainCommand,
    },
    /// Sets the password of ACCOUNT, read from the terminal (without echo) or one line of stdin.
    Setpassword { account: String },
    /// Reloads the dynamic configuration.
    Reload,
    /// Writes a consistent backup of the running server to DESTDIR, which must not exist: the
    /// data directory (accounts, queue) and the configuration files. The server keeps serving.
    Backup { destdir: PathBuf },
    /// Sets the log level of the running server: error, warn, info, debug, trace, or a filter
    /// such as `info,moxide::store=debug`. Until the next restart.
    Loglevel { level: String },
    /// The outgoing queue.
    Queue {
        #[command(subcommand)]
        command: QueueCommand,
    },
    /// Imports the messages of an mbox file or a Maildir into MAILBOX of ACCOUNT (created when
    /// missing), with their flags and received times. Messages that cannot be imported are
    /// listed at the end, and the exit code is then non-zero.
    Import {
        format: Format,
        account: String,
        mailbox: String,
        path: PathBuf,
    },
    /// Rebuilds the junk filter of ACCOUNT (or of every account) from its messages' $Junk and
    /// $NotJunk flags, in batches while the server keeps serving; a progress bar on a terminal.
    Retrain { account: Option<String> },
    /// The junk filter of an account.
    Junk {
        #[command(subcommand)]
        command: JunkCommand,
    },
    /// Exports the messages of ACCOUNT (every mailbox, or one) as mbox files or Maildirs under
    /// DEST, which must not exist or be empty: a mailbox `A/B` becomes `DEST/A/B.mbox` or
    /// `DEST/A/B/{cur,new,tmp}`.
    Export {
        format: Format,
        account: String,
        dest: PathBuf,
        /// Only this mailbox.
        #[arg(long)]
        mailbox: Option<String>,
    },
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Adds account NAME with its first ADDRESS (whose domain must be configured).
    Add { name: String, address: String },
    /// Removes account NAME from the configuration; its data is moved to DATA/removed/.
    Rm { name: String },
    /// Lists the accounts: `NAME ADDRESS,ADDRESS...`, one per line.
    List,
}

#[derive(Subcommand)]
enum AddressCommand {
    /// Adds ADDRESS to ACCOUNT.
    Add { address: String, account: String },
    /// Removes ADDRESS from the account that has it (not its last address).
    Rm { address: String },
}

#[derive(Subcommand)]
enum DomainCommand {
    /// Adds DOMAIN with new DKIM keys (ed25519 and RSA-2048, next to domains.toml) and prints
    /// the DNS records to publish.
    Add { domain: String },
    /// Removes DOMAIN (refused while an account uses it).
    Rm { domain: String },
    /// Lists the domains, with the ASCII form of internationalized ones.
    List,
}

#[derive(Subcommand)]
enum JunkCommand {
    /// Messages trained as ham and spam, tokens known, and messages recorded as trained:
    /// `NAME VALUE` lines.
    Stats { account: String },
}

#[derive(Subcommand)]
enum QueueCommand {
    /// Lists the queued messages, one line per recipient, oldest first:
    /// `ID  CREATED  ATTEMPTS  NEXT  SIZE  <FROM> -> <RCPT>[  error: LAST ERROR]`,
    /// times in RFC 3339 UTC, NEXT the next delivery attempt, SIZE in bytes.
    List,
    /// Makes entry ID (or every entry) due for delivery now.
    Kick { id: Option<u64> },
    /// Removes entry ID from the queue without delivering it.
    Drop { id: u64 },
    /// Writes the message of entry ID, as it will be sent, to standard output.
    Dump { id: u64 },
}

#[derive(Debug, thiserror::Error)]
enum CtlError {
    #[error("no control socket found in {0} (is moxide running there?)")]
    NoSocket(PathBuf),
    #[error("{0}")]
    Config(String),
    #[error("moxide is not running (cannot connect to {path}: {error})")]
    NotRunning {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("reading the password: {0}")]
    Password(std::io::Error),
    #[error("{0}")]
    Protocol(String),
    #[error("{0}")]
    Server(String),
    #[error("{0}")]
    Local(String),
    /// The command did part of its work: what it did, and what it did not.
    #[error("{0}")]
    Partial(String),
}

fn socket_path(cli: &CtlCli) -> Result<PathBuf, CtlError> {
    if let Some(dir) = &cli.dir {
        return [dir.join("data").join("ctl"), dir.join("ctl")]
            .into_iter()
            .find(|p| p.exists())
            .ok_or_else(|| CtlError::NoSocket(dir.clone()));
    }
    let file = cli
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from(super::serve::DEFAULT_CONFIG));
    let config = crate::config::load_static(&file).map_err(|e| CtlError::Config(e.to_string()))?;
    Ok(crate::store::DataDir::new(config.data_dir).ctl_socket())
}

fn read_password() -> Result<String, CtlError> {
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("new password: ").map_err(CtlError::Password)?;
        let second = rpassword::prompt_password("repeat password: ").map_err(CtlError::Password)?;
        if first != second {
            return Err(CtlError::Protocol("passwords do not match".into()));
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(CtlError::Password)?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    if password.is_empty() {
        return Err(CtlError::Protocol("empty password".into()));
    }
    Ok(password)
}

async fn connect(path: &Path) -> Result<tokio::net::UnixStream, CtlError> {
    tokio::net::UnixStream::connect(path)
        .await
        .map_err(|error| CtlError::NotRunning {
            path: path.to_path_buf(),
            error,
        })
}

/// Sends a request and reads its answer.
async fn request(
    stream: &mut tokio::net::UnixStream,
    request: &Request,
) -> Result<String, CtlError> {
    write_frame(stream, request)
        .await
        .map_err(|e| CtlError::Protocol(e.to_string()))?;
    match read_frame::<Response>(stream)
        .await
        .map_err(|e| CtlError::Protocol(e.to_string()))?
    {
        Some(Response::Ok { output }) => Ok(output),
        Some(Response::Error { message }) => Err(CtlError::Server(message)),
        None => Err(CtlError::Protocol(
            "the server closed the connection".into(),
        )),
    }
}

/// Sends a streaming command's request; Ok when the daemon is ready for the stream.
async fn expect_ready(
    stream: &mut tokio::net::UnixStream,
    command: &Request,
) -> Result<(), CtlError> {
    request(stream, command).await.map(|_| ())
}

fn absolute(path: &Path) -> Result<String, CtlError> {
    // The daemon has its own working directory.
    Ok(std::path::absolute(path)
        .map_err(|e| CtlError::Local(format!("{}: {e}", path.display())))?
        .to_string_lossy()
        .into_owned())
}

/// A command answered with one request and its response.
fn simple_request(command: CtlCommand) -> Result<Request, CtlError> {
    Ok(match command {
        CtlCommand::Status => Request::Status,
        CtlCommand::Accounts => Request::Accounts,
        CtlCommand::Setpassword { account } => Request::SetPassword {
            account,
            password: read_password()?,
        },
        CtlCommand::Reload => Request::Reload,
        CtlCommand::Loglevel { level } => Request::LogLevel { level },
        CtlCommand::Backup { destdir } => Request::Backup {
            dest: absolute(&destdir)?,
        },
        CtlCommand::Account { command } => match command {
            AccountCommand::Add { name, address } => Request::AccountAdd { name, address },
            AccountCommand::Rm { name } => Request::AccountRemove { name },
            AccountCommand::List => Request::Accounts,
        },
        CtlCommand::Address { command } => match command {
            AddressCommand::Add { address, account } => Request::AddressAdd { address, account },
            AddressCommand::Rm { address } => Request::AddressRemove { address },
        },
        CtlCommand::Domain { command } => match command {
            DomainCommand::Add { domain } => Request::DomainAdd { domain },
            DomainCommand::Rm { domain } => Request::DomainRemove { domain },
            DomainCommand::List => Request::Domains,
        },
        CtlCommand::Queue { command } => match command {
            QueueCommand::List => Request::QueueList,
            QueueCommand::Kick { id } => Request::QueueKick { id },
            QueueCommand::Drop { id } => Request::QueueDrop { id },
            QueueCommand::Dump { .. } => unreachable!("streaming command"),
        },
        CtlCommand::Junk {
            command: JunkCommand::Stats { account },
        } => Request::JunkStats { account },
        CtlCommand::Import { .. } | CtlCommand::Export { .. } | CtlCommand::Retrain { .. } => {
            unreachable!("streaming command")
        }
    })
}

async fn execute(path: &Path, command: CtlCommand) -> Result<String, CtlError> {
    match command {
        CtlCommand::Import {
            format,
            account,
            mailbox,
            path: source,
        } => {
            let mut stream = connect(path).await?;
            transfer::import(&mut stream, format, account, mailbox, &source).await
        }
        CtlCommand::Export {
            format,
            account,
            dest,
            mailbox,
        } => {
            let mut stream = connect(path).await?;
            transfer::export(&mut stream, format, account, mailbox, &dest).await
        }
        CtlCommand::Retrain { account } => {
            let mut stream = connect(path).await?;
            transfer::retrain(&mut stream, account).await
        }
        CtlCommand::Queue {
            command: QueueCommand::Dump { id },
        } => {
            let mut stream = connect(path).await?;
            transfer::queue_dump(&mut stream, id).await
        }
        command => {
            let req = simple_request(command)?;
            request(&mut connect(path).await?, &req).await
        }
    }
}

fn run(cli: CtlCli) -> Result<String, CtlError> {
    let path = socket_path(&cli)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CtlError::Protocol(e.to_string()))?;
    runtime.block_on(execute(&path, cli.command))
}

/// Entry point of `moxctl`.
pub fn main() -> ExitCode {
    match run(CtlCli::parse()) {
        Ok(output) => {
            print!("{output}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("moxctl: {e}");
            ExitCode::FAILURE
        }
    }
}
