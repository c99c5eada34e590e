//! The SCRAM client. The key derivation in the answer to server-first is as slow as the
//! iteration count makes it: run that step off the actor threads.

use std::num::NonZeroU32;

use super::{ServerFinal, encode_saslname, is_nonce, parse_server_final, parse_server_first};
use crate::auth::{ScramHash, ct_eq, prep};
use crate::protocols::sasl::{ChannelBinding, Mechanism, SaslError, base64_encode};

/// Iteration counts a server may ask of us: at least what RFC 7677 §4 and RFC 5802 §5.1 ask of
/// servers (lower makes a captured exchange cheap to attack offline), at most what keeps one
/// login attempt at a few seconds of CPU.
pub const MIN_ITERATIONS: u32 = 4096;
pub const MAX_ITERATIONS: u32 = 1_000_000;

pub struct ScramClient {
    mechanism: Mechanism,
    hash: ScramHash,
    gs2_header: String,
    cbind_data: Vec<u8>,
    prepared_password: String,
    client_nonce: String,
    client_first_bare: String,
    state: State,
}

impl std::fmt::Debug for ScramClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramClient")
            .field("mechanism", &self.mechanism)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
enum State {
    Start,
    SentFirst,
    SentFinal {
        server_signature: Vec<u8>,
    },
    /// The server proved it knows the password's keys.
    Verified,
    Failed,
}

impl ScramClient {
    /// `channel_binding`: the connection's, when it has TLS. Required for -PLUS. Given for a
    /// mechanism without -PLUS, it makes the client say it could bind (`y`), which a server that
    /// offers -PLUS refuses as a downgrade: give it only when the server did not offer -PLUS, as
    /// [`crate::protocols::sasl::client::choose`] does. `client_nonce` must be printable ASCII
    /// without commas and unpredictable.
    pub fn new(
        mechanism: Mechanism,
        authzid: Option<&str>,
        username: &str,
        password: &str,
        channel_binding: Option<&ChannelBinding>,
        client_nonce: String,
    ) -> Result<ScramClient, SaslError> {
        let (hash, plus) = mechanism
            .scram()
            .ok_or_else(|| SaslError::UnsupportedMechanism(mechanism.name().into()))?;
        if !is_nonce(&client_nonce) {
            return Err(SaslError::Malformed("client nonce is not printable"));
        }
        let prepared_password = prep::prepare(password).map_err(SaslError::Password)?;
        let (flag, cbind_data) = match (plus, channel_binding) {
            (true, Some(cb)) => (format!("p={}", cb.kind.name()), cb.data.clone()),
            (true, None) => {
                return Err(SaslError::ChannelBinding(
                    "a -PLUS mechanism needs the connection's channel binding",
                ));
            }
            (false, Some(_)) => ("y".to_string(), Vec::new()),
            (false, None) => ("n".to_string(), Vec::new()),
        };
        let authzid = authzid
            .map(|a| format!("a={}", encode_saslname(a)))
            .unwrap_or_default();
        Ok(ScramClient {
            mechanism,
            hash,
            gs2_header: format!("{flag},{authzid},"),
            cbind_data,
            prepared_password,
            client_first_bare: format!("n={},r={client_nonce}", encode_saslname(username)),
            client_nonce,
            state: State::Start,
        })
    }

    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// client-first, to send as the initial response (or in answer to an empty challenge).
    pub fn initial_response(&mut self) -> Result<Vec<u8>, SaslError> {
        if !matches!(self.state, State::Start) {
            return Err(SaslError::OutOfOrder("client-first was sent already"));
        }
        self.state = State::SentFirst;
        Ok(format!("{}{}", self.gs2_header, self.client_first_bare).into_bytes())
    }

    /// The answer to a challenge: client-first to an empty one at the start, client-final to
    /// server-first, an empty response to server-final once it verified.
    pub fn step(&mut self, challenge: &[u8]) -> Result<Vec<u8>, SaslError> {
        match std::mem::replace(&mut self.state, State::Failed) {
            State::Start if challenge.is_empty() => {
                self.state = State::Start;
                self.initial_response()
            }
            State::Start => Err(SaslError::Malformed("SCRAM starts with the client")),
            State::SentFirst => {
                let (message, server_signature) = self.client_final(challenge)?;
                self.state = State::SentFinal { server_signature };
                Ok(message)
            }
            State::SentFinal { server_signature } => {
                self.server_final(&server_signature, challenge)?;
                self.state = State::Verified;
                Ok(Vec::new())
            }
            State::Verified => Err(SaslError::OutOfOrder("the exchange is over")),
            State::Failed => Err(SaslError::OutOfOrder("the exchange failed")),
        }
    }

    /// The protocol reported success, with `additional` data when it carries server-final
    /// there. Succeeds only when the server proved itself.
    pub fn finish(&mut self, additional: Option<&[u8]>) -> Result<(), SaslError> {
        if let (Some(data), State::SentFinal { .. }) = (additional, &self.state) {
            self.step(data)?;
        }
        match self.state {
            State::Verified => Ok(()),
            _ => Err(SaslError::ServerNotVerified),
        }
    }

    fn client_final(&self, challenge: &[u8]) -> Result<(Vec<u8>, Vec<u8>), SaslError> {
        let first = parse_server_first(challenge)?;
        if first.nonce.len() <= self.client_nonce.len()
            || !first.nonce.starts_with(&self.client_nonce)
        {
            return Err(SaslError::Malformed(
                "server nonce does not extend the client's",
            ));
        }
        let iterations = NonZeroU32::new(first.iterations)
            .filter(|i| (MIN_ITERATIONS..=MAX_ITERATIONS).contains(&i.get()))
            .ok_or(SaslError::Malformed("iteration count out of range"))?;
        let h = self.hash;
        let salted = h.salted_password(&self.prepared_password, &first.salt, iterations);
        let client_key = h.client_key(&salted);
        let stored_key = h.hash(&client_key);
        let mut cbind_input = self.gs2_header.clone().into_bytes();
        cbind_input.extend_from_slice(&self.cbind_data);
        let without_proof = format!("c={},r={}", base64_encode(&cbind_input), first.nonce);
        let server_first =
            std::str::from_utf8(challenge).map_err(|_| SaslError::Malformed("not UTF-8"))?;
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let client_signature = h.hmac(&stored_key, &[auth_message.as_bytes()]);
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&client_signature)
            .map(|(k, s)| k ^ s)
            .collect();
        let server_signature = h.hmac(&h.server_key(&salted), &[auth_message.as_bytes()]);
        Ok((
            format!("{without_proof},p={}", base64_encode(&proof)).into_bytes(),
            server_signature,
        ))
    }

    fn server_final(&self, expected: &[u8], challenge: &[u8]) -> Result<(), SaslError> {
        match parse_server_final(challenge)? {
            ServerFinal::Error(e) => Err(SaslError::Server(e)),
            ServerFinal::Verifier(v) if ct_eq(&v, expected) => Ok(()),
            ServerFinal::Verifier(_) => Err(SaslError::ServerNotVerified),
        }
    }
}
