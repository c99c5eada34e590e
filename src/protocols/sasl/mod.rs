//! SASL (RFC 4422) mechanisms as small state machines, shared by SMTP AUTH and IMAP AUTHENTICATE
//! on the server side and by the outgoing SMTP client. Each step takes the peer's decoded message
//! and says what to send next. Base64 on the wire is the protocol's business; no step does I/O.
//!
//! # Server
//!
//! ```text
//! let mut mech = ServerMechanism::start(name, &context)?;   // UnsupportedMechanism -> 504 / NO
//! let mut next = mech.step(initial_response)?;               // None: no initial response
//! loop {
//!     match next {
//!         Next::Challenge(data) => { send data; next = mech.step(Some(&client_response))? }
//!         Next::NeedSecrets { username } => {
//!             // Resolve the login name to an account, read its secrets (None when there is
//!             // no such account or it has no password); the answer continues the exchange.
//!             next = mech.supply_secrets(secrets.as_ref())?
//!         }
//!         Next::Verify(credentials) => { check the password as for LOGIN; done }
//!         Next::Authenticated { username, authzid } => { done: logged in as `username` }
//!     }
//! }
//! ```
//!
//! A client cancelling ("*") ends the exchange: drop the mechanism. Every error ends the
//! exchange too; [`SaslError::is_credentials`] tells a failed login from a broken exchange.
//!
//! # Client
//!
//! See [`client`]: [`client::choose`] picks a mechanism from what the server offers, and
//! [`client::ClientMechanism`] runs it.

pub mod client;
pub mod cram_md5;
pub mod login;
pub mod plain;
pub mod scram;

#[cfg(test)]
mod tests;

use crate::auth::{PasswordSecrets, ScramHash};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    #[error("unsupported mechanism {0}")]
    UnsupportedMechanism(String),
    #[error("malformed message: {0}")]
    Malformed(&'static str),
    #[error("authentication cancelled")]
    Cancelled,
    /// Wrong password or proof, or no such user: the two are not told apart.
    #[error("authentication failed")]
    InvalidCredentials,
    /// The account's secrets predate this mechanism.
    #[error("{0} is not available for this account until the password is set again")]
    NotAvailable(&'static str),
    #[error("channel binding: {0}")]
    ChannelBinding(&'static str),
    /// The caller drove the machine out of order (a step while secrets are awaited, a step
    /// after the end).
    #[error("unexpected step: {0}")]
    OutOfOrder(&'static str),
    #[error("no random numbers available from the system")]
    Random,
    /// Client side: the server sent a SCRAM server-error (`e=`).
    #[error("server error: {0}")]
    Server(String),
    /// Client side: the server did not prove knowledge of the password (SCRAM's `v=`).
    #[error("the server could not be verified")]
    ServerNotVerified,
    /// Client side: the password cannot be used (SASLprep refuses it).
    #[error("unusable password: {0}")]
    Password(crate::auth::PrepError),
}

impl SaslError {
    /// Whether the exchange ran its course and the credentials were refused (a 535 / NO
    /// AUTHENTICATIONFAILED), rather than being broken off.
    pub fn is_credentials(&self) -> bool {
        matches!(
            self,
            SaslError::InvalidCredentials | SaslError::NotAvailable(_)
        )
    }
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

/// What a server mechanism wants after a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Send this challenge and feed the client's answer to the next step.
    Challenge(Vec<u8>),
    /// PLAIN, LOGIN: the exchange is complete, verify these.
    Verify(Credentials),
    /// SCRAM, CRAM-MD5: call [`ServerMechanism::supply_secrets`] with the secrets of the account
    /// `username` logs in to, or None when there is none.
    NeedSecrets { username: String },
    /// The client proved it knows the password of `username` (whose secrets were supplied).
    /// `authzid` is the identity it asked to act as, if any: refuse the login unless it is
    /// allowed.
    Authenticated {
        username: String,
        authzid: Option<String>,
    },
}

/// The mechanisms we know, most secure first (the client's order of preference).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    ScramSha256Plus,
    ScramSha256,
    ScramSha1Plus,
    ScramSha1,
    CramMd5,
    Plain,
    Login,
}

impl Mechanism {
    pub const ALL: [Mechanism; 7] = [
        Mechanism::ScramSha256Plus,
        Mechanism::ScramSha256,
        Mechanism::ScramSha1Plus,
        Mechanism::ScramSha1,
        Mechanism::CramMd5,
        Mechanism::Plain,
        Mechanism::Login,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Mechanism::ScramSha256Plus => "SCRAM-SHA-256-PLUS",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha1Plus => "SCRAM-SHA-1-PLUS",
            Mechanism::ScramSha1 => "SCRAM-SHA-1",
            Mechanism::CramMd5 => "CRAM-MD5",
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
        }
    }

    /// The mechanism of a name, in any case.
    pub fn from_name(name: &str) -> Option<Mechanism> {
        Mechanism::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name))
    }

    /// The hash and whether channel binding is used, for the SCRAM family.
    pub fn scram(self) -> Option<(ScramHash, bool)> {
        match self {
            Mechanism::ScramSha256Plus => Some((ScramHash::Sha256, true)),
            Mechanism::ScramSha256 => Some((ScramHash::Sha256, false)),
            Mechanism::ScramSha1Plus => Some((ScramHash::Sha1, true)),
            Mechanism::ScramSha1 => Some((ScramHash::Sha1, false)),
            _ => None,
        }
    }

    /// Whether the password itself crosses the connection.
    pub fn is_plaintext(self) -> bool {
        matches!(self, Mechanism::Plain | Mechanism::Login)
    }
}

/// The mechanisms a server offers, in the order advertised: the -PLUS ones only when the
/// connection has channel binding data (TLS).
pub fn server_mechanisms(channel_binding: bool) -> impl Iterator<Item = Mechanism> {
    Mechanism::ALL
        .into_iter()
        .filter(move |m| channel_binding || !matches!(m.scram(), Some((_, true))))
}

/// Mechanisms offered for password login, in the order advertised.
pub const PASSWORD_MECHANISMS: [&str; 2] = ["PLAIN", "LOGIN"];

/// TLS channel binding types (RFC 5056) that SCRAM-*-PLUS can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelBindingType {
    /// RFC 9266: keying material exported from a TLS 1.3 connection.
    TlsExporter,
    /// RFC 5929 §4: the hash of the server's certificate.
    TlsServerEndPoint,
}

impl ChannelBindingType {
    pub fn name(self) -> &'static str {
        match self {
            ChannelBindingType::TlsExporter => "tls-exporter",
            ChannelBindingType::TlsServerEndPoint => "tls-server-end-point",
        }
    }

    pub fn from_name(name: &str) -> Option<ChannelBindingType> {
        [
            ChannelBindingType::TlsExporter,
            ChannelBindingType::TlsServerEndPoint,
        ]
        .into_iter()
        .find(|t| t.name() == name)
    }
}

/// Channel binding data of the connection, computed by the TLS layer.
#[derive(Clone, PartialEq, Eq)]
pub struct ChannelBinding {
    pub kind: ChannelBindingType,
    pub data: Vec<u8>,
}

impl std::fmt::Debug for ChannelBinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelBinding")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// What a server exchange needs to know about its connection and server.
#[derive(Debug, Clone)]
pub struct ServerContext {
    /// Host name in CRAM-MD5 challenges.
    pub hostname: String,
    /// The channel bindings of this connection, empty without TLS. With any, the -PLUS
    /// mechanisms are offered, and a SCRAM client saying it could bind but believes we cannot
    /// (`y`) is refused as a downgrade (RFC 5802 §6).
    pub channel_bindings: Vec<ChannelBinding>,
    /// Server-wide secret from which SCRAM exchanges for unknown users get their salt: the same
    /// for a username every time (keep it across restarts), unpredictable to others.
    pub fake_salt_key: [u8; 32],
}

/// The unpredictable parts of a new server exchange, made fresh for each by [`Fresh::generate`]
/// and given explicitly in tests.
#[derive(Debug, Clone)]
pub struct Fresh {
    /// SCRAM's server nonce: printable, no comma.
    pub nonce: String,
    /// CRAM-MD5's challenge, `<random.timestamp@hostname>` (RFC 2195 §2).
    pub cram_md5_challenge: String,
}

impl Fresh {
    pub fn generate(hostname: &str) -> Result<Fresh, SaslError> {
        let mut random = [0u8; 26];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random)
            .map_err(|_| SaslError::Random)?;
        let (nonce, number) = random.split_at(18);
        let mut number8 = [0u8; 8];
        number8.copy_from_slice(number);
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Ok(Fresh {
            nonce: base64_encode(nonce),
            cram_md5_challenge: format!("<{}.{timestamp}@{hostname}>", u64::from_le_bytes(number8)),
        })
    }
}

/// A server side exchange in progress.
#[derive(Debug)]
pub enum ServerMechanism {
    Plain(plain::PlainServer),
    Login(login::LoginServer),
    CramMd5(cram_md5::CramMd5Server),
    Scram(Box<scram::ScramServer>),
}

impl ServerMechanism {
    /// Starts the mechanism `name` (any case) with fresh random values.
    pub fn start(name: &str, context: &ServerContext) -> Result<ServerMechanism, SaslError> {
        let mechanism = Mechanism::from_name(name)
            .ok_or_else(|| SaslError::UnsupportedMechanism(name.to_string()))?;
        ServerMechanism::start_with(mechanism, context, Fresh::generate(&context.hostname)?)
    }

    /// Starts `mechanism` with the given random values (tests).
    pub fn start_with(
        mechanism: Mechanism,
        context: &ServerContext,
        fresh: Fresh,
    ) -> Result<ServerMechanism, SaslError> {
        Ok(match mechanism {
            Mechanism::Plain => ServerMechanism::Plain(plain::PlainServer),
            Mechanism::Login => ServerMechanism::Login(login::LoginServer::default()),
            Mechanism::CramMd5 => {
                ServerMechanism::CramMd5(cram_md5::CramMd5Server::new(fresh.cram_md5_challenge))
            }
            Mechanism::ScramSha256Plus
            | Mechanism::ScramSha256
            | Mechanism::ScramSha1Plus
            | Mechanism::ScramSha1 => {
                let offered =
                    server_mechanisms(!context.channel_bindings.is_empty()).any(|m| m == mechanism);
                if !offered {
                    return Err(SaslError::UnsupportedMechanism(mechanism.name().into()));
                }
                ServerMechanism::Scram(Box::new(scram::ScramServer::new(
                    mechanism,
                    context,
                    fresh.nonce,
                )?))
            }
        })
    }

    /// Starts PLAIN or LOGIN, the mechanisms that need nothing of the connection.
    pub fn start_password(name: &str) -> Result<ServerMechanism, SaslError> {
        match Mechanism::from_name(name) {
            Some(Mechanism::Plain) => Ok(ServerMechanism::Plain(plain::PlainServer)),
            Some(Mechanism::Login) => Ok(ServerMechanism::Login(login::LoginServer::default())),
            _ => Err(SaslError::UnsupportedMechanism(name.to_string())),
        }
    }

    pub fn mechanism(&self) -> Mechanism {
        match self {
            ServerMechanism::Plain(_) => Mechanism::Plain,
            ServerMechanism::Login(_) => Mechanism::Login,
            ServerMechanism::CramMd5(_) => Mechanism::CramMd5,
            ServerMechanism::Scram(m) => m.mechanism(),
        }
    }

    /// One step. `response` is None when the client sent no initial response.
    pub fn step(&mut self, response: Option<&[u8]>) -> Result<Next, SaslError> {
        match self {
            ServerMechanism::Plain(m) => m.step(response),
            ServerMechanism::Login(m) => m.step(response),
            ServerMechanism::CramMd5(m) => m.step(response),
            ServerMechanism::Scram(m) => m.step(response),
        }
    }

    /// The answer to [`Next::NeedSecrets`]: the account's secrets, or None when the username
    /// has no account (or no password). With None a SCRAM exchange goes on as for a real account
    /// (with a fake salt) and fails at the end, and CRAM-MD5 fails as for a wrong password, so
    /// the client cannot tell. Secrets without keys for this mechanism (a password set before
    /// it was offered) end the exchange with [`SaslError::NotAvailable`], which does tell the
    /// client the account exists.
    pub fn supply_secrets(&mut self, secrets: Option<&PasswordSecrets>) -> Result<Next, SaslError> {
        match self {
            ServerMechanism::Plain(_) | ServerMechanism::Login(_) => {
                Err(SaslError::OutOfOrder("this mechanism asks for no secrets"))
            }
            ServerMechanism::CramMd5(m) => m.supply_secrets(secrets),
            ServerMechanism::Scram(m) => m.supply_secrets(secrets),
        }
    }
}

fn utf8(bytes: &[u8], what: &'static str) -> Result<String, SaslError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| SaslError::Malformed(what))
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn base64_decode(text: &str, what: &'static str) -> Result<Vec<u8>, SaslError> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| SaslError::Malformed(what))
}
