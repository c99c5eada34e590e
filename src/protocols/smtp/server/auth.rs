//! AUTH (RFC 4954) in the SMTP session: the SASL exchange over 334 challenges, with the
//! credential checks and secrets lookups left to the caller.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::{Action, AuthOutcome, Phase, SecretsLookup, Session};
use crate::protocols::sasl::{self, Next, ServerMechanism};
use crate::protocols::smtp::Reply;

impl Session {
    pub(super) fn auth(&mut self, mechanism: &str, initial: Option<String>) {
        if !self.config.submission {
            return self.bad(Reply::new(
                503,
                (5, 5, 1),
                "authentication not available here",
            ));
        }
        if self.authenticated.is_some() {
            return self.bad(Reply::new(503, (5, 5, 1), "already authenticated"));
        }
        if self.transaction.is_some() {
            return self.bad(Reply::new(503, (5, 5, 1), "not during a transaction"));
        }
        if !self.config.auth_allowed {
            return self.reply(Reply::new(
                538,
                (5, 7, 11),
                "encryption required: use STARTTLS first",
            ));
        }
        let context = sasl::ServerContext {
            hostname: self.config.hostname.clone(),
            channel_bindings: self.channel_bindings.clone(),
            fake_salt_key: self.config.sasl_key,
        };
        let mut mech = match ServerMechanism::start(mechanism, &context) {
            Ok(m) => m,
            Err(e) => return self.bad(Reply::new(504, (5, 5, 4), e.to_string())),
        };
        // RFC 4954 §4: "=" is an empty initial response.
        let initial = match initial.as_deref() {
            None => None,
            Some("=") => Some(Vec::new()),
            Some(b64) => match BASE64.decode(b64) {
                Ok(v) => Some(v),
                Err(_) => return self.bad(Reply::new(501, (5, 5, 2), "invalid base64")),
            },
        };
        let next = mech.step(initial.as_deref());
        self.auth_next(mech, next);
    }

    fn auth_next(&mut self, mech: ServerMechanism, next: Result<Next, sasl::SaslError>) {
        let next = match next {
            Ok(next) => next,
            Err(e) => {
                self.pending_account = None;
                if e.is_credentials() {
                    self.actions
                        .push_back(Action::AuthFinished { success: false });
                    return self.bad(Reply::new(
                        535,
                        (5, 7, 8),
                        "authentication credentials invalid",
                    ));
                }
                return self.bad(Reply::new(501, (5, 5, 2), e.to_string()));
            }
        };
        match next {
            Next::Challenge(c) => {
                self.reply(Reply::plain(334, vec![BASE64.encode(c)]));
                self.phase = Phase::Auth(mech);
            }
            Next::Verify(credentials) => {
                // RFC 4616 §2: acting as another identity is not allowed.
                if credentials
                    .authzid
                    .as_ref()
                    .is_some_and(|z| *z != credentials.username)
                {
                    return self.bad(Reply::new(
                        535,
                        (5, 7, 8),
                        "acting as another user is not allowed",
                    ));
                }
                self.phase = Phase::Waiting;
                self.actions.push_back(Action::Authenticate(credentials));
            }
            Next::NeedSecrets { username } => {
                self.phase = Phase::AwaitSecrets(mech);
                self.actions.push_back(Action::NeedSecrets { username });
            }
            Next::Authenticated { username, authzid } => {
                let account = self.pending_account.take();
                let allowed = authzid.is_none_or(|z| z == username);
                self.actions.push_back(Action::AuthFinished {
                    success: allowed && account.is_some(),
                });
                match account {
                    Some(account) if allowed => {
                        self.auth_result(AuthOutcome::Authenticated(account))
                    }
                    _ => self.auth_result(AuthOutcome::Invalid),
                }
            }
        }
    }

    /// The answer to an [`Action::NeedSecrets`].
    pub fn secrets_result(&mut self, lookup: SecretsLookup) {
        let Phase::AwaitSecrets(mut mech) = std::mem::replace(&mut self.phase, Phase::Command)
        else {
            return;
        };
        let secrets = match lookup {
            SecretsLookup::Found { account, secrets } => {
                self.pending_account = Some(account);
                Some(*secrets)
            }
            SecretsLookup::Unknown => None,
            SecretsLookup::TryLater => return self.auth_result(AuthOutcome::TryLater),
        };
        let next = mech.supply_secrets(secrets.as_ref());
        self.auth_next(mech, next);
    }

    pub(super) fn auth_response(&mut self, line: &[u8]) {
        let Phase::Auth(mut mech) = std::mem::replace(&mut self.phase, Phase::Command) else {
            return;
        };
        if line == b"*" {
            return self.reply(Reply::new(501, (5, 0, 0), "authentication cancelled"));
        }
        let Ok(decoded) = BASE64.decode(line) else {
            return self.bad(Reply::new(501, (5, 5, 2), "invalid base64"));
        };
        let next = mech.step(Some(&decoded));
        self.auth_next(mech, next);
    }

    /// The outcome of an [`Action::Authenticate`].
    pub fn auth_result(&mut self, outcome: AuthOutcome) {
        self.phase = Phase::Command;
        match outcome {
            AuthOutcome::Authenticated(account) => {
                self.authenticated = Some(account);
                self.reply(Reply::new(235, (2, 7, 0), "authentication successful"));
            }
            // RFC 4954 §6.
            AuthOutcome::Invalid => self.bad(Reply::new(
                535,
                (5, 7, 8),
                "authentication credentials invalid",
            )),
            AuthOutcome::TryLater => self.reply(Reply::new(
                454,
                (4, 7, 0),
                "too many failed authentications from your address, try again later",
            )),
        }
    }
}
