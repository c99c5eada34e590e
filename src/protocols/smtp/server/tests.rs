//! Transcript tests of the SMTP session: client lines in, the exact replies out.

use super::*;

struct LocalOnly;

impl Policy for LocalOnly {
    fn sender(&self, from: Option<&Address>, _: Option<&str>) -> Result<(), Reply> {
        match from {
            Some(a) if a.localpart.as_str() == "blocked" => {
                Err(Reply::new(451, (4, 7, 0), "try later"))
            }
            _ => Ok(()),
        }
    }

    fn recipient(&self, rcpt: &Address, _: Option<&str>) -> RcptDecision {
        if rcpt.domain.ascii() == "mx.example.com" && rcpt.localpart.as_str() == "postmaster" {
            RcptDecision::Accept(Destination::Local {
                account: "admin".into(),
            })
        } else if rcpt.domain.ascii() == "example.com" && rcpt.localpart.as_str() != "nobody" {
            RcptDecision::Accept(Destination::Local {
                account: "mjl".into(),
            })
        } else {
            RcptDecision::Reject(Reply::new(550, (5, 1, 1), "no such user"))
        }
    }
}

/// Submission-like: every address that is not mjl@example.com goes to the outgoing queue.
struct Relaying;

impl Policy for Relaying {
    fn sender(&self, _: Option<&Address>, _: Option<&str>) -> Result<(), Reply> {
        Ok(())
    }

    fn recipient(&self, rcpt: &Address, _: Option<&str>) -> RcptDecision {
        if rcpt.to_string() == "mjl@example.com" {
            RcptDecision::Accept(Destination::Local {
                account: "mjl".into(),
            })
        } else {
            RcptDecision::Accept(Destination::Remote)
        }
    }
}

struct T {
    s: Session,
    spooled: Vec<u8>,
    delivered: Vec<Transaction>,
    discarded: usize,
    closed: bool,
}

impl T {
    fn new(submission: bool) -> T {
        T {
            s: Session::new(SessionConfig {
                hostname: "mx.example.com".into(),
                max_message_size: 100,
                max_recipients: 2,
                submission,
                starttls_available: true,
                auth_allowed: true,
                sasl_key: [7; 32],
            }),
            spooled: Vec::new(),
            delivered: Vec::new(),
            discarded: 0,
            closed: false,
        }
    }

    /// Sends `input` and returns everything replied.
    fn send(&mut self, input: &str) -> String {
        self.send_with(&LocalOnly, input)
    }

    fn send_with(&mut self, policy: &dyn Policy, input: &str) -> String {
        self.s.receive(input.as_bytes());
        let mut out = String::new();
        while let Some(a) = self.s.poll(policy) {
            match a {
                Action::Reply(r) => out.push_str(&r.to_string()),
                Action::Data(d) => self.spooled.extend(d),
                Action::DiscardData => {
                    self.discarded += 1;
                    self.spooled.clear();
                }
                Action::Deliver(t) => {
                    self.delivered.push(t);
                    self.s
                        .delivery_result(Reply::new(250, (2, 0, 0), "delivered"));
                }
                Action::Authenticate(c) => {
                    let ok = c.username == "mjl@example.com" && c.password == "secret";
                    self.s.auth_result(if ok {
                        AuthOutcome::Authenticated("mjl".into())
                    } else {
                        AuthOutcome::Invalid
                    });
                }
                Action::StartTls => self.s.tls_started(Vec::new()),
                Action::NeedSecrets { username } => {
                    let lookup = if username == "mjl@example.com" {
                        SecretsLookup::Found {
                            account: "mjl".into(),
                            secrets: Box::new(
                                crate::auth::PasswordSecrets::derive("secret").unwrap(),
                            ),
                        }
                    } else {
                        SecretsLookup::Unknown
                    };
                    self.s.secrets_result(lookup);
                }
                Action::AuthFinished { .. } => {}
                Action::Close => self.closed = true,
            }
        }
        out
    }
}

#[test]
fn delivers_a_pipelined_transaction() {
    let mut t = T::new(false);
    assert_eq!(
        t.s.greeting().to_string(),
        "220 mx.example.com ESMTP moxide\r\n"
    );
    let ehlo = t.send("EHLO client.example\r\n");
    assert!(
        ehlo.starts_with("250-mx.example.com\r\n250-PIPELINING\r\n"),
        "{ehlo}"
    );
    assert!(
        ehlo.contains("250-SIZE 100\r\n") && ehlo.contains("STARTTLS") && !ehlo.contains("AUTH"),
        "{ehlo}"
    );
    let out = t.send("MAIL FROM:<a@sender.example>\r\nRCPT TO:<mjl@example.com>\r\nRCPT TO:<nobody@example.com>\r\nDATA\r\n");
    assert_eq!(
        out,
        "250 2.1.0 sender ok\r\n250 2.1.5 recipient ok\r\n550 5.1.1 no such user\r\n354 end data with <CR><LF>.<CR><LF>\r\n"
    );
    let out = t.send("Subject: hi\r\n\r\n..line\r\n.\r\nQUIT\r\n");
    assert_eq!(
        out,
        "250 2.0.0 delivered\r\n221 2.0.0 mx.example.com closing connection\r\n"
    );
    assert_eq!(t.spooled, b"Subject: hi\r\n\r\n.line\r\n");
    assert_eq!(t.delivered.len(), 1);
    assert_eq!(t.delivered[0].recipients.len(), 1);
    assert_eq!(
        t.delivered[0].mail_from.as_ref().unwrap().to_string(),
        "a@sender.example"
    );
    assert!(t.closed);
}

#[test]
fn sequence_errors_and_recovery() {
    let mut t = T::new(false);
    assert_eq!(
        t.send("MAIL FROM:<a@b.example>\r\n"),
        "503 5.5.1 send EHLO first\r\n"
    );
    assert_eq!(
        t.send("EHLO x\r\nRCPT TO:<mjl@example.com>\r\n")
            .lines()
            .last()
            .unwrap(),
        "503 5.5.1 send MAIL first"
    );
    assert_eq!(t.send("DATA\r\n"), "503 5.5.1 send MAIL first\r\n");
    assert_eq!(
        t.send("MAIL FROM:<>\r\nDATA\r\n"),
        "250 2.1.0 sender ok\r\n554 5.5.1 no valid recipients\r\n"
    );
    assert_eq!(
        t.send("MAIL FROM:<>\r\n"),
        "503 5.5.1 already in a transaction, send RSET first\r\n"
    );
    assert_eq!(
        t.send("RSET\r\nNOOP\r\n"),
        "250 2.0.0 reset\r\n250 2.0.0 ok\r\n"
    );
    assert_eq!(t.send("BOGUS\r\n"), "500 5.5.2 unknown command\r\n");
    assert_eq!(
        t.send("MAIL FROM:<a@b.example> X=1\r\n"),
        "555 5.5.4 unsupported parameter X=1\r\n"
    );
    assert_eq!(
        t.send("MAIL FROM:<a@b.example> SIZE=101\r\n"),
        "552 5.3.4 message larger than the maximum of 100 bytes\r\n"
    );
    assert!(!t.closed);
}

#[test]
fn recipient_limit() {
    let mut t = T::new(false);
    t.send("EHLO x\r\nMAIL FROM:<>\r\n");
    let out =
        t.send("RCPT TO:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nRCPT TO:<c@example.com>\r\n");
    assert!(out.ends_with("452 4.5.3 too many recipients\r\n"), "{out}");
}

#[test]
fn too_large_message_is_refused_and_not_delivered() {
    let mut t = T::new(false);
    t.send("EHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<mjl@example.com>\r\nDATA\r\n");
    let big = format!("{}\r\n.\r\n", "x".repeat(200));
    assert_eq!(
        t.send(&big),
        "552 5.3.4 message larger than the maximum of 100 bytes\r\n"
    );
    assert_eq!(t.discarded, 1);
    assert!(t.delivered.is_empty());
    // The session goes on.
    assert_eq!(t.send("NOOP\r\n"), "250 2.0.0 ok\r\n");
}

#[test]
fn bare_lf_message_is_refused() {
    let mut t = T::new(false);
    t.send("EHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<mjl@example.com>\r\nDATA\r\n");
    let out = t.send("a\n.\nMAIL FROM:<evil@x.example>\n\r\n.\r\n");
    assert!(out.starts_with("554 5.6.0"), "{out}");
    assert!(t.delivered.is_empty());
}

#[test]
fn smtputf8_is_needed_for_non_ascii() {
    let mut t = T::new(false);
    t.send("EHLO x\r\n");
    assert_eq!(
        t.send("MAIL FROM:<δ@example.org>\r\n"),
        "553 5.6.7 non-ASCII address needs the SMTPUTF8 parameter\r\n"
    );
    assert_eq!(
        t.send("MAIL FROM:<a@example.org>\r\n"),
        "250 2.1.0 sender ok\r\n"
    );
    assert!(
        t.send("RCPT TO:<δ@example.com>\r\n")
            .starts_with("553 5.6.7")
    );
    t.send("RSET\r\n");
    assert_eq!(
        t.send("MAIL FROM:<δ@example.org> SMTPUTF8\r\nRCPT TO:<δ@example.com>\r\n"),
        "250 2.1.0 sender ok\r\n250 2.1.5 recipient ok\r\n"
    );
}

#[test]
fn long_lines_and_many_errors() {
    let mut t = T::new(false);
    let long = format!("EHLO {}\r\nNOOP\r\n", "a".repeat(MAX_LINE + 10));
    assert_eq!(t.send(&long), "500 5.5.2 line too long\r\n250 2.0.0 ok\r\n");
    // MAX_LINE bytes with the CRLF is the longest line, however it is split into packets.
    let longest = format!("NOOP {}\r\n", "x".repeat(MAX_LINE - 7));
    let over = format!("NOOP {}\r\n", "x".repeat(MAX_LINE - 6));
    assert_eq!(longest.len(), MAX_LINE);
    for split in [MAX_LINE - 2, MAX_LINE - 1, MAX_LINE] {
        let (a, b) = longest.split_at(split);
        assert_eq!(t.send(a) + &t.send(b), "250 2.0.0 ok\r\n", "{split}");
        let (a, b) = over.split_at(split);
        assert_eq!(
            t.send(a) + &t.send(b),
            "500 5.5.2 line too long\r\n",
            "{split}"
        );
        t.send("NOOP\r\n");
    }
    let out = t.send(&"X\r\n".repeat(20));
    assert_eq!(out.matches("500 5.5.2").count(), 10);
    assert!(out.ends_with("421 4.7.0 too many errors, closing connection\r\n"));
    assert!(t.closed);
}

#[test]
fn submission_requires_auth() {
    let mut t = T::new(true);
    let ehlo = t.send("EHLO x\r\n");
    assert!(
        ehlo.contains("250-AUTH SCRAM-SHA-256 SCRAM-SHA-1 CRAM-MD5 PLAIN LOGIN\r\n"),
        "{ehlo}"
    );
    assert_eq!(
        t.send("MAIL FROM:<mjl@example.com>\r\n"),
        "530 5.7.0 authentication required\r\n"
    );
    assert_eq!(
        t.send("AUTH PLAIN AG1qbEBleGFtcGxlLmNvbQB3cm9uZw==\r\n"),
        "535 5.7.8 authentication credentials invalid\r\n"
    );
    assert_eq!(t.send("AUTH PLAIN\r\n"), "334 \r\n");
    assert_eq!(t.send("*\r\n"), "501 5.0.0 authentication cancelled\r\n");
    assert_eq!(t.send("AUTH LOGIN\r\n"), "334 VXNlcm5hbWU6\r\n");
    assert_eq!(t.send("bWpsQGV4YW1wbGUuY29t\r\n"), "334 UGFzc3dvcmQ6\r\n");
    assert_eq!(
        t.send("c2VjcmV0\r\n"),
        "235 2.7.0 authentication successful\r\n"
    );
    assert_eq!(t.s.authenticated(), Some("mjl"));
    assert_eq!(
        t.send("MAIL FROM:<mjl@example.com>\r\n"),
        "250 2.1.0 sender ok\r\n"
    );
}

#[test]
fn starttls_drops_pipelined_plaintext_and_resets() {
    let mut t = T::new(false);
    t.send("EHLO x\r\n");
    let out = t.send("STARTTLS\r\nMAIL FROM:<injected@x.example>\r\n");
    assert_eq!(out, "220 2.0.0 ready to start TLS\r\n");
    assert!(t.s.is_tls());
    assert_eq!(
        t.send("MAIL FROM:<a@b.example>\r\n"),
        "503 5.5.1 send EHLO first\r\n"
    );
    let ehlo = t.send("EHLO x\r\n");
    assert!(!ehlo.contains("STARTTLS"));
}

#[test]
fn random_input_never_panics() {
    let mut seed = 0x2545F4914F6CDD1Du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let words: [&[u8]; 12] = [
        b"EHLO x\r\n",
        b"MAIL FROM:<",
        b"RCPT TO:<",
        b">\r\n",
        b"DATA\r\n",
        b".\r\n",
        b"\r\n",
        b"\n",
        b"AUTH PLAIN",
        b"@",
        b"\"",
        b"\xff",
    ];
    for _ in 0..2000 {
        let mut t = T::new(next() % 2 == 0);
        let mut input = Vec::new();
        for _ in 0..(next() % 40) {
            if next() % 3 == 0 {
                input.push(next() as u8);
            } else {
                input.extend_from_slice(words[(next() % words.len() as u64) as usize]);
            }
        }
        t.s.receive(&input);
        while let Some(a) = t.s.poll(&LocalOnly) {
            match a {
                Action::Deliver(_) => t.s.delivery_result(Reply::new(250, (2, 0, 0), "ok")),
                Action::Authenticate(_) => t.s.auth_result(AuthOutcome::Invalid),
                Action::StartTls => t.s.tls_started(Vec::new()),
                Action::NeedSecrets { .. } => t.s.secrets_result(SecretsLookup::Unknown),
                _ => {}
            }
        }
    }
}

#[test]
fn cram_md5_and_scram_through_the_session() {
    use crate::protocols::sasl::Mechanism;
    use crate::protocols::sasl::client::{ClientCredentials, ClientMechanism};
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    for mechanism in [
        Mechanism::CramMd5,
        Mechanism::ScramSha256,
        Mechanism::ScramSha1,
    ] {
        for (password, ok) in [("secret", true), ("wrong", false)] {
            let mut t = T::new(true);
            let ehlo = t.send("EHLO x\r\n");
            assert!(ehlo.contains(mechanism.name()), "{ehlo}");
            let creds = ClientCredentials {
                username: "mjl@example.com".into(),
                password: password.into(),
                authzid: None,
            };
            let mut client = ClientMechanism::start(mechanism, &creds, None).unwrap();
            let mut line = match client.initial_response().unwrap() {
                Some(ir) => format!("AUTH {} {}\r\n", mechanism.name(), b64.encode(ir)),
                None => format!("AUTH {}\r\n", mechanism.name()),
            };
            let last = loop {
                let reply = t.send(&line);
                let Some(challenge) = reply.strip_prefix("334 ") else {
                    break reply;
                };
                let challenge = b64.decode(challenge.trim_end()).unwrap();
                line = match client.step(&challenge) {
                    Ok(response) => format!("{}\r\n", b64.encode(response)),
                    Err(_) => "*\r\n".into(),
                };
            };
            if ok {
                assert_eq!(
                    last, "235 2.7.0 authentication successful\r\n",
                    "{mechanism:?}"
                );
                assert_eq!(t.s.authenticated(), Some("mjl"));
            } else {
                assert!(
                    last.starts_with("535 5.7.8") || last.starts_with("501"),
                    "{mechanism:?}: {last}"
                );
                assert_eq!(t.s.authenticated(), None);
            }
        }
    }
}

#[test]
fn chunking_delivers_and_keeps_bytes_exact() {
    let mut t = T::new(false);
    let ehlo = t.send("EHLO x\r\n");
    assert!(
        ehlo.contains("250-CHUNKING\r\n") && !ehlo.contains("REQUIRETLS"),
        "{ehlo}"
    );
    // Pipelined: MAIL, RCPT, two chunks, the second LAST; no dot-unstuffing inside chunks.
    let out = t.send("MAIL FROM:<a@x.example>\r\nRCPT TO:<mjl@example.com>\r\nBDAT 12\r\nA: b\r\n\r\n.x\r\nBDAT 0 LAST\r\nNOOP\r\n");
    assert_eq!(
        out,
        "250 2.1.0 sender ok\r\n250 2.1.5 recipient ok\r\n250 2.0.0 12 bytes received\r\n250 2.0.0 delivered\r\n250 2.0.0 ok\r\n"
    );
    assert_eq!(t.spooled, b"A: b\r\n\r\n.x\r\n");
    assert_eq!(t.delivered.len(), 1);
    // A chunk cut across reads.
    t.spooled.clear();
    t.send("MAIL FROM:<>\r\nRCPT TO:<mjl@example.com>\r\nBDAT 6 LAST\r\nA: ");
    assert_eq!(t.send("b\r"), "");
    assert_eq!(t.send("\n"), "250 2.0.0 delivered\r\n");
    assert_eq!(t.spooled, b"A: b\r\n");
}

#[test]
fn chunking_errors_consume_the_chunk() {
    let mut t = T::new(false);
    t.send("EHLO x\r\n");
    // Without a transaction: the 5 bytes are read (they hold a command) and refused.
    assert_eq!(
        t.send("BDAT 5\r\nQUIT\nNOOP\r\n"),
        "503 5.5.1 send MAIL first\r\n250 2.0.0 ok\r\n"
    );
    // DATA after BDAT, and RCPT after BDAT, are sequence errors.
    t.send("MAIL FROM:<>\r\nRCPT TO:<mjl@example.com>\r\nBDAT 3\r\nA: ");
    assert_eq!(t.send("DATA\r\n"), "503 5.5.1 DATA after BDAT\r\n");
    assert!(
        t.send("RCPT TO:<b@example.com>\r\n")
            .starts_with("503 5.5.1")
    );
    // Too large: refused at the chunk that went over, the rest of the transaction too.
    let out = t.send(&format!("BDAT 200\r\n{}BDAT 1 LAST\r\nx", "y".repeat(200)));
    assert_eq!(
        out,
        "552 5.3.4 message larger than the maximum of 100 bytes\r\n503 5.5.1 send MAIL first\r\n"
    );
    assert!(t.delivered.is_empty());
    // Bare LF in chunks is refused at the end.
    t.send("RSET\r\nMAIL FROM:<>\r\nRCPT TO:<mjl@example.com>\r\n");
    assert!(t.send("BDAT 5 LAST\r\nA: b\n").starts_with("554 5.6.0"));
    // A huge declared size is read and dropped without being kept.
    t.send("MAIL FROM:<>\r\nRCPT TO:<mjl@example.com>\r\nBDAT 18446744073709551615\r\n");
    for _ in 0..10 {
        assert_eq!(t.send(&"z".repeat(1000)), "");
    }
    assert!(t.spooled.len() <= 100);
}

#[test]
fn requiretls_needs_tls() {
    let mut t = T::new(false);
    t.send("EHLO x\r\n");
    assert_eq!(
        t.send("MAIL FROM:<a@x.example> REQUIRETLS\r\n"),
        "530 5.7.10 REQUIRETLS needs a TLS connection\r\n"
    );
    t.send("STARTTLS\r\n");
    assert!(t.send("EHLO x\r\n").contains("250-REQUIRETLS\r\n"));
    assert_eq!(
        t.send("MAIL FROM:<a@x.example> REQUIRETLS\r\nRCPT TO:<mjl@example.com>\r\nDATA\r\nA: b\r\n\r\n.\r\n"),
        "250 2.1.0 sender ok\r\n250 2.1.5 recipient ok\r\n354 end data with <CR><LF>.<CR><LF>\r\n250 2.0.0 delivered\r\n"
    );
    assert!(t.delivered[0].params.requiretls);
}

#[test]
fn sender_policy_and_postmaster() {
    let mut t = T::new(false);
    t.send("EHLO x\r\n");
    assert_eq!(
        t.send("MAIL FROM:<blocked@x.example>\r\n"),
        "451 4.7.0 try later\r\n"
    );
    assert_eq!(
        t.send("MAIL FROM:<>\r\nRCPT TO:<Postmaster>\r\n"),
        "250 2.1.0 sender ok\r\n250 2.1.5 recipient ok\r\n"
    );
    assert_eq!(t.delivered.len(), 0);
    assert_eq!(
        t.send("DATA\r\nA: b\r\n\r\n.\r\n"),
        "354 end data with <CR><LF>.<CR><LF>\r\n250 2.0.0 delivered\r\n"
    );
    assert_eq!(
        t.delivered[0].recipients,
        vec![Recipient {
            address: Address::parse_simple("postmaster@mx.example.com").unwrap(),
            destination: Destination::Local {
                account: "admin".into()
            },
        }]
    );
}

#[test]
fn postmaster_without_a_mailbox_is_refused_clearly() {
    // No mailbox for postmaster@ our host name: the refusal says so (not "no such user" for a
    // name the client did not give, nor "no relaying" for a domain it did not give).
    let mut t = T::new(false);
    t.send("EHLO x\r\nMAIL FROM:<>\r\n");
    let mut relaying = T::new(true);
    relaying.s.authenticated = Some("mjl".into());
    relaying.send_with(&Relaying, "EHLO x\r\nMAIL FROM:<>\r\n");
    t.s.config.hostname = "other.example.com".into();
    assert_eq!(
        t.send("RCPT TO:<postmaster>\r\n"),
        "550 5.1.1 no mailbox for postmaster@other.example.com\r\n"
    );
    // Where everything else may go to the outgoing queue, the postmaster of this host does not:
    // the queue would send it back here.
    assert_eq!(
        relaying.send_with(
            &Relaying,
            "RCPT TO:<Postmaster>\r\nRCPT TO:<postmaster@mx.example.com>\r\n"
        ),
        "550 5.1.1 no mailbox for postmaster@mx.example.com\r\n250 2.1.5 recipient ok\r\n"
    );
    // Without MAIL the sequence error comes first.
    assert_eq!(
        T::new(false)
            .send("EHLO x\r\nRCPT TO:<Postmaster>\r\n")
            .lines()
            .last(),
        Some("503 5.5.1 send MAIL first")
    );
}
