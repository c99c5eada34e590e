//! The client against scripted servers: each test is the transcript the server expects. Mail
//! transactions here; connection-level errors, TLS and AUTH in `tests_conn.rs`.

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};
use tokio::task::JoinHandle;

use super::*;
use crate::address::Address;

/// One step of a scripted server: what the client must send (exactly), or what we answer.
pub(super) enum Io {
    C(&'static str),
    CBytes(Vec<u8>),
    S(&'static str),
}
pub(super) use Io::{C, CBytes, S};

/// A server that plays `steps`, then insists that the client sends nothing more.
pub(super) fn server(steps: Vec<Io>) -> (DuplexStream, JoinHandle<()>) {
    let (client, mut server) = duplex(1 << 16);
    let task = tokio::spawn(async move {
        for step in steps {
            let expected = match step {
                S(s) => {
                    server.write_all(s.as_bytes()).await.unwrap();
                    continue;
                }
                C(s) => s.as_bytes().to_vec(),
                CBytes(b) => b,
            };
            let mut got = vec![0u8; expected.len()];
            server.read_exact(&mut got).await.unwrap();
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&expected)
            );
        }
        let mut rest = Vec::new();
        let _ = server.read_to_end(&mut rest).await;
        assert_eq!(String::from_utf8_lossy(&rest), "", "client sent more");
    });
    (client, task)
}

pub(super) const EHLO_PLAIN: &str = "250-mx.example\r\n250 8BITMIME\r\n";

pub(super) async fn connected(steps: Vec<Io>) -> (Client<DuplexStream>, JoinHandle<()>) {
    let (stream, task) = server(steps);
    let mut c = Client::connect(stream, Timeouts::default()).await.unwrap();
    c.ehlo("client.example").await.unwrap();
    (c, task)
}

pub(super) fn start(ehlo: &'static str) -> Vec<Io> {
    vec![
        S("220 mx.example ESMTP\r\n"),
        C("EHLO client.example\r\n"),
        S(ehlo),
    ]
}

pub(super) fn addr(s: &str) -> Address {
    Address::parse_simple(s).unwrap()
}

pub(super) fn envelope(rcpts: &[&str]) -> Envelope {
    Envelope {
        mail_from: Some(addr("from@client.example")),
        recipients: rcpts.iter().map(|r| addr(r)).collect(),
        smtputf8: false,
        requiretls: false,
        eight_bit: false,
    }
}

pub(super) async fn send(
    c: &mut Client<DuplexStream>,
    env: &Envelope,
    prefix: &[u8],
    body: &[u8],
) -> Result<Vec<RcptResult>, ClientError> {
    let mut reader = body;
    let message = Message {
        prefix,
        body: &mut reader,
        body_size: body.len() as u64,
    };
    c.send(env, message).await
}

#[tokio::test]
async fn multiline_greeting_and_helo_fallback() {
    let (stream, task) = server(vec![
        S("220-mx.example ESMTP\r\n220-second line\r\n220 third\r\n"),
        C("EHLO client.example\r\n"),
        S("502 5.5.1 what?\r\n"),
        C("HELO client.example\r\n"),
        S("250 mx.example\r\n"),
        C("QUIT\r\n"),
        S("221 bye\r\n"),
    ]);
    let mut c = Client::connect(stream, Timeouts::default()).await.unwrap();
    assert_eq!(c.greeting().lines.len(), 3);
    assert_eq!(
        c.ehlo("client.example").await.unwrap(),
        &Capabilities::default()
    );
    assert!(!c.is_esmtp());
    c.quit().await;
    task.await.unwrap();
}

#[tokio::test]
async fn pipelined_partial_rcpt_and_dot_stuffing() {
    let mut steps = start(
        "250-mx.example\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n",
    );
    steps.extend([
        // One write for MAIL and all RCPTs: the script answers only after all of them.
        C(concat!(
            "MAIL FROM:<from@client.example> SIZE=21 BODY=8BITMIME\r\n",
            "RCPT TO:<a@mx.example>\r\nRCPT TO:<b@mx.example>\r\nRCPT TO:<c@mx.example>\r\n"
        )),
        S("250 2.1.0 ok\r\n250 2.1.5 ok\r\n550 5.1.1 no such user\r\n451 4.7.1 greylisted\r\n"),
        C("DATA\r\n"),
        S("354 go on\r\n"),
        C("X-P: 1\r\n..dot\r\n...\r\nend\r\n.\r\n"),
        S("250 2.0.0 queued as 1\r\n"),
    ]);
    let (mut c, task) = connected(steps).await;
    let mut env = envelope(&["a@mx.example", "b@mx.example", "c@mx.example"]);
    env.eight_bit = true;
    let results = send(&mut c, &env, b"X-P: 1\r\n", b".dot\r\n..\r\nend")
        .await
        .unwrap();
    assert_eq!(results[0].result.as_ref().unwrap().lines, ["queued as 1"]);
    let e = results[1].result.as_ref().unwrap_err();
    assert!(e.is_permanent());
    assert_eq!(e.to_string(), "550 5.1.1 no such user (after RCPT)");
    let e = results[2].result.as_ref().unwrap_err();
    assert!(!e.is_permanent());
    assert_eq!(e.to_string(), "451 4.7.1 greylisted (after RCPT)");
    drop(c);
    task.await.unwrap();
}

#[tokio::test]
async fn one_by_one_all_rejected_then_rset() {
    let mut steps = start(EHLO_PLAIN);
    steps.extend([
        C("MAIL FROM:<>\r\n"),
        S("250 ok\r\n"),
        C("RCPT TO:<a@mx.example>\r\n"),
        S("550 no\r\n"),
        // No DATA without an accepted recipient; the next transaction starts with RSET.
        C("RSET\r\n"),
        S("250 reset\r\n"),
        C("MAIL FROM:<>\r\n"),
        S("451-4.3.0 try\r\n451 4.3.0 later\r\n"),
    ]);
    let (mut c, task) = connected(steps).await;
    let mut env = envelope(&["a@mx.example"]);
    env.mail_from = None;
    let results = send(&mut c, &env, b"", b"x\r\n").await.unwrap();
    assert!(results[0].result.as_ref().unwrap_err().is_permanent());
    let e = send(&mut c, &env, b"", b"x\r\n").await.unwrap_err();
    assert!(!e.is_permanent() && c.is_usable());
    assert_eq!(e.step(), Some(Step::Mail));
    assert_eq!(e.to_string(), "451 4.3.0 try / later (after MAIL)");
    drop(c);
    task.await.unwrap();
}

#[tokio::test]
async fn bdat_chunks() {
    let big = vec![b'x'; data::CHUNK_SIZE + 10];
    let exact = vec![b'y'; data::CHUNK_SIZE - 3];
    let mut steps = start("250-mx.example\r\n250 CHUNKING\r\n");
    let chunk = |size: usize, last: bool, fill: u8| {
        let mut b = format!("BDAT {size}{}\r\n", if last { " LAST" } else { "" }).into_bytes();
        b.extend(std::iter::repeat_n(fill, size));
        CBytes(b)
    };
    steps.extend([
        C("MAIL FROM:<from@client.example>\r\n"),
        S("250 ok\r\n"),
        C("RCPT TO:<a@mx.example>\r\n"),
        S("250 ok\r\n"),
        C("BDAT 7 LAST\r\npre\r\nab"),
        S("250 done\r\n"),
        C("RSET\r\n"),
        S("250 ok\r\n"),
    ]);
    let (mut c, task) = connected(steps).await;
    let env = envelope(&["a@mx.example"]);
    let r = send(&mut c, &env, b"pre\r\n", b"ab").await.unwrap();
    assert_eq!(r[0].result.as_ref().unwrap().code, 250);
    c.rset().await.unwrap();
    drop(c);
    task.await.unwrap();

    // Larger than a chunk; and a multiple of the chunk size, ended by an empty LAST chunk.
    for (body, prefix, chunks) in [
        (
            &big,
            &b""[..],
            vec![(data::CHUNK_SIZE, false, b'x'), (10, true, b'x')],
        ),
        (
            &exact,
            &b"yyy"[..],
            vec![(data::CHUNK_SIZE, false, b'y'), (0, true, b'y')],
        ),
    ] {
        let mut steps = start("250-mx.example\r\n250 CHUNKING\r\n");
        steps.extend([C("MAIL FROM:<from@client.example>\r\n"), S("250 ok\r\n")]);
        steps.extend([C("RCPT TO:<a@mx.example>\r\n"), S("250 ok\r\n")]);
        for (size, last, fill) in chunks {
            steps.extend([chunk(size, last, fill), S("250 ok\r\n")]);
        }
        let (mut c, task) = connected(steps).await;
        let r = send(&mut c, &env, prefix, body).await.unwrap();
        assert!(r[0].result.is_ok());
        drop(c);
        task.await.unwrap();
    }
}

#[tokio::test]
async fn local_refusals() {
    let steps = start("250-mx.example\r\n250-SIZE 10\r\n250 PIPELINING\r\n");
    let (mut c, task) = connected(steps).await;
    let e = send(&mut c, &envelope(&["a@mx.example"]), b"", &[b'x'; 11])
        .await
        .unwrap_err();
    assert!(matches!(
        e,
        ClientError::Refused {
            step: Step::Mail,
            reason: Refusal::TooLarge {
                size: 11,
                limit: 10
            }
        }
    ));
    assert!(e.is_permanent() && c.is_usable());

    let mut env = envelope(&["a@mx.example"]);
    env.smtputf8 = true;
    let e = send(&mut c, &env, b"", b"x").await.unwrap_err();
    assert!(matches!(
        e,
        ClientError::Refused {
            reason: Refusal::Smtputf8,
            ..
        }
    ));
    assert!(e.is_permanent());
    // A non-ASCII localpart needs SMTPUTF8 too; a non-ASCII domain goes as A-labels.
    let env = envelope(&["jöran@mx.example"]);
    let e = send(&mut c, &env, b"", b"x").await.unwrap_err();
    assert!(matches!(
        e,
        ClientError::Refused {
            reason: Refusal::Smtputf8,
            ..
        }
    ));
    let mut env = envelope(&["a@mx.example"]);
    env.requiretls = true;
    let e = send(&mut c, &env, b"", b"x").await.unwrap_err();
    assert!(matches!(
        e,
        ClientError::Refused {
            reason: Refusal::RequireTls,
            ..
        }
    ));
    drop(c);
    task.await.unwrap();
}

#[tokio::test]
async fn smtputf8_and_a_labels() {
    let mut steps = start("250-mx.example\r\n250-SMTPUTF8\r\n250 8BITMIME\r\n");
    steps.extend([
        C("MAIL FROM:<from@client.example>\r\n"),
        S("250 ok\r\n"),
        C("RCPT TO:<a@xn--mx-lka.example>\r\n"),
        S("250 ok\r\n"),
        C("DATA\r\n"),
        S("354 go\r\n"),
        C("x\r\n.\r\n"),
        S("250 ok\r\n"),
        C("MAIL FROM:<from@client.example> BODY=8BITMIME SMTPUTF8\r\n"),
        S("250 ok\r\n"),
        C("RCPT TO:<jöran@møx.example>\r\n"),
        S("250 ok\r\n"),
        C("DATA\r\n"),
        S("354 go\r\n"),
        C("x\r\n.\r\n"),
        S("554 5.6.0 no thanks\r\n"),
    ]);
    let (mut c, task) = connected(steps).await;
    let r = send(&mut c, &envelope(&["a@møx.example"]), b"", b"x\r\n")
        .await
        .unwrap();
    assert!(r[0].result.is_ok());
    let r = send(&mut c, &envelope(&["jöran@møx.example"]), b"", b"x")
        .await
        .unwrap();
    let e = r[0].result.as_ref().unwrap_err();
    assert!(e.is_permanent());
    assert_eq!(e.to_string(), "554 5.6.0 no thanks (after end of data)");
    drop(c);
    task.await.unwrap();
}
