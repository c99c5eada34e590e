//! Password checks shared by IMAP LOGIN and SMTP AUTH: the login name (an address or an account
//! name) is resolved through the current configuration, and the password is checked against the
//! account's stored secrets on the blocking pool (key derivation is deliberately slow).

use super::Services;
use super::registry::OpenAccount;

/// The account `username` logs in to, when `password` is right.
pub async fn verify_login(services: &Services, username: &str, password: &str) -> Option<String> {
    let account = services
        .config
        .dynamic()
        .login_account(username)?
        .name
        .clone();
    let handle = services
        .registry
        .send(OpenAccount(account.clone()))
        .await
        .ok()?
        .ok()?;
    let password = password.to_string();
    let ok = actix_rt::task::spawn_blocking(move || {
        let reader = handle.store.read().ok()?;
        Some(reader.secrets().ok()??.verify(&password))
    })
    .await
    .ok()
    .flatten()
    .unwrap_or(false);
    ok.then_some(account)
}
