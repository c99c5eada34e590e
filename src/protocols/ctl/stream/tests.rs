use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::UnixStream;

use super::*;
use crate::protocols::ctl::rendezvous;
use crate::protocols::ctl::{Request, read_frame, write_frame};

/// Every test must end well within this: a deadlock shows as a timeout, not a hung test run.
const LIMIT: Duration = Duration::from_secs(20);

async fn within<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, f)
        .await
        .expect("deadlock: the stream did not finish")
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

async fn send(io: &mut (impl AsyncRead + AsyncWrite + Unpin), label: &str, data: &[u8]) {
    let mut tx = StreamSender::new(io);
    tx.send_json(&label).await.unwrap();
    tx.send_data(data).await.unwrap();
    tx.send_json(&"trailer").await.unwrap();
    tx.finish().await.unwrap();
}

/// Receives what [`send`] sends, checking each chunk's size.
async fn receive(io: &mut (impl AsyncRead + AsyncWrite + Unpin)) -> (String, Vec<u8>) {
    let mut rx = StreamReceiver::new(io);
    let Piece::Json(label) = rx.next().await.unwrap() else {
        panic!("no label")
    };
    let mut data = Vec::new();
    loop {
        match rx.next().await.unwrap() {
            Piece::Data(chunk) => {
                assert!(!chunk.is_empty() && chunk.len() <= MAX_CHUNK);
                data.extend(chunk);
            }
            Piece::Json(t) => {
                assert_eq!(json::<String>(&t).unwrap(), "trailer");
                break;
            }
            Piece::End => panic!("end before the trailer"),
        }
    }
    assert_eq!(rx.next().await.unwrap(), Piece::End);
    assert!(rx.next().await.is_err(), "a piece after the end");
    (json(&label).unwrap(), data)
}

/// A stream each way, then a request and its response, over the two ends of one connection.
async fn both_ways<S: AsyncRead + AsyncWrite + Unpin>(mut a: S, mut b: S) {
    let up = pattern(5 * MAX_CHUNK + 123);
    let down = pattern(3 * MAX_CHUNK);
    let a_side = async {
        send(&mut a, "up", &up).await;
        let got = receive(&mut a).await;
        write_frame(&mut a, &Request::Status).await.unwrap();
        got
    };
    let b_side = async {
        let got = receive(&mut b).await;
        send(&mut b, "down", &down).await;
        let request = read_frame::<Request>(&mut b).await.unwrap();
        (got, request)
    };
    let (at_a, (at_b, request)) = within(async { tokio::join!(a_side, b_side) }).await;
    assert_eq!(at_b, ("up".to_string(), up));
    assert_eq!(at_a, ("down".to_string(), down));
    assert_eq!(request, Some(Request::Status));
}

#[tokio::test]
async fn streams_both_ways_over_a_pipe_without_buffer() {
    let (a, b) = rendezvous::pair();
    both_ways(a, b).await;
}

#[tokio::test]
async fn streams_both_ways_over_a_unix_socket() {
    let (a, b) = UnixStream::pair().unwrap();
    both_ways(a, b).await;
}

#[tokio::test]
async fn errors_end_the_stream_on_both_sides() {
    // The receiver refuses before the first piece, while the sender is writing it.
    let (mut a, mut b) = rendezvous::pair();
    let (sent, ()) = within(async {
        tokio::join!(
            async { StreamSender::new(&mut a).send_data(&pattern(10)).await },
            async { StreamReceiver::new(&mut b).fail("no account \"x\"").await }
        )
    })
    .await;
    assert!(matches!(sent, Err(StreamError::Peer(m)) if m == "no account \"x\""));

    // The receiver refuses after a piece, in place of its Ack.
    let (mut a, mut b) = rendezvous::pair();
    let (sent, ()) = within(async {
        tokio::join!(
            async {
                let mut tx = StreamSender::new(&mut a);
                tx.send_data(&pattern(2 * MAX_CHUNK)).await
            },
            async {
                let mut rx = StreamReceiver::new(&mut b);
                assert!(matches!(rx.next().await, Ok(Piece::Data(_))));
                rx.fail("disk full").await
            }
        )
    })
    .await;
    assert!(matches!(sent, Err(StreamError::Peer(m)) if m == "disk full"));

    // The sender gives up in place of a piece.
    let (mut a, mut b) = rendezvous::pair();
    let (sent, received) = within(async {
        tokio::join!(
            async {
                let mut tx = StreamSender::new(&mut a);
                tx.send_json(&1).await?;
                tx.fail("cannot read the mbox").await
            },
            async {
                let mut rx = StreamReceiver::new(&mut b);
                rx.next().await?;
                rx.next().await
            }
        )
    })
    .await;
    sent.unwrap();
    assert!(matches!(received, Err(StreamError::Peer(m)) if m == "cannot read the mbox"));
}

#[tokio::test]
async fn a_peer_closing_mid_stream_is_an_error_not_a_wait() {
    // The sender goes away after its first piece was acknowledged.
    let (mut a, mut b) = rendezvous::pair();
    let (_, received) = within(async {
        tokio::join!(
            async move {
                StreamSender::new(&mut a).send_json(&1).await.unwrap();
                drop(a);
            },
            async {
                let mut rx = StreamReceiver::new(&mut b);
                rx.next().await.unwrap();
                rx.next().await
            }
        )
    })
    .await;
    assert!(matches!(received, Err(StreamError::Closed)), "{received:?}");

    // The receiver goes away holding an unacknowledged piece.
    let (mut a, mut b) = rendezvous::pair();
    let (sent, _) = within(async {
        tokio::join!(
            async { StreamSender::new(&mut a).send_json(&1).await },
            async move {
                StreamReceiver::new(&mut b).next().await.unwrap();
                drop(b);
            }
        )
    })
    .await;
    assert!(matches!(sent, Err(StreamError::Closed)), "{sent:?}");
    // And writing more finds it gone too.
    let sent = within(async { StreamSender::new(&mut a).send_json(&2).await }).await;
    assert!(matches!(sent, Err(StreamError::Closed)), "{sent:?}");

    // The sender dies in the middle of a chunk.
    let (mut a, mut b) = UnixStream::pair().unwrap();
    a.write_all(&[1, 0, 0, 100]).await.unwrap();
    a.write_all(&[0; 50]).await.unwrap();
    drop(a);
    let received = within(async { StreamReceiver::new(&mut b).next().await }).await;
    assert!(matches!(received, Err(StreamError::Closed)), "{received:?}");
}

/// A raw chunk of `len` bytes, past what the frame codec lets one write.
async fn write_raw_chunk(io: &mut (impl AsyncWrite + Unpin), len: usize) -> std::io::Result<()> {
    let header = (1u32 << 24 | len as u32).to_be_bytes();
    io.write_all(&header).await?;
    io.write_all(&vec![b'x'; len]).await?;
    io.flush().await
}

#[tokio::test]
async fn an_oversized_chunk_is_refused() {
    // Over a socket, the sender learns why.
    let (mut a, mut b) = UnixStream::pair().unwrap();
    let (written, received) = within(async {
        tokio::join!(write_raw_chunk(&mut a, MAX_CHUNK + 1), async {
            StreamReceiver::new(&mut b).next().await
        })
    })
    .await;
    written.unwrap();
    assert!(
        matches!(received, Err(StreamError::Frame(FrameError::TooLarge(n))) if n == MAX_CHUNK + 1)
    );
    drop(b);
    let answer = within(frame::read(&mut a)).await.unwrap();
    assert!(
        matches!(&answer, Some(Frame::Error(m)) if m.contains("over the limit")),
        "{answer:?}"
    );

    // Without any buffer the refusing side cannot be heard while the sender is still writing
    // the body: it gives up after the grace period and closes, and the sender's write fails.
    let (mut a, mut b) = rendezvous::pair();
    let (written, received) = within(async {
        tokio::join!(write_raw_chunk(&mut a, MAX_CHUNK + 1), async move {
            let r = StreamReceiver::new(&mut b).next().await;
            drop(b);
            r
        })
    })
    .await;
    assert!(written.is_err());
    assert!(matches!(
        received,
        Err(StreamError::Frame(FrameError::TooLarge(_)))
    ));
}

#[tokio::test]
async fn frames_out_of_place_break_the_stream() {
    // A JSON message where a piece belongs.
    let (mut a, mut b) = UnixStream::pair().unwrap();
    write_frame(&mut a, &Request::Status).await.unwrap();
    // Then an Ack, which only a receiver sends.
    frame::write(&mut a, &Frame::Ack(1)).await.unwrap();
    let mut rx = StreamReceiver::new(&mut b);
    assert!(matches!(rx.next().await, Ok(Piece::Json(_))));
    assert!(matches!(rx.next().await, Err(StreamError::Protocol(_))));
    // The receiver acknowledged the first piece, then said why it stopped.
    assert_eq!(frame::read(&mut a).await.unwrap(), Some(Frame::Ack(1)));
    assert!(matches!(
        frame::read(&mut a).await.unwrap(),
        Some(Frame::Error(_))
    ));

    // An Ack with the wrong number.
    let (mut a, mut b) = UnixStream::pair().unwrap();
    let (sent, ()) = within(async {
        tokio::join!(
            async { StreamSender::new(&mut a).send_json(&1).await },
            async {
                frame::read(&mut b).await.unwrap();
                frame::write(&mut b, &Frame::Ack(7)).await.unwrap();
            }
        )
    })
    .await;
    assert!(matches!(sent, Err(StreamError::Protocol(_))), "{sent:?}");
    let mut rest = Vec::new();
    b.read_buf(&mut rest).await.unwrap();
    assert!(rest.len() > 4 && rest[0] == 4, "no error frame: {rest:?}");
}
