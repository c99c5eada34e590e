use super::*;
use crate::protocols::imap::fixtures;
use crate::store::parts;

fn bs(raw: &str, extensions: bool, utf8: bool) -> String {
    let out = body_structure(&parts::parse(raw.as_bytes()), extensions, utf8);
    String::from_utf8(out).unwrap()
}

#[test]
fn simple_message() {
    assert_eq!(
        bs(fixtures::SIMPLE, true, false),
        r#"("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" 31 2 NIL NIL NIL NIL)"#
    );
    assert_eq!(
        bs(fixtures::SIMPLE, false, false),
        r#"("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" 31 2)"#
    );
}

#[test]
fn alternative() {
    assert_eq!(
        bs(fixtures::ALTERNATIVE, true, false),
        concat!(
            r#"(("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 33 3 NIL NIL NIL NIL)"#,
            r#"("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 24 1 NIL NIL NIL NIL)"#,
            r#" "ALTERNATIVE" ("BOUNDARY" "alt") NIL NIL NIL)"#
        )
    );
    assert_eq!(
        bs(fixtures::ALTERNATIVE, false, false),
        concat!(
            r#"(("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 33 3)"#,
            r#"("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 24 1) "ALTERNATIVE")"#
        )
    );
}

#[test]
fn mixed_with_attachment() {
    assert_eq!(
        bs(fixtures::MIXED, true, false),
        concat!(
            r#"(("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 24 0 NIL NIL NIL NIL)"#,
            r#"("APPLICATION" "PDF" ("NAME" "report.pdf") "<part2.report@example.net>" "Quarterly report" "BASE64" 66"#,
            r#" NIL ("ATTACHMENT" ("FILENAME" "report.pdf")) "en" "http://example.net/report.pdf")"#,
            r#" "MIXED" ("BOUNDARY" "outer") NIL NIL NIL)"#
        )
    );
    assert_eq!(
        bs(fixtures::MIXED, false, true),
        concat!(
            r#"(("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 24 0)"#,
            r#"("APPLICATION" "PDF" ("NAME" "report.pdf") "<part2.report@example.net>" "Quarterly report" "BASE64" 66)"#,
            r#" "MIXED")"#
        )
    );
}

const INNER_ENVELOPE: &str = concat!(
    r#"("Wed, 15 Nov 2023 09:00:00 +0100" "Report" (("Carol" NIL "carol" "example.net"))"#,
    r#" (("Carol" NIL "carol" "example.net")) (("Carol" NIL "carol" "example.net"))"#,
    r#" ((NIL NIL "dave" "example.com")) NIL NIL NIL "<report.7@example.net>")"#
);

#[test]
fn nested_message() {
    // The text part has a Content-Type without charset: no parameters are stored, NIL is sent.
    assert_eq!(
        bs(fixtures::NESTED, true, false),
        format!(
            concat!(
                r#"(("TEXT" "PLAIN" NIL NIL NIL "7BIT" 18 1 NIL NIL NIL NIL)"#,
                r#"("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 253 {}"#,
                r#" ("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "QUOTED-PRINTABLE" 15 0 NIL NIL NIL NIL)"#,
                r#" 8 NIL ("INLINE" NIL) NIL NIL)"#,
                r#" "MIXED" ("BOUNDARY" "fwd") NIL NIL NIL)"#
            ),
            INNER_ENVELOPE
        )
    );
    assert_eq!(
        bs(fixtures::NESTED, false, false),
        format!(
            concat!(
                r#"(("TEXT" "PLAIN" NIL NIL NIL "7BIT" 18 1)"#,
                r#"("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 253 {}"#,
                r#" ("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "QUOTED-PRINTABLE" 15 0) 8)"#,
                r#" "MIXED")"#
            ),
            INNER_ENVELOPE
        )
    );
}

const INTL_PARAMS: &str = concat!(
    "Content-Type: text/plain; charset=utf-8; name*=utf-8''%E2%82%AC.txt\r\n",
    "Content-Disposition: attachment; filename=\"=?utf-8?q?x=C3=A9?=\"\r\n",
    "Content-Description: =?utf-8?q?R=C3=A9sum=C3=A9?=\r\n",
    "Content-Language: en, fr\r\n",
    "\r\n",
    "body\r\n",
);

#[test]
fn non_ascii_parameters_and_description() {
    // Without UTF-8: RFC 2231 values under the starred name, an encoded-word description.
    assert_eq!(
        bs(INTL_PARAMS, true, false),
        concat!(
            r#"("TEXT" "PLAIN" ("CHARSET" "utf-8" "NAME*" "utf-8''%E2%82%AC.txt") NIL "=?utf-8?b?UsOpc3Vtw6k=?=""#,
            r#" "7BIT" 6 1 NIL ("ATTACHMENT" ("FILENAME*" "utf-8''x%C3%A9")) ("en" "fr") NIL)"#
        )
    );
    assert_eq!(
        bs(INTL_PARAMS, true, true),
        concat!(
            r#"("TEXT" "PLAIN" ("CHARSET" "utf-8" "NAME" "€.txt") NIL "Résumé""#,
            r#" "7BIT" 6 1 NIL ("ATTACHMENT" ("FILENAME" "xé")) ("en" "fr") NIL)"#
        )
    );
}

#[test]
fn defaults() {
    // No Content-Type at all: text/plain; charset=us-ascii, as the store records it (RFC 2045 §5.2).
    assert_eq!(
        bs("Subject: x\r\n\r\nhello\r\n", true, false),
        r#"("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 7 1 NIL NIL NIL NIL)"#
    );
    // A non-text, non-message leaf has no line count.
    assert_eq!(
        bs(
            "Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0K\r\n",
            false,
            false
        ),
        r#"("IMAGE" "PNG" NIL NIL NIL "BASE64" 10)"#
    );
}

#[test]
fn multipart_without_parts() {
    assert_eq!(
        bs(
            "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x--\r\n",
            true,
            false
        ),
        concat!(
            r#"(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 0 0 NIL NIL NIL NIL)"#,
            r#" "MIXED" ("BOUNDARY" "x") NIL NIL NIL)"#
        )
    );
    assert_eq!(
        String::from_utf8(body_structure(&[], false, false)).unwrap(),
        r#"("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 0 0)"#
    );
}

#[test]
fn message_global_and_encoded_message() {
    assert_eq!(
        bs(
            "Content-Type: message/global\r\n\r\nSubject: x\r\n\r\ny",
            true,
            false
        ),
        concat!(
            r#"("MESSAGE" "GLOBAL" NIL NIL NIL "7BIT" 15 (NIL "x" NIL NIL NIL NIL NIL NIL NIL NIL)"#,
            r#" ("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 1 0 NIL NIL NIL NIL) 2 NIL NIL NIL NIL)"#
        )
    );
    // A message/rfc822 part in base64 is not parsed: the grammar still gets an envelope and a body.
    let raw = concat!(
        "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n",
        "U3ViamVjdDogeA0KDQp5DQo=\r\n"
    );
    assert_eq!(
        bs(raw, false, false),
        concat!(
            r#"("MESSAGE" "RFC822" NIL NIL NIL "BASE64" 26 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"#,
            r#" ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 0 0) 1)"#
        )
    );
}

#[test]
fn corrupt_records_terminate() {
    let multipart = |children: Vec<u32>| Part {
        media_type: "multipart".into(),
        media_subtype: "mixed".into(),
        children,
        ..Part::default()
    };
    // A child that points back at its parent, or past the end, is ignored.
    let parts = vec![multipart(vec![0, 7])];
    assert_eq!(
        String::from_utf8(body_structure(&parts, false, false)).unwrap(),
        r#"(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 0 0) "MIXED")"#
    );
    // A very deep tree stops at MAX_DEPTH.
    let parts: Vec<Part> = (1..=1000).map(|i| multipart(vec![i])).collect();
    let out = body_structure(&parts, true, false);
    let depth = out.iter().take_while(|&&b| b == b'(').count();
    assert_eq!(depth, MAX_DEPTH + 2);
    // End is before start: size 0.
    let parts = vec![Part {
        media_type: "text".into(),
        media_subtype: "plain".into(),
        body_start: 10,
        end: 5,
        ..Part::default()
    }];
    assert_eq!(
        String::from_utf8(body_structure(&parts, false, false)).unwrap(),
        r#"("TEXT" "PLAIN" NIL NIL NIL "7BIT" 0 0)"#
    );
}
