use super::*;
use crate::protocols::imap::types::*;
use crate::store::Flags;

fn kind(s: &str) -> CommandKind {
    parse_command(s.as_bytes())
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .kind
}

#[test]
fn simple_commands() {
    assert_eq!(
        parse_command(b"a1 CAPABILITY").unwrap(),
        Command {
            tag: "a1".into(),
            kind: CommandKind::Capability
        }
    );
    assert_eq!(
        kind("x login mox@localhost \"mox\\\"pw\""),
        CommandKind::Login {
            username: "mox@localhost".into(),
            password: "mox\"pw".into()
        }
    );
    assert_eq!(
        kind("x LOGIN {3}\r\nmox {4+}\r\na b\""),
        CommandKind::Login {
            username: "mox".into(),
            password: "a b\"".into()
        }
    );
    assert_eq!(
        kind("x select INBOX (condstore)"),
        CommandKind::Select(SelectCommand {
            mailbox: "INBOX".into(),
            read_only: false,
            condstore: true,
            qresync: None
        })
    );
    assert_eq!(
        kind("x EXAMINE \"Sent Items\""),
        CommandKind::Select(SelectCommand {
            mailbox: "Sent Items".into(),
            read_only: true,
            condstore: false,
            qresync: None
        })
    );
}

#[test]
fn select_qresync() {
    let CommandKind::Select(s) =
        kind("a SELECT INBOX (QRESYNC (67890007 90060115194045000 41:211,214:541) CONDSTORE)")
    else {
        panic!()
    };
    let q = s.qresync.unwrap();
    assert!(s.condstore);
    assert_eq!((q.uidvalidity, q.modseq), (67890007, 90060115194045000));
    assert_eq!(q.known_uids.unwrap().0.len(), 2);
    assert!(q.seq_match.is_none());
    let CommandKind::Select(s) = kind("a SELECT INBOX (QRESYNC (1 2 1:5 (1,3 2,9)))") else {
        panic!()
    };
    assert!(s.qresync.unwrap().seq_match.is_some());
    assert!(parse_command(b"a SELECT INBOX (QRESYNC (0 2))").is_err());
    assert!(parse_command(b"a SELECT INBOX (QRESYNC (1 0))").is_err());
    assert!(parse_command(b"a SELECT INBOX (BOGUS)").is_err());
}

#[test]
fn mailbox_commands() {
    assert_eq!(
        kind("a CREATE Drafts2 (USE (\\Drafts))"),
        CommandKind::Create {
            mailbox: "Drafts2".into(),
            special_use: vec!["\\Drafts".into()]
        }
    );
    assert_eq!(
        kind("a RENAME a \"b c\""),
        CommandKind::Rename {
            from: "a".into(),
            to: "b c".into()
        }
    );
    assert_eq!(
        kind("a STATUS INBOX (MESSAGES UIDNEXT SIZE HIGHESTMODSEQ)"),
        CommandKind::Status {
            mailbox: "INBOX".into(),
            items: vec![
                StatusItem::Messages,
                StatusItem::UidNext,
                StatusItem::Size,
                StatusItem::HighestModSeq
            ]
        }
    );
    let CommandKind::List(l) = kind("a LIST \"\" *") else {
        panic!()
    };
    assert_eq!(
        (l.patterns.as_slice(), l.extended),
        (&["*".to_string()][..], false)
    );
    let CommandKind::List(l) = kind(
        "a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (\"a/%\" b) RETURN (CHILDREN STATUS (MESSAGES))",
    ) else {
        panic!()
    };
    assert!(l.select_subscribed && l.recursive_match && l.return_children && l.extended);
    assert_eq!(l.patterns, ["a/%", "b"]);
    assert_eq!(l.return_status, Some(vec![StatusItem::Messages]));
    assert!(parse_command(b"a LIST (RECURSIVEMATCH) \"\" *").is_err());
    assert!(matches!(
        kind("a LSUB \"\" %"),
        CommandKind::List(ListCommand { lsub: true, .. })
    ));
    assert!(parse_command(b"a STATUS INBOX (BOGUS)").is_err());
}

#[test]
fn message_commands() {
    let CommandKind::Append { mailbox, messages } =
        kind("a APPEND Drafts (\\Seen x) \"17-Jul-1996 02:44:25 -0700\" {3+}\r\nabc {2+}\r\nde")
    else {
        panic!()
    };
    assert_eq!(mailbox, "Drafts");
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].flags, Flags::SEEN);
    assert_eq!(messages[0].keywords, ["x"]);
    assert_eq!(messages[0].date, Some(837_596_665));
    assert_eq!(
        (messages[0].data.as_slice(), messages[1].data.as_slice()),
        (&b"abc"[..], &b"de"[..])
    );
    assert!(parse_command(b"a APPEND Drafts").is_err());
    assert!(parse_command(b"a APPEND Drafts \"bad date\" {1+}\r\nx").is_err());
    assert!(matches!(
        kind("a UID MOVE 1:* Trash"),
        CommandKind::Move { uid: true, .. }
    ));
    assert!(matches!(
        kind("a COPY 2 Trash"),
        CommandKind::Copy { uid: false, .. }
    ));
    assert!(matches!(
        kind("a UID EXPUNGE 3:5"),
        CommandKind::UidExpunge(_)
    ));
    assert_eq!(
        kind("a ENABLE QRESYNC imap4rev2"),
        CommandKind::Enable(vec!["QRESYNC".into(), "IMAP4REV2".into()])
    );
    assert_eq!(kind("a ID NIL"), CommandKind::Id(None));
    assert_eq!(
        kind("a ID (\"name\" \"x\" \"os\" NIL)"),
        CommandKind::Id(Some(vec![
            ("name".into(), Some("x".into())),
            ("os".into(), None)
        ]))
    );
    assert_eq!(
        kind("a AUTHENTICATE plain AGEAYg=="),
        CommandKind::Authenticate {
            mechanism: "PLAIN".into(),
            initial: Some("AGEAYg==".into())
        }
    );
    assert_eq!(kind("a IDLE"), CommandKind::Idle);
}

#[test]
fn fetch_vanished_modifier() {
    assert!(matches!(
        kind("a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 5 VANISHED)"),
        CommandKind::Fetch {
            vanished: true,
            changed_since: Some(5),
            ..
        }
    ));
    assert!(parse_command(b"a FETCH 1:* (FLAGS) (CHANGEDSINCE 5 VANISHED)").is_err());
    assert!(parse_command(b"a UID FETCH 1:* (FLAGS) (VANISHED)").is_err());
}

#[test]
fn fetch() {
    let CommandKind::Fetch {
        uid,
        set,
        items,
        changed_since,
        ..
    } = kind(
        "a UID FETCH 1:*,7 (FLAGS BODY.PEEK[1.2.HEADER.FIELDS (Subject From)]<0.100> MODSEQ) (CHANGEDSINCE 12)",
    )
    else {
        panic!()
    };
    assert!(uid);
    assert_eq!(
        set,
        SeqSet(vec![
            (SeqNum::Value(1), SeqNum::Star),
            (SeqNum::Value(7), SeqNum::Value(7))
        ])
    );
    assert_eq!(changed_since, Some(12));
    assert_eq!(items[0], FetchItem::Uid);
    assert_eq!(
        items[2],
        FetchItem::Body {
            section: Section {
                part: vec![1, 2],
                spec: Some(SectionPart::HeaderFields(vec![
                    "Subject".into(),
                    "From".into()
                ]))
            },
            partial: Some((0, 100)),
            peek: true,
            rfc822: None
        }
    );
    let CommandKind::Fetch { items, .. } = kind("a FETCH 1 FAST") else {
        panic!()
    };
    assert_eq!(
        items,
        [
            FetchItem::Flags,
            FetchItem::InternalDate,
            FetchItem::Rfc822Size
        ]
    );
    let CommandKind::Fetch { items, .. } = kind("a FETCH 1 body[]") else {
        panic!()
    };
    assert_eq!(
        items,
        [FetchItem::Body {
            section: Section::default(),
            partial: None,
            peek: false,
            rfc822: None
        }]
    );
}

fn items(s: &str) -> Vec<FetchItem> {
    match kind(s) {
        CommandKind::Fetch { items, .. } => items,
        other => panic!("{s}: {other:?}"),
    }
}

#[test]
fn fetch_structure_items() {
    assert_eq!(
        items("a FETCH 1 (ENVELOPE BODYSTRUCTURE body SaveDate)"),
        [
            FetchItem::Envelope,
            FetchItem::BodyStructure { extensions: true },
            FetchItem::BodyStructure { extensions: false },
            FetchItem::SaveDate,
        ]
    );
    assert_eq!(
        items("a FETCH 1 BODY"),
        [FetchItem::BodyStructure { extensions: false }]
    );
    assert_eq!(
        items("a FETCH 1:2 (BINARY[1.2]<10.20> BINARY.PEEK[] binary.size[3])"),
        [
            FetchItem::Binary {
                part: vec![1, 2],
                partial: Some((10, 20)),
                peek: false
            },
            FetchItem::Binary {
                part: vec![],
                partial: None,
                peek: true
            },
            FetchItem::BinarySize { part: vec![3] },
        ]
    );
    // BINARY.SIZE alone, and UID FETCH adding UID in front.
    assert_eq!(
        items("a UID FETCH 5 BINARY.SIZE[]"),
        [FetchItem::Uid, FetchItem::BinarySize { part: vec![] }]
    );
}

#[test]
fn fetch_macros() {
    let all = [
        FetchItem::Flags,
        FetchItem::InternalDate,
        FetchItem::Rfc822Size,
        FetchItem::Envelope,
    ];
    assert_eq!(items("a FETCH 1:* ALL"), all);
    assert_eq!(items("a FETCH 1:* all (CHANGEDSINCE 3)"), {
        let mut v = all.to_vec();
        v.push(FetchItem::ModSeq);
        v
    });
    let mut full = all.to_vec();
    full.push(FetchItem::BodyStructure { extensions: false });
    assert_eq!(items("a FETCH 1 FULL"), full);
    // Macros stand alone, never inside a list.
    assert!(parse_command(b"a FETCH 1 (ALL)").is_err());
    assert!(parse_command(b"a FETCH 1 (FLAGS FULL)").is_err());
}

#[test]
fn fetch_binary_errors() {
    for bad in [
        "a FETCH 1 BINARY",
        "a FETCH 1 BINARY.PEEK",
        "a FETCH 1 BINARY[1.HEADER]",
        "a FETCH 1 BINARY[TEXT]",
        "a FETCH 1 BINARY[1.MIME]",
        "a FETCH 1 BINARY[1.]",
        "a FETCH 1 BINARY[.1]",
        "a FETCH 1 BINARY[0]",
        "a FETCH 1 BINARY[1",
        "a FETCH 1 BINARY[1]<5>",
        "a FETCH 1 BINARY.SIZE",
        "a FETCH 1 BINARY.SIZE[1]<0.5>",
        "a FETCH 1 (BINARY.SIZE[1]<0.5>)",
        "a FETCH 1 BODY.PEEK",
        "a FETCH 1 BODYSTRUCTURE[1]",
        "a FETCH 1 ENVELOPE[]",
    ] {
        assert!(parse_command(bad.as_bytes()).is_err(), "{bad}");
    }
}

#[test]
fn store() {
    assert_eq!(
        kind("a UID STORE 1:3 (UNCHANGEDSINCE 5) +FLAGS.SILENT (\\Seen $Junk custom)"),
        CommandKind::Store(StoreCommand {
            uid: true,
            set: SeqSet(vec![(SeqNum::Value(1), SeqNum::Value(3))]),
            unchanged_since: Some(5),
            action: StoreAction::Add,
            silent: true,
            flags: Flags::SEEN.union(Flags::JUNK),
            keywords: vec!["custom".into()],
        })
    );
    assert!(matches!(
        kind("a STORE 1 FLAGS \\Deleted"),
        CommandKind::Store(StoreCommand {
            action: StoreAction::Replace,
            ..
        })
    ));
    assert!(parse_command(b"a STORE 1 FLAGS (\\Recent)").is_err());
    assert!(parse_command(b"a STORE 1 FLAGS (\\Bogus)").is_err());
}

#[test]
fn errors_keep_the_tag() {
    let e = parse_command(b"a7 FETCH 0 FLAGS").unwrap_err();
    assert_eq!(e.tag, "a7");
    assert_eq!(parse_command(b"a7 BOGUS").unwrap_err().tag, "a7");
    assert_eq!(parse_command(b"").unwrap_err().tag, "*");
    assert!(parse_command(b"a LOGIN {10}\r\nshort").is_err());
    assert!(parse_command(b"a LOGIN \"x").is_err());
    assert!(parse_command(b"a SELECT \"\"").is_err());
    assert!(parse_command(b"a NOOP extra").is_err());
    assert!(parse_command(b"a FETCH 1 (FLAGS").is_err());
    assert!(parse_command(b"a FETCH 1 BODY[1.MIME").is_err());
    assert!(parse_command(b"a FETCH 99999999999 FLAGS").is_err());
}

#[test]
fn random_input_never_panics() {
    let mut seed = 0x9E3779B97F4A7C15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let words: [&[u8]; 16] = [
        b"a ", b"UID ", b"FETCH ", b"STORE ", b"1:*", b"(", b")", b"BODY[", b"]", b"<0.5>",
        b"{3}\r\n", b"\"", b"\\", b" ", b"FLAGS", b"LOGIN ",
    ];
    let words: Vec<&[u8]> = words
        .into_iter()
        .chain([
            &b"BINARY["[..],
            b"BINARY.SIZE[",
            b"BINARY.PEEK[",
            b"1.2",
            b"ENVELOPE",
            b"ALL",
            b"BODYSTRUCTURE",
        ])
        .collect();
    for _ in 0..20_000 {
        let mut input = Vec::new();
        for _ in 0..(next() % 12) {
            if next() % 4 == 0 {
                input.push(next() as u8);
            } else {
                input.extend_from_slice(words[(next() % words.len() as u64) as usize]);
            }
        }
        let _ = parse_command(&input);
    }
}
