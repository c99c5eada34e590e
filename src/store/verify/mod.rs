//! Offline verification of a data directory (`moxide verifydata`): every record of every table
//! decodes, the indexes agree with the tables they index, counters and counts agree with what
//! they count, and the message files agree with the index.
//!
//! Read only, always: the environments are opened with LMDB's `MDB_RDONLY` and without its lock
//! file (`MDB_NOLOCK`), so nothing is created or changed, not even `lock.mdb`. That is safe
//! because verification holds the data directory's lock (`moxide.lock`, shared) for as long as
//! it runs: a server holds it exclusively for its lifetime, so none runs meanwhile, and one that
//! runs already makes verification refuse.
//!
//! Problems are collected, never raised: damaged bytes are what this looks for. Only a directory
//! that cannot be verified at all (not a data directory, in use) is an error.

mod account;
mod files;
mod raw;
mod server;

use std::fmt;
use std::path::{Path, PathBuf};

/// Why a directory could not be verified at all.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{0} is not a data directory (no server.mdb or accounts/ in it or in its data/)")]
    NotDataDir(PathBuf),
    #[error(
        "a running moxide holds {0}: stop it first (verifydata reads only a stopped server's data)"
    )]
    InUse(PathBuf),
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// The environment a problem is in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// The server environment (`server.mdb`), the queue's files, the data directory itself.
    Server,
    /// An account's environment (`accounts/NAME/index.mdb`) and message files.
    Account(String),
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Server => f.write_str("server"),
            Scope::Account(name) => write!(f, "account {name}"),
        }
    }
}

/// What kind of problem, for programs; [`Problem::detail`] says it for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An environment, table or directory could not be opened or read.
    Unreadable,
    /// A key or value does not decode.
    Damaged,
    /// A table's schema version is missing, older than this moxide reads, or newer.
    Schema,
    /// A record disagrees with its own key (an id or name that is not the key's).
    Mismatch,
    /// An index lacks the entry for a record.
    MissingIndex,
    /// An index entry names nothing, or something else than what it should.
    DanglingIndex,
    /// A live message has no content record.
    MissingContent,
    /// A content record no live message has.
    OrphanContent,
    /// An id, uid or modseq at or beyond the counter that hands them out.
    Counter,
    /// Stored counts, sizes or keywords differ from what the records say.
    Counts,
    /// A file the index names is not there.
    MissingFile,
    /// A file no record uses.
    ExtraFile,
    /// A file whose size is not the one recorded.
    FileSize,
    /// Something in a message directory that moxide did not put there (not its name scheme).
    StrangeFile,
}

/// One problem: where (environment, table, key) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub scope: Scope,
    /// A table name, or `files` (account message files), `queue files`, `data dir`.
    pub table: &'static str,
    pub key: String,
    pub kind: Kind,
    pub detail: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: {}: {}",
            self.scope, self.table, self.key, self.detail
        )
    }
}

/// What was checked and what was found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The data directory checked (the `data/` of a backup directory).
    pub data_dir: PathBuf,
    pub accounts: usize,
    /// Live messages (tombstones not counted).
    pub messages: u64,
    pub queue_entries: u64,
    pub problems: Vec<Problem>,
}

impl Report {
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }

    /// `N accounts, M messages, Q queue entries checked: K problems`.
    pub fn summary(&self) -> String {
        let plural =
            |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        format!(
            "{}, {}, {} checked: {}",
            plural(self.accounts as u64, "account", "accounts"),
            plural(self.messages, "message", "messages"),
            plural(self.queue_entries, "queue entry", "queue entries"),
            plural(self.problems.len() as u64, "problem", "problems"),
        )
    }
}

/// Collects the problems of one scope.
pub(super) struct Sink<'r> {
    scope: Scope,
    problems: &'r mut Vec<Problem>,
}

impl Sink<'_> {
    fn add(&mut self, table: &'static str, key: impl fmt::Display, kind: Kind, detail: String) {
        self.problems.push(Problem {
            scope: self.scope.clone(),
            table,
            key: key.to_string(),
            kind,
            detail,
        });
    }
}

/// The data directory of `dir`: `dir` itself, or the `data/` of a directory holding one (a
/// backup, a configuration directory).
pub fn find_data_dir(dir: &Path) -> Result<PathBuf, VerifyError> {
    let looks_like_data = |d: &Path| d.join("server.mdb").is_dir() || d.join("accounts").is_dir();
    if looks_like_data(dir) {
        return Ok(dir.to_path_buf());
    }
    let inner = dir.join("data");
    if looks_like_data(&inner) {
        return Ok(inner);
    }
    Err(VerifyError::NotDataDir(dir.to_path_buf()))
}

/// Verifies the data directory in `dir` (see [`find_data_dir`]). Blocking; reads every record
/// and stats every message file. Writes nothing.
pub fn verify(dir: &Path) -> Result<Report, VerifyError> {
    let data = find_data_dir(dir)?;
    let _lock = lock_shared(&data.join("moxide.lock"))?;
    let mut report = Report {
        data_dir: data.clone(),
        ..Report::default()
    };
    let accounts = {
        let mut sink = Sink {
            scope: Scope::Server,
            problems: &mut report.problems,
        };
        let accounts = account_dirs(&data, &mut sink);
        report.queue_entries = server::check(&data, &accounts, &mut sink);
        accounts
    };
    for name in &accounts {
        let mut sink = Sink {
            scope: Scope::Account(name.clone()),
            problems: &mut report.problems,
        };
        report.messages += account::check(&data.join("accounts").join(name), &mut sink);
        report.accounts += 1;
    }
    Ok(report)
}

/// The data directory's lock, shared: any number of verifications, but no server, at once.
/// Absent in a backup or a directory no server ever ran on: then no server runs there either,
/// and nothing is created.
fn lock_shared(path: &Path) -> Result<Option<std::fs::File>, VerifyError> {
    use std::os::fd::AsRawFd;
    let io = |error| VerifyError::Io {
        path: path.to_path_buf(),
        error,
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    // SAFETY: flock on a descriptor `file` keeps open.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) } != 0 {
        let e = std::io::Error::last_os_error();
        if e.kind() == std::io::ErrorKind::WouldBlock {
            return Err(VerifyError::InUse(path.to_path_buf()));
        }
        return Err(io(e));
    }
    Ok(Some(file))
}

/// The account directories under `DATA/accounts/`, sorted; anything else there is reported.
fn account_dirs(data: &Path, sink: &mut Sink) -> Vec<String> {
    let dir = data.join("accounts");
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            sink.add("data dir", "accounts", Kind::Unreadable, e.to_string());
            return Vec::new();
        }
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                sink.add("data dir", "accounts", Kind::Unreadable, e.to_string());
                break;
            }
        };
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        match entry.file_name().into_string() {
            Ok(name) if is_dir && crate::config::dynamic::valid_account_name(&name) => {
                names.push(name)
            }
            _ => sink.add(
                "data dir",
                format!("accounts/{}", entry.file_name().to_string_lossy()),
                Kind::StrangeFile,
                "not an account directory (not a directory, or not a valid account name)".into(),
            ),
        }
    }
    names.sort();
    names
}

#[cfg(test)]
mod tests;
