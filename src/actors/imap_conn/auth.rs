//! LOGIN (RFC 9051 §6.2.3) and AUTHENTICATE (§6.2.2, SASL-IR from RFC 4959) with PLAIN, LOGIN,
//! CRAM-MD5, SCRAM-SHA-1 and SCRAM-SHA-256, and their -PLUS variants over TLS.

use actix::prelude::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::{ImapConn, MAX_LOGIN_FAILURES, Reply, State, done};
use crate::actors::login::{LoginError, login_secrets, verify_login};
use crate::actors::registry::OpenAccount;
use crate::protocols::sasl::{Credentials, Next, SaslError, ServerContext, ServerMechanism};

impl ImapConn {
    /// What SASL mechanisms need of this connection.
    pub(super) fn sasl_context(&self) -> ServerContext {
        ServerContext {
            hostname: self.listener.hostname.ascii().to_string(),
            channel_bindings: self.channel_bindings.clone(),
            fake_salt_key: self.services.sasl_key,
        }
    }

    pub(super) fn login(&mut self, tag: String, username: String, password: String) -> Reply {
        if !self.login_allowed() {
            return done(format!(
                "{tag} NO [PRIVACYREQUIRED] login only over TLS\r\n"
            ));
        }
        self.check_password(
            tag,
            Credentials {
                authzid: None,
                username,
                password,
            },
        )
    }

    pub(super) fn authenticate(
        &mut self,
        tag: String,
        mechanism: String,
        initial: Option<String>,
    ) -> Reply {
        if !self.login_allowed() {
            return done(format!(
                "{tag} NO [PRIVACYREQUIRED] authentication only over TLS\r\n"
            ));
        }
        if self.services.auth_limiter.blocked(self.remote.ip()) {
            return done(limited(&tag));
        }
        let mech = match ServerMechanism::start(&mechanism, &self.sasl_context()) {
            Ok(m) => m,
            Err(e) => return done(format!("{tag} NO [CANNOT] {e}\r\n")),
        };
        // SASL-IR: "=" is an empty initial response (RFC 4959 §3).
        let initial = match initial.as_deref() {
            None => None,
            Some("=") => Some(Vec::new()),
            Some(b64) => match BASE64.decode(b64) {
                Ok(v) => Some(v),
                Err(_) => return done(format!("{tag} BAD invalid base64\r\n")),
            },
        };
        let mut mech = mech;
        let next = mech.step(initial.as_deref());
        self.sasl_next(tag, mech, next)
    }

    /// A line from the client during AUTHENTICATE: a base64 response, or "*" to cancel.
    pub(super) fn auth_response(&mut self, line: &[u8]) -> Reply {
        let Some((tag, mut mech)) = self.authenticating.take() else {
            return done(Vec::new());
        };
        if line == b"*" {
            return done(format!("{tag} BAD authentication cancelled\r\n"));
        }
        match BASE64.decode(line) {
            Ok(response) => {
                let next = mech.step(Some(&response));
                self.sasl_next(tag, mech, next)
            }
            Err(_) => done(format!("{tag} BAD invalid base64\r\n")),
        }
    }

    /// Acts on what the mechanism wants next.
    fn sasl_next(
        &mut self,
        tag: String,
        mut mech: ServerMechanism,
        next: Result<Next, SaslError>,
    ) -> Reply {
        match next {
            Ok(Next::Challenge(c)) => {
                self.authenticating = Some((tag, mech));
                done(format!("+ {}\r\n", BASE64.encode(c)))
            }
            Ok(Next::Verify(credentials)) => {
                if credentials
                    .authzid
                    .as_ref()
                    .is_some_and(|z| *z != credentials.username)
                {
                    return done(no_authorization(&tag));
                }
                self.check_password(tag, credentials)
            }
            Ok(Next::NeedSecrets { username }) => {
                let services = self.services.clone();
                let lookup = async move { login_secrets(&services, &username).await };
                Box::pin(lookup.into_actor(self).then(move |found, act, _| {
                    let (account, secrets) =
                        found.map_or((None, None), |(a, s)| (Some(a), Some(s)));
                    let next = mech.supply_secrets(secrets.as_ref());
                    act.pending_account = account;
                    act.sasl_next(tag, mech, next)
                }))
            }
            Ok(Next::Authenticated { username, authzid }) => {
                let account = self.pending_account.take();
                if authzid.is_some_and(|z| z != username) {
                    return done(no_authorization(&tag));
                }
                match account {
                    Some(account) => self.logged_in(tag, username, Ok(account)),
                    None => self.logged_in(tag, username, Err(LoginError::Invalid)),
                }
            }
            Err(e) if e.is_credentials() => {
                self.pending_account = None;
                self.services.auth_limiter.record(self.remote.ip(), false);
                self.logged_in(tag, String::new(), Err(LoginError::Invalid))
            }
            Err(e) => {
                self.pending_account = None;
                done(format!("{tag} BAD {e}\r\n"))
            }
        }
    }

    fn check_password(&mut self, tag: String, credentials: Credentials) -> Reply {
        let services = self.services.clone();
        let remote = self.remote.ip();
        let check = async move {
            let Credentials {
                username, password, ..
            } = credentials;
            let result = verify_login(&services, remote, &username, &password).await;
            (username, result)
        };
        Box::pin(
            check
                .into_actor(self)
                .then(move |(username, result), act, _| act.logged_in(tag, username, result)),
        )
    }

    /// Ends an authentication: logs in to `result`'s account, or answers why not.
    fn logged_in(
        &mut self,
        tag: String,
        username: String,
        result: Result<String, LoginError>,
    ) -> Reply {
        let account = match result {
            Ok(account) => account,
            Err(LoginError::RateLimited) => {
                tracing::info!(cid = self.cid, remote = %self.remote, username = %username, "imap login refused: too many failures");
                return done(limited(&tag));
            }
            Err(LoginError::Invalid) => {
                self.login_failures += 1;
                tracing::info!(cid = self.cid, remote = %self.remote, username = %username, "imap login failed");
                let mut out = String::new();
                if self.login_failures >= MAX_LOGIN_FAILURES {
                    self.state = State::Logout;
                    out.push_str("* BYE too many failed logins\r\n");
                }
                out.push_str(&format!(
                    "{tag} NO [AUTHENTICATIONFAILED] invalid credentials\r\n"
                ));
                return done(out);
            }
        };
        self.services.auth_limiter.record(self.remote.ip(), true);
        let open = self.services.registry.send(OpenAccount(account));
        Box::pin(open.into_actor(self).map(move |handle, act, _| match handle {
            Ok(Ok(handle)) => {
                tracing::info!(cid = act.cid, remote = %act.remote, account = %handle.name, "imap login");
                act.state = State::Authenticated(handle);
                format!("{tag} OK [CAPABILITY {}] logged in\r\n", act.capabilities()).into_bytes()
            }
            _ => format!("{tag} NO [UNAVAILABLE] the account cannot be opened now\r\n").into_bytes(),
        }))
    }
}

fn limited(tag: &str) -> Vec<u8> {
    format!("{tag} NO [UNAVAILABLE] too many failed logins from your address, try again later\r\n")
        .into_bytes()
}

/// RFC 4616 §2: acting as another identity is refused (no account may act for another).
fn no_authorization(tag: &str) -> Vec<u8> {
    format!("{tag} NO [AUTHORIZATIONFAILED] acting as another user is not allowed\r\n").into_bytes()
}
