//! What the control socket does for account, address, domain, queue and log commands. Account
//! changes are edits of domains.toml (validated, then reloaded) and messages to the actors
//! concerned: nothing here waits on an IMAP or SMTP session.

use std::path::{Path, PathBuf};

use super::Services;
use super::delivery::{DropQueued, KickEntries};
use super::registry::RetireAccount;
use crate::address::{Address, Domain};
use crate::config::edit::{EditError, edit_dynamic};
use crate::config::newkeys;
use crate::config::records::dns_records;
use crate::store::QueueId;

type CtlResult = Result<String, String>;

fn address(text: &str) -> Result<Address, String> {
    Address::parse_simple(text).map_err(|e| format!("invalid address {text:?}: {e}"))
}

fn domain(text: &str) -> Result<Domain, String> {
    Domain::parse(text).map_err(|e| format!("invalid domain {text:?}: {e}"))
}

/// Runs a domains.toml edit on the blocking pool (it reads, writes and syncs files).
async fn edit<T: Send + 'static>(
    services: &Services,
    change: impl FnOnce(
        &mut crate::config::edit::DomainsDoc,
        &crate::config::DynamicConfig,
    ) -> Result<T, EditError>
    + Send
    + 'static,
) -> Result<T, String> {
    let config = services.config.clone();
    actix_rt::task::spawn_blocking(move || edit_dynamic(&config, change))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

pub async fn account_add(services: &Services, name: String, addr: String) -> CtlResult {
    let addr = address(&addr)?;
    let shown = addr.to_string();
    let n = name.clone();
    edit(services, move |doc, current| {
        doc.add_account(current, &n, &addr)
    })
    .await?;
    tracing::info!(account = %name, address = %shown, "account added");
    Ok(format!(
        "account {name} added with address {shown}; set its password with: moxctl setpassword {name}\n"
    ))
}

pub async fn account_remove(services: &Services, name: String) -> CtlResult {
    let n = name.clone();
    edit(services, move |doc, current| {
        doc.remove_account(current, &n)
    })
    .await?;
    let moved = services
        .registry
        .send(RetireAccount(name.clone()))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    tracing::info!(account = %name, "account removed");
    Ok(match moved {
        Some(dir) => format!(
            "account {name} removed; its data was moved to {} (delete it when no longer needed)\n",
            dir.display()
        ),
        None => format!("account {name} removed (it had no data)\n"),
    })
}

pub async fn address_add(services: &Services, addr: String, account: String) -> CtlResult {
    let addr = address(&addr)?;
    let shown = addr.to_string();
    let a = account.clone();
    edit(services, move |doc, current| {
        doc.add_address(current, &a, &addr)
    })
    .await?;
    tracing::info!(account = %account, address = %shown, "address added");
    Ok(format!("address {shown} added to account {account}\n"))
}

pub async fn address_remove(services: &Services, addr: String) -> CtlResult {
    let addr = address(&addr)?;
    let shown = addr.to_string();
    let account = edit(services, move |doc, current| {
        doc.remove_address(current, &addr)
    })
    .await?;
    tracing::info!(account = %account, address = %shown, "address removed");
    Ok(format!("address {shown} removed from account {account}\n"))
}

pub fn domains(services: &Services) -> String {
    let dynamic = services.config.dynamic();
    dynamic
        .domains
        .values()
        .map(|d| match d.log_ascii() {
            Some(ascii) => format!("{d} {ascii}\n"),
            None => format!("{d}\n"),
        })
        .collect()
}

pub async fn domain_add(services: &Services, text: String) -> CtlResult {
    let domain = domain(&text)?;
    if services.config.dynamic().is_local_domain(&domain) {
        return Err(format!("domain {domain} exists already"));
    }
    let base = services
        .config
        .static_config
        .domains_file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    // Keys first (relative to the dynamic file, where the config loader looks), then the
    // config edit, which loads them as a check; a failed edit removes them again.
    let keys = actix_rt::task::spawn_blocking({
        let domain = domain.clone();
        move || newkeys::write_domain_keys(&base, &domain, &newkeys::today())
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    let selectors: Vec<(String, String)> = keys
        .iter()
        .map(|k| (k.selector.clone(), k.file.clone()))
        .collect();
    let d = domain.clone();
    if let Err(e) = edit(services, move |doc, current| {
        doc.add_domain(current, &d, &selectors)
    })
    .await
    {
        newkeys::remove(&keys);
        return Err(e);
    }
    let dynamic = services.config.dynamic();
    let records: Vec<(String, String)> = dynamic
        .dkim_for(&domain)
        .map(|dkim| {
            dkim.sign
                .iter()
                .map(|s| (s.name.clone(), s.dns_txt_record()))
                .collect()
        })
        .unwrap_or_default();
    tracing::info!(domain = %domain, domain_ascii = domain.log_ascii(), "domain added");
    let mut out = format!("domain {domain} added\nDKIM keys:\n");
    for k in &keys {
        out.push_str(&format!("  {}\n", k.path.display()));
    }
    out.push_str("\nPublish these DNS records:\n\n");
    out.push_str(&dns_records(
        &domain,
        &services.config.static_config.hostname,
        &records,
    ));
    Ok(out)
}

pub async fn domain_remove(services: &Services, text: String) -> CtlResult {
    let domain = domain(&text)?;
    let d = domain.clone();
    edit(services, move |doc, current| doc.remove_domain(current, &d)).await?;
    tracing::info!(domain = %domain, "domain removed");
    Ok(format!(
        "domain {domain} removed (its DKIM key files stay where they are)\n"
    ))
}

pub async fn queue_kick(services: &Services, id: Option<u64>) -> CtlResult {
    let n = services
        .delivery
        .send(KickEntries(id.map(QueueId)))
        .await
        .map_err(|e| e.to_string())??;
    Ok(format!(
        "{n} queue entr{} due now\n",
        if n == 1 { "y" } else { "ies" }
    ))
}

pub async fn queue_drop(services: &Services, id: u64) -> CtlResult {
    let entry = services
        .delivery
        .send(DropQueued(QueueId(id)))
        .await
        .map_err(|e| e.to_string())??;
    Ok(format!(
        "dropped queue entry {} <{}> -> <{}>\n",
        entry.id, entry.mail_from, entry.recipient
    ))
}

pub fn log_level(level: &str) -> CtlResult {
    crate::logging::set_level(level)?;
    tracing::info!(level, "log level changed");
    Ok(format!("log level {level}\n"))
}

/// `moxctl junk stats ACCOUNT`: the filter's counts, one `name value` per line.
pub async fn junk_stats(services: &Services, account: String) -> CtlResult {
    if !services.config.dynamic().accounts.contains_key(&account) {
        return Err(format!("no account {account:?}"));
    }
    let handle = services
        .registry
        .send(super::registry::OpenAccount(account))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let store = handle.store.clone();
    let stats = actix_rt::task::spawn_blocking(move || store.read()?.junk_stats())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    Ok(format!(
        "ham_messages {}\nspam_messages {}\nwords {}\ntrained_ham {}\ntrained_spam {}\n",
        stats.ham_messages, stats.spam_messages, stats.words, stats.trained_ham, stats.trained_spam
    ))
}
