//! The client against scripted servers: timeouts, garbage, closed connections, STARTTLS and
//! AUTH errors.

use std::time::Duration;

use tokio::io::{AsyncWriteExt, duplex};

use super::tests::{C, EHLO_PLAIN, S, connected, envelope, send, server, start};
use super::*;
use crate::protocols::sasl::Mechanism;
use crate::protocols::sasl::client::ClientCredentials;

#[tokio::test(start_paused = true)]
async fn timeouts() {
    // No EHLO reply: the default five minutes, then a temporary error.
    let (stream, task) = server(vec![S("220 mx\r\n"), C("EHLO client.example\r\n")]);
    let mut c = Client::connect(stream, Timeouts::default()).await.unwrap();
    let started = tokio::time::Instant::now();
    let e = c.ehlo("client.example").await.unwrap_err();
    assert!(
        matches!(e, ClientError::Timeout { step: Step::Ehlo }),
        "{e}"
    );
    assert_eq!(started.elapsed(), Duration::from_secs(300));
    assert!(!e.is_permanent() && !c.is_usable());
    assert!(matches!(c.rset().await, Err(ClientError::Unusable)));
    drop(c);
    task.await.unwrap();

    // A shortened timeout for the final reply, reported for each accepted recipient.
    let mut steps = start(EHLO_PLAIN);
    steps.extend([
        C("MAIL FROM:<from@client.example>\r\n"),
        S("250 ok\r\n"),
        C("RCPT TO:<a@mx.example>\r\n"),
        S("250 ok\r\n"),
        C("DATA\r\n"),
        S("354 go\r\n"),
        C("x\r\n.\r\n"),
    ]);
    let (stream, task) = server(steps);
    let timeouts = Timeouts {
        data_end: Duration::from_secs(7),
        ..Timeouts::default()
    };
    let mut c = Client::connect(stream, timeouts).await.unwrap();
    c.ehlo("client.example").await.unwrap();
    let started = tokio::time::Instant::now();
    let r = send(&mut c, &envelope(&["a@mx.example"]), b"", b"x\r\n")
        .await
        .unwrap();
    assert!(matches!(
        r[0].result,
        Err(ClientError::Timeout { step: Step::Dot })
    ));
    assert_eq!(started.elapsed(), Duration::from_secs(7));
    drop(c);
    task.await.unwrap();
}

#[tokio::test]
async fn garbage_and_closed_connections() {
    let (stream, task) = server(vec![
        S("220 mx\r\n"),
        C("EHLO client.example\r\n"),
        S("hello there\r\n"),
    ]);
    let mut c = Client::connect(stream, Timeouts::default()).await.unwrap();
    let e = c.ehlo("client.example").await.unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::Protocol {
                step: Step::Ehlo,
                ..
            }
        ),
        "{e}"
    );
    assert!(!e.is_permanent() && !c.is_usable());
    drop(c);
    task.await.unwrap();

    let (stream, task) = server(vec![S("554 5.7.1 go away\r\n"), C("QUIT\r\n")]);
    let e = Client::connect(stream, Timeouts::default())
        .await
        .err()
        .unwrap();
    assert!(e.is_permanent());
    assert_eq!(e.to_string(), "554 5.7.1 go away (in greeting)");
    task.await.unwrap();

    // The server goes away after its greeting.
    let (stream, mut server) = duplex(1 << 10);
    server.write_all(b"220 mx\r\n").await.unwrap();
    let mut c = Client::connect(stream, Timeouts::default()).await.unwrap();
    drop(server);
    let e = c.ehlo("client.example").await.unwrap_err();
    assert!(!e.is_permanent() && !c.is_usable(), "{e}");
}

#[tokio::test]
async fn starttls_refuses_injected_replies() {
    let mut steps = start("250-mx.example\r\n250 STARTTLS\r\n");
    steps.extend([C("STARTTLS\r\n"), S("220 go ahead\r\n250 injected\r\n")]);
    let (mut c, task) = connected(steps).await;
    let tls = TlsConfig::opportunistic().unwrap();
    let e = c.starttls(&tls, "mx.example").await.unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::Protocol {
                error: ProtocolError::DataBeforeTls,
                ..
            }
        ),
        "{e}"
    );
    drop(c);
    task.await.unwrap();

    let (mut c, task) = connected(start(EHLO_PLAIN)).await;
    let e = c.starttls(&tls, "mx.example").await.unwrap_err();
    assert!(matches!(
        e,
        ClientError::Refused {
            reason: Refusal::TlsNotOffered,
            ..
        }
    ));
    drop(c);
    task.await.unwrap();
}

fn creds() -> ClientCredentials {
    ClientCredentials {
        authzid: None,
        username: "mjl".into(),
        password: "test1234".into(),
    }
}

#[tokio::test]
async fn auth_plain_and_cancel() {
    let mut steps = start("250-mx.example\r\n250 AUTH LOGIN PLAIN CRAM-MD5\r\n");
    steps.extend([
        // AGJqbAB0ZXN0MTIzNA== is "\0mjl\0test1234".
        C("AUTH PLAIN AG1qbAB0ZXN0MTIzNA==\r\n"),
        S("535 5.7.8 bad credentials\r\n"),
        // CRAM-MD5 starts with the server; a challenge that is not base64 is cancelled.
        C("AUTH CRAM-MD5\r\n"),
        S("334 not base64!\r\n"),
        C("*\r\n"),
        S("501 5.0.0 cancelled\r\n"),
    ]);
    let (mut c, task) = connected(steps).await;
    let plain = AuthOptions {
        mechanisms: Some(vec![Mechanism::Plain, Mechanism::Login]),
        allow_plaintext: false,
    };
    let e = c.auth(&creds(), &plain).await.unwrap_err();
    assert_eq!(e.to_string(), "535 5.7.8 bad credentials (after AUTH)");
    assert!(e.is_permanent() && c.is_usable());
    // Without a list, the strongest: CRAM-MD5, never PLAIN unless allowed.
    let e = c.auth(&creds(), &AuthOptions::default()).await.unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::Protocol {
                error: ProtocolError::Base64,
                ..
            }
        ),
        "{e}"
    );
    let scram_only = AuthOptions {
        mechanisms: Some(vec![Mechanism::ScramSha256]),
        allow_plaintext: true,
    };
    let e = c.auth(&creds(), &scram_only).await.unwrap_err();
    assert!(matches!(
        e,
        ClientError::Refused {
            reason: Refusal::NoAuthMechanism,
            ..
        }
    ));
    assert!(!c.is_authenticated());
    drop(c);
    task.await.unwrap();
}
