//! LOGIN (RFC 9051 §6.2.3) and AUTHENTICATE (§6.2.2, with SASL-IR, RFC 4959).

use actix::prelude::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::{ImapConn, MAX_LOGIN_FAILURES, Reply, State, done};
use crate::actors::login::{LoginError, verify_login};
use crate::actors::registry::OpenAccount;
use crate::protocols::sasl::{Credentials, Next, ServerMechanism};

impl ImapConn {
    pub(super) fn login(&mut self, tag: String, username: String, password: String) -> Reply {
        if !self.login_allowed() {
            return done(format!(
                "{tag} NO [PRIVACYREQUIRED] login only over TLS\r\n"
            ));
        }
        self.check_credentials(
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
        let mech = match ServerMechanism::start(&mechanism) {
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
        self.sasl_step(tag, mech, initial)
    }

    /// A line from the client during AUTHENTICATE: a base64 response, or "*" to cancel.
    pub(super) fn auth_response(&mut self, line: &[u8]) -> Reply {
        let Some((tag, mech)) = self.authenticating.take() else {
            return done(Vec::new());
        };
        if line == b"*" {
            return done(format!("{tag} BAD authentication cancelled\r\n"));
        }
        match BASE64.decode(line) {
            Ok(response) => self.sasl_step(tag, mech, Some(response)),
            Err(_) => done(format!("{tag} BAD invalid base64\r\n")),
        }
    }

    fn sasl_step(
        &mut self,
        tag: String,
        mut mech: ServerMechanism,
        response: Option<Vec<u8>>,
    ) -> Reply {
        match mech.step(response.as_deref()) {
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
                    return done(format!(
                        "{tag} NO [AUTHORIZATIONFAILED] acting as another user is not allowed\r\n"
                    ));
                }
                self.check_credentials(tag, credentials)
            }
            Err(e) => done(format!("{tag} BAD {e}\r\n")),
        }
    }

    fn check_credentials(&mut self, tag: String, credentials: Credentials) -> Reply {
        let services = self.services.clone();
        let remote = self.remote.ip();
        let check = async move {
            let Credentials {
                username, password, ..
            } = credentials;
            let handle = match verify_login(&services, remote, &username, &password).await {
                Ok(account) => services
                    .registry
                    .send(OpenAccount(account))
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .ok_or(LoginError::Invalid),
                Err(e) => Err(e),
            };
            (username, handle)
        };
        Box::pin(check.into_actor(self).map(move |(username, handle), act, _| match handle {
            Ok(handle) => {
                tracing::info!(cid = act.cid, remote = %act.remote, account = %handle.name, "imap login");
                act.state = State::Authenticated(handle);
                format!("{tag} OK [CAPABILITY {}] logged in\r\n", act.capabilities()).into_bytes()
            }
            Err(LoginError::RateLimited) => {
                tracing::info!(cid = act.cid, remote = %act.remote, username = %username, "imap login refused: too many failures");
                format!("{tag} NO [UNAVAILABLE] too many failed logins from your address, try again later\r\n").into_bytes()
            }
            Err(LoginError::Invalid) => {
                act.login_failures += 1;
                tracing::info!(cid = act.cid, remote = %act.remote, username = %username, "imap login failed");
                let mut out = String::new();
                if act.login_failures >= MAX_LOGIN_FAILURES {
                    act.state = State::Logout;
                    out.push_str("* BYE too many failed logins\r\n");
                }
                out.push_str(&format!("{tag} NO [AUTHENTICATIONFAILED] invalid credentials\r\n"));
                out.into_bytes()
            }
        }))
    }
}
