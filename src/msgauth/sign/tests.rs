//! Signatures made here are verified by mail-auth's own verifier, offline (its TXT cache is
//! filled with the records [`DkimPrivateKey::dns_txt_record`] makes), and by dkimpy when the test
//! venv has it.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine;
use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::verify::DomainKey;
use mail_auth::dkim::Canonicalization;
use mail_auth::hickory_resolver::config::{ResolverConfig, ResolverOpts};
use mail_auth::{
    AuthenticatedMessage, DkimResult, MessageAuthenticator, Parameters, ResolverCache, Txt,
};

use super::key::{DkimPrivateKey, KeyAlgorithm, KeyError};
use super::*;
use crate::address::Domain;
use crate::config::dkim::DEFAULT_HEADERS;

const DOMAIN: &str = "example.com";

pub(crate) fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out + &format!("-----END {label}-----\n")
}

/// A fresh ed25519 key in PKCS#8 v2 PEM, as ring makes it.
pub(crate) fn ed25519_pem() -> String {
    let rng = ring::rand::SystemRandom::new();
    let der = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    pem("PRIVATE KEY", der.as_ref())
}

/// The test-only RSA key fixtures in tests/data.
pub(crate) fn test_data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn rsa_key() -> DkimPrivateKey {
    DkimPrivateKey::from_pem(&std::fs::read(test_data("dkim-test-rsa2048.pkcs8.pem")).unwrap())
        .unwrap()
}

fn ed_key() -> DkimPrivateKey {
    DkimPrivateKey::from_pem(ed25519_pem().as_bytes()).unwrap()
}

fn selector(name: &str, key: DkimPrivateKey) -> DkimSelector {
    DkimSelector {
        name: name.into(),
        key_file: PathBuf::new(),
        key,
        header_canonicalization: Canonicalization::Relaxed,
        body_canonicalization: Canonicalization::Relaxed,
        headers: DEFAULT_HEADERS.iter().map(|h| h.to_string()).collect(),
        oversign: true,
        expiration: None,
    }
}

fn domain(selectors: Vec<DkimSelector>) -> DomainDkim {
    let sign: Vec<Arc<DkimSelector>> = selectors.into_iter().map(Arc::new).collect();
    DomainDkim {
        domain: Domain::parse(DOMAIN).unwrap(),
        selectors: sign.iter().map(|s| (s.name.clone(), s.clone())).collect(),
        sign,
    }
}

const MESSAGE: &str = concat!(
    "From: Mechiel <mjl@example.com>\r\n",
    "To: someone@other.example\r\n",
    "Subject: DKIM  test\r\n",
    "\tfolded\r\n",
    "Date: Mon, 2 Mar 2026 10:00:00 +0100\r\n",
    "Message-ID: <1@example.com>\r\n",
    "List-Id: <list.example.com>\r\n",
    "X-Unsigned: yes\r\n",
    "\r\n",
    "Hello,  this is  a test.  \r\n",
    "\r\n",
    "\r\n",
);

fn sign(config: &DomainDkim, message: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let headers = dkim_sign(config, message.as_bytes(), now).unwrap();
    String::from_utf8(headers).unwrap()
}

/// A TXT cache standing in for DNS: mail-auth looks here first and never reaches a resolver.
#[derive(Default)]
struct TxtCache(Mutex<HashMap<Box<str>, Txt>>);

impl ResolverCache<Box<str>, Txt> for TxtCache {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.lock().unwrap().get(name).cloned()
    }

    fn remove<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.lock().unwrap().remove(name)
    }

    fn insert(&self, key: Box<str>, value: Txt, _valid_until: std::time::Instant) {
        self.0.lock().unwrap().insert(key, value);
    }
}

/// The DNS records of a domain's selectors: `<selector>._domainkey.<domain>.` → record text.
fn records(config: &DomainDkim) -> BTreeMap<String, String> {
    config
        .selectors
        .values()
        .map(|s| {
            (
                format!("{}._domainkey.{}.", s.name, config.domain.ascii()),
                s.dns_txt_record(),
            )
        })
        .collect()
}

/// mail-auth's verdict on each DKIM-Signature of `message`, in order.
fn verify(message: &str, records: &BTreeMap<String, String>) -> Vec<DkimResult> {
    let cache = TxtCache::default();
    for (name, record) in records {
        let key = DomainKey::parse(record.as_bytes()).unwrap();
        cache.insert(
            name.as_str().into(),
            Txt::DomainKey(Arc::new(key)),
            std::time::Instant::now(),
        );
    }
    // No name servers: a lookup that misses the cache fails instead of going out.
    let authenticator = MessageAuthenticator::new(
        ResolverConfig::from_name_servers(vec![]),
        ResolverOpts::default(),
    )
    .unwrap();
    let parsed = AuthenticatedMessage::parse(message.as_bytes()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let output =
        rt.block_on(authenticator.verify_dkim(Parameters::new(&parsed).with_txt_cache(&cache)));
    output.iter().map(|o| o.result().clone()).collect()
}

/// The tag values of a DKIM-Signature header field, unfolded.
fn tags(header: &str) -> HashMap<String, String> {
    let value = header
        .split_once(':')
        .unwrap()
        .1
        .replace(['\r', '\n', '\t', ' '], "");
    value
        .split(';')
        .filter(|t| !t.is_empty())
        .map(|t| {
            let (k, v) = t.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// The separate header fields in `headers` (each starts at a line not starting with WSP).
fn fields(headers: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in headers.split_inclusive("\r\n") {
        match out.last_mut() {
            Some(last) if line.starts_with([' ', '\t']) => last.push_str(line),
            _ => out.push(line.to_string()),
        }
    }
    out
}

#[test]
fn ed25519_and_rsa_signatures_verify() {
    for key in [ed_key(), rsa_key()] {
        let config = domain(vec![selector("sel1", key.clone())]);
        let headers = sign(&config, MESSAGE);
        assert!(headers.starts_with("DKIM-Signature: v=1; a="), "{headers}");
        assert!(headers.ends_with(";\r\n"), "{headers}");
        let t = tags(&headers);
        let algorithm = match key.algorithm() {
            KeyAlgorithm::Ed25519 => "ed25519-sha256",
            KeyAlgorithm::Rsa { .. } => "rsa-sha256",
        };
        assert_eq!(t["a"], algorithm);
        assert_eq!(t["d"], DOMAIN);
        assert_eq!(t["s"], "sel1");
        assert_eq!(t["c"], "relaxed/relaxed");
        let signed = headers + MESSAGE;
        assert_eq!(verify(&signed, &records(&config)), [DkimResult::Pass]);
        // A changed body or signed header field fails.
        let changed = signed.replace("a test", "a tesT");
        assert!(matches!(
            verify(&changed, &records(&config))[..],
            [DkimResult::Neutral(_) | DkimResult::Fail(_)]
        ));
        let changed = signed.replace("To: someone", "To: someonE");
        assert!(matches!(
            verify(&changed, &records(&config))[..],
            [DkimResult::Fail(_)]
        ));
        // A header field that is not signed can change.
        let changed = signed.replace("X-Unsigned: yes", "X-Unsigned: no");
        assert_eq!(verify(&changed, &records(&config)), [DkimResult::Pass]);
    }
}

#[test]
fn pkcs1_rsa_key_signs_like_pkcs8() {
    let pkcs1 =
        DkimPrivateKey::from_pem(&std::fs::read(test_data("dkim-test-rsa2048.pkcs1.pem")).unwrap())
            .unwrap();
    assert_eq!(pkcs1.algorithm(), KeyAlgorithm::Rsa { bits: 2048 });
    assert_eq!(pkcs1.public_key(), rsa_key().public_key());
    let config = domain(vec![selector("rsa", pkcs1)]);
    let signed = sign(&config, MESSAGE) + MESSAGE;
    assert_eq!(verify(&signed, &records(&config)), [DkimResult::Pass]);
}

#[test]
fn every_canonicalization_verifies() {
    use Canonicalization::{Relaxed, Simple};
    for (header, body, name) in [
        (Relaxed, Relaxed, "relaxed/relaxed"),
        (Relaxed, Simple, "relaxed/simple"),
        (Simple, Relaxed, "simple/relaxed"),
        (Simple, Simple, "simple/simple"),
    ] {
        for key in [ed_key(), rsa_key()] {
            let mut s = selector("c", key);
            s.header_canonicalization = header;
            s.body_canonicalization = body;
            let config = domain(vec![s]);
            let headers = sign(&config, MESSAGE);
            assert_eq!(tags(&headers)["c"], name);
            let signed = headers + MESSAGE;
            assert_eq!(
                verify(&signed, &records(&config)),
                [DkimResult::Pass],
                "{name}"
            );
            // Relaxed body canonicalization ignores whitespace changes inside lines; simple
            // does not (RFC 6376 §3.4.3, §3.4.4).
            let respaced = signed.replace("this is  a", "this is a");
            let result = verify(&respaced, &records(&config));
            assert_eq!(result == [DkimResult::Pass], body == Relaxed, "{name}");
            // Relaxed header canonicalization ignores a changed field name case and folding.
            let refolded = signed.replace(
                "Subject: DKIM  test\r\n\tfolded",
                "subject: DKIM test folded",
            );
            let result = verify(&refolded, &records(&config));
            assert_eq!(result == [DkimResult::Pass], header == Relaxed, "{name}");
        }
    }
}

#[test]
fn header_list_and_oversigning_in_h() {
    let config = domain(vec![selector("o", ed_key())]);
    let headers = sign(&config, MESSAGE);
    let h = tags(&headers)["h"].clone();
    let names: Vec<&str> = h.split(':').collect();
    let count = |n: &str| names.iter().filter(|x| x.eq_ignore_ascii_case(n)).count();
    // Present and oversigned: twice. Absent: once (signs "no such field"). List-* fields are
    // signed when present but not oversigned, and absent ones are left out.
    for n in ["From", "To", "Subject", "Date", "Message-ID"] {
        assert_eq!(count(n), 2, "{n} in {h}");
    }
    for n in [
        "Cc",
        "Reply-To",
        "In-Reply-To",
        "References",
        "MIME-Version",
        "Content-Type",
    ] {
        assert_eq!(count(n), 1, "{n} in {h}");
    }
    assert_eq!(count("List-Id"), 1, "{h}");
    assert_eq!(count("List-Help"), 0, "{h}");
    assert_eq!(count("X-Unsigned"), 0, "{h}");
    let signed = headers + MESSAGE;
    assert_eq!(verify(&signed, &records(&config)), [DkimResult::Pass]);
    // An added Subject, From or Cc breaks an oversigned signature, wherever it is put.
    for added in [
        "Subject: other\r\n",
        "From: evil@example.org\r\n",
        "Cc: x@example.org\r\n",
    ] {
        let top = format!("{added}{signed}");
        assert!(
            matches!(verify(&top, &records(&config))[..], [DkimResult::Fail(_)]),
            "{added}"
        );
    }
    // An added List-* field is not prevented: a mailing list adds them.
    let added = signed.replace("X-Unsigned", "List-Help: <mailto:help@list>\r\nX-Unsigned");
    assert_eq!(verify(&added, &records(&config)), [DkimResult::Pass]);

    // Without oversigning, h= lists exactly the configured fields present, and a Subject added
    // above the signed one goes unnoticed (RFC 6376 §5.4.2 takes instances bottom-up).
    let mut s = selector("n", ed_key());
    s.oversign = false;
    let config = domain(vec![s]);
    let headers = sign(&config, MESSAGE);
    let h = tags(&headers)["h"].clone();
    assert_eq!(h, "List-Id:Message-ID:Date:Subject:To:From");
    let signed = headers + MESSAGE;
    let top = signed.replacen("From:", "Subject: other\r\nFrom:", 1);
    assert_eq!(verify(&top, &records(&config)), [DkimResult::Pass]);
}

#[test]
fn configured_header_list() {
    let mut s = selector("h", rsa_key());
    s.headers = vec![
        "from".into(),
        "Subject".into(),
        "X-Unsigned".into(),
        "Cc".into(),
    ];
    let config = domain(vec![s]);
    let headers = sign(&config, MESSAGE);
    // Present fields bottom-up with their names as in the message, then the oversigned ones.
    assert_eq!(
        tags(&headers)["h"],
        "X-Unsigned:Subject:From:from:Subject:X-Unsigned:Cc"
    );
    assert_eq!(
        verify(&(headers + MESSAGE), &records(&config)),
        [DkimResult::Pass]
    );
}

#[test]
fn one_signature_per_selector_in_order() {
    let config = domain(vec![
        selector("zz-ed", ed_key()),
        selector("aa-rsa", rsa_key()),
    ]);
    let headers = sign(&config, MESSAGE);
    let f = fields(&headers);
    assert_eq!(f.len(), 2, "{headers}");
    assert_eq!(tags(&f[0])["s"], "zz-ed");
    assert_eq!(tags(&f[1])["s"], "aa-rsa");
    let signed = headers + MESSAGE;
    assert_eq!(
        verify(&signed, &records(&config)),
        [DkimResult::Pass, DkimResult::Pass]
    );
    // Nothing to sign with: nothing added.
    let mut none = config.clone();
    none.sign.clear();
    assert_eq!(dkim_sign(&none, MESSAGE.as_bytes(), 1).unwrap(), b"");
}

#[test]
fn timestamps_and_expiration() {
    let mut s = selector("x", ed_key());
    s.expiration = Some(72 * 3600);
    let config = domain(vec![s]);
    let headers =
        String::from_utf8(dkim_sign(&config, MESSAGE.as_bytes(), 1_600_000_000).unwrap()).unwrap();
    let t = tags(&headers);
    assert_eq!(t["t"], "1600000000");
    assert_eq!(t["x"], (1_600_000_000u64 + 72 * 3600).to_string());
    // Long expired by now: the verifier says so.
    assert!(matches!(
        verify(&(headers + MESSAGE), &records(&config))[..],
        [DkimResult::Neutral(mail_auth::Error::Dkim(
            mail_auth::dkim::DkimError::SignatureExpired
        ))]
    ));
    let headers = sign(&config, MESSAGE);
    let t = tags(&headers);
    let (ts, x): (u64, u64) = (t["t"].parse().unwrap(), t["x"].parse().unwrap());
    assert_eq!(x - ts, 72 * 3600);
    assert_eq!(
        verify(&(headers + MESSAGE), &records(&config)),
        [DkimResult::Pass]
    );
    // Without expiration: no x=.
    let config = domain(vec![selector("n", ed_key())]);
    assert!(!tags(&sign(&config, MESSAGE)).contains_key("x"));
}

#[test]
fn folded_to_short_lines() {
    let config = domain(vec![
        selector("2026a", rsa_key()),
        selector("2026b", ed_key()),
    ]);
    let headers = sign(&config, MESSAGE);
    for field in fields(&headers) {
        // mail-auth folds every tag after c=; the first line holds v, a, s, d and c, so its
        // length follows the selector and domain (at most 63 and 253 bytes: below 998).
        let mut lines = field.split("\r\n").filter(|l| !l.is_empty());
        let first = lines.next().unwrap();
        assert!(first.len() <= 90, "{} bytes: {first}", first.len());
        for line in lines {
            assert!(line.len() <= 78, "{} bytes: {line}", line.len());
        }
    }
    assert!(!headers.replace("\r\n", "").contains(['\r', '\n']));
}

#[test]
fn message_without_from_is_refused() {
    let config = domain(vec![selector("s", ed_key())]);
    for message in [
        "To: a@example.com\r\nSubject: x\r\n\r\nbody\r\n",
        "\r\nbody\r\n",
        "",
        "From : a@example.com\r\n\r\nbody\r\n",
    ] {
        assert_eq!(
            dkim_sign(&config, message.as_bytes(), 1),
            Err(SignError::NoFrom),
            "{message:?}"
        );
    }
    // A message with no body is fine.
    let headers = sign(&config, "From: a@example.com\r\n");
    assert_eq!(
        verify(&(headers + "From: a@example.com\r\n"), &records(&config)),
        [DkimResult::Pass]
    );
}

#[test]
fn dns_records() {
    let ed = ed_key();
    let record = ed.dns_txt_record();
    let p = record.strip_prefix("v=DKIM1; k=ed25519; p=").unwrap();
    let public = base64::engine::general_purpose::STANDARD.decode(p).unwrap();
    assert_eq!(public.len(), 32);
    assert_eq!(public, ed.public_key());

    let rsa = rsa_key();
    let record = rsa.dns_txt_record();
    let p = record.strip_prefix("v=DKIM1; k=rsa; p=").unwrap();
    // The SubjectPublicKeyInfo openssl makes from the same key.
    let out = std::process::Command::new("openssl")
        .args(["pkey", "-pubout", "-outform", "DER", "-in"])
        .arg(test_data("dkim-test-rsa2048.pkcs8.pem"))
        .output();
    if let Some(out) = out.ok().filter(|o| o.status.success()) {
        assert_eq!(
            base64::engine::general_purpose::STANDARD.encode(out.stdout),
            p
        );
    }
    assert!(DomainKey::parse(record.as_bytes()).is_ok());
}

#[test]
fn key_errors() {
    let read = |name: &str| DkimPrivateKey::from_pem(&std::fs::read(test_data(name)).unwrap());
    assert_eq!(
        read("dkim-test-rsa512.pkcs8.pem").unwrap_err(),
        KeyError::RsaTooSmall(512)
    );
    assert_eq!(
        read("dkim-test-rsa1024.pkcs8.pem").unwrap_err(),
        KeyError::RsaUnsupportedSize(1024)
    );
    assert_eq!(
        read("dkim-test-p256.pkcs8.pem").unwrap_err(),
        KeyError::NotSupported
    );
    // An ed25519 PKCS#8 v1 key (what openssl writes: seed only) loads too.
    let rng = ring::rand::SystemRandom::new();
    let mut seed = [0u8; 32];
    ring::rand::SecureRandom::fill(&rng, &mut seed).unwrap();
    let mut v1 = hex_bytes("302e020100300506032b657004220420");
    v1.extend_from_slice(&seed);
    let key = DkimPrivateKey::from_pem(pem("PRIVATE KEY", &v1).as_bytes()).unwrap();
    assert_eq!(key.algorithm(), KeyAlgorithm::Ed25519);
    let expected = ring::signature::Ed25519KeyPair::from_seed_unchecked(&seed).unwrap();
    assert_eq!(
        key.public_key(),
        ring::signature::KeyPair::public_key(&expected).as_ref()
    );
    // Debug output never shows key material.
    let debug = format!("{:?}", rsa_key());
    assert_eq!(
        debug,
        "DkimPrivateKey { algorithm: Rsa { bits: 2048 }, .. }"
    );
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// dkimpy (a DKIM implementation nobody here wrote) verifies what we sign, when the test venv
/// has it (scripts/test installs it before running cargo test).
#[test]
fn dkimpy_verifies() {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    let has_dkimpy = std::process::Command::new(&python)
        .args(["-c", "import dkim, nacl"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_dkimpy {
        eprintln!("dkimpy_verifies: skipped, no dkimpy in .venv (scripts/test installs it)");
        return;
    }
    const SCRIPT: &str = r#"
import sys, dkim
records = dict(arg.split("=", 1) for arg in sys.argv[1:])
def dnsfunc(name, timeout=5):
    name = name.decode() if isinstance(name, bytes) else name
    return records.get(name.rstrip("."), "").encode()
message = sys.stdin.buffer.read()
d = dkim.DKIM(message)
n = sum(1 for name, _ in d.headers if name.lower() == b"dkim-signature")
results = [d.verify(idx=i, dnsfunc=dnsfunc) for i in range(n)]
print(results)
sys.exit(0 if n > 0 and all(results) else 1)
"#;
    use Canonicalization::{Relaxed, Simple};
    for (header, body) in [
        (Relaxed, Relaxed),
        (Simple, Simple),
        (Relaxed, Simple),
        (Simple, Relaxed),
    ] {
        let mut selectors = Vec::new();
        for (name, key) in [("ed", ed_key()), ("rsa", rsa_key())] {
            let mut s = selector(name, key);
            s.header_canonicalization = header;
            s.body_canonicalization = body;
            s.expiration = Some(3600);
            selectors.push(s);
        }
        let config = domain(selectors);
        let signed = sign(&config, MESSAGE) + MESSAGE;
        let args: Vec<String> = records(&config)
            .into_iter()
            .map(|(name, record)| format!("{}={record}", name.trim_end_matches('.')))
            .collect();
        let dkimpy = |message: &str| {
            let mut child = std::process::Command::new(&python)
                .arg("-c")
                .arg(SCRIPT)
                .args(&args)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            std::io::Write::write_all(&mut child.stdin.take().unwrap(), message.as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            (out.status.success(), text)
        };
        let (ok, text) = dkimpy(&signed);
        assert!(ok, "{header:?}/{body:?}: {text}\n{signed}");
        assert_eq!(text.trim(), "[True, True]");
        let (ok, text) = dkimpy(&signed.replace("a test", "a tesT"));
        assert!(!ok, "{header:?}/{body:?}: tampered message passed: {text}");
    }
}
