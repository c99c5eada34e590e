use super::*;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const DOMAINS: &str = r#"
[domains."example.com"]
[domains."møx.example"]

[accounts.mjl]
domain = "example.com"
addresses = ["mjl", "Postmaster@example.com", "@xn--mx-lka.example"]
"#;

#[test]
fn valid_dynamic_config_routes_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let c = load_dynamic(&write(dir.path(), "domains.toml", DOMAINS)).unwrap();
    let dest = |a: &str| {
        c.destination(&crate::address::Address::parse_simple(a).unwrap())
            .map(|d| d.account)
    };
    assert_eq!(dest("MJL@Example.com").as_deref(), Some("mjl"));
    assert_eq!(dest("postmaster@example.com").as_deref(), Some("mjl"));
    assert_eq!(dest("anyone@møx.example").as_deref(), Some("mjl"));
    assert_eq!(dest("other@example.com"), None);
    assert_eq!(c.login_account("mjl@example.com").unwrap().name, "mjl");
    assert_eq!(c.login_account("mjl").unwrap().name, "mjl");
    assert!(c.login_account("nobody@example.com").is_none());
}

#[test]
fn postmaster_account_gets_postmaster_of_every_domain() {
    let dir = tempfile::tempdir().unwrap();
    let text = r#"
postmaster = "admin"
[domains."example.com"]
[domains."example.org"]
[accounts.admin]
domain = "example.com"
addresses = ["admin"]
[accounts.other]
domain = "example.org"
addresses = ["postmaster@example.org", "@example.org"]
"#;
    let c = load_dynamic(&write(dir.path(), "domains.toml", text)).unwrap();
    let dest = |a: &str| {
        c.destination(&crate::address::Address::parse_simple(a).unwrap())
            .map(|d| d.account)
    };
    assert_eq!(dest("PostMaster@example.com").as_deref(), Some("admin"));
    // An address listed by an account wins; postmaster goes before a catch-all otherwise.
    assert_eq!(dest("postmaster@example.org").as_deref(), Some("other"));
    assert_eq!(dest("postmaster@elsewhere.example"), None);
    let bad = text.replace("postmaster = \"admin\"", "postmaster = \"nobody\"");
    let err = load_dynamic(&write(dir.path(), "domains.toml", &bad)).unwrap_err();
    assert!(
        err.to_string()
            .contains("postmaster: no account \"nobody\""),
        "{err}"
    );
}

#[test]
fn problems_name_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "domains.toml",
        r#"
[domains."example.com"]
[domains."bad_domain.com"]
[accounts.mjl]
domain = "example.com"
addresses = ["mjl", "x@other.org"]
[accounts.two]
domain = "example.com"
addresses = ["MJL"]
[accounts."../evil"]
domain = "example.com"
addresses = ["evil"]
"#,
    );
    let err = load_dynamic(&file).unwrap_err();
    let keys: Vec<&str> = err.0.iter().map(|p| p.key.as_str()).collect();
    assert!(keys.contains(&"domains.bad_domain.com"), "{err}");
    assert!(keys.contains(&"accounts.mjl.addresses[1]"), "{err}");
    assert!(keys.contains(&"accounts.two.addresses[0]"), "{err}");
    assert!(keys.contains(&"accounts.../evil"), "{err}");
    assert!(err.to_string().contains("domains.toml: accounts.two.addresses[0]: address MJL@example.com also belongs to account mjl"), "{err}");
}

#[test]
fn unknown_keys_and_wrong_types_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "moxide.toml",
        "hostname = \"mail.example.com\"\nhostnam = 1\n",
    );
    let err = load_static(&file).unwrap_err();
    assert!(err.to_string().contains("moxide.toml"), "{err}");
    assert!(err.to_string().contains("hostnam"), "{err}");

    let file = write(
        dir.path(),
        "moxide.toml",
        "hostname = \"mail.example.com\"\n[listeners.public]\nips = [\"127.0.0.1\"]\nsmtp = { port = 99999 }\n",
    );
    let err = load_static(&file).unwrap_err();
    assert_eq!(err.0[0].key, "listeners.public.smtp.port", "{err}");

    let file = write(
        dir.path(),
        "moxide.toml",
        "hostname = \"mail.example.com\"\n[listeners.public]\nips = [\"not-an-ip\"]\n",
    );
    let err = load_static(&file).unwrap_err();
    assert!(err.0[0].key.starts_with("listeners.public.ips"), "{err}");

    let err = load_static(&dir.path().join("missing.toml")).unwrap_err();
    assert!(err.to_string().contains("cannot read"), "{err}");
}

#[test]
fn static_config_resolves_paths_and_listeners() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "moxide.toml",
        r#"
hostname = "mail.example.com"
log_level = "debug"
[listeners.public]
ips = ["127.0.0.1", "::1"]
smtp = {}
imap = { port = 1143 }
submission = { enabled = false }
"#,
    );
    let c = load_static(&file).unwrap();
    assert_eq!(c.data_dir, dir.path().join("data"));
    assert_eq!(c.domains_file, dir.path().join("domains.toml"));
    let ports: Vec<(Protocol, u16)> = c.listeners.iter().map(|l| (l.protocol, l.port)).collect();
    assert_eq!(
        ports,
        [
            (Protocol::Smtp, 25),
            (Protocol::Smtp, 25),
            (Protocol::Imap, 1143),
            (Protocol::Imap, 1143)
        ]
    );

    let file = write(
        dir.path(),
        "moxide.toml",
        "hostname = \"-bad-\"\nlog_level = \"loud\"\n",
    );
    let err = load_static(&file).unwrap_err();
    let keys: Vec<&str> = err.0.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["hostname", "log_level"], "{err}");
}

#[test]
fn bad_reload_keeps_the_old_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let s = load_static(&write(
        dir.path(),
        "moxide.toml",
        "hostname = \"mail.example.com\"\n",
    ))
    .unwrap();
    let d = load_dynamic(&write(dir.path(), "domains.toml", DOMAINS)).unwrap();
    let config = Config::new(s, d, Mode::Serve);
    write(
        dir.path(),
        "domains.toml",
        "[accounts.x]\ndomain = \"nowhere.org\"\naddresses = [\"x\"]\n",
    );
    assert!(config.reload().is_err());
    assert!(config.dynamic().accounts.contains_key("mjl"));
    write(
        dir.path(),
        "domains.toml",
        &DOMAINS.replace("[accounts.mjl]", "[accounts.mox]"),
    );
    config.reload().unwrap();
    assert!(config.dynamic().accounts.contains_key("mox"));
}

#[test]
fn example_configs_are_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let s = load_static(&dir.join("moxide.toml")).unwrap();
    assert_eq!(s.hostname.ascii(), "mail.example.com");
    let d = load_dynamic(&s.domains_file).unwrap();
    assert!(d.accounts.contains_key("mjl"));
}

#[test]
fn same_address_twice_in_one_account() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "domains.toml",
        "[domains.\"x.org\"]\n[accounts.a]\ndomain = \"x.org\"\naddresses = [\"a\", \"A@x.org\"]\n",
    );
    let err = load_dynamic(&file).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("accounts.a.addresses[1]: address A@x.org is listed twice"),
        "{err}"
    );
}

/// A dynamic file in `dir/cfg` with DKIM key files beside it (paths relative to it).
fn dkim_setup(dir: &Path, domains: &str) -> PathBuf {
    use crate::msgauth::sign::tests::{ed25519_pem, test_data};
    let cfg = dir.join("cfg");
    let keys = cfg.join("dkim/example.com");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::write(keys.join("2026a.ed25519.pem"), ed25519_pem()).unwrap();
    for name in [
        "dkim-test-rsa2048.pkcs1.pem",
        "dkim-test-rsa2048.pkcs8.pem",
        "dkim-test-rsa1024.pkcs8.pem",
        "dkim-test-rsa512.pkcs8.pem",
        "dkim-test-p256.pkcs8.pem",
    ] {
        std::fs::copy(test_data(name), keys.join(name)).unwrap();
    }
    std::fs::write(keys.join("garbage.pem"), "not a key\n").unwrap();
    write(&cfg, "domains.toml", domains)
}

const DKIM_DOMAINS: &str = r#"
[domains."example.com".dkim]
sign = ["2026a", "2026b"]
[domains."example.com".dkim.selectors.2026a]
private_key_file = "dkim/example.com/2026a.ed25519.pem"
[domains."example.com".dkim.selectors.2026b]
private_key_file = "dkim/example.com/dkim-test-rsa2048.pkcs1.pem"
hash = "SHA256"
canonicalization = "simple/relaxed"
headers = ["From", "Subject", "List-Id"]
oversign = false
expiration = "72h"
[domains."example.com".dkim.selectors.next]
private_key_file = "dkim/example.com/dkim-test-rsa2048.pkcs8.pem"
expiration = 3600

[domains."møx.example".dkim]
sign = ["s1"]
[domains."møx.example".dkim.selectors.s1]
private_key_file = "dkim/example.com/2026a.ed25519.pem"

[domains."nodkim.example"]
"#;

#[test]
fn dkim_selectors_load_with_keys_relative_to_the_dynamic_file() {
    use crate::address::Domain;
    use crate::msgauth::sign::key::KeyAlgorithm;
    use mail_auth::dkim::Canonicalization;

    let dir = tempfile::tempdir().unwrap();
    let file = dkim_setup(dir.path(), DKIM_DOMAINS);
    let c = load_dynamic(&file).unwrap();
    let d = c.dkim_for(&Domain::parse("Example.COM").unwrap()).unwrap();
    let names: Vec<&str> = d.sign.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["2026a", "2026b"]);
    assert_eq!(d.selectors.len(), 3);
    let a = &d.selectors["2026a"];
    assert_eq!(a.key.algorithm(), KeyAlgorithm::Ed25519);
    assert_eq!(
        a.key_file,
        dir.path().join("cfg/dkim/example.com/2026a.ed25519.pem")
    );
    assert_eq!(
        (a.header_canonicalization, a.body_canonicalization),
        (Canonicalization::Relaxed, Canonicalization::Relaxed)
    );
    assert!(a.oversign && a.expiration.is_none());
    assert_eq!(a.headers, dkim::DEFAULT_HEADERS);
    let b = &d.selectors["2026b"];
    assert_eq!(b.key.algorithm(), KeyAlgorithm::Rsa { bits: 2048 });
    assert_eq!(
        (b.header_canonicalization, b.body_canonicalization),
        (Canonicalization::Simple, Canonicalization::Relaxed)
    );
    assert_eq!(b.headers, ["From", "Subject", "List-Id"]);
    assert!(!b.oversign);
    assert_eq!(b.expiration, Some(72 * 3600));
    assert_eq!(d.selectors["next"].expiration, Some(3600));
    assert!(b.dns_txt_record().starts_with("v=DKIM1; k=rsa; p=MII"));
    // Keys are shared, not copied, when a snapshot is cloned.
    let clone = c.clone();
    assert!(std::sync::Arc::ptr_eq(
        &clone.dkim_for(&d.domain).unwrap().sign[0],
        &d.sign[0]
    ));

    // An internationalised domain signs with its ASCII name as d=.
    let idn = c
        .dkim_for(&Domain::parse("xn--mx-lka.example").unwrap())
        .unwrap();
    let headers =
        crate::msgauth::sign::dkim_sign(idn, b"From: a@m\xc3\xb8x.example\r\n\r\nhi\r\n", 1)
            .unwrap();
    assert!(
        String::from_utf8(headers)
            .unwrap()
            .contains(" d=xn--mx-lka.example;")
    );
    assert!(
        c.dkim_for(&Domain::parse("nodkim.example").unwrap())
            .is_none()
    );
    // Debug output of the configuration never holds key material.
    let debug = format!("{c:?}");
    assert!(
        debug.contains("DkimPrivateKey { algorithm: Ed25519, .. }"),
        "{debug}"
    );
}

#[test]
fn dkim_problems_name_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dkim_setup(
        dir.path(),
        r#"
[domains."example.com".dkim]
sign = ["good", "nope", "good", "bad_name", "small"]
[domains."example.com".dkim.selectors.good]
private_key_file = "dkim/example.com/2026a.ed25519.pem"
[domains."example.com".dkim.selectors.missing]
private_key_file = "dkim/example.com/missing.pem"
[domains."example.com".dkim.selectors.garbage]
private_key_file = "dkim/example.com/garbage.pem"
[domains."example.com".dkim.selectors.ec]
private_key_file = "dkim/example.com/dkim-test-p256.pkcs8.pem"
[domains."example.com".dkim.selectors.small]
private_key_file = "dkim/example.com/dkim-test-rsa512.pkcs8.pem"
[domains."example.com".dkim.selectors.rsa1024]
private_key_file = "dkim/example.com/dkim-test-rsa1024.pkcs8.pem"
[domains."example.com".dkim.selectors.bad_name]
private_key_file = "dkim/example.com/2026a.ed25519.pem"
[domains."example.com".dkim.selectors.options]
private_key_file = "dkim/example.com/2026a.ed25519.pem"
hash = "sha1"
canonicalization = "relaxed"
headers = ["To", "Received", "to", "Bad Name"]
[domains."example.com".dkim.selectors.hash]
private_key_file = "dkim/example.com/2026a.ed25519.pem"
hash = "sha512"
"#,
    );
    let err = load_dynamic(&file).unwrap_err();
    let text = err.to_string();
    let k = "domains.example.com.dkim";
    let expect = |key: &str, message: &str| {
        assert!(
            err.0.iter().any(|p| p.key == format!("{k}.{key}")
                && p.message.contains(message)
                && p.file == file),
            "no {key}: {message} in\n{text}"
        );
    };
    expect("selectors.missing.private_key_file", "cannot read ");
    expect(
        "selectors.missing.private_key_file",
        "cfg/dkim/example.com/missing.pem",
    );
    expect(
        "selectors.garbage.private_key_file",
        "not an ed25519 or RSA private key",
    );
    expect(
        "selectors.ec.private_key_file",
        "not an ed25519 or RSA private key",
    );
    expect(
        "selectors.small.private_key_file",
        "RSA key of 512 bits: keys under 1024 bits are refused",
    );
    expect(
        "selectors.rsa1024.private_key_file",
        "RSA key of 1024 bits: signing needs 2048 to 4096 bits",
    );
    expect("selectors.bad_name", "a selector name is a DNS label");
    expect("sign[1]", "unknown selector \"nope\"");
    expect("sign[2]", "selector good is listed twice");
    expect("selectors.options.hash", "sha1 must not be used");
    expect("selectors.hash.hash", "only sha256 is supported");
    expect("selectors.options.canonicalization", "\"header/body\"");
    expect(
        "selectors.options.headers[1]",
        "Received changes in transit",
    );
    expect("selectors.options.headers[2]", "to is listed twice");
    expect("selectors.options.headers[3]", "not a header field name");
    expect("selectors.options.headers", "From must be signed");
    // A sign entry naming a selector with its own problem is not reported again.
    assert!(
        !text.contains("sign[3]") && !text.contains("sign[4]"),
        "{text}"
    );
    assert!(text.contains(&format!(
        "{}: {k}.selectors.small.private_key_file: RSA key of 512 bits",
        file.display()
    )));
    assert_eq!(err.0.len(), 15, "{text}");
}

#[test]
fn dkim_file_format_errors() {
    let dir = tempfile::tempdir().unwrap();
    let base = "[domains.\"example.com\".dkim.selectors.a]\nprivate_key_file = \"dkim/example.com/2026a.ed25519.pem\"\n";
    for (extra, key, message) in [
        (
            "expiration = \"3x\"\n",
            "expiration",
            "invalid duration \"3x\"",
        ),
        ("expiration = 0\n", "expiration", "more than 0"),
        ("expiration = -5\n", "expiration", "more than 0"),
        ("expiration = true\n", "expiration", "a duration such as"),
        ("oversign = \"yes\"\n", "oversign", "bool"),
        ("selector = \"a\"\n", "selector", "unknown field"),
    ] {
        let file = dkim_setup(dir.path(), &format!("{base}{extra}"));
        let err = load_dynamic(&file).unwrap_err();
        assert_eq!(
            err.0[0].key,
            format!("domains.example.com.dkim.selectors.a.{key}"),
            "{err}"
        );
        assert!(err.0[0].message.contains(message), "{err}");
    }
}

#[test]
fn example_dkim_section_is_valid() {
    let example =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/domains.toml"))
            .unwrap();
    let lines: Vec<&str> = example.lines().collect();
    let at = |text: &str| lines.iter().position(|l| l.starts_with(text)).unwrap();
    // The commented-out section, uncommented, loads (with keys where it says).
    let (start, end) = (
        at("# [domains.\"example.com\".dkim]"),
        at("# private_key_file = \"dkim/example.com/2026b"),
    );
    let section: Vec<&str> = lines[start..=end]
        .iter()
        .map(|&l| l.strip_prefix("# ").unwrap_or(l.trim_start_matches('#')))
        .collect();
    let text = format!("{}\n{}\n", example, section.join("\n"));
    let dir = tempfile::tempdir().unwrap();
    let file = dkim_setup(dir.path(), &text);
    let keys = dir.path().join("cfg/dkim/example.com");
    std::fs::rename(
        keys.join("dkim-test-rsa2048.pkcs8.pem"),
        keys.join("2026b.rsa2048.pem"),
    )
    .unwrap();
    let c = load_dynamic(&file).unwrap();
    let d = c
        .dkim_for(&crate::address::Domain::parse("example.com").unwrap())
        .unwrap();
    assert_eq!(d.sign.len(), 2);
    // The defaults it documents are the defaults.
    let (start, end) = (at("# # headers = ["), at("# #     \"List-Owner\""));
    let doc: Vec<&str> = lines[start..=end]
        .iter()
        .map(|l| l.trim_start_matches("# #").split(" # ").next().unwrap())
        .collect();
    let doc: std::collections::HashMap<String, Vec<String>> =
        Figment::from(Toml::string(&doc.join("\n")))
            .extract()
            .unwrap();
    assert_eq!(doc["headers"], dkim::DEFAULT_HEADERS);
}

const TRANSPORTS: &str = r#"
hostname = "mail.example.com"

[queue]
concurrency = 4
retry_intervals_seconds = [1, 2]
max_attempts = 3

[transports.relay]
type = "smtp"
host = "relay.example.net"

[transports.provider]
type = "submission"
host = "smtp.provider.example"
username = "me"
password_file = "pw"
mechanisms = ["scram-sha-256", "PLAIN"]
ca_file = "ca.pem"

[transports.tls465]
type = "submissions"
host = "127.0.0.1"
port = 2465
username = "me"
password = "secret"
no_verify_tls = true

[transports.proxy]
type = "socks"
address = "127.0.0.1:1080"
remote_ips = ["192.0.2.1"]
remote_hostname = "out.example.com"
"#;

#[test]
fn transports_and_queue_settings() {
    use crate::config::transports::{RelayTls, Transport, Trust};
    use crate::protocols::sasl::Mechanism;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "pw", "hunter2\nignored\n");
    let c = load_static(&write(dir.path(), "moxide.toml", TRANSPORTS)).unwrap();
    assert_eq!(c.queue.concurrency, 4);
    assert_eq!(c.queue.max_attempts, 3);
    assert_eq!(c.queue.delayed_dsn_after, 5);
    assert_eq!(c.queue.retry_intervals.len(), 2);
    assert_eq!(
        c.transports["relay"],
        Transport::Relay {
            host: "relay.example.net".into(),
            port: 25,
            tls: RelayTls::Opportunistic,
            auth: None
        }
    );
    let Transport::Relay {
        port, tls, auth, ..
    } = &c.transports["provider"]
    else {
        panic!("not a relay")
    };
    assert_eq!(*port, 587);
    assert_eq!(
        *tls,
        RelayTls::StartTls(Trust::CaFile(dir.path().join("ca.pem")))
    );
    let auth = auth.as_ref().unwrap();
    assert_eq!(auth.password, "hunter2");
    assert_eq!(auth.mechanisms, [Mechanism::ScramSha256, Mechanism::Plain]);
    assert!(matches!(
        &c.transports["tls465"],
        Transport::Relay {
            port: 2465,
            tls: RelayTls::Implicit(Trust::Any),
            ..
        }
    ));
    assert!(
        matches!(&c.transports["proxy"], Transport::Socks { remote_ips, .. } if remote_ips.len() == 1)
    );

    let bad = r#"
hostname = "mail.example.com"
[queue]
concurrency = 0
[transports.a]
type = "submission"
host = "bad host"
tls = "none"
mechanisms = ["XOAUTH9"]
[transports.b]
type = "socks"
address = "nowhere"
remote_ips = []
remote_hostname = "out.example.com"
"#;
    let err = load_static(&write(dir.path(), "moxide.toml", bad)).unwrap_err();
    let keys: Vec<&str> = err.0.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "queue.concurrency",
            "transports.a.host",
            "transports.a.tls",
            "transports.a.mechanisms[0]",
            "transports.a.username",
            "transports.b.address",
            "transports.b.remote_ips"
        ],
        "{err}"
    );
    let unknown = "hostname = \"m.example\"\n[transports.a]\ntype = \"smtp\"\nhost = \"h.example\"\nprot = 25\n";
    let err = load_static(&write(dir.path(), "moxide.toml", unknown)).unwrap_err();
    assert!(err.to_string().contains("prot"), "{err}");
}

#[test]
fn routes_name_known_transports_and_are_chosen_in_order() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "pw", "x\n");
    let s = load_static(&write(dir.path(), "moxide.toml", TRANSPORTS)).unwrap();
    let domains = format!(
        "{DOMAINS}\n[[routes]]\nminimum_attempts = 3\ntransport = \"relay\"\n\n\
         [[domains.\"example.com\".routes]]\nto_domain = [\".example.org\"]\ntransport = \"provider\"\n\n\
         [[accounts.mjl.routes]]\nto_domain = [\"special.example\"]\ntransport = \"proxy\"\n"
    );
    let d = load_dynamic(&write(dir.path(), "domains.toml", &domains)).unwrap();
    check_routes(&s, &d).unwrap();
    let pick = |to: &str, attempts| {
        d.route("mjl", "example.com", to, attempts)
            .map(|r| r.transport.as_str())
    };
    assert_eq!(pick("special.example", 0), Some("proxy"));
    assert_eq!(pick("a.example.org", 5), Some("provider"));
    assert_eq!(pick("else.example", 2), None);
    assert_eq!(pick("else.example", 3), Some("relay"));

    let domains = format!("{DOMAINS}\n[[accounts.mjl.routes]]\ntransport = \"nope\"\n");
    let file = write(dir.path(), "domains.toml", &domains);
    let d = load_dynamic(&file).unwrap();
    let err = check_routes(&s, &d).unwrap_err();
    assert_eq!(err.0.len(), 1);
    assert_eq!(err.0[0].file, file);
    assert_eq!(err.0[0].key, "accounts.mjl.routes[0].transport");
    assert!(
        err.0[0].message.contains("unknown transport \"nope\""),
        "{err}"
    );
}

#[test]
fn metrics_only_on_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let text =
        |listen: &str| format!("hostname = \"m.example\"\n[metrics]\nlisten = \"{listen}\"\n");
    let ok = load_static(&write(dir.path(), "moxide.toml", &text("127.0.0.1:9187"))).unwrap();
    assert_eq!(ok.metrics, Some("127.0.0.1:9187".parse().unwrap()));
    for bad in ["0.0.0.0:9187", "192.0.2.1:80", "localhost:80"] {
        let err = load_static(&write(dir.path(), "moxide.toml", &text(bad))).unwrap_err();
        assert_eq!(err.0[0].key, "metrics.listen", "{err}");
    }
}
