//! The client side, for outgoing SMTP: pick the most secure mechanism both sides support, then
//! run it.
//!
//! ```text
//! let mechanism = choose(offered, channel_binding.is_some(), allow_plaintext)?;
//! let mut m = ClientMechanism::start(mechanism, &credentials, channel_binding)?;
//! send AUTH name [initial response m.initial_response()?]
//! on each challenge: send m.step(challenge)?
//! on success:        m.finish(additional data, if the protocol carries any)?
//! ```

use super::cram_md5::CramMd5Client;
use super::login::LoginClient;
use super::plain::PlainClient;
use super::scram::ScramClient;
use super::{ChannelBinding, Mechanism, SaslError, base64_encode};

/// Who to log in as.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    /// The identity to act as, when not the username itself.
    pub authzid: Option<String>,
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("authzid", &self.authzid)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// The most secure mechanism in `offered` (names, any case) that we can use: SCRAM-SHA-256-PLUS,
/// SCRAM-SHA-256, SCRAM-SHA-1-PLUS, SCRAM-SHA-1, CRAM-MD5, and only when `allow_plaintext`
/// PLAIN then LOGIN. The -PLUS ones need the connection's channel binding.
pub fn choose<'a>(
    offered: impl IntoIterator<Item = &'a str>,
    channel_binding: bool,
    allow_plaintext: bool,
) -> Option<Mechanism> {
    let offered: Vec<Mechanism> = offered
        .into_iter()
        .filter_map(Mechanism::from_name)
        .collect();
    Mechanism::ALL.into_iter().find(|m| {
        offered.contains(m)
            && (channel_binding || !matches!(m.scram(), Some((_, true))))
            && (allow_plaintext || !m.is_plaintext())
    })
}

/// A client side exchange in progress.
#[derive(Debug)]
pub enum ClientMechanism {
    Plain(PlainClient),
    Login(LoginClient),
    CramMd5(CramMd5Client),
    Scram(Box<ScramClient>),
}

impl ClientMechanism {
    /// Starts `mechanism` with a fresh random nonce. `channel_binding` is the connection's, when
    /// it has TLS: used by -PLUS; for SCRAM without -PLUS it tells the server we could have
    /// bound (`y`), so pass it only when the server offered no -PLUS (as after [`choose`]
    /// with the same flag).
    pub fn start(
        mechanism: Mechanism,
        credentials: &ClientCredentials,
        channel_binding: Option<&ChannelBinding>,
    ) -> Result<ClientMechanism, SaslError> {
        let mut random = [0u8; 18];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random)
            .map_err(|_| SaslError::Random)?;
        ClientMechanism::start_with_nonce(
            mechanism,
            credentials,
            channel_binding,
            base64_encode(&random),
        )
    }

    /// Starts `mechanism` with the given SCRAM client nonce (tests).
    pub fn start_with_nonce(
        mechanism: Mechanism,
        credentials: &ClientCredentials,
        channel_binding: Option<&ChannelBinding>,
        nonce: String,
    ) -> Result<ClientMechanism, SaslError> {
        let c = credentials;
        Ok(match mechanism {
            Mechanism::Plain => ClientMechanism::Plain(PlainClient::new(
                c.authzid.as_deref(),
                &c.username,
                &c.password,
            )),
            Mechanism::Login => ClientMechanism::Login(LoginClient::new(&c.username, &c.password)),
            Mechanism::CramMd5 => {
                ClientMechanism::CramMd5(CramMd5Client::new(&c.username, &c.password)?)
            }
            Mechanism::ScramSha256Plus
            | Mechanism::ScramSha256
            | Mechanism::ScramSha1Plus
            | Mechanism::ScramSha1 => ClientMechanism::Scram(Box::new(ScramClient::new(
                mechanism,
                c.authzid.as_deref(),
                &c.username,
                &c.password,
                channel_binding,
                nonce,
            )?)),
        })
    }

    pub fn mechanism(&self) -> Mechanism {
        match self {
            ClientMechanism::Plain(_) => Mechanism::Plain,
            ClientMechanism::Login(_) => Mechanism::Login,
            ClientMechanism::CramMd5(_) => Mechanism::CramMd5,
            ClientMechanism::Scram(m) => m.mechanism(),
        }
    }

    /// The initial response (RFC 4954's AUTH argument, RFC 4959's SASL-IR), for the mechanisms
    /// where the client speaks first; None for LOGIN and CRAM-MD5. Call it at most once, before
    /// any challenge; without it, the first challenge is empty and [`Self::step`] answers it.
    pub fn initial_response(&mut self) -> Result<Option<Vec<u8>>, SaslError> {
        match self {
            ClientMechanism::Plain(m) => m.initial_response().map(Some),
            ClientMechanism::Scram(m) => m.initial_response().map(Some),
            ClientMechanism::Login(_) | ClientMechanism::CramMd5(_) => Ok(None),
        }
    }

    /// The response to a (decoded) server challenge.
    pub fn step(&mut self, challenge: &[u8]) -> Result<Vec<u8>, SaslError> {
        match self {
            ClientMechanism::Plain(m) => m.step(challenge),
            ClientMechanism::Login(m) => m.step(challenge),
            ClientMechanism::CramMd5(m) => m.step(challenge),
            ClientMechanism::Scram(m) => m.step(challenge),
        }
    }

    /// The server said the exchange succeeded, with `additional` data if its protocol carries
    /// some. An error means the success is not to be believed (SCRAM: the server did not prove
    /// it knows the password) or came before we said everything.
    pub fn finish(&mut self, additional: Option<&[u8]>) -> Result<(), SaslError> {
        let unexpected = || SaslError::OutOfOrder("success before the exchange was complete");
        let done = match self {
            ClientMechanism::Scram(m) => return m.finish(additional),
            ClientMechanism::Plain(m) => m.is_done(),
            ClientMechanism::Login(m) => m.is_done(),
            ClientMechanism::CramMd5(m) => m.is_done(),
        };
        if !done {
            return Err(unexpected());
        }
        match additional {
            None | Some([]) => Ok(()),
            Some(_) => Err(SaslError::Malformed("unexpected additional data")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chooses_the_most_secure_common_mechanism() {
        let all = [
            "PLAIN",
            "LOGIN",
            "CRAM-MD5",
            "SCRAM-SHA-1",
            "SCRAM-SHA-1-PLUS",
            "SCRAM-SHA-256",
            "SCRAM-SHA-256-PLUS",
        ];
        assert_eq!(choose(all, true, false), Some(Mechanism::ScramSha256Plus));
        assert_eq!(choose(all, false, false), Some(Mechanism::ScramSha256));
        assert_eq!(
            choose(
                ["scram-sha-1-plus", "scram-sha-1", "SCRAM-SHA-256"],
                true,
                false
            ),
            Some(Mechanism::ScramSha256)
        );
        assert_eq!(
            choose(["SCRAM-SHA-1-PLUS", "SCRAM-SHA-1"], true, false),
            Some(Mechanism::ScramSha1Plus)
        );
        assert_eq!(
            choose(["SCRAM-SHA-1-PLUS", "SCRAM-SHA-1"], false, false),
            Some(Mechanism::ScramSha1)
        );
        assert_eq!(
            choose(["PLAIN", "CRAM-MD5", "LOGIN"], true, false),
            Some(Mechanism::CramMd5)
        );
        assert_eq!(choose(["PLAIN", "LOGIN"], true, false), None);
        assert_eq!(
            choose(["LOGIN", "PLAIN"], true, true),
            Some(Mechanism::Plain)
        );
        assert_eq!(
            choose(["LOGIN", "XOAUTH2"], false, true),
            Some(Mechanism::Login)
        );
        assert_eq!(choose(["SCRAM-SHA-256-PLUS"], false, true), None);
        assert_eq!(choose([], true, true), None);
    }

    #[test]
    fn success_before_the_end_is_refused() {
        let creds = ClientCredentials {
            authzid: None,
            username: "mox".into(),
            password: "pw".into(),
        };
        for m in Mechanism::ALL {
            let cb = ChannelBinding {
                kind: super::super::ChannelBindingType::TlsExporter,
                data: vec![1; 32],
            };
            let mut c = ClientMechanism::start(m, &creds, Some(&cb)).unwrap();
            assert_eq!(c.mechanism(), m);
            assert!(c.finish(None).is_err(), "{m:?}");
        }
    }
}
