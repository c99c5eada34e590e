//! A pipe that holds no byte in flight, for tests: a write completes only when the other end has
//! read what it wrote. A protocol in which both ends write at once hangs on it, which is what
//! the stream tests look for (tokio's `duplex` always buffers some bytes).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

#[derive(Default)]
struct OneWay {
    /// Bytes a writer waits to hand over.
    offer: Option<Vec<u8>>,
    /// How many of them the reader took; the writer's write returns that.
    taken: Option<usize>,
    writer_closed: bool,
    reader_closed: bool,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

fn lock(p: &Mutex<OneWay>) -> MutexGuard<'_, OneWay> {
    p.lock().unwrap_or_else(|e| e.into_inner())
}

fn wake(w: &mut Option<Waker>) {
    if let Some(w) = w.take() {
        w.wake();
    }
}

/// One end of a rendezvous pipe: reads what the other end writes, and the other way round.
pub struct End {
    rx: Arc<Mutex<OneWay>>,
    tx: Arc<Mutex<OneWay>>,
}

/// Two connected ends.
pub fn pair() -> (End, End) {
    let a: Arc<Mutex<OneWay>> = Arc::default();
    let b: Arc<Mutex<OneWay>> = Arc::default();
    (
        End {
            rx: a.clone(),
            tx: b.clone(),
        },
        End { rx: b, tx: a },
    )
}

impl AsyncRead for End {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut p = lock(&self.rx);
        if p.taken.is_none()
            && let Some(offer) = &p.offer
        {
            let n = offer.len().min(buf.remaining());
            buf.put_slice(&offer[..n]);
            p.taken = Some(n);
            wake(&mut p.writer);
            return Poll::Ready(Ok(()));
        }
        if p.writer_closed {
            return Poll::Ready(Ok(()));
        }
        p.reader = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl AsyncWrite for End {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut p = lock(&self.tx);
        if let Some(n) = p.taken.take() {
            p.offer = None;
            return Poll::Ready(Ok(n));
        }
        if p.reader_closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if p.offer.is_none() {
            p.offer = Some(buf.to_vec());
        }
        p.writer = Some(cx.waker().clone());
        wake(&mut p.reader);
        Poll::Pending
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut p = lock(&self.tx);
        p.writer_closed = true;
        wake(&mut p.reader);
        Poll::Ready(Ok(()))
    }
}

impl Drop for End {
    fn drop(&mut self) {
        let mut tx = lock(&self.tx);
        tx.writer_closed = true;
        if tx.taken.is_none() {
            tx.offer = None;
        }
        wake(&mut tx.reader);
        drop(tx);
        let mut rx = lock(&self.rx);
        rx.reader_closed = true;
        wake(&mut rx.writer);
    }
}

#[tokio::test]
async fn a_write_waits_for_the_reader() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut a, mut b) = pair();
    let write = a.write_all(b"hello");
    tokio::pin!(write);
    // Nobody reads: the write cannot complete.
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(50), &mut write)
            .await
            .is_err()
    );
    let mut got = [0u8; 5];
    let (w, r) = tokio::join!(write, b.read_exact(&mut got));
    w.unwrap();
    r.unwrap();
    assert_eq!(&got, b"hello");
    drop(b);
    assert_eq!(
        a.write_all(b"x").await.unwrap_err().kind(),
        io::ErrorKind::BrokenPipe
    );
    let mut rest = Vec::new();
    assert_eq!(a.read_to_end(&mut rest).await.unwrap(), 0);
}
