//! `moxctl backup DESTDIR`: a consistent snapshot of a running server (see `store::backup`),
//! written to a new directory:
//!
//! ```text
//! DESTDIR/data/     the data directory: server.mdb/, queue/, accounts/<name>/, server.secret
//! DESTDIR/config/   moxide.toml, domains.toml and the files they name (TLS, DKIM keys), at the
//!                   same paths relative to the static file's directory
//! DESTDIR/README.txt  what was backed up and how to restore it
//! ```
//!
//! The server keeps serving: deliveries, IMAP changes and queue work go on during the backup.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::Services;
use super::registry::OpenAccount;
use crate::store::backup::{self, BackupStats};

pub async fn backup(services: &Services, dest: String) -> Result<String, String> {
    let dest = PathBuf::from(dest);
    if !dest.is_absolute() {
        return Err(format!("{} is not an absolute path", dest.display()));
    }
    // Must not exist: created here, so two backups can never write into one directory.
    std::fs::create_dir(&dest).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => format!("{} exists already", dest.display()),
        _ => format!("creating {}: {e}", dest.display()),
    })?;
    let started = Instant::now();
    let result = run(services, &dest).await;
    let stats = match result {
        Ok(stats) => stats,
        Err(e) => {
            tracing::error!(dest = %dest.display(), error = %e, "backup failed");
            return Err(format!(
                "backup failed: {e} (the incomplete backup is in {})",
                dest.display()
            ));
        }
    };
    let mb = |b: u64| b as f64 / (1 << 20) as f64;
    let summary = format!(
        "backup of {} account(s), {} message(s), {} queue entr{} in {}: {:.1} MB linked, {:.1} MB copied, {:.1} s\n",
        stats.accounts,
        stats.messages,
        stats.queue_entries,
        if stats.queue_entries == 1 { "y" } else { "ies" },
        dest.display(),
        mb(stats.linked_bytes),
        mb(stats.copied_bytes),
        started.elapsed().as_secs_f64()
    );
    tracing::info!(dest = %dest.display(), accounts = stats.accounts, messages = stats.messages, queue_entries = stats.queue_entries, "backup done");
    Ok(summary)
}

async fn run(services: &Services, dest: &Path) -> Result<BackupStats, String> {
    let data = dest.join("data");
    crate::store::create_private_dir(&data.join("accounts")).map_err(|e| e.to_string())?;
    let mut stats = BackupStats::default();

    let accounts = {
        let server = services.server_store.clone();
        actix_rt::task::spawn_blocking(move || server.accounts())
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?
    };
    for record in accounts {
        if !services.data.account(&record.name).exists() {
            continue;
        }
        let handle = services
            .registry
            .send(OpenAccount(record.name.clone()))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        let account_dest = data.join("accounts").join(&record.name);
        let mut s = std::mem::take(&mut stats);
        stats = actix_rt::task::spawn_blocking(move || {
            backup::backup_account(&handle.store, &account_dest, &mut s).map(|()| s)
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("account {}: {e}", record.name))?;
    }

    let (server, queue) = (services.server_store.clone(), services.queue_store.clone());
    let (secret_from, secret_to) = (
        services.data.root().join("server.secret"),
        data.join("server.secret"),
    );
    let server_dest = data.clone();
    let mut s = std::mem::take(&mut stats);
    stats = actix_rt::task::spawn_blocking(move || {
        backup::backup_server(&server, &queue, &server_dest, &mut s)?;
        if secret_from.exists() {
            std::fs::copy(&secret_from, &secret_to)?;
        }
        Ok::<_, crate::store::StoreError>(s)
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("server data: {e}"))?;

    let config_files = config_files(services);
    let config_dest = dest.join("config");
    let readme = readme(services, &stats);
    let dest = dest.to_path_buf();
    actix_rt::task::spawn_blocking(move || -> std::io::Result<()> {
        for (from, relative) in config_files {
            let to = config_dest.join(relative);
            if let Some(dir) = to.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::copy(&from, &to)?;
        }
        std::fs::write(dest.join("README.txt"), readme)?;
        // Everything written above, durable before "done".
        crate::store::files::sync_tree(&dest)
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("config files: {e}"))?;
    Ok(stats)
}

/// The configuration files to back up, each with its path inside `config/`: relative to the
/// static file's directory when under it, under `outside/` (with its absolute path) otherwise.
fn config_files(services: &Services) -> Vec<(PathBuf, PathBuf)> {
    let static_config = &services.config.static_config;
    let base = static_config
        .file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut files: Vec<PathBuf> = vec![
        static_config.file.clone(),
        static_config.domains_file.clone(),
    ];
    for l in &static_config.listeners {
        if let Some((cert, key)) = &l.tls {
            files.push(cert.clone());
            files.push(key.clone());
        }
    }
    let dynamic = services.config.dynamic();
    for domain in dynamic.domains.values() {
        if let Some(dkim) = dynamic.dkim_for(domain) {
            files.extend(dkim.selectors.values().map(|s| s.key_file.clone()));
        }
    }
    files.sort();
    files.dedup();
    files
        .into_iter()
        .map(|f| {
            let relative = match f.strip_prefix(&base) {
                Ok(r) if !r.as_os_str().is_empty() => r.to_path_buf(),
                _ => Path::new("outside").join(f.strip_prefix("/").unwrap_or(&f)),
            };
            (f, relative)
        })
        .collect()
}

fn readme(services: &Services, stats: &BackupStats) -> String {
    let static_config = &services.config.static_config;
    format!(
        "moxide backup, made {} by moxide {} of the server with configuration {}\n\
         {} account(s), {} message(s), {} queue entr(y/ies).\n\n\
         data/    the data directory ({} on the server)\n\
         config/  the configuration files, at their paths relative to {}\n\
         \x20        (files that were elsewhere are under config/outside/ with their full path)\n\n\
         To restore: stop moxide; put data/ where data_dir of moxide.toml points (replacing what is\n\
         there) and the files of config/ back in their places; start moxide. Check a backup with\n\
         `moxide verifydata {}` (it never writes).\n",
        mail_parser::DateTime::from_timestamp(crate::store::account::now()).to_rfc3339(),
        env!("CARGO_PKG_VERSION"),
        static_config.file.display(),
        stats.accounts,
        stats.messages,
        stats.queue_entries,
        static_config.data_dir.display(),
        static_config
            .file
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        "DESTDIR",
    )
}
