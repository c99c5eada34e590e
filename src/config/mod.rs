//! Configuration: the static `moxide.toml` and the dynamic `domains.toml`, loaded with figment,
//! validated as a whole (every problem reported with its file and key), and the dynamic part
//! reloaded while running: a new snapshot is validated, then swapped in; a bad edit keeps the old
//! one.

pub mod dkim;
pub mod dynamic;
pub mod edit;
pub mod junk;
pub mod newkeys;
pub mod records;
pub mod routes;
pub mod static_config;
pub mod transports;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use figment::Figment;
use figment::providers::{Format, Toml};
use serde::de::DeserializeOwned;

pub use dkim::{DkimSelector, DomainDkim};
pub use dynamic::{AccountConfig, Destination, DynamicConfig, DynamicFile};
pub use static_config::{DnsConfig, Limits, ListenerConfig, Protocol, StaticConfig, StaticFile};

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub key: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}: {}: {}", self.file.display(), self.key, self.message)
        }
    }
}

/// Every problem found in a configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError(pub Vec<Problem>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

/// Collects problems while validating one file.
pub(crate) struct Problems {
    file: PathBuf,
    list: Vec<Problem>,
}

impl Problems {
    pub(crate) fn new(file: &Path) -> Problems {
        Problems {
            file: file.to_path_buf(),
            list: Vec::new(),
        }
    }

    pub(crate) fn add(&mut self, key: &str, message: impl Into<String>) {
        self.list.push(Problem {
            file: self.file.clone(),
            key: key.to_string(),
            message: message.into(),
        });
    }

    /// A problem after which validating cannot go on.
    pub(crate) fn fatal(&mut self, key: &str, message: impl Into<String>) -> ConfigError {
        self.add(key, message);
        ConfigError(std::mem::take(&mut self.list))
    }

    pub(crate) fn finish(self) -> Result<(), ConfigError> {
        if self.list.is_empty() {
            Ok(())
        } else {
            Err(ConfigError(self.list))
        }
    }
}

/// Reads and deserializes one TOML file; unknown keys and wrong types are problems with their key.
pub(crate) fn read_toml<T: DeserializeOwned>(file: &Path) -> Result<T, ConfigError> {
    let single = |message: String| {
        ConfigError(vec![Problem {
            file: file.to_path_buf(),
            key: String::new(),
            message,
        }])
    };
    if let Err(e) = std::fs::metadata(file) {
        return Err(single(format!("cannot read: {e}")));
    }
    Figment::from(Toml::file_exact(file))
        .extract()
        .map_err(|err| {
            ConfigError(
                err.into_iter()
                    .map(|e| Problem {
                        file: file.to_path_buf(),
                        key: e.path.join("."),
                        message: e.kind.to_string(),
                    })
                    .collect(),
            )
        })
}

pub fn load_static(file: &Path) -> Result<StaticConfig, ConfigError> {
    read_toml::<StaticFile>(file)?.validate(file)
}

pub fn load_dynamic(file: &Path) -> Result<DynamicConfig, ConfigError> {
    read_toml::<DynamicFile>(file)?.validate(file)
}

/// The routes of the dynamic file name transports of the static one.
pub fn check_routes(
    static_config: &StaticConfig,
    dynamic: &DynamicConfig,
) -> Result<(), ConfigError> {
    let mut problems = Problems::new(&dynamic.file);
    for route in dynamic.all_routes() {
        if !static_config.transports.contains_key(&route.transport) {
            problems.add(
                &format!("{}.transport", route.key),
                format!(
                    "unknown transport {:?} (transports are configured in {})",
                    route.transport,
                    static_config.file.display()
                ),
            );
        }
    }
    problems.finish()
}

/// How the server runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// From the configuration files, for the internet.
    Serve,
    /// For developing and testing against: every message goes to `account`, nothing is rejected
    /// or delayed because of DNS, no per-IP limits.
    Localserve { account: String },
}

/// The running configuration: the static part, and a swappable snapshot of the dynamic part.
pub struct Config {
    pub static_config: StaticConfig,
    pub mode: Mode,
    dynamic: RwLock<Arc<DynamicConfig>>,
}

impl Config {
    pub fn new(static_config: StaticConfig, dynamic: DynamicConfig, mode: Mode) -> Config {
        Config {
            static_config,
            mode,
            dynamic: RwLock::new(Arc::new(dynamic)),
        }
    }

    /// The current dynamic snapshot.
    pub fn dynamic(&self) -> Arc<DynamicConfig> {
        match self.dynamic.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Loads and validates the dynamic file again and swaps it in; the old snapshot stays when
    /// the new one is invalid.
    pub fn reload(&self) -> Result<(), ConfigError> {
        let new = load_dynamic(&self.static_config.domains_file)?;
        check_routes(&self.static_config, &new)?;
        let mut guard = match self.dynamic.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = Arc::new(new);
        Ok(())
    }
}

/// What identifies a version of a file without reading it.
fn file_stamp(path: &Path) -> Option<(SystemTime, u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len(), m.ino()))
}

/// Watches the dynamic file and reloads it when it changes (polling its metadata every
/// `interval`: cheap, and works on every file system and with editors that replace files).
pub fn watch_dynamic(
    config: Arc<Config>,
    interval: Duration,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let path = config.static_config.domains_file.clone();
    // Stamped before the thread starts: a thread scheduled late would otherwise take an edit
    // made after "ready" for the version already loaded, and never reload it.
    let mut last = file_stamp(&path);
    std::thread::Builder::new().name("config-watch".into()).spawn(move || {
        loop {
            std::thread::sleep(interval);
            let now = file_stamp(&path);
            if now == last {
                continue;
            }
            last = now;
            match config.reload() {
                Ok(()) => tracing::info!(file = %path.display(), "reloaded dynamic configuration"),
                Err(e) => {
                    for p in e.0 {
                        tracing::error!(problem = %p, "dynamic configuration not reloaded, keeping the previous one");
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests;
