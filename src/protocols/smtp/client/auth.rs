//! AUTH (RFC 4954) with our SASL client mechanisms.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use tokio::io::{AsyncRead, AsyncWrite};

use super::error::{ClientError, ProtocolError, Refusal, Step};
use super::session::Client;
use crate::protocols::sasl::client::{ClientCredentials, ClientMechanism, choose};
use crate::protocols::sasl::{Mechanism, SaslError};
use crate::protocols::smtp::Reply;

/// RFC 4954 §4: the AUTH command line, CRLF included, stays within RFC 5321's 512 octets; a
/// longer initial response is sent after an empty challenge instead.
const MAX_AUTH_LINE: usize = 512;
/// Challenges in one exchange before we call it a loop.
const MAX_ROUNDS: usize = 10;

/// Which mechanisms may be used.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthOptions {
    /// The configured mechanisms: the most secure one the server also offers is used. PLAIN and
    /// LOGIN are allowed when listed. None: any we know, see `allow_plaintext`.
    pub mechanisms: Option<Vec<Mechanism>>,
    /// Without a configured list: whether PLAIN and LOGIN may be used (only over TLS, please).
    pub allow_plaintext: bool,
}

impl AuthOptions {
    /// The mechanism to use of those the server offers.
    pub fn choose(&self, offered: &[String], channel_binding: bool) -> Option<Mechanism> {
        let Some(allowed) = &self.mechanisms else {
            return choose(
                offered.iter().map(String::as_str),
                channel_binding,
                self.allow_plaintext,
            );
        };
        Mechanism::ALL.into_iter().find(|m| {
            allowed.contains(m)
                && offered.iter().any(|o| o.eq_ignore_ascii_case(m.name()))
                && (channel_binding || !matches!(m.scram(), Some((_, true))))
        })
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Client<S> {
    /// Logs in with the strongest mechanism allowed and offered. Returns the mechanism used. A
    /// refusal is a [`ClientError::Reply`] at [`Step::Auth`] (535: bad credentials, 454:
    /// temporary); a server that cannot prove it knows the password (SCRAM) is a
    /// [`ClientError::Sasl`], and the connection is not used further.
    pub async fn auth(
        &mut self,
        credentials: &ClientCredentials,
        options: &AuthOptions,
    ) -> Result<Mechanism, ClientError> {
        let cb = self.channel_binding.clone();
        let Some(mechanism) = options.choose(&self.capabilities.auth, cb.is_some()) else {
            return Err(ClientError::Refused {
                step: Step::Auth,
                reason: Refusal::NoAuthMechanism,
            });
        };
        // Offering our binding with a SCRAM without -PLUS says "I could bind, you cannot" (the
        // `y` flag, RFC 5802 §6): only true when the server offers no -PLUS at all.
        let server_binds = self.capabilities.auth.iter().any(|m| m.ends_with("-PLUS"));
        let bind = match mechanism.scram() {
            Some((_, false)) if server_binds => None,
            _ => cb.as_ref(),
        };
        let sasl = |error: SaslError| ClientError::Sasl { error };
        let mut mech = ClientMechanism::start(mechanism, credentials, bind).map_err(sasl)?;
        tracing::debug!(mechanism = mechanism.name(), "smtp client auth");

        let initial = mech.initial_response().map_err(sasl)?;
        let mut line = format!("AUTH {}", mechanism.name());
        let mut pending = None;
        if let Some(ir) = initial {
            // RFC 4954 §4: "=" is an empty initial response.
            let encoded = if ir.is_empty() {
                "=".to_string()
            } else {
                BASE64.encode(&ir)
            };
            if line.len() + 1 + encoded.len() + 2 <= MAX_AUTH_LINE {
                line.push(' ');
                line.push_str(&encoded);
            } else {
                pending = Some(ir);
            }
        }
        let t = self.timeouts.command;
        self.conn.command(Step::Auth, &line, t).await?;
        for _ in 0..MAX_ROUNDS {
            let reply = self.conn.read_reply(Step::Auth, t).await?;
            match reply.code {
                334 => {
                    let text = reply.lines.first().map(|l| l.trim()).unwrap_or_default();
                    let Ok(challenge) = BASE64.decode(text) else {
                        self.cancel().await?;
                        return Err(ClientError::Protocol {
                            step: Step::Auth,
                            error: ProtocolError::Base64,
                        });
                    };
                    let response = match pending.take() {
                        Some(ir) if challenge.is_empty() => Ok(ir),
                        _ => mech.step(&challenge),
                    };
                    let response = match response {
                        Ok(r) => r,
                        Err(error) => {
                            self.cancel().await?;
                            return Err(sasl(error));
                        }
                    };
                    // An empty response is an empty line.
                    self.conn
                        .command(Step::Auth, &BASE64.encode(response), t)
                        .await?;
                }
                235 => {
                    if let Err(error) = finish(&mut mech, &reply) {
                        // Logged in to a server we cannot trust: stop here.
                        self.conn.mark_broken();
                        return Err(sasl(error));
                    }
                    self.authenticated = true;
                    return Ok(mechanism);
                }
                _ => {
                    return Err(ClientError::Reply {
                        step: Step::Auth,
                        reply,
                    });
                }
            }
        }
        self.conn.mark_broken();
        Err(ClientError::Protocol {
            step: Step::Auth,
            error: ProtocolError::Unexpected(334),
        })
    }

    /// Ends the exchange with `*` (RFC 4954 §4); the server answers with an error.
    async fn cancel(&mut self) -> Result<(), ClientError> {
        let t = self.timeouts.command;
        self.conn.command(Step::Auth, "*", t).await?;
        self.conn.read_reply(Step::Auth, t).await.map(|_| ())
    }
}

/// Success as far as the mechanism is concerned. SMTP has no additional data with 235: the
/// server sends SCRAM's server-final in a 334 and we answered it with an empty line (RFC 4954
/// §4). Some servers put it in the 235 text anyway; take it from there when the exchange is
/// not complete without it.
fn finish(mech: &mut ClientMechanism, reply: &Reply) -> Result<(), SaslError> {
    match mech.finish(None) {
        Err(SaslError::ServerNotVerified) => {
            let text = reply.lines.first().map(|l| l.trim()).unwrap_or_default();
            match BASE64.decode(text) {
                Ok(data) if !data.is_empty() => mech.finish(Some(&data)),
                _ => Err(SaslError::ServerNotVerified),
            }
        }
        r => r,
    }
}
