//! The I/O side of a connection actor: a loop that owns the socket, hands what it reads to the
//! actor as [`Input`] and writes what the actor answers. The actor holds the protocol session;
//! this loop holds the bytes, and swaps them to TLS (at once for implicit TLS, or when the actor
//! asks after STARTTLS). Reading pauses while the actor works on a command, so a client cannot
//! make it buffer without bound.

use std::io;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use actix::dev::ToEnvelope;
use actix::prelude::*;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

use crate::protocols::sasl::ChannelBinding;
use crate::tls::ServerTls;

/// Longest a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// Bytes read from the client.
#[derive(Message)]
#[rtype(result = "Output")]
pub struct Input(pub Vec<u8>);

/// TLS is established: right after connecting for implicit TLS, or after a STARTTLS
/// (`starttls`). Carries the connection's channel bindings for SCRAM-*-PLUS. The actor answers
/// with anything to send.
#[derive(Message)]
#[rtype(result = "Output")]
pub struct TlsStarted {
    pub starttls: bool,
    pub bindings: Vec<ChannelBinding>,
}

/// What to write back, and what to do afterwards.
#[derive(Debug, Default, MessageResponse)]
pub struct Output {
    pub bytes: Vec<u8>,
    pub close: bool,
    /// Start TLS once `bytes` (the "go ahead" reply) are written.
    pub start_tls: bool,
    /// Compress both directions with DEFLATE once `bytes` are written (RFC 4978).
    pub start_compress: bool,
}

/// Largest piece of decompressed input handed to the actor at once: a small compressed packet
/// may stand for a lot of data, which must not be inflated all at once.
const INFLATE_CHUNK: usize = 64 * 1024;

/// COMPRESS=DEFLATE (RFC 4978): raw DEFLATE both ways, each write flushed so the peer can read
/// it at once.
struct Deflate {
    out: flate2::Compress,
    input: flate2::Decompress,
    /// Compressed input not yet inflated.
    pending: Vec<u8>,
}

impl Deflate {
    fn new() -> Deflate {
        Deflate {
            out: flate2::Compress::new(flate2::Compression::default(), false),
            input: flate2::Decompress::new(false),
            pending: Vec::new(),
        }
    }

    fn compress(&mut self, data: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(data.len() / 2 + 64);
        let mut rest = data;
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(4096);
            }
            let before = self.out.total_in();
            self.out
                .compress_vec(rest, &mut out, flate2::FlushCompress::Sync)
                .map_err(io::Error::other)?;
            rest = &rest[(self.out.total_in() - before) as usize..];
            // Done when all input is taken and the flush did not fill the buffer.
            if rest.is_empty() && out.len() < out.capacity() {
                return Ok(out);
            }
        }
    }

    /// Inflates what is pending, at most [`INFLATE_CHUNK`] bytes of output.
    fn inflate(&mut self) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(INFLATE_CHUNK);
        let before = self.input.total_in();
        self.input
            .decompress_vec(&self.pending, &mut out, flate2::FlushDecompress::None)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        self.pending
            .drain(..(self.input.total_in() - before) as usize);
        Ok(out)
    }
}

/// Bytes the actor sends on its own, outside an answer to input (IMAP IDLE updates, an
/// unsolicited BYE), and whether to close afterwards.
#[derive(Debug)]
pub struct Push {
    pub bytes: Vec<u8>,
    pub close: bool,
}

/// How many pushes may wait for the socket before the client counts as not reading.
pub const PUSH_BACKLOG: usize = 256;

/// The server is shutting down (SIGTERM): the actor answers what to send, and `close` once it
/// is at a point where the connection can end (an SMTP transaction in DATA finishes first).
#[derive(Message)]
#[rtype(result = "Output")]
pub struct ShuttingDown;

/// Why the connection ended, told to the actor so it can log and clean up.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct Closed(pub &'static str);

/// How a connection begins.
pub struct Setup {
    /// Bytes the server sends first.
    pub greeting: Vec<u8>,
    /// For implicit TLS (RFC 8314): handshake before the greeting. Otherwise the acceptor for a
    /// later STARTTLS, if TLS is configured.
    pub tls: Option<ServerTls>,
    pub implicit_tls: bool,
    /// Close after this long without input, sending `idle_bytes` first.
    pub idle: Duration,
    pub idle_bytes: Vec<u8>,
    /// Where the actor's pushes come from, if it makes any.
    pub push: Option<tokio::sync::mpsc::Receiver<Push>>,
    /// Turns true when the server shuts down.
    pub shutdown: Option<tokio::sync::watch::Receiver<bool>>,
}

/// A plain or TLS connection.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

async fn handshake(tls: &ServerTls, tcp: TcpStream) -> Option<(Stream, Vec<ChannelBinding>)> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => {
            let bindings = tls.channel_bindings(stream.get_ref().1);
            Some((Stream::Tls(Box::new(stream)), bindings))
        }
        _ => None,
    }
}

async fn write(stream: &mut Stream, bytes: &[u8]) -> bool {
    bytes.is_empty() || (stream.write_all(bytes).await.is_ok() && stream.flush().await.is_ok())
}

/// Runs the connection until one side closes it or the client is idle too long.
pub async fn run<A>(addr: Addr<A>, tcp: TcpStream, mut setup: Setup)
where
    A: Actor + Handler<Input> + Handler<TlsStarted> + Handler<Closed> + Handler<ShuttingDown>,
    A::Context: ToEnvelope<A, Input>
        + ToEnvelope<A, TlsStarted>
        + ToEnvelope<A, Closed>
        + ToEnvelope<A, ShuttingDown>,
{
    crate::metrics::OPEN_CONNECTIONS.add(1);
    let reason = async {
        let mut stream = match (&setup.tls, setup.implicit_tls) {
            (Some(tls), true) => match handshake(tls, tcp).await {
                Some((stream, bindings)) => {
                    if addr
                        .send(TlsStarted {
                            starttls: false,
                            bindings,
                        })
                        .await
                        .is_err()
                    {
                        return "session ended";
                    }
                    stream
                }
                None => return "tls handshake failed",
            },
            _ => Stream::Plain(tcp),
        };
        if !write(&mut stream, &setup.greeting).await {
            return "write error";
        }
        let mut buf = vec![0u8; 16 * 1024];
        let mut deflate: Option<Deflate> = None;
        loop {
            let read = tokio::time::timeout(setup.idle, stream.read(&mut buf));
            let pushed = async {
                match setup.push.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            };
            let shutdown = async {
                match setup.shutdown.as_mut() {
                    Some(rx) => {
                        if rx.wait_for(|down| *down).await.is_err() {
                            std::future::pending::<()>().await;
                        }
                    }
                    None => std::future::pending().await,
                }
            };
            let n = tokio::select! {
                r = read => match r {
                    Err(_) => {
                        write(&mut stream, &setup.idle_bytes).await;
                        return "idle timeout";
                    }
                    Ok(Err(_)) => return "read error",
                    Ok(Ok(0)) => return "closed by client",
                    Ok(Ok(n)) => n,
                },
                _ = shutdown => {
                    // Told once; the actor closes now or after what it is in the middle of.
                    setup.shutdown = None;
                    let Ok(out) = addr.send(ShuttingDown).await else {
                        return "session ended";
                    };
                    let bytes = match deflate.as_mut() {
                        Some(d) if !out.bytes.is_empty() => match d.compress(&out.bytes) {
                            Ok(b) => b,
                            Err(_) => return "compression error",
                        },
                        _ => out.bytes,
                    };
                    if !write(&mut stream, &bytes).await {
                        return "write error";
                    }
                    if out.close {
                        let _ = stream.shutdown().await;
                        return "server shutting down";
                    }
                    continue;
                }
                p = pushed => {
                    match p {
                        Some(push) => {
                            let bytes = match deflate.as_mut() {
                                Some(d) if !push.bytes.is_empty() => match d.compress(&push.bytes) {
                                    Ok(b) => b,
                                    Err(_) => return "compression error",
                                },
                                _ => push.bytes,
                            };
                            if !write(&mut stream, &bytes).await {
                                return "write error";
                            }
                            if push.close {
                                let _ = stream.shutdown().await;
                                return "closed by server";
                            }
                        }
                        // The actor dropped its sender: no more pushes.
                        None => setup.push = None,
                    }
                    continue;
                }
            };
            let mut pieces = vec![buf[..n].to_vec()];
            if let Some(d) = deflate.as_mut() {
                d.pending.extend_from_slice(&buf[..n]);
                pieces.clear();
                loop {
                    match d.inflate() {
                        Ok(piece) if piece.is_empty() => break,
                        Ok(piece) => pieces.push(piece),
                        Err(_) => return "bad compressed data",
                    }
                    if d.pending.is_empty()
                        && pieces.last().is_some_and(|p| p.len() < INFLATE_CHUNK)
                    {
                        break;
                    }
                }
            }
            for piece in pieces {
                let Ok(mut out) = addr.send(Input(piece)).await else {
                    return "session ended";
                };
                loop {
                    let bytes = match deflate.as_mut() {
                        Some(d) if !out.bytes.is_empty() => match d.compress(&out.bytes) {
                            Ok(b) => b,
                            Err(_) => return "compression error",
                        },
                        _ => std::mem::take(&mut out.bytes),
                    };
                    if !write(&mut stream, &bytes).await {
                        return "write error";
                    }
                    if out.start_compress {
                        deflate = Some(Deflate::new());
                    }
                    if out.close {
                        let _ = stream.shutdown().await;
                        return "closed by server";
                    }
                    if !out.start_tls {
                        break;
                    }
                    // RFC 3207 §4 / RFC 9051 §6.2.1: the handshake starts right after the go-ahead.
                    let (Stream::Plain(tcp), Some(tls)) = (stream, &setup.tls) else {
                        return "tls requested twice";
                    };
                    let bindings;
                    (stream, bindings) = match handshake(tls, tcp).await {
                        Some(s) => s,
                        None => return "tls handshake failed",
                    };
                    out = match addr
                        .send(TlsStarted {
                            starttls: true,
                            bindings,
                        })
                        .await
                    {
                        Ok(o) => o,
                        Err(_) => return "session ended",
                    };
                }
            }
        }
    }
    .await;
    crate::metrics::OPEN_CONNECTIONS.sub(1);
    addr.do_send(Closed(reason));
}
