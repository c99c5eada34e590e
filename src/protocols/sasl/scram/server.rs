//! The SCRAM server. It needs the account's StoredKey, ServerKey, salt and iteration count
//! before it can answer the client's first message, and it learns which account only from that
//! message: so it stops with [`Next::NeedSecrets`] and goes on in
//! [`ScramServer::supply_secrets`].
//!
//! For a username without secrets the exchange goes on with a salt and keys derived from the
//! server's fake-salt key and the username, the same at every attempt, so that neither the
//! messages nor their timing tell that the user does not exist; the proof then never verifies.

use super::{CbindFlag, parse_client_final, parse_client_first};
use crate::auth::{PasswordSecrets, SCRAM_ITERATIONS, ScramHash, ScramSecret, ct_eq};
use crate::protocols::sasl::{
    ChannelBinding, ChannelBindingType, Mechanism, Next, SaslError, ServerContext, base64_encode,
};

pub struct ScramServer {
    mechanism: Mechanism,
    hash: ScramHash,
    plus: bool,
    /// The connection's channel bindings; any at all means the server offers -PLUS.
    channel_bindings: Vec<ChannelBinding>,
    fake_salt_key: [u8; 32],
    server_nonce: String,
    state: State,
}

impl std::fmt::Debug for ScramServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramServer")
            .field("mechanism", &self.mechanism)
            .field("state", &self.state.name())
            .finish_non_exhaustive()
    }
}

/// What the client said in its first message.
struct Exchange {
    username: String,
    authzid: Option<String>,
    client_first_bare: String,
    /// Client nonce and server nonce.
    nonce: String,
    /// What `c=` must decode to: the gs2 header and the channel binding data.
    cbind_input: Vec<u8>,
}

enum State {
    /// Waiting for client-first.
    Start,
    NeedSecrets(Exchange),
    /// server-first sent, waiting for client-final.
    Final {
        exchange: Exchange,
        server_first: String,
        secret: ScramSecret,
        /// False when the secrets are made up for an unknown user.
        known: bool,
    },
    /// server-final sent as a challenge, waiting for the client's empty response.
    Verified {
        username: String,
        authzid: Option<String>,
    },
    Done,
}

impl State {
    fn name(&self) -> &'static str {
        match self {
            State::Start => "start",
            State::NeedSecrets(_) => "need-secrets",
            State::Final { .. } => "final",
            State::Verified { .. } => "verified",
            State::Done => "done",
        }
    }
}

impl ScramServer {
    /// `mechanism` is one of the SCRAM family; `server_nonce` printable without commas (see
    /// [`crate::protocols::sasl::Fresh`]).
    pub fn new(
        mechanism: Mechanism,
        context: &ServerContext,
        server_nonce: String,
    ) -> Result<ScramServer, SaslError> {
        let (hash, plus) = mechanism
            .scram()
            .ok_or_else(|| SaslError::UnsupportedMechanism(mechanism.name().into()))?;
        if !super::is_nonce(&server_nonce) {
            return Err(SaslError::Malformed("server nonce is not printable"));
        }
        Ok(ScramServer {
            mechanism,
            hash,
            plus,
            channel_bindings: context.channel_bindings.clone(),
            fake_salt_key: context.fake_salt_key,
            server_nonce,
            state: State::Start,
        })
    }

    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    pub fn step(&mut self, response: Option<&[u8]>) -> Result<Next, SaslError> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Start => match response {
                // RFC 4422 §5: no initial response, so an empty challenge asks for it.
                None => {
                    self.state = State::Start;
                    Ok(Next::Challenge(Vec::new()))
                }
                Some(message) => {
                    let exchange = self.client_first(message)?;
                    let username = exchange.username.clone();
                    self.state = State::NeedSecrets(exchange);
                    Ok(Next::NeedSecrets { username })
                }
            },
            State::NeedSecrets(exchange) => {
                self.state = State::NeedSecrets(exchange);
                Err(SaslError::OutOfOrder("secrets awaited"))
            }
            State::Final {
                exchange,
                server_first,
                secret,
                known,
            } => {
                let message = response.ok_or(SaslError::Malformed("expected client-final"))?;
                let server_final =
                    self.client_final(&exchange, &server_first, &secret, known, message)?;
                self.state = State::Verified {
                    username: exchange.username,
                    authzid: exchange.authzid,
                };
                Ok(Next::Challenge(server_final.into_bytes()))
            }
            State::Verified { username, authzid } => match response {
                Some([]) => Ok(Next::Authenticated { username, authzid }),
                _ => Err(SaslError::Malformed(
                    "expected an empty response to server-final",
                )),
            },
            State::Done => Err(SaslError::OutOfOrder("the exchange is over")),
        }
    }

    pub fn supply_secrets(&mut self, secrets: Option<&PasswordSecrets>) -> Result<Next, SaslError> {
        if !matches!(self.state, State::NeedSecrets(_)) {
            return Err(SaslError::OutOfOrder("no secrets asked for"));
        }
        let State::NeedSecrets(exchange) = std::mem::replace(&mut self.state, State::Done) else {
            return Err(SaslError::OutOfOrder("no secrets asked for"));
        };
        let (secret, known) = match secrets {
            Some(s) => match s.scram(self.hash) {
                Some(secret) => (secret.clone(), true),
                None => return Err(SaslError::NotAvailable(self.mechanism.name())),
            },
            None => (self.fake_secret(&exchange.username), false),
        };
        let server_first = format!(
            "r={},s={},i={}",
            exchange.nonce,
            base64_encode(&secret.salt),
            secret.iterations
        );
        self.state = State::Final {
            exchange,
            server_first: server_first.clone(),
            secret,
            known,
        };
        Ok(Next::Challenge(server_first.into_bytes()))
    }

    fn client_first(&self, message: &[u8]) -> Result<Exchange, SaslError> {
        let first = parse_client_first(message)?;
        let offers_plus = !self.channel_bindings.is_empty();
        // RFC 5802 §6 and §7 (gs2-cbind-flag).
        let cbind_data: &[u8] = match (&first.flag, self.plus) {
            (CbindFlag::Binding(name), true) => {
                let kind = ChannelBindingType::from_name(name);
                &self
                    .channel_bindings
                    .iter()
                    .find(|cb| Some(cb.kind) == kind)
                    .ok_or(SaslError::ChannelBinding(
                        "unsupported channel binding type",
                    ))?
                    .data
            }
            (CbindFlag::Binding(_), false) => {
                return Err(SaslError::ChannelBinding(
                    "channel binding asked for with a mechanism without -PLUS",
                ));
            }
            (_, true) => {
                return Err(SaslError::ChannelBinding(
                    "a -PLUS mechanism needs channel binding",
                ));
            }
            (CbindFlag::ClientOnly, false) if offers_plus => {
                return Err(SaslError::ChannelBinding(
                    "the client believes we cannot bind, but we offer -PLUS: possible downgrade",
                ));
            }
            (CbindFlag::No | CbindFlag::ClientOnly, false) => &[],
        };
        let mut cbind_input = first.gs2_header.clone().into_bytes();
        cbind_input.extend_from_slice(cbind_data);
        Ok(Exchange {
            nonce: format!("{}{}", first.nonce, self.server_nonce),
            username: first.username,
            authzid: first.authzid,
            client_first_bare: first.bare,
            cbind_input,
        })
    }

    /// Checks client-final and makes server-final.
    fn client_final(
        &self,
        exchange: &Exchange,
        server_first: &str,
        secret: &ScramSecret,
        known: bool,
        message: &[u8],
    ) -> Result<String, SaslError> {
        let last = parse_client_final(message)?;
        if last.nonce != exchange.nonce {
            return Err(SaslError::Malformed("nonce differs from server-first"));
        }
        if last.cbind_input != exchange.cbind_input {
            return Err(SaslError::ChannelBinding(
                "channel binding data differs from the connection's",
            ));
        }
        let h = self.hash;
        if last.proof.len() != h.output_len() {
            return Err(SaslError::Malformed("proof has the wrong length"));
        }
        let auth_message = format!(
            "{},{server_first},{}",
            exchange.client_first_bare, last.without_proof
        );
        let client_signature = h.hmac(&secret.stored_key, &[auth_message.as_bytes()]);
        let client_key: Vec<u8> = last
            .proof
            .iter()
            .zip(&client_signature)
            .map(|(p, s)| p ^ s)
            .collect();
        let proof_ok = ct_eq(&h.hash(&client_key), &secret.stored_key);
        if !(proof_ok && known) {
            return Err(SaslError::InvalidCredentials);
        }
        let server_signature = h.hmac(&secret.server_key, &[auth_message.as_bytes()]);
        Ok(format!("v={}", base64_encode(&server_signature)))
    }

    /// Salt and keys for a username without secrets: derived from the fake-salt key, so the
    /// same username gets the same salt every time and others cannot predict it.
    fn fake_secret(&self, username: &str) -> ScramSecret {
        let h = self.hash;
        let tag: &[u8] = match h {
            ScramHash::Sha1 => b"SCRAM-SHA-1",
            ScramHash::Sha256 => b"SCRAM-SHA-256",
        };
        let seed = ScramHash::Sha256.hmac(
            &self.fake_salt_key,
            &[b"moxide fake scram\0", tag, b"\0", username.as_bytes()],
        );
        ScramSecret {
            salt: seed[..crate::auth::SALT_LEN].to_vec(),
            iterations: SCRAM_ITERATIONS.get(),
            stored_key: h.hmac(&seed, &[b"stored key"]),
            server_key: h.hmac(&seed, &[b"server key"]),
        }
    }
}
