//! `moxide config printservice`: a hardened systemd unit for this installation. The paths in it
//! are absolute (the binary that runs this command, the configuration file, the data and
//! configuration directories it may write), so the unit works from any directory.
//!
//! The unit starts moxide as root, without `User=`: the server binds its ports below 1024 and
//! reads its files as root, then switches to its configured unprivileged user itself. So no
//! ambient capabilities are needed; the bounding set keeps only what that start uses.

use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

use crate::config;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{0}: systemd unit paths cannot hold white space, quotes or backslashes")]
    Unquotable(PathBuf),
}

/// The paths the unit names, all absolute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub exe: PathBuf,
    pub config_file: PathBuf,
    /// The directory holding config/ (the service's working directory).
    pub work_dir: PathBuf,
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
}

/// An absolute path without `.` and `..` (systemd wants normalized paths): the real path when
/// it exists, else `path` made absolute and normalized by its components.
fn normalized(path: &Path) -> Result<PathBuf, ServiceError> {
    if let Ok(p) = std::fs::canonicalize(path) {
        return Ok(p);
    }
    let abs = std::path::absolute(path).map_err(|error| ServiceError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    Ok(out)
}

impl Paths {
    pub fn new(
        exe: &Path,
        config_file: &Path,
        data_dir: &Path,
        domains_file: &Path,
    ) -> Result<Paths, ServiceError> {
        let config_file = normalized(config_file)?;
        let config_dir = config_file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/"));
        let work_dir = config_dir
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/"));
        let domains_dir = normalized(domains_file)?
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| config_dir.clone());
        let paths = Paths {
            exe: normalized(exe)?,
            config_file,
            work_dir,
            // moxctl's edits write beside the dynamic file (and its DKIM keys under it).
            config_dir: domains_dir,
            data_dir: normalized(data_dir)?,
        };
        for p in [
            &paths.exe,
            &paths.config_file,
            &paths.work_dir,
            &paths.config_dir,
            &paths.data_dir,
        ] {
            if p.to_string_lossy()
                .contains(|c: char| c.is_whitespace() || "\"'\\".contains(c))
            {
                return Err(ServiceError::Unquotable(p.clone()));
            }
        }
        Ok(paths)
    }
}

/// A path as a unit file value: `%` starts a specifier there, so it is doubled.
fn unit_path(p: &Path) -> String {
    p.to_string_lossy().replace('%', "%%")
}

/// The unit file's text.
pub fn unit(p: &Paths) -> String {
    let exe = unit_path(&p.exe);
    let config = unit_path(&p.config_file);
    let work = unit_path(&p.work_dir);
    let data = unit_path(&p.data_dir);
    let config_dir = unit_path(&p.config_dir);
    // An installation under a home directory cannot have them hidden: read-only then, with
    // its own directories writable through ReadWritePaths as everywhere else.
    let in_home = [&p.work_dir, &p.config_dir, &p.data_dir].iter().any(|d| {
        ["/home", "/root", "/run/user"]
            .iter()
            .any(|h| d.starts_with(h))
    });
    let protect_home = if in_home { "read-only" } else { "true" };
    let rw = if p.data_dir.starts_with(&p.config_dir) {
        config_dir.clone()
    } else {
        format!("{data} {config_dir}")
    };
    format!(
        r#"# moxide.service, written by `moxide config printservice --config {config}`.
# Install it with:
#   moxide config printservice --config {config} > /etc/systemd/system/moxide.service
#   systemctl daemon-reload
#   systemctl enable --now moxide
# Restart moxide with `systemctl restart moxide`: it has no restart command of its own.

[Unit]
Description=moxide mail server
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
WorkingDirectory={work}
# No User= on purpose: moxide starts as root to bind ports below 1024 and read its files, then
# switches to the unprivileged user of its configuration ("user", default "moxide") itself. So
# no AmbientCapabilities are needed; the bounding set keeps what that start uses: binding low
# ports, changing user and group, and giving its data directory to that user.
ExecStart={exe} serve --config {config}
Restart=on-failure
RestartSec=5s
# SIGTERM starts a graceful shutdown; it gets this long before SIGKILL.
TimeoutStopSec=30s
# One descriptor per connection, message file and database.
LimitNOFILE=65536
UMask=0077

CapabilityBoundingSet=CAP_NET_BIND_SERVICE CAP_SETUID CAP_SETGID CAP_CHOWN CAP_FOWNER CAP_DAC_OVERRIDE
# No gaining privileges through exec (setuid binaries); switching to a lower user still works.
NoNewPrivileges=true
# The file system is read-only to the server except its data and configuration directories
# (moxctl's edits of domains.toml and new DKIM keys are written by the server).
ProtectSystem=strict
ReadWritePaths={rw}
ProtectHome={protect_home}
PrivateTmp=true
PrivateDevices=true
ProtectKernelTunables=true
ProtectKernelModules=true
ProtectKernelLogs=true
ProtectControlGroups=true
ProtectClock=true
ProtectHostname=true
# Internet sockets for mail and DNS, a unix socket for moxctl.
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
RestrictNamespaces=true
RestrictRealtime=true
RestrictSUIDSGID=true
LockPersonality=true
MemoryDenyWriteExecute=true
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM

[Install]
WantedBy=multi-user.target
"#
    )
}

/// Prints the unit for the installation of `config_file`.
pub fn print(config_file: &Path) -> ExitCode {
    let static_config = match config::load_static(config_file) {
        Ok(c) => c,
        Err(e) => {
            for p in &e.0 {
                eprintln!("moxide: config: {p}");
            }
            return ExitCode::FAILURE;
        }
    };
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return super::fail(format!("the path of this program: {e}")),
    };
    match Paths::new(
        &exe,
        config_file,
        &static_config.data_dir,
        &static_config.domains_file,
    ) {
        Ok(paths) => {
            print!("{}", unit(&paths));
            ExitCode::SUCCESS
        }
        Err(e) => super::fail(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_absolute_and_normalized() {
        let tmp = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        std::fs::create_dir(root.join("config")).unwrap();
        std::fs::write(root.join("config/moxide.toml"), "").unwrap();
        let p = Paths::new(
            Path::new("/usr/local/bin/moxide"),
            &root.join("config/moxide.toml"),
            &root.join("config/../data"),
            &root.join("config/domains.toml"),
        )
        .unwrap();
        assert_eq!(p.work_dir, root);
        assert_eq!(p.data_dir, root.join("data"));
        assert_eq!(p.config_dir, root.join("config"));
        let text = unit(&p);
        assert!(text.contains(&format!(
            "\nExecStart=/usr/local/bin/moxide serve --config {}/config/moxide.toml\n",
            root.display()
        )));
        assert!(text.contains(&format!(
            "\nReadWritePaths={0}/data {0}/config\n",
            root.display()
        )));
        assert!(!text.contains("\nUser="));

        let home = Paths::new(
            Path::new("/usr/local/bin/moxide"),
            Path::new("/home/moxide/config/moxide.toml"),
            Path::new("/home/moxide/data"),
            Path::new("/home/moxide/config/domains.toml"),
        )
        .unwrap();
        assert!(text.contains("\nProtectHome=true\n"));
        assert!(unit(&home).contains("\nProtectHome=read-only\n"));

        let spaced = Paths::new(
            Path::new("/usr/local/bin/moxide"),
            &root.join("config/moxide.toml"),
            Path::new("/srv/mail data"),
            &root.join("config/domains.toml"),
        );
        assert!(matches!(spaced, Err(ServiceError::Unquotable(_))));
    }
}
