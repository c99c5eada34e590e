//! The outgoing SMTP client (RFC 5321) over any tokio stream: greeting, EHLO (HELO fallback),
//! STARTTLS (RFC 3207) or implicit TLS, AUTH (RFC 4954) with our SASL mechanisms, and mail
//! transactions with PIPELINING (RFC 2920), CHUNKING (RFC 3030), SIZE, 8BITMIME, SMTPUTF8 and
//! REQUIRETLS.
//!
//! ```text
//! let mut c = Client::connect(tcp, Timeouts::default()).await?;        // or connect_tls (465)
//! c.ehlo("mail.example.org").await?;
//! if c.capabilities().starttls { c.starttls(&tls, "mx.example.net").await?; }  // re-EHLOs
//! c.auth(&credentials, &AuthOptions::default()).await?;                // submission relays
//! let results = c.send(&envelope, Message { prefix, body, body_size }).await?;
//! c.send(..)  // more transactions on the same connection
//! c.quit().await;
//! ```
//!
//! [`Client::send`] fails as a whole only before any recipient was tried; from then on each
//! recipient gets its own result, the final reply or the error that applies to it.

mod auth;
mod capabilities;
mod conn;
mod data;
mod dotstuff;
mod error;
pub mod reply;
mod session;
mod tls;
mod transaction;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_conn;
#[cfg(test)]
mod tests_server;

pub use auth::AuthOptions;
pub use capabilities::Capabilities;
pub use dotstuff::DotStuffer;
pub use error::{ClientError, ProtocolError, Refusal, Step};
pub use reply::{ReplyError, ReplyParser};
pub use session::{Client, Timeouts};
pub use tls::{SYSTEM_ROOTS, TlsConfig, TlsConfigError, load_roots};
pub use transaction::{Envelope, Message, RcptResult};
