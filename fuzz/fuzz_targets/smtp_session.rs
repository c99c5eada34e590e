//! The SMTP server session state machine, fed arbitrary client bytes in chunks.
//!
//! Input layout: byte 0 holds flags (bit 0: submission port, bit 1: credentials are accepted),
//! byte 1 seeds the chunk sizes, the rest is what the client sends.
#![no_main]

use libfuzzer_sys::fuzz_target;
use moxide::address::Address;
use moxide::protocols::smtp::Reply;
use moxide::auth::PasswordSecrets;
use moxide::protocols::smtp::server::{
    Action, AuthOutcome, Destination, Policy, RcptDecision, SecretsLookup, Session, SessionConfig,
};

/// Secrets for the password "secret", derived once: deriving is slow on purpose.
static SECRETS: std::sync::LazyLock<PasswordSecrets> =
    std::sync::LazyLock::new(|| PasswordSecrets::derive("secret").expect("derive"));

const MAX_SIZE: u64 = 1000;
const MAX_RCPT: usize = 5;

struct AcceptAll;

impl Policy for AcceptAll {
    fn sender(&self, _: Option<&Address>, _: Option<&str>) -> Result<(), Reply> {
        Ok(())
    }

    fn recipient(&self, rcpt: &Address, _: Option<&str>) -> RcptDecision {
        if rcpt.domain.ascii() == "remote.example" {
            RcptDecision::Accept(Destination::Remote)
        } else {
            RcptDecision::Accept(Destination::Local {
                account: "a".into(),
            })
        }
    }
}

/// Splits `data` into chunks whose sizes (1..=32) follow from `seed`; seed 0 gives one chunk.
fn chunks(data: &[u8], seed: u8) -> Vec<&[u8]> {
    if seed == 0 {
        return vec![data];
    }
    let mut state = u32::from(seed) | 0x100;
    let mut rest = data;
    let mut out = Vec::new();
    while !rest.is_empty() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let n = (state as usize % 32 + 1).min(rest.len());
        let (chunk, tail) = rest.split_at(n);
        out.push(chunk);
        rest = tail;
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let [flags, seed, input @ ..] = data else {
        return;
    };
    let submission = flags & 1 != 0;
    let accept_credentials = flags & 2 != 0;
    let secrets = &*SECRETS;
    let mut s = Session::new(SessionConfig {
        hostname: "mx.example".into(),
        max_message_size: MAX_SIZE,
        max_recipients: MAX_RCPT,
        submission,
        starttls_available: true,
        auth_allowed: true,
        sasl_key: [1; 32],
    });
    let _ = s.greeting().to_bytes();
    let mut spooled = 0usize;
    let mut closed = false;
    for chunk in chunks(input, *seed) {
        s.receive(chunk);
        while let Some(a) = s.poll(&AcceptAll) {
            assert!(!closed, "action after Close: {a:?}");
            match a {
                Action::Reply(r) => {
                    let _ = r.to_bytes();
                }
                Action::Data(d) => {
                    spooled += d.len();
                    assert!(
                        spooled as u64 <= MAX_SIZE,
                        "spooled {spooled} bytes, over the maximum"
                    );
                }
                Action::DiscardData => spooled = 0,
                Action::Deliver(t) => {
                    assert!(
                        !t.recipients.is_empty() && t.recipients.len() <= MAX_RCPT,
                        "{} recipients",
                        t.recipients.len()
                    );
                    assert!(
                        !submission || s.authenticated().is_some(),
                        "delivery without authentication on submission"
                    );
                    spooled = 0;
                    s.delivery_result(Reply::new(250, (2, 0, 0), "ok"));
                }
                Action::Authenticate(_) => {
                    s.auth_result(if accept_credentials { AuthOutcome::Authenticated("a".into()) } else { AuthOutcome::Invalid })
                }
                Action::StartTls => s.tls_started(Vec::new()),
                Action::NeedSecrets { .. } => s.secrets_result(if accept_credentials {
                    SecretsLookup::Found { account: "a".into(), secrets: Box::new(secrets.clone()) }
                } else {
                    SecretsLookup::Unknown
                }),
                Action::AuthFinished { .. } => {}
                Action::Close => closed = true,
            }
        }
    }
});
