//! The client's connection-level steps: greeting, EHLO/HELO, STARTTLS, RSET, QUIT.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

use super::capabilities::Capabilities;
use super::conn::Conn;
use super::error::{ClientError, Refusal, Step};
use super::tls::{TlsConfig, server_name};
use crate::protocols::sasl::ChannelBinding;
use crate::protocols::smtp::Reply;

/// How long to wait for each reply, and for each block of message data to be taken. The
/// defaults are RFC 5321 §4.5.3.2's minimums.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub greeting: Duration,
    /// EHLO, HELO, STARTTLS and the TLS handshake, AUTH, RSET, QUIT (the RFC names none).
    pub command: Duration,
    pub mail: Duration,
    pub rcpt: Duration,
    /// The reply to DATA (354).
    pub data_init: Duration,
    /// Each write of message data, and the reply to a BDAT chunk that is not the last.
    pub data_block: Duration,
    /// The reply to the final dot or BDAT LAST.
    pub data_end: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        let min = |m: u64| Duration::from_secs(m * 60);
        Timeouts {
            greeting: min(5),
            command: min(5),
            mail: min(5),
            rcpt: min(5),
            data_init: min(2),
            data_block: min(3),
            data_end: min(10),
        }
    }
}

/// A connection to an SMTP server. `S` is the transport: a `TcpStream`, or a
/// `tokio::io::DuplexStream` in tests.
pub struct Client<S> {
    pub(super) conn: Conn<S>,
    pub(super) timeouts: Timeouts,
    greeting: Reply,
    /// The name we gave in EHLO, for the EHLO after STARTTLS.
    hostname: Option<String>,
    /// Whether EHLO worked (else HELO did).
    esmtp: bool,
    pub(super) capabilities: Capabilities,
    pub(super) channel_binding: Option<ChannelBinding>,
    pub(super) authenticated: bool,
    /// A transaction was left unfinished: RSET before the next one.
    pub(super) needs_rset: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Client<S> {
    /// Reads the greeting on a freshly connected stream.
    pub async fn connect(stream: S, timeouts: Timeouts) -> Result<Client<S>, ClientError> {
        Client::greet(Conn::new(stream), timeouts, None).await
    }

    /// Implicit TLS (RFC 8314, port 465): the TLS handshake, then the greeting. `server` is the
    /// host name to verify (and send as SNI).
    pub async fn connect_tls(
        stream: S,
        tls: &TlsConfig,
        server: &str,
        timeouts: Timeouts,
    ) -> Result<Client<S>, ClientError> {
        let mut conn = Conn::new(stream);
        let binding = conn.start_tls(tls, name(server)?, timeouts.command).await?;
        Client::greet(conn, timeouts, binding).await
    }

    async fn greet(
        mut conn: Conn<S>,
        timeouts: Timeouts,
        channel_binding: Option<ChannelBinding>,
    ) -> Result<Client<S>, ClientError> {
        let greeting = conn.read_reply(Step::Greeting, timeouts.greeting).await?;
        if greeting.code != 220 {
            // RFC 5321 §3.1: a 554 greeting says no service here; say QUIT and go.
            let _ = conn.command(Step::Quit, "QUIT", timeouts.command).await;
            return Err(ClientError::Reply {
                step: Step::Greeting,
                reply: greeting,
            });
        }
        Ok(Client {
            conn,
            timeouts,
            greeting,
            hostname: None,
            esmtp: false,
            capabilities: Capabilities::default(),
            channel_binding,
            authenticated: false,
            needs_rset: false,
        })
    }

    /// EHLO with our host name (a domain, or an address literal like `[192.0.2.1]`); HELO when
    /// the server does not know EHLO (RFC 5321 §4.1.4: a 500 or 502, or any 5xx from old
    /// servers). Returns what the server offers (nothing after HELO).
    pub async fn ehlo(&mut self, hostname: &str) -> Result<&Capabilities, ClientError> {
        self.hostname = Some(hostname.to_string());
        let t = self.timeouts.command;
        self.conn
            .command(Step::Ehlo, &format!("EHLO {hostname}"), t)
            .await?;
        let reply = self.conn.read_reply(Step::Ehlo, t).await?;
        match reply.code {
            250 => {
                self.esmtp = true;
                self.capabilities = Capabilities::parse(&reply);
            }
            500..=599 => {
                self.conn
                    .command(Step::Ehlo, &format!("HELO {hostname}"), t)
                    .await?;
                let reply = self.conn.read_reply(Step::Ehlo, t).await?;
                if reply.code != 250 {
                    return Err(ClientError::Reply {
                        step: Step::Ehlo,
                        reply,
                    });
                }
                self.esmtp = false;
                self.capabilities = Capabilities::default();
            }
            _ => {
                return Err(ClientError::Reply {
                    step: Step::Ehlo,
                    reply,
                });
            }
        }
        Ok(&self.capabilities)
    }

    /// STARTTLS, the handshake with `server`'s name, and EHLO again with the same host name
    /// (RFC 3207 §4.2: what was learned before TLS is forgotten).
    pub async fn starttls(&mut self, tls: &TlsConfig, server: &str) -> Result<(), ClientError> {
        let Some(hostname) = self.hostname.clone() else {
            return Err(ClientError::Usage("STARTTLS before EHLO"));
        };
        if !self.capabilities.starttls {
            return Err(ClientError::Refused {
                step: Step::StartTls,
                reason: Refusal::TlsNotOffered,
            });
        }
        let name = name(server)?;
        let t = self.timeouts.command;
        self.conn.command(Step::StartTls, "STARTTLS", t).await?;
        let reply = self.conn.read_reply(Step::StartTls, t).await?;
        if reply.code != 220 {
            return Err(ClientError::Reply {
                step: Step::StartTls,
                reply,
            });
        }
        self.channel_binding = self.conn.start_tls(tls, name, t).await?;
        self.capabilities = Capabilities::default();
        self.ehlo(&hostname).await?;
        Ok(())
    }

    /// Resets the transaction state on the server (RFC 5321 §4.1.1.5).
    pub async fn rset(&mut self) -> Result<(), ClientError> {
        let t = self.timeouts.command;
        self.conn.command(Step::Rset, "RSET", t).await?;
        let reply = self.conn.read_reply(Step::Rset, t).await?;
        self.expect_rset(reply)
    }

    pub(super) fn expect_rset(&mut self, reply: Reply) -> Result<(), ClientError> {
        if reply.code != 250 {
            return Err(ClientError::Reply {
                step: Step::Rset,
                reply,
            });
        }
        self.needs_rset = false;
        Ok(())
    }

    /// QUIT and close; errors do not matter any more.
    pub async fn quit(mut self) {
        let t = self.timeouts.command;
        if !self.conn.is_broken() && self.conn.command(Step::Quit, "QUIT", t).await.is_ok() {
            let _ = self.conn.read_reply(Step::Quit, t).await;
        }
        self.conn.shutdown(t).await;
    }

    pub fn greeting(&self) -> &Reply {
        &self.greeting
    }

    pub fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// Whether EHLO was accepted (else the server only knew HELO).
    pub fn is_esmtp(&self) -> bool {
        self.esmtp
    }

    pub fn is_tls(&self) -> bool {
        self.conn.is_tls()
    }

    /// The `tls-exporter` channel binding, with TLS 1.3.
    pub fn channel_binding(&self) -> Option<&ChannelBinding> {
        self.channel_binding.as_ref()
    }

    pub fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    /// Whether another transaction can be tried on this connection.
    pub fn is_usable(&self) -> bool {
        !self.conn.is_broken()
    }
}

fn name(server: &str) -> Result<rustls::pki_types::ServerName<'static>, ClientError> {
    server_name(server).ok_or_else(|| {
        ClientError::Tls(std::sync::Arc::new(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("invalid server name {server:?}"),
        )))
    })
}
