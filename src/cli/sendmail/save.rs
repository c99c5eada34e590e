//! Keeping a message that could not be submitted, so nothing is lost: in
//! `$HOME/moxide-sendmail/` (mode 0700), the message as it would have been sent in
//! `<unix-time>-<pid>.eml` and its envelope in `<unix-time>-<pid>.envelope`, both mode 0600.
//! The envelope file has a `from: ADDR` line (`from: ` for the null sender) and a `to: ADDR`
//! line per recipient that did not get the message.

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::address::Address;

pub const DIR: &str = "moxide-sendmail";

#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("HOME is not set")]
    NoHome,
    #[error("{}: {error}", .path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// Writes the message and its envelope; returns the message file's path.
pub fn save(
    message: &[u8],
    from: Option<&Address>,
    recipients: &[Address],
) -> Result<PathBuf, SaveError> {
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .ok_or(SaveError::NoHome)?;
    let dir = Path::new(&home).join(DIR);
    save_in(&dir, message, from, recipients)
}

fn save_in(
    dir: &Path,
    message: &[u8],
    from: Option<&Address>,
    recipients: &[Address],
) -> Result<PathBuf, SaveError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |error| SaveError::Io { path, error }
    };
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io(dir))?;
    let time = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let base = format!("{time}-{}", std::process::id());
    let mut envelope = format!(
        "from: {}\n",
        from.map(|a| a.to_string()).unwrap_or_default()
    );
    for r in recipients {
        envelope.push_str(&format!("to: {r}\n"));
    }
    // A name taken by an earlier run in the same second with a recycled pid: add a counter.
    for n in 0.. {
        let name = if n == 0 {
            base.clone()
        } else {
            format!("{base}-{n}")
        };
        let eml = dir.join(format!("{name}.eml"));
        let mut file = match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&eml)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io(&eml)(e)),
        };
        file.write_all(message)
            .and_then(|()| file.sync_all())
            .map_err(io(&eml))?;
        let env_path = dir.join(format!("{name}.envelope"));
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&env_path)
            .map_err(io(&env_path))?;
        file.write_all(envelope.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(io(&env_path))?;
        return Ok(eml);
    }
    unreachable!("an unbounded counter finds a free name or fails with an error")
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn saved_with_envelope() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(DIR);
        let from = Address::parse_simple("me@example.org").unwrap();
        let to = Address::parse_simple("you@example.org").unwrap();
        let a = save_in(
            &dir,
            b"Subject: x\r\n\r\nbody\r\n",
            Some(&from),
            std::slice::from_ref(&to),
        )
        .unwrap();
        let b = save_in(&dir, b"second\r\n", None, std::slice::from_ref(&to)).unwrap();
        assert_ne!(a, b);
        assert_eq!(std::fs::read(&a).unwrap(), b"Subject: x\r\n\r\nbody\r\n");
        let envelope = std::fs::read_to_string(a.with_extension("envelope")).unwrap();
        assert_eq!(envelope, "from: me@example.org\nto: you@example.org\n");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&a), 0o600);
    }
}
