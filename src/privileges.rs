//! Started as root, the server binds its ports (also those below 1024) and opens its files, then
//! hands everything it will write to the service user and becomes that user, before it handles
//! a single connection. Started as anyone else it stays who it is.
//!
//! What the service user gets (unless `no_fix_permissions = true`): the data directory and
//! everything in it (directories 0700, files and the control socket 0600); the configuration
//! directory itself (moxctl's edits of domains.toml write a file beside it), the two
//! configuration files, the DKIM key tree next to domains.toml and the TLS keys (keys 0600).
//! The configuration directory's other contents are left alone, and so is a directory that is
//! not ours to take (`/`, `/etc`, `/usr`...).

use std::ffi::CString;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum PrivilegeError {
    #[error(
        "service user {0:?} does not exist: create it (useradd --system --no-create-home {0}) or set `user` in the static configuration"
    )]
    NoUser(String),
    #[error("looking up service user {name:?}: {error}")]
    Lookup { name: String, error: std::io::Error },
    #[error("becoming {name} (uid {uid}): {step}: {error}")]
    Switch {
        name: String,
        uid: u32,
        step: &'static str,
        error: std::io::Error,
    },
    #[error("giving {path} to the service user: {error}")]
    Fix {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// The unprivileged user the server runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Looks up `name` in the user database.
pub fn lookup(name: &str) -> Result<ServiceUser, PrivilegeError> {
    let c_name = CString::new(name).map_err(|_| PrivilegeError::NoUser(name.to_string()))?;
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0u8; 16 * 1024];
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call; `buf` outlives the use of `pwd`'s strings
    // (only the ids are read).
    let rc = unsafe {
        libc::getpwnam_r(
            c_name.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 {
        return Err(PrivilegeError::Lookup {
            name: name.to_string(),
            error: std::io::Error::from_raw_os_error(rc),
        });
    }
    if result.is_null() {
        return Err(PrivilegeError::NoUser(name.to_string()));
    }
    Ok(ServiceUser {
        name: name.to_string(),
        uid: pwd.pw_uid,
        gid: pwd.pw_gid,
    })
}

/// Becomes `user` for good: supplementary groups cleared, then group, then user (the order
/// matters: after setuid nothing else may be changed).
pub fn drop_to(user: &ServiceUser) -> Result<(), PrivilegeError> {
    let fail = |step: &'static str| PrivilegeError::Switch {
        name: user.name.clone(),
        uid: user.uid,
        step,
        error: std::io::Error::last_os_error(),
    };
    // SAFETY: plain system calls; glibc applies them to every thread of the process.
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0 {
            return Err(fail("setgroups"));
        }
        if libc::setgid(user.gid) != 0 {
            return Err(fail("setgid"));
        }
        if libc::setuid(user.uid) != 0 {
            return Err(fail("setuid"));
        }
        // There is no way back.
        if user.uid != 0 && libc::setuid(0) == 0 {
            return Err(PrivilegeError::Switch {
                name: user.name.clone(),
                uid: user.uid,
                step: "setuid(0) still works after dropping privileges",
                error: std::io::Error::other("privileges not dropped"),
            });
        }
    }
    Ok(())
}

/// Directories never taken over, even when configured as the data or config directory.
fn is_system_dir(dir: &Path) -> bool {
    const SYSTEM: [&str; 10] = [
        "/", "/etc", "/usr", "/var", "/home", "/root", "/tmp", "/bin", "/lib", "/opt",
    ];
    SYSTEM.iter().any(|s| dir == Path::new(s))
}

fn chown(path: &Path, user: &ServiceUser, mode: Option<u32>) -> Result<(), PrivilegeError> {
    let fix = |error| PrivilegeError::Fix {
        path: path.to_path_buf(),
        error,
    };
    std::os::unix::fs::lchown(path, Some(user.uid), Some(user.gid)).map_err(fix)?;
    if let Some(mode) = mode {
        let meta = std::fs::symlink_metadata(path).map_err(fix)?;
        if !meta.file_type().is_symlink() && meta.mode() & 0o7777 != mode {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(fix)?;
        }
    }
    Ok(())
}

/// `dir` and everything below it: directories `dir_mode`, other files `file_mode`.
fn chown_tree(
    dir: &Path,
    user: &ServiceUser,
    dir_mode: u32,
    file_mode: u32,
) -> Result<(), PrivilegeError> {
    if is_system_dir(dir) {
        tracing::warn!(dir = %dir.display(), "not changing the owner of a system directory");
        return Ok(());
    }
    chown(dir, user, Some(dir_mode))?;
    let entries = std::fs::read_dir(dir).map_err(|error| PrivilegeError::Fix {
        path: dir.to_path_buf(),
        error,
    })?;
    for entry in entries {
        let entry = entry.map_err(|error| PrivilegeError::Fix {
            path: dir.to_path_buf(),
            error,
        })?;
        let path = entry.path();
        let file_type = entry.file_type().map_err(|error| PrivilegeError::Fix {
            path: path.clone(),
            error,
        })?;
        if file_type.is_dir() {
            chown_tree(&path, user, dir_mode, file_mode)?;
        } else if !file_type.is_symlink() {
            chown(&path, user, Some(file_mode))?;
        }
    }
    Ok(())
}

/// What is handed to the service user.
pub struct Owned<'a> {
    pub data_dir: &'a Path,
    pub static_file: &'a Path,
    pub dynamic_file: &'a Path,
    /// DKIM and TLS private keys.
    pub keys: Vec<PathBuf>,
}

/// Gives the service user what it will write, with safe modes (see the module doc).
pub fn fix_permissions(user: &ServiceUser, owned: &Owned) -> Result<(), PrivilegeError> {
    chown_tree(owned.data_dir, user, 0o700, 0o600)?;
    let config_dir = owned.dynamic_file.parent().unwrap_or(Path::new("."));
    if is_system_dir(config_dir) {
        tracing::warn!(dir = %config_dir.display(), "configuration in a system directory: not taking it over; moxctl cannot edit domains.toml");
    } else {
        chown(config_dir, user, None)?;
        let dkim = config_dir.join("dkim");
        if dkim.is_dir() {
            chown_tree(&dkim, user, 0o700, 0o600)?;
        }
    }
    for file in [owned.static_file, owned.dynamic_file] {
        chown(file, user, None)?;
    }
    for key in &owned.keys {
        chown(key, user, Some(0o600))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_looked_up() {
        let root = lookup("root").unwrap();
        assert_eq!((root.uid, root.gid), (0, 0));
        assert!(matches!(
            lookup("no-such-user-moxide"),
            Err(PrivilegeError::NoUser(_))
        ));
        assert!(matches!(lookup("nul\0l"), Err(PrivilegeError::NoUser(_))));
    }

    #[test]
    fn system_directories_are_never_taken() {
        assert!(is_system_dir(Path::new("/")));
        assert!(is_system_dir(Path::new("/etc")));
        assert!(!is_system_dir(Path::new("/etc/moxide")));
    }
}
