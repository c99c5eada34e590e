//! The connection under a client: plain or TLS, a read buffer, and reply reading and writing
//! with timeouts. Every failure here breaks the connection.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio_rustls::client::TlsStream;

use super::error::{ClientError, ProtocolError, Step};
use super::reply::ReplyParser;
use super::tls::{TlsConfig, channel_binding};
use crate::protocols::sasl::ChannelBinding;
use crate::protocols::smtp::Reply;

/// What the client talks over, before and after TLS.
pub(super) enum Stream<S> {
    Plain(S),
    Tls(Box<TlsStream<S>>),
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Stream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Stream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

pub(super) struct Conn<S> {
    /// None only while TLS is being set up, and after a failure there.
    stream: Option<Stream<S>>,
    input: Vec<u8>,
    parser: ReplyParser,
    /// Set by any I/O or protocol failure: nothing more is sent.
    broken: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Conn<S> {
    pub(super) fn new(stream: S) -> Conn<S> {
        Conn {
            stream: Some(Stream::Plain(stream)),
            input: Vec::new(),
            parser: ReplyParser::default(),
            broken: false,
        }
    }

    pub(super) fn is_broken(&self) -> bool {
        self.broken
    }

    /// Stops all further use, e.g. after an authentication we cannot trust.
    pub(super) fn mark_broken(&mut self) {
        self.broken = true;
    }

    pub(super) fn is_tls(&self) -> bool {
        matches!(self.stream, Some(Stream::Tls(_)))
    }

    /// Whether the server has sent bytes we have not read as a reply yet.
    pub(super) fn has_buffered_input(&self) -> bool {
        !self.input.is_empty()
    }

    fn stream(&mut self) -> Result<&mut Stream<S>, ClientError> {
        match (&mut self.stream, self.broken) {
            (Some(s), false) => Ok(s),
            _ => Err(ClientError::Unusable),
        }
    }

    /// Marks the connection broken when `r` is an error that breaks it.
    fn check<T>(&mut self, r: Result<T, ClientError>) -> Result<T, ClientError> {
        if let Err(e) = &r
            && !e.keeps_connection()
        {
            self.broken = true;
        }
        r
    }

    /// The next reply, within `limit`.
    pub(super) async fn read_reply(
        &mut self,
        step: Step,
        limit: Duration,
    ) -> Result<Reply, ClientError> {
        let r = match tokio::time::timeout(limit, self.read_reply_inner(step)).await {
            Ok(r) => r,
            Err(_) => Err(ClientError::Timeout { step }),
        };
        let r = self.check(r);
        if let Ok(reply) = &r
            && reply.code != 334
        {
            tracing::debug!(code = reply.code, text = ?reply.lines, "smtp client read");
        }
        r
    }

    async fn read_reply_inner(&mut self, step: Step) -> Result<Reply, ClientError> {
        loop {
            let (reply, used) =
                self.parser
                    .feed(&self.input)
                    .map_err(|e| ClientError::Protocol {
                        step,
                        error: e.into(),
                    })?;
            self.input.drain(..used);
            if let Some(reply) = reply {
                return Ok(reply);
            }
            let mut buf = [0u8; 4096];
            let n = self
                .stream()?
                .read(&mut buf)
                .await
                .map_err(|e| ClientError::io(step, e))?;
            if n == 0 {
                return Err(ClientError::Closed { step });
            }
            self.input
                .extend_from_slice(buf.get(..n).unwrap_or_default());
        }
    }

    /// Writes and flushes `data` within `limit`.
    pub(super) async fn write(
        &mut self,
        step: Step,
        data: &[u8],
        limit: Duration,
    ) -> Result<(), ClientError> {
        let r = match tokio::time::timeout(limit, self.write_inner(step, data)).await {
            Ok(r) => r,
            Err(_) => Err(ClientError::Timeout { step }),
        };
        self.check(r)
    }

    async fn write_inner(&mut self, step: Step, data: &[u8]) -> Result<(), ClientError> {
        let stream = self.stream()?;
        stream
            .write_all(data)
            .await
            .map_err(|e| ClientError::io(step, e))?;
        stream.flush().await.map_err(|e| ClientError::io(step, e))
    }

    /// Writes a command line (CRLF added), logging it unless it carries secrets.
    pub(super) async fn command(
        &mut self,
        step: Step,
        line: &str,
        limit: Duration,
    ) -> Result<(), ClientError> {
        if step != Step::Auth {
            tracing::debug!(line, "smtp client write");
        }
        self.write(step, format!("{line}\r\n").as_bytes(), limit)
            .await
    }

    /// The TLS handshake; returns the channel binding of the new connection.
    pub(super) async fn start_tls(
        &mut self,
        tls: &TlsConfig,
        name: rustls::pki_types::ServerName<'static>,
        limit: Duration,
    ) -> Result<Option<ChannelBinding>, ClientError> {
        // RFC 3207 §4.2 (and CVE-2011-0411's client side): what the server sent before the
        // handshake must not be taken as coming over TLS.
        if self.has_buffered_input() {
            self.broken = true;
            return Err(ClientError::Protocol {
                step: Step::Tls,
                error: ProtocolError::DataBeforeTls,
            });
        }
        let plain = match self.stream.take() {
            Some(Stream::Plain(s)) if !self.broken => s,
            other => {
                self.stream = other;
                return Err(ClientError::Unusable);
            }
        };
        let handshake = tls.connector().connect(name, plain);
        let stream = match tokio::time::timeout(limit, handshake).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                self.broken = true;
                return Err(ClientError::Tls(std::sync::Arc::new(e)));
            }
            Err(_) => {
                self.broken = true;
                return Err(ClientError::Timeout { step: Step::Tls });
            }
        };
        let binding = channel_binding(stream.get_ref().1);
        tracing::debug!(
            version = ?stream.get_ref().1.protocol_version(),
            verified = tls.is_verified(),
            "smtp client tls established"
        );
        self.stream = Some(Stream::Tls(Box::new(stream)));
        Ok(binding)
    }

    /// Closes our side of the connection, ignoring errors.
    pub(super) async fn shutdown(&mut self, limit: Duration) {
        if let Some(s) = &mut self.stream {
            let _ = tokio::time::timeout(limit, s.shutdown()).await;
        }
        self.broken = true;
    }
}
