//! Password checks shared by IMAP LOGIN/AUTHENTICATE and SMTP AUTH: the login name (an address
//! or an account name) is resolved through the current configuration, and the password is
//! checked against the account's stored secrets on the blocking pool (key derivation is
//! deliberately slow). Failures are counted per remote address; an address that fails too often
//! is refused for a while without checking anything.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::Services;
use super::registry::OpenAccount;

/// Failures from one address within [`WINDOW`] before it is refused.
const MAX_FAILURES: u32 = 10;
const WINDOW: Duration = Duration::from_secs(5 * 60);
/// Addresses tracked at most; older entries go first when full.
const MAX_TRACKED: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    #[error("invalid credentials")]
    Invalid,
    #[error("too many failed attempts from this address, try again later")]
    RateLimited,
}

/// Counts authentication failures per remote address (IPv6 per /64: one host easily has many
/// addresses of its network).
#[derive(Default)]
pub struct AuthLimiter {
    failures: Mutex<HashMap<IpAddr, (u32, Instant)>>,
}

fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

impl AuthLimiter {
    /// Whether `ip` is refused for now (never for loopback).
    pub fn blocked(&self, ip: IpAddr) -> bool {
        !ip.is_loopback() && self.blocked_address(ip)
    }

    fn blocked_address(&self, ip: IpAddr) -> bool {
        let Ok(map) = self.failures.lock() else {
            return false;
        };
        map.get(&key(ip))
            .is_some_and(|(n, since)| *n >= MAX_FAILURES && since.elapsed() < WINDOW)
    }

    /// Counts an authentication from `ip` (loopback is not counted).
    pub fn record(&self, ip: IpAddr, ok: bool) {
        if ip.is_loopback() {
            return;
        }
        let Ok(mut map) = self.failures.lock() else {
            return;
        };
        let k = key(ip);
        if ok {
            map.remove(&k);
            return;
        }
        if map.len() >= MAX_TRACKED {
            map.retain(|_, (_, since)| since.elapsed() < WINDOW);
        }
        if map.len() >= MAX_TRACKED {
            return;
        }
        let entry = map.entry(k).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }
}

/// The account a login name belongs to and its password secrets (None when either is missing),
/// for the mechanisms that check a proof rather than a password (SCRAM, CRAM-MD5).
pub async fn login_secrets(
    services: &Services,
    username: &str,
) -> Option<(String, crate::auth::PasswordSecrets)> {
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
    let secrets =
        actix_rt::task::spawn_blocking(move || handle.store.read().ok()?.secrets().ok()?)
            .await
            .ok()
            .flatten()?;
    Some((account, secrets))
}

/// The account `username` logs in to from `remote`, when `password` is right. Connections from
/// this machine are not limited (localserve, local proxies).
pub async fn verify_login(
    services: &Services,
    remote: IpAddr,
    username: &str,
    password: &str,
) -> Result<String, LoginError> {
    if services.auth_limiter.blocked(remote) {
        return Err(LoginError::RateLimited);
    }
    let result = check(services, username, password).await;
    services.auth_limiter.record(remote, result.is_some());
    result.ok_or(LoginError::Invalid)
}

async fn check(services: &Services, username: &str, password: &str) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_that_fails_too_often_is_blocked_until_it_succeeds() {
        let l = AuthLimiter::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..MAX_FAILURES {
            assert!(!l.blocked(ip));
            l.record(ip, false);
        }
        assert!(l.blocked(ip));
        assert!(!l.blocked("192.0.2.2".parse().unwrap()));
        // IPv6 addresses of one /64 count together.
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        for _ in 0..MAX_FAILURES {
            l.record(a, false);
        }
        assert!(l.blocked("2001:db8::ffff".parse().unwrap()));
        assert!(!l.blocked("2001:db8:0:1::1".parse().unwrap()));
        l.record(ip, true);
        assert!(!l.blocked(ip));
    }
}
