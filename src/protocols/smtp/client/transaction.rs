//! A mail transaction: MAIL, RCPT (pipelined when offered), then the message with DATA or BDAT.

use tokio::io::{AsyncRead, AsyncWrite};

use super::error::{ClientError, Refusal, Step};
use super::session::Client;
use crate::address::Address;
use crate::protocols::smtp::Reply;

/// Who the message is from and to, and what it needs of the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// None for the null reverse-path `<>` (DSNs).
    pub mail_from: Option<Address>,
    pub recipients: Vec<Address>,
    /// The message has UTF-8 headers (or addresses): SMTPUTF8 is required (RFC 6531). Also
    /// required, without this flag, for a non-ASCII localpart in the envelope.
    pub smtputf8: bool,
    /// The message must travel over TLS only (RFC 8689).
    pub requiretls: bool,
    /// The body has 8-bit bytes: BODY=8BITMIME when offered (RFC 6152).
    pub eight_bit: bool,
}

/// The message: `prefix` (header fields we add, such as DKIM-Signature and Received) followed
/// by `body_size` bytes from `body`, all with CRLF line ends. The body is streamed, never read
/// whole.
pub struct Message<'a> {
    pub prefix: &'a [u8],
    pub body: &'a mut (dyn AsyncRead + Unpin + Send),
    pub body_size: u64,
}

impl Message<'_> {
    pub fn size(&self) -> u64 {
        (self.prefix.len() as u64).saturating_add(self.body_size)
    }
}

/// The outcome for one recipient: the server's final reply (2xx: delivered), or why not.
#[derive(Debug, Clone)]
pub struct RcptResult {
    pub address: Address,
    pub result: Result<Reply, ClientError>,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Client<S> {
    /// One transaction. An error here means no recipient was tried: a local refusal, RSET or
    /// MAIL failing, the connection going away. After that, each recipient has its result: its
    /// RCPT refusal, or what became of the message. After a failure the connection may still be
    /// good for another transaction ([`Client::is_usable`]).
    pub async fn send(
        &mut self,
        envelope: &Envelope,
        message: Message<'_>,
    ) -> Result<Vec<RcptResult>, ClientError> {
        let mail = self.mail_command(envelope, &message)?;
        let utf8 = needs_smtputf8(envelope);
        let rcpts: Vec<String> = envelope
            .recipients
            .iter()
            .map(|a| format!("RCPT TO:<{}>", path(a, utf8)))
            .collect();
        let replies = if self.capabilities.pipelining {
            self.pipelined(&mail, &rcpts).await?
        } else {
            self.one_by_one(&mail, &rcpts).await?
        };
        // From here the server has a transaction open until it ends well.
        self.needs_rset = true;
        let mut results: Vec<RcptResult> = envelope
            .recipients
            .iter()
            .zip(replies)
            .map(|(address, result)| {
                let result = match result {
                    Ok(reply) if reply.code / 100 == 2 => Ok(reply),
                    Ok(reply) => Err(ClientError::Reply {
                        step: Step::Rcpt,
                        reply,
                    }),
                    Err(e) => Err(e),
                };
                RcptResult {
                    address: address.clone(),
                    result,
                }
            })
            .collect();
        if !results.iter().any(|r| r.result.is_ok()) {
            return Ok(results);
        }
        let outcome = if self.capabilities.chunking {
            self.bdat(message).await
        } else {
            self.data(message).await
        };
        if outcome.is_ok() {
            self.needs_rset = false;
        }
        for r in results.iter_mut().filter(|r| r.result.is_ok()) {
            r.result = outcome.clone();
        }
        Ok(results)
    }

    /// MAIL FROM with its parameters, after the checks that make asking pointless.
    fn mail_command(
        &self,
        envelope: &Envelope,
        message: &Message<'_>,
    ) -> Result<String, ClientError> {
        let caps = &self.capabilities;
        let refuse = |reason| {
            Err(ClientError::Refused {
                step: Step::Mail,
                reason,
            })
        };
        if envelope.recipients.is_empty() {
            return refuse(Refusal::NoRecipients);
        }
        let utf8 = needs_smtputf8(envelope);
        // RFC 6531 §3.4: without SMTPUTF8 at the server, such a message cannot go this way.
        if utf8 && !caps.smtputf8 {
            return refuse(Refusal::Smtputf8);
        }
        // RFC 8689 §4.1: only over TLS, and only to a server that promises to keep it so.
        if envelope.requiretls && !(caps.requiretls && self.conn.is_tls()) {
            return refuse(Refusal::RequireTls);
        }
        let size = message.size();
        if let Some(limit) = caps.size_limit
            && size > limit
        {
            return refuse(Refusal::TooLarge { size, limit });
        }
        let from = envelope
            .mail_from
            .as_ref()
            .map(|a| path(a, utf8))
            .unwrap_or_default();
        let mut line = format!("MAIL FROM:<{from}>");
        if caps.size {
            line.push_str(&format!(" SIZE={size}"));
        }
        if (envelope.eight_bit || utf8) && caps.eight_bit_mime {
            line.push_str(" BODY=8BITMIME");
        }
        if utf8 {
            line.push_str(" SMTPUTF8");
        }
        if envelope.requiretls {
            line.push_str(" REQUIRETLS");
        }
        Ok(line)
    }

    /// RFC 2920: RSET (if needed), MAIL and all RCPTs in one write, then their replies in order.
    async fn pipelined(
        &mut self,
        mail: &str,
        rcpts: &[String],
    ) -> Result<Vec<Result<Reply, ClientError>>, ClientError> {
        let rset = self.needs_rset;
        let mut batch = String::new();
        for line in rset
            .then_some("RSET")
            .into_iter()
            .chain([mail])
            .chain(rcpts.iter().map(String::as_str))
        {
            tracing::debug!(line, "smtp client write");
            batch.push_str(line);
            batch.push_str("\r\n");
        }
        let t = self.timeouts;
        self.conn
            .write(Step::Mail, batch.as_bytes(), t.mail)
            .await?;
        if rset {
            let reply = self.conn.read_reply(Step::Rset, t.command).await?;
            // Whatever RSET said, MAIL and RCPTs answer next; read them to stay in step.
            if let Err(e) = self.expect_rset(reply) {
                self.drain(1 + rcpts.len()).await?;
                return Err(e);
            }
        }
        let reply = self.conn.read_reply(Step::Mail, t.mail).await?;
        if reply.code / 100 != 2 {
            self.drain(rcpts.len()).await?;
            return Err(ClientError::Reply {
                step: Step::Mail,
                reply,
            });
        }
        let mut out = Vec::with_capacity(rcpts.len());
        for _ in rcpts {
            match self.conn.read_reply(Step::Rcpt, t.rcpt).await {
                Ok(reply) => out.push(Ok(reply)),
                Err(e) => {
                    out.resize(rcpts.len(), Err(e));
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Reads `n` replies we no longer care about (to commands pipelined after one that failed).
    async fn drain(&mut self, n: usize) -> Result<(), ClientError> {
        for _ in 0..n {
            self.conn.read_reply(Step::Rcpt, self.timeouts.rcpt).await?;
        }
        Ok(())
    }

    async fn one_by_one(
        &mut self,
        mail: &str,
        rcpts: &[String],
    ) -> Result<Vec<Result<Reply, ClientError>>, ClientError> {
        if self.needs_rset {
            self.rset().await?;
        }
        let t = self.timeouts;
        self.conn.command(Step::Mail, mail, t.mail).await?;
        let reply = self.conn.read_reply(Step::Mail, t.mail).await?;
        if reply.code / 100 != 2 {
            return Err(ClientError::Reply {
                step: Step::Mail,
                reply,
            });
        }
        let mut out = Vec::with_capacity(rcpts.len());
        for rcpt in rcpts {
            let r = match self.conn.command(Step::Rcpt, rcpt, t.rcpt).await {
                Ok(()) => self.conn.read_reply(Step::Rcpt, t.rcpt).await,
                Err(e) => Err(e),
            };
            if let Err(e) = r {
                out.resize(rcpts.len(), Err(e));
                break;
            }
            out.push(r);
        }
        Ok(out)
    }
}

/// SMTPUTF8 is needed for UTF-8 headers, and for a localpart that is not ASCII (a domain can
/// go as A-labels).
fn needs_smtputf8(envelope: &Envelope) -> bool {
    envelope.smtputf8
        || envelope
            .mail_from
            .iter()
            .chain(&envelope.recipients)
            .any(|a| !a.localpart.is_ascii())
}

/// An address for MAIL or RCPT: the domain in Unicode only with SMTPUTF8.
fn path(address: &Address, utf8: bool) -> String {
    if utf8 {
        address.to_string()
    } else {
        address.with_ascii_domain()
    }
}
