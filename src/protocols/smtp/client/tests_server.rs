//! The client against our own server session (`smtp::server::Session`), driven in-process over
//! a duplex stream with real TLS: STARTTLS and implicit TLS, SCRAM with channel binding, BDAT
//! and DATA.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, duplex};
use tokio::task::JoinHandle;

use super::*;
use crate::address::Address;
use crate::auth::PasswordSecrets;
use crate::protocols::sasl::Mechanism;
use crate::protocols::sasl::client::ClientCredentials;
use crate::protocols::smtp::Reply;
use crate::protocols::smtp::server::{
    Action, AuthOutcome, Destination, Policy, RcptDecision, SecretsLookup, Session, SessionConfig,
};
use crate::tls::ServerTls;

const PASSWORD: &str = "tést1234";

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

struct Accept;

impl Policy for Accept {
    fn sender(&self, _: Option<&Address>, _: Option<&str>) -> Result<(), Reply> {
        Ok(())
    }
    fn recipient(&self, rcpt: &Address, _: Option<&str>) -> RcptDecision {
        if rcpt.localpart.as_str() == "nobody" {
            return RcptDecision::Reject(Reply::new(550, (5, 1, 1), "no such user"));
        }
        RcptDecision::Accept(Destination::Remote)
    }
}

/// What the server received: each delivered message with its recipients.
type Delivered = Arc<Mutex<Vec<(Vec<String>, Vec<u8>)>>>;

fn server_tls(dir: &tempfile::TempDir) -> ServerTls {
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    crate::tls::ensure_self_signed(&cert, &key, &["mx.example"]).unwrap();
    crate::tls::server_tls(&cert, &key).unwrap()
}

/// Runs a submission session on `stream` until the client leaves.
fn serve(stream: DuplexStream, tls: ServerTls, implicit: bool) -> (JoinHandle<()>, Delivered) {
    let delivered = Delivered::default();
    let out = delivered.clone();
    let task = tokio::spawn(async move {
        let secrets = PasswordSecrets::derive(PASSWORD).unwrap();
        let mut session = Session::new(SessionConfig {
            hostname: "mx.example".into(),
            max_message_size: 10 << 20,
            max_recipients: 10,
            submission: true,
            starttls_available: !implicit,
            auth_allowed: false,
            sasl_key: [7; 32],
        });
        let mut io: Box<dyn Io> = Box::new(stream);
        if implicit {
            let s = tls.acceptor.accept(io).await.unwrap();
            session.tls_started(tls.channel_bindings(s.get_ref().1));
            io = Box::new(s);
        }
        io.write_all(&session.greeting().to_bytes()).await.unwrap();
        let mut data = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            while let Some(action) = session.poll(&Accept) {
                match action {
                    Action::Reply(r) => io.write_all(&r.to_bytes()).await.unwrap(),
                    Action::Data(d) => data.extend_from_slice(&d),
                    Action::DiscardData => data.clear(),
                    Action::Deliver(t) => {
                        let rcpts = t.recipients.iter().map(|r| r.address.to_string()).collect();
                        out.lock().unwrap().push((rcpts, std::mem::take(&mut data)));
                        session.delivery_result(Reply::new(250, (2, 0, 0), "queued"));
                    }
                    Action::Authenticate(c) => {
                        session.auth_result(if c.username == "mjl" && c.password == PASSWORD {
                            AuthOutcome::Authenticated("mjl".into())
                        } else {
                            AuthOutcome::Invalid
                        })
                    }
                    Action::NeedSecrets { username } => {
                        session.secrets_result(if username == "mjl" {
                            SecretsLookup::Found {
                                account: "mjl".into(),
                                secrets: Box::new(secrets.clone()),
                            }
                        } else {
                            SecretsLookup::Unknown
                        })
                    }
                    Action::AuthFinished { .. } => {}
                    Action::StartTls => {
                        io.flush().await.unwrap();
                        // A client that does not trust us gives up in the handshake.
                        let Ok(s) = tls.acceptor.accept(io).await else {
                            return;
                        };
                        session.tls_started(tls.channel_bindings(s.get_ref().1));
                        io = Box::new(s);
                    }
                    Action::Close => {
                        let _ = io.shutdown().await;
                        return;
                    }
                }
            }
            io.flush().await.unwrap();
            match io.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => session.receive(&buf[..n]),
            }
        }
    });
    (task, delivered)
}

async fn submission(
    implicit: bool,
) -> (
    Client<DuplexStream>,
    JoinHandle<()>,
    Delivered,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let (client, server) = duplex(1 << 16);
    let (task, delivered) = serve(server, server_tls(&dir), implicit);
    let tls = TlsConfig::opportunistic().unwrap();
    let mut c = if implicit {
        Client::connect_tls(client, &tls, "mx.example", Timeouts::default())
            .await
            .unwrap()
    } else {
        Client::connect(client, Timeouts::default()).await.unwrap()
    };
    c.ehlo("client.example").await.unwrap();
    if !implicit {
        assert!(c.capabilities().starttls && c.capabilities().auth.is_empty());
        c.starttls(&tls, "mx.example").await.unwrap();
    }
    assert!(c.is_tls() && !c.capabilities().starttls);
    assert!(c.capabilities().requiretls && c.capabilities().chunking);
    assert!(c.channel_binding().is_some(), "TLS 1.3 has tls-exporter");
    (c, task, delivered, dir)
}

async fn send(c: &mut Client<DuplexStream>, env: &Envelope, body: &[u8]) -> Vec<RcptResult> {
    let mut reader = body;
    let message = Message {
        prefix: b"Received: test\r\n",
        body: &mut reader,
        body_size: body.len() as u64,
    };
    c.send(env, message).await.unwrap()
}

fn creds(password: &str) -> ClientCredentials {
    ClientCredentials {
        authzid: None,
        username: "mjl".into(),
        password: password.into(),
    }
}

fn only(m: Mechanism) -> AuthOptions {
    AuthOptions {
        mechanisms: Some(vec![m]),
        allow_plaintext: false,
    }
}

#[tokio::test]
async fn starttls_scram_plus_bdat_and_data() {
    let (mut c, task, delivered, _dir) = submission(false).await;
    let used = c
        .auth(&creds(PASSWORD), &AuthOptions::default())
        .await
        .unwrap();
    assert_eq!(used, Mechanism::ScramSha256Plus);
    assert!(c.is_authenticated());

    let env = Envelope {
        mail_from: Some(Address::parse_simple("mjl@client.example").unwrap()),
        recipients: [
            "a@remote.example",
            "nobody@remote.example",
            "b@remote.example",
        ]
        .iter()
        .map(|a| Address::parse_simple(a).unwrap())
        .collect(),
        smtputf8: false,
        requiretls: true,
        eight_bit: false,
    };
    let body = b"Subject: hi\r\n\r\n.leading dot\r\n..two\r\nlast".to_vec();
    // BDAT, as the server offers CHUNKING; then DATA with dot-stuffing.
    let r = send(&mut c, &env, &body).await;
    assert!(r[0].result.is_ok() && r[2].result.is_ok());
    assert!(r[1].result.as_ref().unwrap_err().is_permanent());
    c.capabilities.chunking = false;
    let r = send(&mut c, &env, &body).await;
    assert!(r[0].result.is_ok());
    c.quit().await;
    task.await.unwrap();

    let delivered = delivered.lock().unwrap();
    assert_eq!(delivered.len(), 2);
    let mut expected = b"Received: test\r\n".to_vec();
    expected.extend_from_slice(&body);
    assert_eq!(delivered[0].0, ["a@remote.example", "b@remote.example"]);
    assert_eq!(
        String::from_utf8_lossy(&delivered[0].1),
        String::from_utf8_lossy(&expected)
    );
    // DATA needs the final CRLF that BDAT does not.
    expected.extend_from_slice(b"\r\n");
    assert_eq!(
        String::from_utf8_lossy(&delivered[1].1),
        String::from_utf8_lossy(&expected)
    );
}

#[tokio::test]
async fn implicit_tls_and_each_mechanism() {
    for m in [
        Mechanism::ScramSha256,
        Mechanism::ScramSha1Plus,
        Mechanism::ScramSha1,
        Mechanism::CramMd5,
        Mechanism::Plain,
        Mechanism::Login,
    ] {
        let (mut c, task, _, _dir) = submission(true).await;
        assert_eq!(c.auth(&creds(PASSWORD), &only(m)).await.unwrap(), m);
        c.quit().await;
        task.await.unwrap();
    }
}

#[tokio::test]
async fn wrong_password_and_unverified_roots() {
    for m in [Mechanism::ScramSha256Plus, Mechanism::Plain] {
        let (mut c, task, _, _dir) = submission(false).await;
        let e = c.auth(&creds("wrong"), &only(m)).await.unwrap_err();
        assert_eq!(e.reply().map(|r| r.code), Some(535), "{m:?}: {e}");
        assert!(c.is_usable() && !c.is_authenticated());
        c.quit().await;
        task.await.unwrap();
    }

    // A verifying configuration does not trust the self-signed certificate.
    let dir = tempfile::tempdir().unwrap();
    let (client, server) = duplex(1 << 16);
    let (task, _) = serve(server, server_tls(&dir), false);
    let mut c = Client::connect(client, Timeouts::default()).await.unwrap();
    c.ehlo("client.example").await.unwrap();
    let tls = TlsConfig::verified(rustls::RootCertStore::empty()).unwrap();
    let e = c.starttls(&tls, "mx.example").await.unwrap_err();
    assert!(matches!(e, ClientError::Tls(_)), "{e}");
    assert!(!e.is_permanent() && !c.is_usable());
    drop(c);
    task.await.unwrap();
}
