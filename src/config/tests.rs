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
