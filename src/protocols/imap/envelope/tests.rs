use super::*;
use crate::protocols::imap::fixtures;
use crate::store::parts;

fn env(raw: &str, utf8: bool) -> String {
    String::from_utf8(envelope(&parts::parse(raw.as_bytes()), utf8)).unwrap()
}

#[test]
fn simple_message() {
    let alice = r#"(("Alice Example" NIL "alice" "example.org"))"#;
    let expected = format!(
        r#"("Tue, 14 Nov 2023 22:13:20 +0000" "Lunch on Friday?" {alice} {alice} {alice} (("Bob" NIL "bob" "example.com")) NIL NIL NIL "<lunch.1@example.org>")"#
    );
    assert_eq!(env(fixtures::SIMPLE, false), expected);
    assert_eq!(env(fixtures::SIMPLE, true), expected);
}

#[test]
fn groups_and_encoded_words() {
    let to = concat!(
        r#"((NIL NIL "Team" NIL)(NIL NIL "alice" "example.org")("Bob B." NIL "bob" "example.com")"#,
        r#"(NIL NIL NIL NIL)(NIL NIL "carol" "example.net"))"#
    );
    let cc = r#"((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL))"#;
    // The stored name is decoded; for a client without UTF-8 it is encoded again. The subject is
    // stored raw and its encoded-word goes out as it came.
    let from = r#"(("=?utf-8?b?UmVuw6ll?=" NIL "renee" "example.org"))"#;
    assert_eq!(
        env(fixtures::ALTERNATIVE, false),
        format!(
            r#"("Thu, 16 Nov 2023 12:00:00 -0500" "=?utf-8?q?Caf=C3=A9?= meeting" {from} {from} {from} {to} {cc} NIL "<lunch.1@example.org>" "<cafe.2@example.org>")"#
        )
    );
    let from = r#"(("Renée" NIL "renee" "example.org"))"#;
    assert_eq!(
        env(fixtures::ALTERNATIVE, true),
        format!(
            r#"("Thu, 16 Nov 2023 12:00:00 -0500" "=?utf-8?q?Caf=C3=A9?= meeting" {from} {from} {from} {to} {cc} NIL "<lunch.1@example.org>" "<cafe.2@example.org>")"#
        )
    );
}

const INTL: &str = concat!(
    "From: \"Jörg Müller\" <joerg@bücher.example>\r\n",
    "Sender: secretary@example.org\r\n",
    "Reply-To: Jörg <j@example.org>, =?iso-8859-1?q?Fran=E7ois?= <f@example.org>\r\n",
    "To: 日本 <nihon@example.jp>\r\n",
    "Subject: Grüße aus Köln\r\n",
    "Date: Sat, 18 Nov 2023 10:00:00 +0100\r\n",
    "Message-ID: <intl.4@bücher.example>\r\n",
    "Content-Type: text/plain; charset=utf-8\r\n",
    "Content-Transfer-Encoding: 8bit\r\n",
    "\r\n",
    "Schöne Grüße\r\n",
);

#[test]
fn non_ascii_without_utf8() {
    // Names and the subject become encoded-words, the domain its A-labels; the message id has
    // no ASCII form and goes out as a literal.
    let expected = concat!(
        r#"("Sat, 18 Nov 2023 10:00:00 +0100" "=?utf-8?b?R3LDvMOfZQ==?= aus =?utf-8?b?S8O2bG4=?=" "#,
        r#"(("=?utf-8?b?SsO2cmcgTcO8bGxlcg==?=" NIL "joerg" "xn--bcher-kva.example")) "#,
        r#"((NIL NIL "secretary" "example.org")) "#,
        r#"(("=?utf-8?b?SsO2cmc=?=" NIL "j" "example.org")("=?utf-8?b?RnJhbsOnb2lz?=" NIL "f" "example.org")) "#,
        r#"(("=?utf-8?b?5pel5pys?=" NIL "nihon" "example.jp")) NIL NIL NIL "#,
        "{24}\r\n<intl.4@bücher.example>)"
    );
    assert_eq!(env(INTL, false), expected);
}

#[test]
fn non_ascii_with_utf8() {
    let expected = concat!(
        r#"("Sat, 18 Nov 2023 10:00:00 +0100" "Grüße aus Köln" "#,
        r#"(("Jörg Müller" NIL "joerg" "bücher.example")) "#,
        r#"((NIL NIL "secretary" "example.org")) "#,
        r#"(("Jörg" NIL "j" "example.org")("François" NIL "f" "example.org")) "#,
        r#"(("日本" NIL "nihon" "example.jp")) NIL NIL NIL "<intl.4@bücher.example>")"#,
    );
    assert_eq!(env(INTL, true), expected);
}

#[test]
fn missing_and_empty_fields() {
    // RFC 9051 §7.5.2: absent Date is NIL, an empty Subject the empty string; no From means NIL
    // for From, Sender and Reply-To.
    let raw = "To: someone@example.com\r\nSubject:\r\n\r\nno date, no from\r\n";
    assert_eq!(
        env(raw, false),
        r#"(NIL "" NIL NIL NIL ((NIL NIL "someone" "example.com")) NIL NIL NIL NIL)"#
    );
    // Present but empty Sender and Reply-To are the From value too.
    let raw = "From: a@example.org\r\nSender:\r\nReply-To: \r\n\r\n";
    let a = r#"((NIL NIL "a" "example.org"))"#;
    assert_eq!(
        env(raw, false),
        format!("(NIL NIL {a} {a} {a} NIL NIL NIL NIL NIL)")
    );
}

#[test]
fn malformed_addresses_never_look_like_groups() {
    // A name with no address must not be sent with a NIL host: that would open or close a group
    // (RFC 9051 §7.5.2). The parser takes a bare word for a display name.
    let raw = "From: Mailer Daemon\r\nTo: Team: x;, bare\r\nCc: <@route.example:user@example.org>\r\n\r\n";
    let from = r#"(("Mailer Daemon" NIL "" ""))"#;
    assert_eq!(
        env(raw, false),
        format!(
            r#"(NIL NIL {from} {from} {from} ((NIL NIL "Team" NIL)("x" NIL "" "")(NIL NIL NIL NIL)("bare" NIL "" "")) ((NIL "@route.example" "user" "example.org")) NIL NIL NIL)"#
        )
    );
}

#[test]
fn stored_group_markers_without_an_end() {
    let e = Envelope {
        to: vec![
            EnvelopeAddress {
                name: None,
                mailbox: Some("lonely".into()),
                host: None,
            },
            EnvelopeAddress::default(),
            EnvelopeAddress::default(),
        ],
        ..Envelope::default()
    };
    let mut out = Vec::new();
    write_envelope(&mut out, Some(&e), false);
    // The first end closes the group; a second one has no group to close and is left out.
    assert_eq!(
        String::from_utf8(out).unwrap(),
        r#"(NIL NIL NIL NIL NIL ((NIL NIL "lonely" NIL)(NIL NIL NIL NIL)) NIL NIL NIL NIL)"#
    );
}

#[test]
fn no_stored_envelope() {
    let nil = "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)";
    assert_eq!(String::from_utf8(envelope(&[], false)).unwrap(), nil);
    let parts = vec![Part::default()];
    assert_eq!(String::from_utf8(envelope(&parts, true)).unwrap(), nil);
}

#[test]
fn quoting_and_literals() {
    let raw = "From: \"Quote \\\" Back\\\\slash\" <q@example.org>\r\nSubject: tab\there\r\n\r\n";
    let from = r#"(("Quote \" Back\\slash" NIL "q" "example.org"))"#;
    assert_eq!(
        env(raw, false),
        format!("(NIL {{8}}\r\ntab\there {from} {from} {from} NIL NIL NIL NIL NIL)")
    );
}

#[test]
fn multipart_messages_use_the_root_header() {
    let carol = r#"(("Carol" NIL "carol" "example.net"))"#;
    assert_eq!(
        env(fixtures::MIXED, false),
        format!(
            r#"("Wed, 15 Nov 2023 09:00:00 +0100" "Report" {carol} {carol} {carol} ((NIL NIL "dave" "example.com")) NIL NIL NIL "<report.7@example.net>")"#
        )
    );
    let dave = r#"(("Dave" NIL "dave" "example.com"))"#;
    assert_eq!(
        env(fixtures::NESTED, false),
        format!(
            r#"("Fri, 17 Nov 2023 08:30:00 +0000" "Fwd: Report" {dave} {dave} {dave} {carol} NIL NIL NIL "<fwd.3@example.com>")"#
        )
    );
}
