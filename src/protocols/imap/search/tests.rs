use std::cell::Cell;
use std::convert::Infallible;

use super::*;
use crate::protocols::imap::parse::{CommandKind, parse_command};
use crate::store::{Flags, MailboxId, MessageId, parts};

/// 2024-01-01 23:59:59 UTC.
const RECEIVED: i64 = 1_704_153_599;

const PLAIN: &[u8] = b"Date: Mon, 1 Jan 2024 23:30:00 -0500\r\n\
From: =?ISO-8859-1?Q?Andr=E9?= <andre@example.org>\r\n\
To: Bob <bob@example.com>, carol@example.net\r\n\
Cc: dave@example.com\r\n\
Subject: =?UTF-8?B?Q2Fmw6kgb3JkZXI=?=\r\n  folded   tail\r\n\
X-Empty:\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
Hello caf=C3=A9 lovers, soft=\r\nbreak here.\r\n";

const LATIN1: &[u8] = b"Subject: latin\r\n\
Content-Type: text/plain; charset=iso-8859-1\r\n\
Content-Transfer-Encoding: 8bit\r\n\
\r\n\
Voil\xe0 un caf\xe9.\r\n";

const MULTI: &[u8] = b"Subject: multi\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\
\r\n\
--b\r\n\
Content-Type: text/html; charset=us-ascii\r\n\
\r\n\
<p>Hello <b>bold</b>\r\n world</p>\r\n\
--b\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
YmFzZTY0IHNlY3JldA==\r\n\
--b\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
Subject: inner forwarded\r\n\
From: inner@example.org\r\n\
\r\n\
inner body text\r\n\
--b\r\n\
Content-Type: application/octet-stream\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
YmluYXJ5IG5lZWRsZQ==\r\n\
--b--\r\n";

const PREFIX: &[u8] = b"Received: from mx.example.net by moxide\r\n";

fn message(uid: u32) -> Message {
    Message {
        id: MessageId(u64::from(uid)),
        mailbox: MailboxId(1),
        uid: Uid(uid),
        modseq: ModSeq(10 + u64::from(uid)),
        createseq: ModSeq(2),
        expunged: false,
        flags: Flags::empty(),
        keywords: Vec::new(),
        size: 1000,
        received: RECEIVED,
        saved: RECEIVED + 1,
    }
}

fn loaded(raw: &[u8]) -> Loaded {
    Loaded {
        content: Content {
            prefix: PREFIX.to_vec(),
            file_size: raw.len() as u64,
            parts: parts::parse(raw),
        },
        file: raw.to_vec(),
    }
}

fn command(s: &str) -> SearchCommand {
    match parse_command(s.as_bytes()).map(|c| c.kind) {
        Ok(CommandKind::Search(s)) => s,
        other => panic!("{s}: {other:?}"),
    }
}

fn key(criteria: &str) -> SearchKey {
    command(&format!("t SEARCH {criteria}")).key
}

const CTX: SearchContext<'static> = SearchContext {
    max_seq: 10,
    max_uid: Uid(20),
    saved: &[],
    now: RECEIVED + 100,
};

/// Evaluates `criteria` on message `m`, number 3, with content `raw`.
fn eval_in(ctx: &SearchContext<'_>, criteria: &str, m: &Message, raw: &[u8]) -> bool {
    let load = || Ok::<_, Infallible>(loaded(raw));
    match matches(&key(criteria), ctx, m, 3, load) {
        Ok(b) => b,
        Err(e) => match e {},
    }
}

fn eval(criteria: &str, m: &Message, raw: &[u8]) -> bool {
    eval_in(&CTX, criteria, m, raw)
}

/// Asserts that each of `yes` matches and each of `no` does not.
fn check(m: &Message, raw: &[u8], yes: &[&str], no: &[&str]) {
    for c in yes {
        assert!(eval(c, m, raw), "{c} should match");
    }
    for c in no {
        assert!(!eval(c, m, raw), "{c} should not match");
    }
}

#[test]
fn flags_and_keywords() {
    let mut m = message(7);
    m.flags = Flags::SEEN.union(Flags::JUNK);
    m.keywords = vec!["Work".into()];
    check(
        &m,
        PLAIN,
        &[
            "ALL",
            "SEEN",
            "UNANSWERED",
            "UNDELETED",
            "UNDRAFT",
            "UNFLAGGED",
            "KEYWORD $Junk",
            "KEYWORD $junk",
            "KEYWORD work",
            "UNKEYWORD other",
            "UNKEYWORD $Forwarded",
            "OLD",
            "SAVEDATESUPPORTED",
        ],
        &[
            "UNSEEN",
            "ANSWERED",
            "DELETED",
            "DRAFT",
            "FLAGGED",
            "KEYWORD $NotJunk",
            "KEYWORD other",
            "UNKEYWORD WORK",
            "UNKEYWORD $junk",
            "NEW",
            "RECENT",
        ],
    );
    m.flags = Flags::ANSWERED.union(Flags::DELETED).union(Flags::DRAFT);
    check(
        &m,
        PLAIN,
        &["ANSWERED", "DELETED", "DRAFT", "UNSEEN", "UNFLAGGED"],
        &["SEEN", "FLAGGED", "NEW", "UNDRAFT"],
    );
}

#[test]
fn sets_saved_and_modseq() {
    let m = message(7); // seq 3, uid 7, modseq 17
    check(
        &m,
        PLAIN,
        &[
            "3",
            "2:4",
            "1,3",
            "4:1",
            "UID 7",
            "UID 1:7",
            "UID 7:*",
            "MODSEQ 17",
            "MODSEQ 0",
            "MODSEQ \"/flags/\\\\seen\" all 10",
        ],
        &[
            "1:2",
            "*",
            "5:*",
            "UID 8:*",
            "UID *",
            "UID 1,2",
            "$",
            "UID $",
            "MODSEQ 18",
        ],
    );
    let saved = [Uid(2), Uid(7), Uid(9)];
    let ctx = SearchContext {
        max_seq: 3,
        max_uid: Uid(7),
        saved: &saved,
        ..CTX
    };
    for c in ["*", "3:*", "UID *", "UID 9:*", "$", "UID $", "NOT UID 1:6"] {
        assert!(eval_in(&ctx, c, &m, PLAIN), "{c}");
    }
    let ctx = SearchContext {
        saved: &[Uid(2), Uid(9)],
        ..ctx
    };
    assert!(!eval_in(&ctx, "$", &m, PLAIN));
}

#[test]
fn sizes_and_dates() {
    let m = message(7); // size 1000, received 2024-01-01 23:59:59 UTC, saved a second later
    check(
        &m,
        PLAIN,
        &[
            "LARGER 999",
            "SMALLER 1001",
            "ON 1-Jan-2024",
            "BEFORE 2-Jan-2024",
            "SINCE 1-Jan-2024",
            "SINCE 31-Dec-2023",
            "SAVEDON 2-Jan-2024",
            "SAVEDSINCE 2-Jan-2024",
            "SAVEDBEFORE 3-Jan-2024",
            "OLDER 99",
            "YOUNGER 100",
        ],
        &[
            "LARGER 1000",
            "SMALLER 1000",
            "ON 2-Jan-2024",
            "BEFORE 1-Jan-2024",
            "SINCE 2-Jan-2024",
            "SAVEDON 1-Jan-2024",
            "SAVEDBEFORE 2-Jan-2024",
            "SAVEDSINCE 3-Jan-2024",
            "OLDER 100",
            "YOUNGER 99",
        ],
    );
}

#[test]
fn utc_dates() {
    let d = |year, month, day| Date { year, month, day };
    assert_eq!(utc_date(0), d(1970, 1, 1));
    assert_eq!(utc_date(-1), d(1969, 12, 31));
    assert_eq!(utc_date(951_782_400), d(2000, 2, 29));
    assert_eq!(utc_date(1_709_164_800), d(2024, 2, 29));
    assert_eq!(utc_date(1_709_164_799), d(2024, 2, 28));
    assert_eq!(utc_date(-2_203_891_200), d(1900, 3, 1));
    assert_eq!(utc_date(4_133_980_799), d(2100, 12, 31));
    // Nonsense times give some date, never a panic.
    let _ = (utc_date(i64::MIN), utc_date(i64::MAX));
}

#[test]
fn sent_dates_use_the_header_time_zone() {
    // Date: Mon, 1 Jan 2024 23:30:00 -0500 is 2 January in UTC.
    let m = message(7);
    check(
        &m,
        PLAIN,
        &[
            "SENTON 1-Jan-2024",
            "SENTBEFORE 2-Jan-2024",
            "SENTSINCE 1-Jan-2024",
            "SENTSINCE 31-Dec-2023",
        ],
        &[
            "SENTON 2-Jan-2024",
            "SENTBEFORE 1-Jan-2024",
            "SENTSINCE 2-Jan-2024",
        ],
    );
    // No Date header: no SENT key matches.
    check(
        &m,
        LATIN1,
        &["NOT SENTBEFORE 1-Jan-3000", "NOT SENTSINCE 1-Jan-1970"],
        &[
            "SENTBEFORE 1-Jan-3000",
            "SENTSINCE 1-Jan-1970",
            "SENTON 1-Jan-2024",
        ],
    );
}

#[test]
fn headers_are_decoded() {
    let m = message(7);
    check(
        &m,
        PLAIN,
        &[
            "SUBJECT \"café\"",
            "SUBJECT \"CAFÉ ORDER\"",
            "SUBJECT \"order folded tail\"",
            "SUBJECT \"\"",
            "FROM \"andré\"",
            "FROM \"ANDRE@example.org\"",
            "TO bob",
            "TO carol@example.net",
            "CC dave",
            "HEADER X-Empty \"\"",
            "HEADER x-empty \"\"",
            "HEADER content-type plain",
            "HEADER Received mx.example.net",
            "TEXT mx.example.net",
            "TEXT \"subject: café\"",
            "NOT BCC \"\"",
        ],
        &[
            "SUBJECT q2fm",
            "SUBJECT =?UTF-8?",
            "FROM bob",
            "CC bob",
            "BCC \"\"",
            "BCC dave",
            "HEADER X-Missing \"\"",
            "HEADER X-Empty x",
            "BODY mx.example.net",
            "BODY \"café order\"",
        ],
    );
}

#[test]
fn bodies_are_decoded() {
    let m = message(7);
    check(
        &m,
        PLAIN,
        &[
            "BODY \"HELLO CAFÉ\"",
            "BODY softbreak",
            "TEXT softbreak",
            "BODY \"lovers,   softbreak\"",
        ],
        &[
            "BODY caf=C3",
            "BODY \"soft=\"",
            "BODY subject",
            "BODY \"andré\"",
        ],
    );
    check(
        &m,
        LATIN1,
        &["BODY \"café\"", "BODY \"VOILÀ\"", "TEXT \"un café\""],
        &["BODY latin"],
    );
    check(
        &m,
        MULTI,
        &[
            "BODY \"hello bold world\"",
            "BODY \"base64 secret\"",
            "BODY \"inner forwarded\"",
            "BODY \"inner body text\"",
            "SUBJECT multi",
            "TEXT multi",
            "TEXT \"inner body\"",
        ],
        &[
            "BODY \"<b>\"",
            "BODY YmFzZTY0",
            "BODY \"binary needle\"",
            "SUBJECT inner",
            "BODY multi",
        ],
    );
}

#[test]
fn or_and_not_nest() {
    let mut m = message(7);
    m.flags = Flags::SEEN;
    check(
        &m,
        PLAIN,
        &[
            "OR FLAGGED SUBJECT \"café\"",
            "OR SUBJECT nothing SEEN",
            "NOT (UNSEEN SUBJECT \"café\")",
            "NOT NOT SEEN",
            "OR (FLAGGED SUBJECT \"café\") (SEEN NOT SUBJECT tea)",
            "(SEEN (LARGER 10 (SUBJECT \"café\")))",
            "OR OR FLAGGED DRAFT OR DELETED BODY softbreak",
            "3 UID 7 SEEN SUBJECT \"café\"",
        ],
        &[
            "OR FLAGGED SUBJECT tea",
            "NOT OR FLAGGED SUBJECT \"café\"",
            "SEEN NOT SEEN",
            "(SEEN (LARGER 10 (SUBJECT tea)))",
            "NOT (SEEN SUBJECT \"café\")",
        ],
    );
}

#[test]
fn cheap_keys_do_not_load_the_message() {
    let calls = Cell::new(0);
    let run = |criteria: &str, m: &Message| {
        let load = || {
            calls.set(calls.get() + 1);
            Ok::<_, Infallible>(loaded(PLAIN))
        };
        matches(&key(criteria), &CTX, m, 3, load).unwrap_or_else(|e| match e {})
    };
    let mut m = message(7);
    assert!(!run("SUBJECT \"café\" UNSEEN", &{
        m.flags = Flags::SEEN;
        m.clone()
    }));
    assert!(run("OR SUBJECT tea SEEN", &m));
    assert!(run("NOT (UNSEEN SUBJECT x)", &m));
    assert!(run(
        "ALL LARGER 5 UID 1:* 1:* MODSEQ 2 SINCE 1-Jan-2000",
        &m
    ));
    assert_eq!(calls.get(), 0);
    // Once needed, the message is loaded once for all keys.
    assert!(run(
        "SUBJECT \"café\" BODY \"café\" FROM \"andré\" SENTON 1-Jan-2024",
        &m
    ));
    assert_eq!(calls.get(), 1);
}

#[test]
fn loader_errors_are_returned() {
    let m = message(7);
    let fail = || Err::<Loaded, _>("disk on fire");
    assert_eq!(
        matches(&key("SUBJECT x"), &CTX, &m, 3, fail),
        Err("disk on fire")
    );
    assert_eq!(matches(&key("ALL"), &CTX, &m, 3, fail), Ok(true));
}

#[test]
fn malformed_messages_never_panic() {
    let m = message(7);
    for raw in [
        &b""[..],
        b"\r\n",
        b"no header at all",
        b"\xff\xfe\x00",
        b"Subject: =?utf-8?q?unterminated\r\n\r\n",
        b"Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n",
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: message/rfc822\r\n\r\n--x\r\nContent-Type: message/rfc822\r\n\r\nSubject: y\r\n\r\nbody\r\n--x--\r\n",
        b"Date: garbage\r\n\r\n",
        b"Date: 99 Foo 99999 99:99:99 +9999\r\n\r\n",
    ] {
        for c in ["TEXT x", "BODY y", "SENTON 1-Jan-2024", "HEADER date \"\""] {
            let load = || Ok::<_, Infallible>(loaded(raw));
            let _ = matches(&key(c), &CTX, &m, 3, load);
        }
    }
}

/// Runs `line` against messages 1 to 8 (uids 11 to 18, modseq 100 - seq), those in `seen` with
/// \Seen, and returns the untagged response and the saved result.
fn transcript(line: &str, seen: &[u32], imap4rev2: bool) -> (String, Option<Vec<Uid>>) {
    let parsed = parse_command(line.as_bytes()).unwrap_or_else(|e| panic!("{line}: {e}"));
    let CommandKind::Search(cmd) = parsed.kind else {
        panic!("{line}");
    };
    let messages: Vec<Message> = (1..=8u32)
        .map(|seq| {
            let mut m = message(seq + 10);
            m.modseq = ModSeq(u64::from(100 - seq));
            if seen.contains(&seq) {
                m.flags = Flags::SEEN;
            }
            m
        })
        .collect();
    let ctx = SearchContext {
        max_seq: 8,
        max_uid: Uid(18),
        saved: &[],
        now: 0,
    };
    let mut hits = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let seq = i as u32 + 1;
        let load = || Ok::<_, Infallible>(loaded(PLAIN));
        if matches(&cmd.key, &ctx, m, seq, load).unwrap_or_else(|e| match e {}) {
            hits.push(Hit::of(seq, m));
        }
    }
    let r = respond(&parsed.tag, &cmd, &hits, imap4rev2);
    (String::from_utf8(r.untagged).unwrap_or_default(), r.saved)
}

fn said(line: &str, seen: &[u32]) -> String {
    transcript(line, seen, false).0
}

#[test]
fn classic_search_response() {
    let seen = [2, 5, 6, 7];
    assert_eq!(said("a SEARCH SEEN", &seen), "* SEARCH 2 5 6 7\r\n");
    assert_eq!(said("a UID SEARCH SEEN", &seen), "* SEARCH 12 15 16 17\r\n");
    assert_eq!(said("a SEARCH UNSEEN 7:*", &seen), "* SEARCH 8\r\n");
    assert_eq!(said("a SEARCH DELETED", &seen), "* SEARCH\r\n");
    // RFC 7162 §3.1.5: the highest modseq of the matches (seq n has modseq 100 - n).
    assert_eq!(
        said("a SEARCH SEEN MODSEQ 1", &seen),
        "* SEARCH 2 5 6 7 (MODSEQ 98)\r\n"
    );
    assert_eq!(said("a SEARCH DELETED MODSEQ 1", &seen), "* SEARCH\r\n");
    // An IMAP4rev2 client gets ESEARCH without asking.
    assert_eq!(
        transcript("a SEARCH SEEN", &seen, true).0,
        "* ESEARCH (TAG \"a\") ALL 2,5:7\r\n"
    );
}

#[test]
fn esearch_response() {
    let seen = [2, 5, 6, 7];
    assert_eq!(
        said("a1 UID SEARCH RETURN (MIN MAX COUNT ALL) SEEN", &seen),
        "* ESEARCH (TAG \"a1\") UID MIN 12 MAX 17 COUNT 4 ALL 12,15:17\r\n"
    );
    assert_eq!(
        said("a1 SEARCH RETURN (MIN MAX COUNT ALL) SEEN", &seen),
        "* ESEARCH (TAG \"a1\") MIN 2 MAX 7 COUNT 4 ALL 2,5:7\r\n"
    );
    assert_eq!(
        said("a2 SEARCH RETURN () SEEN", &seen),
        "* ESEARCH (TAG \"a2\") ALL 2,5:7\r\n"
    );
    assert_eq!(
        said("a3 SEARCH RETURN (COUNT) SEEN", &seen),
        "* ESEARCH (TAG \"a3\") COUNT 4\r\n"
    );
    // Nothing found: no MIN, MAX or ALL; COUNT 0.
    assert_eq!(
        said("x UID SEARCH RETURN (MIN MAX ALL) DELETED", &seen),
        "* ESEARCH (TAG \"x\") UID\r\n"
    );
    assert_eq!(
        said("x UID SEARCH RETURN (MIN COUNT) DELETED MODSEQ 1", &seen),
        "* ESEARCH (TAG \"x\") UID COUNT 0\r\n"
    );
    assert_eq!(
        said("x SEARCH RETURN (ALL) DELETED", &seen),
        "* ESEARCH (TAG \"x\")\r\n"
    );
}

#[test]
fn esearch_modseq() {
    // Modseqs: seq 2 → 98, 5 → 95, 6 → 94, 7 → 93.
    let seen = [2, 5, 6, 7];
    let cases = [
        ("MIN", "MIN 2 MODSEQ 98"),
        ("MAX", "MAX 7 MODSEQ 93"),
        ("MIN MAX", "MIN 2 MAX 7 MODSEQ 98"),
        ("COUNT", "COUNT 4 MODSEQ 98"),
        ("ALL", "ALL 2,5:7 MODSEQ 98"),
    ];
    for (options, data) in cases {
        assert_eq!(
            said(&format!("t SEARCH RETURN ({options}) SEEN MODSEQ 5"), &seen),
            format!("* ESEARCH (TAG \"t\") {data}\r\n")
        );
    }
    assert_eq!(
        said("t SEARCH RETURN (MAX) 5:6 MODSEQ 5", &seen),
        "* ESEARCH (TAG \"t\") MAX 6 MODSEQ 94\r\n"
    );
}

#[test]
fn save_result() {
    let seen = [2, 5, 6, 7];
    let uids = |u: &[u32]| Some(u.iter().map(|&u| Uid(u)).collect::<Vec<_>>());
    // RFC 5182: SAVE alone answers nothing untagged.
    assert_eq!(
        transcript("a SEARCH RETURN (SAVE) SEEN", &seen, true),
        (String::new(), uids(&[12, 15, 16, 17]))
    );
    assert_eq!(
        transcript("a SEARCH RETURN (SAVE MIN) SEEN", &seen, false),
        ("* ESEARCH (TAG \"a\") MIN 2\r\n".into(), uids(&[12]))
    );
    assert_eq!(
        transcript("a UID SEARCH RETURN (SAVE MIN MAX) SEEN", &seen, false).1,
        uids(&[12, 17])
    );
    assert_eq!(
        transcript("a SEARCH RETURN (SAVE MIN MAX) 5", &seen, false),
        ("* ESEARCH (TAG \"a\") MIN 5 MAX 5\r\n".into(), uids(&[15]))
    );
    assert_eq!(
        transcript("a SEARCH RETURN (SAVE MIN COUNT) SEEN", &seen, false).1,
        uids(&[12, 15, 16, 17])
    );
    assert_eq!(
        transcript("a SEARCH RETURN (SAVE) DELETED", &seen, false),
        (String::new(), uids(&[]))
    );
    assert_eq!(
        transcript("a SEARCH RETURN (ALL) SEEN", &seen, false).1,
        None
    );
    assert_eq!(transcript("a SEARCH SEEN", &seen, false).1, None);
}

#[test]
fn sequence_sets() {
    assert_eq!(sequence_set(&[]), "");
    assert_eq!(sequence_set(&[4]), "4");
    assert_eq!(sequence_set(&[1, 2, 3, 5, 7, 8]), "1:3,5,7:8");
    assert_eq!(
        sequence_set(&[1, u32::MAX - 1, u32::MAX]),
        "1,4294967294:4294967295"
    );
}

#[test]
fn key_helpers() {
    assert!(key("OR SEEN NOT (FLAGGED MODSEQ 5)").uses_modseq());
    assert!(!key("SEEN").uses_modseq());
    assert!(key("NOT UID $").uses_saved());
    assert!(!key("UID 1:*").uses_saved());
}
