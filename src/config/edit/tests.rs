use super::*;

const TEXT: &str = r#"# The operator's comment stays.
postmaster = "mjl"

[domains."example.com"]
description = "main" # and this one

[accounts.mjl]
domain = "example.com"
addresses = ["mjl", "info@example.com"]
"#;

fn setup() -> (tempfile::TempDir, PathBuf, DynamicConfig) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("domains.toml");
    std::fs::write(&path, TEXT).unwrap();
    let current = load_dynamic(&path).unwrap();
    (dir, path, current)
}

fn addr(s: &str) -> Address {
    Address::parse_simple(s).unwrap()
}

/// Applies an edit to the file and loads the result as the server would.
fn apply(
    path: &Path,
    current: &DynamicConfig,
    f: impl FnOnce(&mut DomainsDoc, &DynamicConfig) -> Result<(), EditError>,
) -> Result<(String, DynamicConfig), EditError> {
    let mut doc = DomainsDoc::from_text(&std::fs::read_to_string(path).unwrap()).unwrap();
    f(&mut doc, current)?;
    replace_validated(path, &doc.to_text())?;
    let text = std::fs::read_to_string(path).unwrap();
    Ok((text, load_dynamic(path).unwrap()))
}

#[test]
fn accounts_and_addresses_keep_comments() {
    let (_dir, path, current) = setup();
    let (text, c) = apply(&path, &current, |d, cur| {
        d.add_account(cur, "new", &addr("new@example.com"))
    })
    .unwrap();
    assert!(
        text.starts_with("# The operator's comment stays.\n"),
        "{text}"
    );
    assert!(
        text.contains("description = \"main\" # and this one"),
        "{text}"
    );
    assert!(
        text.contains(
            "[accounts.new]\ndomain = \"example.com\"\naddresses = [\"new@example.com\"]\n"
        ),
        "{text}"
    );
    assert_eq!(
        c.destination(&addr("new@example.com")).unwrap().account,
        "new"
    );

    let (_, c) = apply(&path, &c, |d, cur| {
        d.add_address(cur, "new", &addr("second@example.com"))
    })
    .unwrap();
    assert_eq!(
        c.destination(&addr("SECOND@example.com")).unwrap().account,
        "new"
    );
    // A bare localpart entry is found and removed too.
    let (text, c) = apply(&path, &c, |d, cur| {
        d.remove_address(cur, &addr("MJL@example.com")).map(|_| ())
    })
    .unwrap();
    assert!(
        text.contains("addresses = [\"info@example.com\"]"),
        "{text}"
    );
    assert!(c.destination(&addr("mjl@example.com")).is_none());
    let (text, c) = apply(&path, &c, |d, cur| d.remove_account(cur, "new")).unwrap();
    assert!(!text.contains("[accounts.new]"), "{text}");
    assert!(!c.accounts.contains_key("new"));
}

#[test]
fn refusals_leave_the_file_alone() {
    let (_dir, path, current) = setup();
    let refused = |f: &dyn Fn(&mut DomainsDoc, &DynamicConfig) -> Result<(), EditError>| match apply(
        &path, &current, f,
    ) {
        Err(EditError::Refused(m)) => m,
        other => panic!("{:?}", other.map(|(t, _)| t)),
    };
    assert!(
        refused(&|d, c| d.add_account(c, "mjl", &addr("x@example.com"))).contains("exists already")
    );
    assert!(
        refused(&|d, c| d.add_account(c, "../x", &addr("x@example.com")))
            .contains("invalid account name")
    );
    assert!(
        refused(&|d, c| d.add_account(c, "x", &addr("info@example.com")))
            .contains("belongs to account mjl")
    );
    assert!(
        refused(&|d, c| d.add_account(c, "x", &addr("x@other.example"))).contains("not configured")
    );
    assert!(refused(&|d, c| d.remove_account(c, "mjl")).contains("postmaster"));
    assert!(refused(&|d, c| d.remove_account(c, "nobody")).contains("no account nobody"));
    assert!(
        refused(&|d, c| d.add_address(c, "nobody", &addr("x@example.com"))).contains("no account")
    );
    assert!(
        refused(&|d, c| d.remove_address(c, &addr("x@example.com")).map(|_| ()))
            .contains("no account has")
    );
    assert!(
        refused(&|d, c| d.remove_domain(c, &Domain::parse("example.com").unwrap()))
            .contains("still used by account(s) mjl")
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), TEXT);
}

#[test]
fn domains_with_dkim_selectors() {
    let (dir, path, current) = setup();
    let keys = dir.path().join("dkim").join("xn--mx-lka.example");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::write(
        keys.join("a.pem"),
        crate::msgauth::sign::generate::ed25519_pem().unwrap(),
    )
    .unwrap();
    let domain = Domain::parse("møx.example").unwrap();
    let sels = vec![("a".to_string(), "dkim/xn--mx-lka.example/a.pem".to_string())];
    let (text, c) = apply(&path, &current, |d, cur| d.add_domain(cur, &domain, &sels)).unwrap();
    assert!(
        text.contains("[domains.\"møx.example\".dkim]\nsign = [\"a\"]\n"),
        "{text}"
    );
    assert!(text.contains("[domains.\"møx.example\".dkim.selectors.a]\nprivate_key_file = \"dkim/xn--mx-lka.example/a.pem\"\n"), "{text}");
    assert!(!text.contains("mta"), "no MTA-STS section: {text}");
    assert!(c.dkim_for(&domain).is_some());
    // A key that does not load makes the whole edit invalid: the file stays as it was.
    let before = std::fs::read_to_string(&path).unwrap();
    let other = Domain::parse("other.example").unwrap();
    let bad = vec![("b".to_string(), "dkim/missing.pem".to_string())];
    assert!(matches!(
        apply(&path, &c, |d, cur| d.add_domain(cur, &other, &bad)),
        Err(EditError::Invalid(_))
    ));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary file left behind");
    let (text, c) = apply(&path, &c, |d, cur| d.remove_domain(cur, &domain)).unwrap();
    assert!(!text.contains("møx"), "{text}");
    assert!(!c.is_local_domain(&domain));
}
