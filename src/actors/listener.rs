//! Listeners: sockets are bound before anything else runs (so a busy port or missing privilege
//! stops the start with a clear error), then each accept loop hands its connections to the
//! worker arbiters in turn, where the connection actor starts.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix::prelude::*;
use actix_rt::ArbiterHandle;

use super::Services;
use super::imap_conn::ImapConn;
use super::smtp_conn::SmtpConn;
use crate::config::{ListenerConfig, Mode, Protocol};
use crate::metrics;
use crate::protocols::smtp::Reply;
use crate::tls::ServerTls;

#[derive(Debug, thiserror::Error)]
#[error("listening on {address} for {protocol} (listener {name}): {error}{hint}")]
pub struct BindError {
    name: String,
    protocol: &'static str,
    address: SocketAddr,
    error: std::io::Error,
    hint: &'static str,
}

/// A bound socket, not accepting yet.
pub struct Bound {
    pub config: Arc<ListenerConfig>,
    pub socket: std::net::TcpListener,
    pub address: SocketAddr,
    /// The certificate of this listener, for STARTTLS or implicit TLS.
    pub tls: Option<ServerTls>,
}

/// Binds every configured listener; `tls` gives each its certificate.
pub fn bind_all(
    listeners: &[ListenerConfig],
    tls: impl Fn(&ListenerConfig) -> Option<ServerTls>,
) -> Result<Vec<Bound>, BindError> {
    listeners
        .iter()
        .map(|l| {
            let address = SocketAddr::new(l.ip, l.port);
            let fail = |error: std::io::Error| {
                let hint = if error.kind() == std::io::ErrorKind::PermissionDenied && l.port < 1024
                {
                    " (ports below 1024 need root or the CAP_NET_BIND_SERVICE capability)"
                } else {
                    ""
                };
                BindError {
                    name: l.name.clone(),
                    protocol: l.protocol.name(),
                    address,
                    error,
                    hint,
                }
            };
            let socket = bind_one(address).map_err(fail)?;
            socket.set_nonblocking(true).map_err(fail)?;
            let address = socket.local_addr().map_err(fail)?;
            Ok(Bound {
                config: Arc::new(l.clone()),
                socket,
                address,
                tls: tls(l),
            })
        })
        .collect()
}

/// A listening socket on `address`. An IPv6 one takes IPv6 only, so that `::` and `0.0.0.0`
/// can both be configured (Linux would otherwise give `::` the IPv4 addresses too).
fn bind_one(address: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    if address.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    // As std does: a restarted server can bind while old connections are in TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.bind(&address.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// Accepts connections on `bound` forever, starting each connection actor on the next worker.
pub async fn accept_loop(bound: Bound, services: Arc<Services>, workers: Arc<Vec<ArbiterHandle>>) {
    let listener = match tokio::net::TcpListener::from_std(bound.socket) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(address = %bound.address, error = %e, "cannot use listening socket");
            return;
        }
    };
    let next = AtomicUsize::new(0);
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors and the like: wait a little instead of spinning.
                tracing::warn!(address = %bound.address, error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        metrics::CONNECTIONS.add(1);
        let _ = stream.set_nodelay(true);
        let std_stream = match stream.into_std() {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot hand over connection");
                continue;
            }
        };
        let worker = &workers[next.fetch_add(1, Ordering::Relaxed) % workers.len()];
        let (services, config, tls) = (services.clone(), bound.config.clone(), bound.tls.clone());
        worker.spawn(async move {
            // Registered with this worker's reactor, where the actor runs.
            let stream = match tokio::net::TcpStream::from_std(std_stream) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot register connection");
                    return;
                }
            };
            if config.protocol.is_imap() {
                ImapConn::new(services, config, tls, stream, remote).start();
                return;
            }
            // Connections per address count on the MX listeners of `serve` only.
            let limited =
                config.protocol == Protocol::Smtp && matches!(services.config.mode, Mode::Serve);
            let slot = if limited {
                match services.ip_limits.connect(remote.ip()) {
                    Some(slot) => Some(slot),
                    None => {
                        tracing::info!(%remote, "refused connection: too many from this address");
                        refuse(
                            stream,
                            Reply::new(
                                421,
                                (4, 7, 0),
                                "too many connections from your address, try again later",
                            ),
                        )
                        .await;
                        return;
                    }
                }
            } else {
                None
            };
            SmtpConn::new(services, config, tls, stream, remote, slot).start();
        });
    }
}

/// Answers `reply` and closes, without a session (RFC 5321 §3.1 allows 421 as the greeting).
async fn refuse(mut stream: tokio::net::TcpStream, reply: Reply) {
    use tokio::io::AsyncWriteExt;
    let write = async {
        stream.write_all(&reply.to_bytes()).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), write).await;
}
