//! Maildir directories for `moxctl import` and `export`.
//!
//! A Maildir holds one file per message in `new/` (not yet seen by a mail reader) and `cur/`,
//! and `tmp/` for files being written. The flags are letters after `:2,` at the end of a file
//! name, in ASCII order: D \Draft, F \Flagged, P $Forwarded ("passed"), R \Answered, S \Seen,
//! T \Deleted ("trashed"); lower-case letters are Dovecot's keywords, not read here. The file's
//! modification time is the message's received time (mail readers and Python's `mailbox` keep
//! it so). Message files have LF line endings; a mail store keeps CRLF (RFC 5322 §2.1).
//!
//! Exported messages all go to `cur/` (they have been "seen" by a mail store, whatever their
//! \Seen flag), named `<received>.M<message id>.moxide:2,<flags>`, with LF line endings.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Flags;

/// Maildir flag letters in the order names carry them.
const LETTERS: [(u8, Flags); 6] = [
    (b'D', Flags::DRAFT),
    (b'F', Flags::FLAGGED),
    (b'P', Flags::FORWARDED),
    (b'R', Flags::ANSWERED),
    (b'S', Flags::SEEN),
    (b'T', Flags::DELETED),
];

/// The flags in a message file's name (`...:2,FS`).
pub fn flags_from_name(name: &str) -> Flags {
    let Some((_, info)) = name.rsplit_once(":2,") else {
        return Flags::empty();
    };
    LETTERS
        .iter()
        .filter(|(l, _)| info.as_bytes().contains(l))
        .fold(Flags::empty(), |acc, (_, f)| acc.union(*f))
}

/// The file name of an exported message.
pub fn file_name(received: i64, id: u64, flags: Flags) -> String {
    let letters: String = LETTERS
        .iter()
        .filter(|(_, f)| flags.contains(*f))
        .map(|(l, _)| char::from(*l))
        .collect();
    format!("{received}.M{id}.moxide:2,{letters}")
}

/// A message file found in a Maildir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaildirFile {
    pub path: PathBuf,
    pub flags: Flags,
    /// The file's modification time, seconds since the epoch; None when it could not be read.
    pub received: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum MaildirError {
    #[error("{0}: not a Maildir (it has no cur/ or new/ directory)")]
    NotMaildir(PathBuf),
    #[error("{path}: {error}")]
    Io { path: PathBuf, error: io::Error },
}

fn unix_time(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// The message files of a Maildir: those in `new/` and `cur/` (names starting with a dot are
/// skipped), oldest first (by modification time, then name).
pub fn list(maildir: &Path) -> Result<Vec<MaildirFile>, MaildirError> {
    let io_error = |path: &Path| {
        let path = path.to_path_buf();
        move |error| MaildirError::Io { path, error }
    };
    let subdirs: Vec<PathBuf> = ["new", "cur"]
        .iter()
        .map(|d| maildir.join(d))
        .filter(|d| d.is_dir())
        .collect();
    if subdirs.is_empty() {
        fs::metadata(maildir).map_err(io_error(maildir))?;
        return Err(MaildirError::NotMaildir(maildir.to_path_buf()));
    }
    let mut files = Vec::new();
    for dir in subdirs {
        for entry in fs::read_dir(&dir).map_err(io_error(&dir))? {
            let entry = entry.map_err(io_error(&dir))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') {
                continue;
            }
            let meta = entry.metadata();
            if meta.as_ref().is_ok_and(|m| m.is_dir()) {
                continue;
            }
            files.push(MaildirFile {
                path: entry.path(),
                flags: flags_from_name(&name),
                received: meta.ok().and_then(|m| m.modified().ok()).map(unix_time),
            });
        }
    }
    files.sort_by(|a, b| (a.received, a.path.file_name()).cmp(&(b.received, b.path.file_name())));
    Ok(files)
}

/// LF line endings to CRLF; CRLF stays.
pub fn to_crlf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 32);
    let mut prev = 0u8;
    for &b in data {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

/// CRLF line endings to LF; a bare CR stays.
pub fn to_lf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut rest = data;
    while let Some(i) = memchr::memmem::find(rest, b"\r\n") {
        out.extend_from_slice(&rest[..i]);
        out.push(b'\n');
        rest = &rest[i + 2..];
    }
    out.extend_from_slice(rest);
    out
}

/// Creates the Maildir `dir` (with `cur`, `new` and `tmp`).
pub fn create(dir: &Path) -> io::Result<()> {
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(dir.join(sub))?;
    }
    Ok(())
}

/// Writes an exported message (CRLF, as stored) into `cur/` of the Maildir `dir`, with LF line
/// endings, its flags in the name and its received time as modification time. Fails if the
/// file exists.
pub fn write_message(
    dir: &Path,
    id: u64,
    message: &[u8],
    received: i64,
    flags: Flags,
) -> io::Result<PathBuf> {
    use std::io::Write;
    let path = dir.join("cur").join(file_name(received, id, flags));
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    f.write_all(&to_lf(message))?;
    let mtime = if received >= 0 {
        UNIX_EPOCH + Duration::from_secs(received.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_secs(received.unsigned_abs())
    };
    f.set_modified(mtime)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_in_names() {
        assert_eq!(flags_from_name("1700000000.M1P2.host"), Flags::empty());
        assert_eq!(flags_from_name("1700000000.M1P2.host:2,"), Flags::empty());
        assert_eq!(
            flags_from_name("1700000000.M1P2.host:2,DFPRST"),
            Flags::DRAFT
                .union(Flags::FLAGGED)
                .union(Flags::FORWARDED)
                .union(Flags::ANSWERED)
                .union(Flags::SEEN)
                .union(Flags::DELETED)
        );
        assert_eq!(flags_from_name("x:2,Sab"), Flags::SEEN);
        assert_eq!(flags_from_name("x:1,S"), Flags::empty());
        let flags = Flags::SEEN.union(Flags::DRAFT).union(Flags::JUNK);
        assert_eq!(file_name(5, 7, flags), "5.M7.moxide:2,DS");
        assert_eq!(
            flags_from_name(&file_name(5, 7, flags)),
            Flags::SEEN.union(Flags::DRAFT)
        );
    }

    #[test]
    fn line_endings() {
        assert_eq!(to_crlf(b"a\nb\r\nc\rd\n\n"), b"a\r\nb\r\nc\rd\r\n\r\n");
        assert_eq!(to_crlf(b"\n"), b"\r\n");
        assert_eq!(to_crlf(b"no newline"), b"no newline");
        assert_eq!(to_lf(b"a\r\nb\nc\rd\r\n\r\n"), b"a\nb\nc\rd\n\n");
        assert_eq!(to_lf(b"\r\r\n"), b"\r\n");
        assert_eq!(to_lf(b""), b"");
    }

    #[test]
    fn lists_written_messages_with_flags_and_times() {
        let dir = tempfile::tempdir().unwrap();
        let md = dir.path().join("INBOX");
        assert!(matches!(list(&md), Err(MaildirError::Io { .. })));
        fs::create_dir(&md).unwrap();
        assert!(matches!(list(&md), Err(MaildirError::NotMaildir(_))));
        create(&md).unwrap();
        write_message(
            &md,
            2,
            b"Subject: b\r\n\r\nb\r\n",
            1_700_000_100,
            Flags::SEEN,
        )
        .unwrap();
        write_message(&md, 1, b"Subject: a\r\n\r\n", 1_700_000_000, Flags::empty()).unwrap();
        assert!(write_message(&md, 1, b"x", 1_700_000_000, Flags::empty()).is_err());
        fs::write(md.join("new/1600000000.x.host"), b"Subject: new\n\n").unwrap();
        fs::write(md.join("cur/.hidden"), b"").unwrap();
        fs::write(md.join("tmp/1.partial"), b"").unwrap();
        let files = list(&md).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        // The one in new/ has the current time.
        assert_eq!(
            names,
            [
                "1700000000.M1.moxide:2,",
                "1700000100.M2.moxide:2,S",
                "1600000000.x.host"
            ]
        );
        assert_eq!(files[0].received, Some(1_700_000_000));
        assert_eq!(files[1].flags, Flags::SEEN);
        assert_eq!(fs::read(&files[1].path).unwrap(), b"Subject: b\n\nb\n");
    }
}
