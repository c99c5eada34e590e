//! SCRAM: the RFC exchanges on both sides, the message syntax, and the ways an exchange fails.

use super::*;
use crate::auth::{PasswordPrep, PasswordSecrets, SCRAM_ITERATIONS, ScramHash, ScramSecret};
use crate::protocols::sasl::{
    ChannelBinding, ChannelBindingType, Mechanism, Next, SaslError, ServerContext,
};

const RFC7677_SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
const RFC7677: [&str; 4] = [
    "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
    "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
];
const RFC5802_SERVER_NONCE: &str = "3rfcNHYJY1ZVvWVs7j";
const RFC5802: [&str; 4] = [
    "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
    "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
    "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
    "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
];

fn b64(s: &str) -> Vec<u8> {
    crate::protocols::sasl::base64_decode(s, "test").unwrap()
}

/// The secrets of user "user", password "pencil", with the salts of the two RFC examples.
fn pencil() -> PasswordSecrets {
    PasswordSecrets {
        prep: PasswordPrep::Saslprep,
        scram_sha256: ScramSecret::derive(
            ScramHash::Sha256,
            "pencil",
            b64("W22ZaJ0SNY7soEsUEjb6gQ=="),
            SCRAM_ITERATIONS,
        ),
        scram_sha1: Some(ScramSecret::derive(
            ScramHash::Sha1,
            "pencil",
            b64("QSXCR+Q6sek8bf92"),
            SCRAM_ITERATIONS,
        )),
        cram_md5: None,
    }
}

fn context(channel_bindings: Vec<ChannelBinding>) -> ServerContext {
    ServerContext {
        hostname: "mox.example".into(),
        channel_bindings,
        fake_salt_key: [7; 32],
    }
}

fn exporter(byte: u8) -> ChannelBinding {
    ChannelBinding {
        kind: ChannelBindingType::TlsExporter,
        data: vec![byte; 32],
    }
}

fn server(mechanism: Mechanism, ctx: &ServerContext, nonce: &str) -> ScramServer {
    ScramServer::new(mechanism, ctx, nonce.into()).unwrap()
}

fn challenge(next: Next) -> String {
    match next {
        Next::Challenge(c) => String::from_utf8(c).unwrap(),
        other => panic!("expected a challenge, got {other:?}"),
    }
}

/// The server side of an RFC transcript, checked message by message.
fn server_transcript(mechanism: Mechanism, nonce: &str, t: [&str; 4]) {
    let mut s = server(mechanism, &context(vec![]), nonce);
    assert_eq!(s.step(None).unwrap(), Next::Challenge(vec![]));
    assert_eq!(
        s.step(Some(t[0].as_bytes())).unwrap(),
        Next::NeedSecrets {
            username: "user".into()
        }
    );
    assert_eq!(challenge(s.supply_secrets(Some(&pencil())).unwrap()), t[1]);
    assert_eq!(challenge(s.step(Some(t[2].as_bytes())).unwrap()), t[3]);
    assert_eq!(
        s.step(Some(b"")).unwrap(),
        Next::Authenticated {
            username: "user".into(),
            authzid: None
        }
    );
    assert!(matches!(s.step(Some(b"")), Err(SaslError::OutOfOrder(_))));
}

/// The client side of an RFC transcript.
fn client_transcript(mechanism: Mechanism, client_nonce: &str, t: [&str; 4]) {
    let mut c =
        ScramClient::new(mechanism, None, "user", "pencil", None, client_nonce.into()).unwrap();
    assert_eq!(c.initial_response().unwrap(), t[0].as_bytes());
    assert_eq!(c.step(t[1].as_bytes()).unwrap(), t[2].as_bytes());
    assert_eq!(c.step(t[3].as_bytes()).unwrap(), b"");
    c.finish(None).unwrap();
}

#[test]
fn rfc7677_exchange() {
    server_transcript(Mechanism::ScramSha256, RFC7677_SERVER_NONCE, RFC7677);
    client_transcript(Mechanism::ScramSha256, "rOprNGfwEbeRWgbNEkqO", RFC7677);
}

#[test]
fn rfc5802_exchange() {
    server_transcript(Mechanism::ScramSha1, RFC5802_SERVER_NONCE, RFC5802);
    client_transcript(Mechanism::ScramSha1, "fyko+d2lbbFgONRv9qkxdawL", RFC5802);
}

#[test]
fn client_takes_server_final_as_additional_data() {
    let mut c = ScramClient::new(
        Mechanism::ScramSha256,
        None,
        "user",
        "pencil",
        None,
        "rOprNGfwEbeRWgbNEkqO".into(),
    )
    .unwrap();
    // No initial response: the server's empty challenge asks for client-first.
    assert_eq!(c.step(b"").unwrap(), RFC7677[0].as_bytes());
    c.step(RFC7677[1].as_bytes()).unwrap();
    c.finish(Some(RFC7677[3].as_bytes())).unwrap();
}

#[test]
fn saslnames() {
    assert_eq!(encode_saslname("a=b,c"), "a=3Db=2Cc");
    assert_eq!(decode_saslname("a=3Db=2Cc").unwrap(), "a=b,c");
    for bad in ["=", "a=2", "=2c", "=41", "x=3"] {
        assert!(decode_saslname(bad).is_err(), "{bad}");
    }
    let first = parse_client_first(b"n,a=adm=2Cin,n=us=3Der,r=abc,x=ext").unwrap();
    assert_eq!(first.authzid.as_deref(), Some("adm,in"));
    assert_eq!(first.username, "us=er");
    assert_eq!(first.gs2_header, "n,a=adm=2Cin,");
    assert_eq!(first.bare, "n=us=3Der,r=abc,x=ext");
}

#[test]
fn malformed_client_first() {
    for bad in [
        &b""[..],
        b"n,,",
        b"n",
        b"x,,n=user,r=abc",
        b"p=,,n=user,r=abc",
        b"p=tls exporter,,n=user,r=abc",
        b"n,b=admin,n=user,r=abc",
        b"n,a=,n=user,r=abc",
        b"n,,m=ext,n=user,r=abc",
        b"n,,n=,r=abc",
        b"n,,n=user",
        b"n,,n=user,r=",
        b"n,,n=user,r=a\x01b",
        b"n,,r=abc,n=user",
        b"n,,n=user,r=abc,",
        b"n,,n=user,r=abc,1=x",
        b"n,,n=us\xffer,r=abc",
    ] {
        let mut s = server(Mechanism::ScramSha256, &context(vec![]), "srv");
        assert!(
            matches!(s.step(Some(bad)), Err(SaslError::Malformed(_))),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
        // A failed exchange stays failed.
        assert!(s.step(Some(RFC7677[0].as_bytes())).is_err());
    }
}

/// Runs the server to server-first for `first`, then sends `last` (or a correct client-final
/// for the password when None).
fn server_after_first(
    mechanism: Mechanism,
    ctx: &ServerContext,
    first: &str,
    secrets: Option<&PasswordSecrets>,
) -> Result<(ScramServer, String), SaslError> {
    let mut s = server(mechanism, ctx, "srvnonce");
    match s.step(Some(first.as_bytes()))? {
        Next::NeedSecrets { .. } => {}
        other => panic!("expected NeedSecrets, got {other:?}"),
    }
    let server_first = challenge(s.supply_secrets(secrets)?);
    Ok((s, server_first))
}

#[test]
fn wrong_proof_and_nonce_mismatch() {
    let ctx = context(vec![]);
    let (mut s, _) = server_after_first(
        Mechanism::ScramSha256,
        &ctx,
        "n,,n=user,r=cnonce",
        Some(&pencil()),
    )
    .unwrap();
    let proof = crate::protocols::sasl::base64_encode(&[0u8; 32]);
    assert_eq!(
        s.step(Some(
            format!("c=biws,r=cnoncesrvnonce,p={proof}").as_bytes()
        )),
        Err(SaslError::InvalidCredentials)
    );
    // Proof of a client with the wrong password.
    let mut c = ScramClient::new(
        Mechanism::ScramSha256,
        None,
        "user",
        "pencil2",
        None,
        "cnonce".into(),
    )
    .unwrap();
    c.initial_response().unwrap();
    let (mut s, server_first) = server_after_first(
        Mechanism::ScramSha256,
        &ctx,
        "n,,n=user,r=cnonce",
        Some(&pencil()),
    )
    .unwrap();
    let last = c.step(server_first.as_bytes()).unwrap();
    assert_eq!(s.step(Some(&last)), Err(SaslError::InvalidCredentials));

    for bad in [
        format!("c=biws,r=cnoncesrvnonceX,p={proof}"),
        format!("c=biws,r=cnonce,p={proof}"),
        "c=biws,r=cnoncesrvnonce,p=AAAA".to_string(),
        "c=biws,r=cnoncesrvnonce,p=!!".to_string(),
        "c=biws,r=cnoncesrvnonce".to_string(),
        format!("r=cnoncesrvnonce,c=biws,p={proof}"),
        format!("c=%%,r=cnoncesrvnonce,p={proof}"),
        String::new(),
    ] {
        let (mut s, _) = server_after_first(
            Mechanism::ScramSha256,
            &ctx,
            "n,,n=user,r=cnonce",
            Some(&pencil()),
        )
        .unwrap();
        assert!(
            matches!(s.step(Some(bad.as_bytes())), Err(SaslError::Malformed(_))),
            "{bad}"
        );
    }
}

#[test]
fn unknown_users_get_a_stable_fake_salt_and_fail() {
    let ctx = context(vec![]);
    let salt_of = |ctx: &ServerContext, user: &str| {
        let (_, server_first) = server_after_first(
            Mechanism::ScramSha256,
            ctx,
            &format!("n,,n={user},r=cnonce"),
            None,
        )
        .unwrap();
        parse_server_first(server_first.as_bytes()).unwrap()
    };
    let a = salt_of(&ctx, "nobody");
    assert_eq!(a.salt.len(), crate::auth::SALT_LEN);
    assert_eq!(a.iterations, SCRAM_ITERATIONS.get());
    assert_eq!(a, salt_of(&ctx, "nobody"));
    assert_ne!(a.salt, salt_of(&ctx, "somebody").salt);
    let mut other_key = ctx.clone();
    other_key.fake_salt_key = [8; 32];
    assert_ne!(a.salt, salt_of(&other_key, "nobody").salt);

    // A client that goes on gets the same answer as for a wrong password.
    let mut c = ScramClient::new(
        Mechanism::ScramSha256,
        None,
        "nobody",
        "x",
        None,
        "cnonce".into(),
    )
    .unwrap();
    c.initial_response().unwrap();
    let (mut s, server_first) =
        server_after_first(Mechanism::ScramSha256, &ctx, "n,,n=nobody,r=cnonce", None).unwrap();
    let last = c.step(server_first.as_bytes()).unwrap();
    assert_eq!(s.step(Some(&last)), Err(SaslError::InvalidCredentials));
}

#[test]
fn old_secrets_have_no_scram_sha1() {
    let mut old = pencil();
    old.scram_sha1 = None;
    let ctx = context(vec![]);
    assert_eq!(
        server_after_first(Mechanism::ScramSha1, &ctx, RFC5802[0], Some(&old)).map(|_| ()),
        Err(SaslError::NotAvailable("SCRAM-SHA-1"))
    );
    // SCRAM-SHA-256 works with them.
    let mut s = server(Mechanism::ScramSha256, &ctx, RFC7677_SERVER_NONCE);
    s.step(Some(RFC7677[0].as_bytes())).unwrap();
    assert_eq!(challenge(s.supply_secrets(Some(&old)).unwrap()), RFC7677[1]);
    assert_eq!(
        challenge(s.step(Some(RFC7677[2].as_bytes())).unwrap()),
        RFC7677[3]
    );
}

#[test]
fn channel_binding_flags() {
    let with_tls = context(vec![exporter(1)]);
    let without = context(vec![]);
    let flag_result = |m: Mechanism, ctx: &ServerContext, header: &str| {
        let mut s = server(m, ctx, "srv");
        s.step(Some(format!("{header}n=user,r=abc").as_bytes()))
            .map(|_| ())
    };
    use Mechanism::{ScramSha256 as Plain256, ScramSha256Plus as Plus256};
    // Without -PLUS: n always; y only when the server offers no -PLUS (else a downgrade); p never.
    assert_eq!(flag_result(Plain256, &with_tls, "n,,"), Ok(()));
    assert_eq!(flag_result(Plain256, &without, "n,,"), Ok(()));
    assert_eq!(flag_result(Plain256, &without, "y,,"), Ok(()));
    assert!(matches!(
        flag_result(Plain256, &with_tls, "y,,"),
        Err(SaslError::ChannelBinding(_))
    ));
    assert!(matches!(
        flag_result(Plain256, &with_tls, "p=tls-exporter,,"),
        Err(SaslError::ChannelBinding(_))
    ));
    // With -PLUS: only p, of a type the connection has.
    assert_eq!(flag_result(Plus256, &with_tls, "p=tls-exporter,,"), Ok(()));
    for header in ["n,,", "y,,", "p=tls-server-end-point,,", "p=tls-unique,,"] {
        assert!(
            matches!(
                flag_result(Plus256, &with_tls, header),
                Err(SaslError::ChannelBinding(_))
            ),
            "{header}"
        );
    }
}

#[test]
fn channel_binding_data_must_match() {
    let ctx = context(vec![
        exporter(1),
        ChannelBinding {
            kind: ChannelBindingType::TlsServerEndPoint,
            data: vec![2; 32],
        },
    ]);
    let run = |client_cb: ChannelBinding| -> Result<Next, SaslError> {
        let mut c = ScramClient::new(
            Mechanism::ScramSha256Plus,
            None,
            "user",
            "pencil",
            Some(&client_cb),
            "cnonce".into(),
        )
        .unwrap();
        let first = String::from_utf8(c.initial_response().unwrap()).unwrap();
        let (mut s, server_first) =
            server_after_first(Mechanism::ScramSha256Plus, &ctx, &first, Some(&pencil()))?;
        let last = c.step(server_first.as_bytes()).unwrap();
        s.step(Some(&last))
    };
    assert!(run(exporter(1)).is_ok());
    assert!(
        run(ChannelBinding {
            kind: ChannelBindingType::TlsServerEndPoint,
            data: vec![2; 32],
        })
        .is_ok()
    );
    // A man in the middle terminates TLS: the client's binding data differ from the server's.
    assert!(matches!(
        run(exporter(9)),
        Err(SaslError::ChannelBinding(_))
    ));
    // c= must repeat the gs2 header the client started with.
    let (mut s, _) = server_after_first(
        Mechanism::ScramSha256,
        &context(vec![]),
        "n,,n=user,r=c",
        None,
    )
    .unwrap();
    let y = crate::protocols::sasl::base64_encode(b"y,,");
    assert!(matches!(
        s.step(Some(
            format!("c={y},r=csrvnonce,p=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").as_bytes()
        )),
        Err(SaslError::ChannelBinding(_))
    ));
}

#[test]
fn server_final_must_be_acknowledged_empty() {
    let mut s = server(
        Mechanism::ScramSha256,
        &context(vec![]),
        RFC7677_SERVER_NONCE,
    );
    s.step(Some(RFC7677[0].as_bytes())).unwrap();
    // A step while secrets are awaited is the caller's mistake and changes nothing.
    assert!(matches!(s.step(Some(b"x")), Err(SaslError::OutOfOrder(_))));
    s.supply_secrets(Some(&pencil())).unwrap();
    assert!(matches!(
        s.supply_secrets(Some(&pencil())),
        Err(SaslError::OutOfOrder(_))
    ));
    s.step(Some(RFC7677[2].as_bytes())).unwrap();
    assert!(matches!(s.step(Some(b"x")), Err(SaslError::Malformed(_))));
}

#[test]
fn client_refuses_bad_servers() {
    let new = || {
        let mut c = ScramClient::new(
            Mechanism::ScramSha256,
            None,
            "user",
            "pencil",
            None,
            "rOprNGfwEbeRWgbNEkqO".into(),
        )
        .unwrap();
        c.initial_response().unwrap();
        c
    };
    for bad in [
        // Nonce not extending ours, or not extending it at all.
        "r=XOprNGfwEbeRWgbNEkqO%hvY,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        // Too few or too many iterations, or not a number.
        "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4095",
        "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1000001",
        "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=+4096",
        "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999999",
        "r=rOprNGfwEbeRWgbNEkqOx,s=,i=4096",
        "r=rOprNGfwEbeRWgbNEkqOx,i=4096",
        "m=x,r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        "",
    ] {
        assert!(
            matches!(new().step(bad.as_bytes()), Err(SaslError::Malformed(_))),
            "{bad}"
        );
    }
    let mut c = new();
    c.step(RFC7677[1].as_bytes()).unwrap();
    assert_eq!(
        c.step(b"v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
        Err(SaslError::ServerNotVerified)
    );
    assert!(c.finish(None).is_err());
    let mut c = new();
    c.step(RFC7677[1].as_bytes()).unwrap();
    assert_eq!(
        c.step(b"e=invalid-proof"),
        Err(SaslError::Server("invalid-proof".into()))
    );
    // A success claimed before server-final is not believed.
    let mut c = new();
    c.step(RFC7677[1].as_bytes()).unwrap();
    assert_eq!(c.finish(None), Err(SaslError::ServerNotVerified));
}

#[test]
fn client_gs2_headers() {
    let first = |m: Mechanism, authzid: Option<&str>, cb: Option<&ChannelBinding>| {
        let mut c = ScramClient::new(m, authzid, "u,=", "pw", cb, "n".into())?;
        Ok::<_, SaslError>(String::from_utf8(c.initial_response()?).unwrap())
    };
    let cb = exporter(1);
    assert_eq!(
        first(Mechanism::ScramSha1, None, None).unwrap(),
        "n,,n=u=2C=3D,r=n"
    );
    assert_eq!(
        first(Mechanism::ScramSha1, Some("a"), Some(&cb)).unwrap(),
        "y,a=a,n=u=2C=3D,r=n"
    );
    assert_eq!(
        first(Mechanism::ScramSha1Plus, None, Some(&cb)).unwrap(),
        "p=tls-exporter,,n=u=2C=3D,r=n"
    );
    assert!(matches!(
        first(Mechanism::ScramSha1Plus, None, None),
        Err(SaslError::ChannelBinding(_))
    ));
    assert!(ScramClient::new(Mechanism::Plain, None, "u", "p", None, "n".into()).is_err());
    assert!(ScramClient::new(Mechanism::ScramSha1, None, "u", "p", None, "a,b".into()).is_err());
    assert!(ScramClient::new(Mechanism::ScramSha1, None, "u", "\u{7}", None, "n".into()).is_err());
}
