//! The I/O side of a connection actor: a loop that owns the socket, hands what it reads to the
//! actor as [`Input`] and writes what the actor answers. The actor holds the protocol session;
//! this loop holds the bytes. Reading pauses while the actor works on a command, so a client
//! cannot make it buffer without bound.

use std::time::Duration;

use actix::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bytes read from the client.
#[derive(Message)]
#[rtype(result = "Output")]
pub struct Input(pub Vec<u8>);

/// What to write back, and whether to close afterwards.
#[derive(Debug, Default)]
pub struct Output {
    pub bytes: Vec<u8>,
    pub close: bool,
}

/// Why the connection ended, told to the actor so it can log and clean up.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct Closed(pub &'static str);

/// Runs the connection: writes `greeting`, then reads and answers until one side closes or the
/// client is idle for `idle` (when `idle_bytes` are written first, e.g. a BYE).
pub async fn run<A>(
    addr: Addr<A>,
    mut stream: TcpStream,
    greeting: Vec<u8>,
    idle: Duration,
    idle_bytes: Vec<u8>,
) where
    A: Actor + Handler<Input> + Handler<Closed>,
    A::Context: actix::dev::ToEnvelope<A, Input> + actix::dev::ToEnvelope<A, Closed>,
{
    let reason = async {
        if stream.write_all(&greeting).await.is_err() {
            return "write error";
        }
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match tokio::time::timeout(idle, stream.read(&mut buf)).await {
                Err(_) => {
                    let _ = stream.write_all(&idle_bytes).await;
                    return "idle timeout";
                }
                Ok(Err(_)) => return "read error",
                Ok(Ok(0)) => return "closed by client",
                Ok(Ok(n)) => n,
            };
            let Ok(out) = addr.send(Input(buf[..n].to_vec())).await else {
                return "session ended";
            };
            if !out.bytes.is_empty() && stream.write_all(&out.bytes).await.is_err() {
                return "write error";
            }
            if out.close {
                let _ = stream.shutdown().await;
                return "closed by server";
            }
        }
    }
    .await;
    addr.do_send(Closed(reason));
}
