//! SASL (RFC 4422) server mechanisms, as small state machines shared by SMTP AUTH and IMAP
//! AUTHENTICATE. Each step takes the client's decoded response and says what to send next or
//! which credentials to verify. Base64 on the wire is the protocol's business.

pub mod login;
pub mod plain;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    #[error("unsupported mechanism {0}")]
    UnsupportedMechanism(String),
    #[error("malformed response: {0}")]
    Malformed(&'static str),
    #[error("authentication cancelled by the client")]
    Cancelled,
}

/// A username and password to check.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Authorization identity, when the client asked to act as someone else (RFC 4616 §2).
    pub authzid: Option<String>,
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("authzid", &self.authzid)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// What a mechanism wants after a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Send this challenge and feed the client's answer to the next step.
    Challenge(Vec<u8>),
    /// The exchange is complete: verify these.
    Verify(Credentials),
}

/// A server side exchange in progress.
#[derive(Debug)]
pub enum ServerMechanism {
    Plain(plain::PlainServer),
    Login(login::LoginServer),
}

/// Mechanisms offered for password login, in the order advertised.
pub const PASSWORD_MECHANISMS: [&str; 2] = ["PLAIN", "LOGIN"];

impl ServerMechanism {
    pub fn start(name: &str) -> Result<ServerMechanism, SaslError> {
        match name.to_ascii_uppercase().as_str() {
            "PLAIN" => Ok(ServerMechanism::Plain(plain::PlainServer)),
            "LOGIN" => Ok(ServerMechanism::Login(login::LoginServer::default())),
            _ => Err(SaslError::UnsupportedMechanism(name.to_string())),
        }
    }

    /// One step. `response` is None when the client sent no initial response.
    pub fn step(&mut self, response: Option<&[u8]>) -> Result<Next, SaslError> {
        match self {
            ServerMechanism::Plain(m) => m.step(response),
            ServerMechanism::Login(m) => m.step(response),
        }
    }
}

fn utf8(bytes: &[u8], what: &'static str) -> Result<String, SaslError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| SaslError::Malformed(what))
}
