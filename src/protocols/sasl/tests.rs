//! Our clients against our servers for every mechanism, and random input for every server.

use std::sync::OnceLock;

use super::client::{ClientCredentials, ClientMechanism, choose};
use super::*;
use crate::auth::PasswordPrep;

fn secrets() -> &'static PasswordSecrets {
    static SECRETS: OnceLock<PasswordSecrets> = OnceLock::new();
    SECRETS.get_or_init(|| PasswordSecrets::derive("p\u{00E9}ncil").unwrap())
}

/// Secrets as the first stored layout had them: SCRAM-SHA-256 of the password as typed.
fn old_secrets() -> &'static PasswordSecrets {
    static SECRETS: OnceLock<PasswordSecrets> = OnceLock::new();
    SECRETS.get_or_init(|| {
        let mut s = PasswordSecrets::derive("pencil").unwrap();
        s.prep = PasswordPrep::AsTyped;
        s.scram_sha1 = None;
        s.cram_md5 = None;
        s
    })
}

fn exporter(byte: u8) -> ChannelBinding {
    ChannelBinding {
        kind: ChannelBindingType::TlsExporter,
        data: vec![byte; 32],
    }
}

fn context(channel_bindings: Vec<ChannelBinding>) -> ServerContext {
    ServerContext {
        hostname: "mox.example".into(),
        channel_bindings,
        fake_salt_key: [3; 32],
    }
}

fn credentials(username: &str, password: &str) -> ClientCredentials {
    ClientCredentials {
        authzid: None,
        username: username.into(),
        password: password.into(),
    }
}

/// One account, "mjl", with `secrets`.
struct Exchange<'a> {
    mechanism: Mechanism,
    server: ServerContext,
    client_cb: Option<ChannelBinding>,
    credentials: ClientCredentials,
    secrets: &'a PasswordSecrets,
    initial_response: bool,
}

impl Exchange<'_> {
    /// Runs the exchange as a protocol would; the account the server logged in, or the error.
    fn run(&self) -> Result<String, SaslError> {
        let mut client =
            ClientMechanism::start(self.mechanism, &self.credentials, self.client_cb.as_ref())?;
        let mut server = ServerMechanism::start(self.mechanism.name(), &self.server)?;
        let initial = if self.initial_response {
            client.initial_response()?
        } else {
            None
        };
        let mut next = server.step(initial.as_deref())?;
        for _ in 0..10 {
            next = match next {
                Next::Challenge(c) => {
                    let response = client.step(&c)?;
                    server.step(Some(&response))?
                }
                Next::NeedSecrets { username } => {
                    let known = (username == "mjl").then_some(self.secrets);
                    server.supply_secrets(known)?
                }
                Next::Verify(c) => {
                    if c.username == "mjl" && self.secrets.verify(&c.password) {
                        client.finish(None)?;
                        return Ok(c.username);
                    }
                    return Err(SaslError::InvalidCredentials);
                }
                Next::Authenticated { username, authzid } => {
                    assert_eq!(authzid, self.credentials.authzid);
                    client.finish(None)?;
                    return Ok(username);
                }
            }
        }
        panic!("exchange does not end");
    }
}

fn exchange(mechanism: Mechanism, password: &str) -> Exchange<'static> {
    let plus = matches!(mechanism.scram(), Some((_, true)));
    Exchange {
        mechanism,
        server: context(if plus { vec![exporter(1)] } else { vec![] }),
        client_cb: plus.then(|| exporter(1)),
        credentials: credentials("mjl", password),
        secrets: secrets(),
        initial_response: true,
    }
}

#[test]
fn every_mechanism_logs_in_with_the_right_password_only() {
    for mechanism in Mechanism::ALL {
        for initial_response in [true, false] {
            let mut e = exchange(mechanism, "p\u{00E9}ncil");
            e.initial_response = initial_response;
            assert_eq!(e.run(), Ok("mjl".into()), "{mechanism:?}");
            // The other spelling of é is the same password once prepared.
            e.credentials.password = "pe\u{0301}ncil".into();
            assert_eq!(e.run(), Ok("mjl".into()), "{mechanism:?} decomposed");
            e.credentials.password = "pencil".into();
            assert_eq!(e.run(), Err(SaslError::InvalidCredentials), "{mechanism:?}");
            e.credentials = credentials("nobody", "p\u{00E9}ncil");
            assert_eq!(e.run(), Err(SaslError::InvalidCredentials), "{mechanism:?}");
        }
    }
}

#[test]
fn accounts_with_old_secrets() {
    for mechanism in Mechanism::ALL {
        let mut e = exchange(mechanism, "pencil");
        e.secrets = old_secrets();
        let expected = match mechanism {
            Mechanism::ScramSha1 | Mechanism::ScramSha1Plus | Mechanism::CramMd5 => {
                Err(SaslError::NotAvailable(mechanism.name()))
            }
            _ => Ok("mjl".to_string()),
        };
        assert_eq!(e.run(), expected, "{mechanism:?}");
    }
    assert_eq!(
        SaslError::NotAvailable("CRAM-MD5").to_string(),
        "CRAM-MD5 is not available for this account until the password is set again"
    );
}

#[test]
fn authzid_is_passed_on() {
    for mechanism in [Mechanism::ScramSha256Plus, Mechanism::ScramSha1] {
        let mut e = exchange(mechanism, "p\u{00E9}ncil");
        e.credentials.authzid = Some("admin".into());
        assert_eq!(e.run(), Ok("mjl".into()));
    }
}

#[test]
fn channel_binding_between_our_client_and_server() {
    // The connection seen by the client is not the server's: a TLS-terminating middlebox.
    for mechanism in [Mechanism::ScramSha256Plus, Mechanism::ScramSha1Plus] {
        let mut e = exchange(mechanism, "p\u{00E9}ncil");
        e.client_cb = Some(exporter(2));
        assert!(matches!(e.run(), Err(SaslError::ChannelBinding(_))));
        e.client_cb = Some(ChannelBinding {
            kind: ChannelBindingType::TlsServerEndPoint,
            data: vec![1; 32],
        });
        assert!(matches!(e.run(), Err(SaslError::ChannelBinding(_))));
        // Without TLS the -PLUS mechanisms are neither offered nor started.
        e.server = context(vec![]);
        assert!(matches!(e.run(), Err(SaslError::UnsupportedMechanism(_))));
    }
    // A client that could bind uses a mechanism without -PLUS: fine when the server offers no
    // -PLUS, a downgrade when it does.
    let mut e = exchange(Mechanism::ScramSha256, "p\u{00E9}ncil");
    e.client_cb = Some(exporter(1));
    assert_eq!(e.run(), Ok("mjl".into()));
    e.server = context(vec![exporter(1)]);
    assert!(matches!(e.run(), Err(SaslError::ChannelBinding(_))));
}

#[test]
fn advertised_mechanisms() {
    let names = |cb| {
        server_mechanisms(cb)
            .map(Mechanism::name)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(true),
        [
            "SCRAM-SHA-256-PLUS",
            "SCRAM-SHA-256",
            "SCRAM-SHA-1-PLUS",
            "SCRAM-SHA-1",
            "CRAM-MD5",
            "PLAIN",
            "LOGIN"
        ]
    );
    assert_eq!(
        names(false),
        ["SCRAM-SHA-256", "SCRAM-SHA-1", "CRAM-MD5", "PLAIN", "LOGIN"]
    );
    // What a server offers, our client picks the best of.
    let offered = names(true);
    assert_eq!(
        choose(offered.iter().copied(), true, false),
        Some(Mechanism::ScramSha256Plus)
    );
    assert!(matches!(
        ServerMechanism::start("XOAUTH2", &context(vec![])),
        Err(SaslError::UnsupportedMechanism(_))
    ));
    assert_eq!(
        ServerMechanism::start("scram-sha-1", &context(vec![]))
            .unwrap()
            .mechanism(),
        Mechanism::ScramSha1
    );
    assert!(ServerMechanism::start_password("CRAM-MD5").is_err());
    assert!(ServerMechanism::start_password("login").is_ok());
}

#[test]
fn fresh_values() {
    let a = Fresh::generate("mox.example").unwrap();
    let b = Fresh::generate("mox.example").unwrap();
    assert_ne!(a.nonce, b.nonce);
    assert!(scram::is_nonce(&a.nonce));
    assert!(a.cram_md5_challenge.starts_with('<'));
    assert!(a.cram_md5_challenge.ends_with("@mox.example>"));
    assert_ne!(a.cram_md5_challenge, b.cram_md5_challenge);
}

/// xorshift, as in the IMAP parser's random input test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const WORDS: [&[u8]; 24] = [
    b"n,,",
    b"y,,",
    b"p=tls-exporter,,",
    b"p=x,a=b,",
    b"n=",
    b"r=",
    b"mjl",
    b",",
    b"=",
    b"=2C",
    b"c=",
    b"biws",
    b"s=",
    b"i=4096",
    b"p=",
    b"v=",
    b"e=",
    b"AAAA",
    b"m=",
    b" ",
    b"0123abcd",
    b"\xff",
    b"\0",
    b"srvnonce",
];

fn random_message(rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..rng.below(10) {
        if rng.below(4) == 0 {
            out.push(rng.next() as u8);
        } else {
            out.extend_from_slice(WORDS[rng.below(WORDS.len())]);
        }
    }
    out
}

/// A good client message with a few bytes changed, cut or repeated, to get past the first
/// checks.
fn mutate(rng: &mut Rng, good: &[u8]) -> Vec<u8> {
    let mut out = good.to_vec();
    for _ in 0..1 + rng.below(3) {
        match rng.below(4) {
            0 if !out.is_empty() => {
                let at = rng.below(out.len());
                out[at] = rng.next() as u8;
            }
            1 => out.truncate(rng.below(out.len() + 1)),
            2 if !out.is_empty() => {
                let at = rng.below(out.len());
                out.insert(at, WORDS[rng.below(WORDS.len())][0]);
            }
            _ => out.extend_from_slice(WORDS[rng.below(WORDS.len())]),
        }
    }
    out
}

/// The client messages of a successful exchange, to mutate.
fn good_messages(mechanism: Mechanism, ctx: &ServerContext, fresh: &Fresh) -> Vec<Vec<u8>> {
    let cb = ctx.channel_bindings.first().cloned();
    let plus = matches!(mechanism.scram(), Some((_, true)));
    let mut client = ClientMechanism::start_with_nonce(
        mechanism,
        &credentials("mjl", "p\u{00E9}ncil"),
        if plus { cb.as_ref() } else { None },
        "cnonce".into(),
    )
    .unwrap();
    let mut server = ServerMechanism::start_with(mechanism, ctx, fresh.clone()).unwrap();
    let mut sent = Vec::new();
    let mut next = server.step(None).unwrap();
    loop {
        next = match next {
            Next::Challenge(c) => {
                let r = client.step(&c).unwrap();
                sent.push(r.clone());
                server.step(Some(&r)).unwrap()
            }
            Next::NeedSecrets { .. } => server.supply_secrets(Some(secrets())).unwrap(),
            Next::Verify(_) | Next::Authenticated { .. } => return sent,
        }
    }
}

#[test]
fn random_input_never_panics() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let fresh = Fresh {
        nonce: "srvnonce".into(),
        cram_md5_challenge: "<1.2@mox.example>".into(),
    };
    for mechanism in Mechanism::ALL {
        let ctx = context(vec![exporter(1)]);
        let good = good_messages(mechanism, &ctx, &fresh);
        for _ in 0..3_000 {
            let ctx = if rng.below(4) == 0 {
                context(vec![])
            } else {
                ctx.clone()
            };
            let Ok(mut server) = ServerMechanism::start_with(mechanism, &ctx, fresh.clone()) else {
                continue;
            };
            let mut step = 0;
            for _ in 0..1 + rng.below(6) {
                let result = match rng.below(8) {
                    0 => server.step(None),
                    1 => {
                        let known = [Some(secrets()), Some(old_secrets()), None][rng.below(3)];
                        server.supply_secrets(known)
                    }
                    2 | 3 => server.step(Some(&random_message(&mut rng))),
                    _ => {
                        let message = match good.get(step) {
                            Some(g) if rng.below(3) == 0 => g.clone(),
                            Some(g) => mutate(&mut rng, g),
                            None => random_message(&mut rng),
                        };
                        step += 1;
                        server.step(Some(&message))
                    }
                };
                if let Ok(Next::NeedSecrets { .. }) = result {
                    let known = [Some(secrets()), Some(old_secrets()), None][rng.below(3)];
                    let _ = server.supply_secrets(known);
                }
            }
        }
    }
}

#[test]
fn random_challenges_never_panic_a_client() {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for mechanism in Mechanism::ALL {
        for _ in 0..200 {
            let Ok(mut client) = ClientMechanism::start_with_nonce(
                mechanism,
                &credentials("mjl", "pw"),
                Some(&exporter(1)),
                "cnonce".into(),
            ) else {
                continue;
            };
            if rng.below(2) == 0 {
                let _ = client.initial_response();
            }
            for _ in 0..rng.below(4) {
                let mut challenge = random_message(&mut rng);
                if rng.below(2) == 0 {
                    // A plausible server-first, to reach the later states.
                    challenge = mutate(&mut rng, b"r=cnoncesrv,s=AAAA,i=4096");
                }
                let _ = client.step(&challenge);
            }
            let _ = client.finish(Some(&random_message(&mut rng)));
        }
    }
}
