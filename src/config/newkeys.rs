//! New DKIM keys for a domain, written where the dynamic configuration looks for them: beside
//! `domains.toml`, as `dkim/<domain>/<selector>.<algorithm>.pem`, mode 0600, never over an
//! existing file. One ed25519 key (RFC 8463) and one RSA 2048 key (RFC 8301), with selectors
//! named for the day (`20260102e`, `20260102r`). Used by `moxctl domain add` and
//! `moxide quickstart`.

use std::path::{Path, PathBuf};

use crate::address::Domain;
use crate::msgauth::sign::generate::{self, GenerateError};

#[derive(Debug, thiserror::Error)]
pub enum NewKeyError {
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(transparent)]
    Generate(#[from] GenerateError),
}

/// A key written for a domain.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub selector: String,
    /// The path as the dynamic file names it: relative to its directory.
    pub file: String,
    /// Where it was written.
    pub path: PathBuf,
}

/// Today's date (UTC) as `YYYYMMDD`, the stem of new selectors.
pub fn today() -> String {
    let date = mail_parser::DateTime::from_timestamp(crate::store::account::now());
    format!("{:04}{:02}{:02}", date.year, date.month, date.day)
}

/// Generates and writes the two keys of `domain` under `base` (the dynamic file's directory),
/// selectors `<day>e` and `<day>r`. Blocking (the RSA prime search takes a moment). On failure
/// nothing written here is left behind.
pub fn write_domain_keys(
    base: &Path,
    domain: &Domain,
    day: &str,
) -> Result<Vec<NewKey>, NewKeyError> {
    let ascii = domain.ascii();
    let dir = base.join("dkim").join(ascii);
    std::fs::create_dir_all(&dir).map_err(|error| NewKeyError::Io {
        path: dir.clone(),
        error,
    })?;
    let mut made = Vec::new();
    for (suffix, alg) in [("e", "ed25519"), ("r", "rsa2048")] {
        let result = (|| {
            let pem = if alg == "ed25519" {
                generate::ed25519_pem()
            } else {
                generate::rsa_pem(2048)
            }?;
            let selector = format!("{day}{suffix}");
            let file = format!("dkim/{ascii}/{selector}.{alg}.pem");
            let path = base.join(&file);
            write_key(&path, &pem).map_err(|error| NewKeyError::Io {
                path: path.clone(),
                error,
            })?;
            Ok(NewKey {
                selector,
                file,
                path,
            })
        })();
        match result {
            Ok(key) => made.push(key),
            Err(e) => {
                remove(&made);
                return Err(e);
            }
        }
    }
    Ok(made)
}

/// Removes keys written by [`write_domain_keys`] (when the edit that would use them failed).
pub fn remove(keys: &[NewKey]) {
    for k in keys {
        let _ = std::fs::remove_file(&k.path);
    }
}

/// Writes a new private key, readable only by the owner; never replaces a file.
fn write_key(path: &Path, pem: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(pem.as_bytes())?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn keys_are_private_and_never_overwritten() {
        let tmp = tempfile::tempdir().unwrap();
        let domain = Domain::parse("møx.example").unwrap();
        let keys = write_domain_keys(tmp.path(), &domain, "20260102").unwrap();
        let files: Vec<&str> = keys.iter().map(|k| k.file.as_str()).collect();
        assert_eq!(
            files,
            [
                "dkim/xn--mx-lka.example/20260102e.ed25519.pem",
                "dkim/xn--mx-lka.example/20260102r.rsa2048.pem"
            ]
        );
        for k in &keys {
            let mode = std::fs::metadata(&k.path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let before = std::fs::read(&keys[0].path).unwrap();
        assert!(write_domain_keys(tmp.path(), &domain, "20260102").is_err());
        assert_eq!(std::fs::read(&keys[0].path).unwrap(), before);
    }
}
