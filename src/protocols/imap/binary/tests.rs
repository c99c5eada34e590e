use super::*;
use crate::protocols::imap::fixtures;
use crate::store::parts::{self, Part};

fn with_view<T>(raw: &str, prefix: &[u8], f: impl FnOnce(&MessageView<'_>) -> T) -> T {
    let parts = parts::parse(raw.as_bytes());
    f(&MessageView {
        prefix,
        file: raw.as_bytes(),
        parts: &parts,
    })
}

const PDF: &[u8] = b"%PDF-1.4\n%\xc7\xec\x8f\xa2\n5 0 obj\n<</Length 6 0 R>>\nstream\n";

#[test]
fn base64_attachment_is_decoded_as_is() {
    with_view(fixtures::MIXED, b"Received: x\r\n", |v| {
        // Not text: its LFs stay LFs.
        assert_eq!(v.binary(&[2]).unwrap(), PDF);
        assert_eq!(v.binary_size(&[2]), Ok(48));
        assert_eq!(v.binary(&[1]).unwrap(), b"See the attached report.");
        assert_eq!(v.binary(&[3]), Err(BinaryError::NoSuchPart));
        assert_eq!(v.binary(&[1, 1]), Err(BinaryError::NoSuchPart));
        // The whole message, prefix included, unchanged.
        let whole = v.binary(&[]).unwrap();
        assert_eq!(
            whole,
            format!("Received: x\r\n{}", fixtures::MIXED).as_bytes()
        );
        assert_eq!(v.binary_size(&[]), Ok(13 + 725));
    });
}

#[test]
fn quoted_printable_text() {
    with_view(fixtures::ALTERNATIVE, b"", |v| {
        assert_eq!(
            v.binary(&[1]).unwrap(),
            "Café at 3?\r\n= see you\r\n".as_bytes()
        );
        assert_eq!(v.binary_size(&[1]), Ok(24));
        assert_eq!(v.binary(&[2]).unwrap(), "<p>Café at 3?</p>\r\n".as_bytes());
        assert_eq!(v.binary_size(&[2]), Ok(20));
    });
}

#[test]
fn nested_message_parts() {
    with_view(fixtures::NESTED, b"", |v| {
        // The message/rfc822 part is the forwarded message; its part 1 the decoded text.
        let inner = v.binary(&[2]).unwrap();
        assert!(inner.starts_with(b"From: Carol <carol@example.net>\r\n"));
        assert_eq!(inner.len(), 253);
        assert_eq!(v.binary(&[2, 1]).unwrap(), b"Numbers are up.");
    });
}

#[test]
fn single_part_message_has_part_one() {
    with_view(fixtures::SIMPLE, b"Received: x\r\n", |v| {
        assert_eq!(
            v.binary(&[1]).unwrap(),
            b"Shall we meet at noon?\r\nAlice\r\n"
        );
        assert_eq!(v.binary(&[2]), Err(BinaryError::NoSuchPart));
    });
}

#[test]
fn text_gets_crlf_line_ends() {
    let raw = concat!(
        "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n",
        "bGluZSBvbmUKbGluZSB0d28K\r\n"
    );
    with_view(raw, b"", |v| {
        assert_eq!(v.binary(&[1]).unwrap(), b"line one\r\nline two\r\n");
        assert_eq!(v.binary_size(&[1]), Ok(20));
    });
    assert_eq!(crlf(b"a\nb\r\nc\rd\r"), b"a\r\nb\r\nc\r\nd\r\n");
    assert_eq!(crlf(b"\n\n"), b"\r\n\r\n");
}

#[test]
fn multipart_and_unknown_encodings_are_errors() {
    let raw = concat!(
        "Content-Type: multipart/mixed; boundary=a\r\n\r\n",
        "--a\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n",
        "--b\r\n\r\nx\r\n--b--\r\n",
        "--a\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n",
        "begin 644 x\r\n`\r\nend\r\n",
        "--a--\r\n"
    );
    with_view(raw, b"", |v| {
        assert_eq!(v.binary(&[1]), Err(BinaryError::Multipart));
        assert_eq!(v.binary(&[1, 1]).unwrap(), b"x");
        assert_eq!(
            v.binary(&[2]),
            Err(BinaryError::UnknownCte("x-uuencode".into()))
        );
        assert_eq!(
            v.binary_size(&[2]),
            Err(BinaryError::UnknownCte("x-uuencode".into()))
        );
    });
}

#[test]
fn base64_is_tolerant() {
    assert_eq!(decode_base64(b"SGVs\r\nbG8="), b"Hello");
    assert_eq!(decode_base64(b"SGVsbG8"), b"Hello");
    assert_eq!(decode_base64(b"S G*V.s\tb\x00G\xff8"), b"Hello");
    // Pieces encoded apart and put together.
    assert_eq!(decode_base64(b"SGk=SGk="), b"HiHi");
    assert_eq!(decode_base64(b"QQ==QkI="), b"ABB");
    // A lone sextet carries no whole byte.
    assert_eq!(decode_base64(b"SGk=S"), b"Hi");
    assert_eq!(decode_base64(b""), b"");
    assert_eq!(decode_base64(b"===="), b"");
}

#[test]
fn quoted_printable_is_tolerant() {
    let qp = |s: &[u8]| decode_quoted_printable(s);
    assert_eq!(qp(b"a=3Db"), b"a=b");
    assert_eq!(qp(b"=c3=A9t=C3=a9"), "été".as_bytes());
    assert_eq!(qp(b"soft=\r\nbreak"), b"softbreak");
    assert_eq!(qp(b"soft=\nbreak"), b"softbreak");
    assert_eq!(qp(b"soft= \t\r\nbreak"), b"softbreak");
    assert_eq!(qp(b"trailing \t\r\nspace  "), b"trailing\r\nspace");
    assert_eq!(qp(b"in the  middle"), b"in the  middle");
    assert_eq!(qp(b"bad=ZZ and =4"), b"bad=ZZ and =4");
    assert_eq!(qp(b"end="), b"end");
    assert_eq!(qp(b"= x"), b"= x");
    assert_eq!(qp(b"8bit \xff stays"), b"8bit \xff stays");
}

#[test]
fn write_binary_uses_literal8_only_for_nul() {
    let mut out = Vec::new();
    write_binary(&mut out, b"abc\xff");
    assert_eq!(out, b"{4}\r\nabc\xff");
    let mut out = Vec::new();
    write_binary(&mut out, b"a\0b");
    assert_eq!(out, b"~{3}\r\na\0b");
    let mut out = Vec::new();
    write_binary(&mut out, b"");
    assert_eq!(out, b"{0}\r\n");
}

#[test]
fn corrupt_offsets_never_panic() {
    let parts = vec![Part {
        media_type: "text".into(),
        media_subtype: "plain".into(),
        transfer_encoding: Some("base64".into()),
        header_start: 50,
        body_start: 900,
        end: 3,
        ..Part::default()
    }];
    let v = MessageView {
        prefix: b"",
        file: b"short",
        parts: &parts,
    };
    assert_eq!(v.binary(&[1]).unwrap(), b"");
}

#[test]
fn random_input_never_panics() {
    let mut seed = 0x2545F4914F6CDD1Du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let alphabet: &[u8] = b"=\r\n \t0123456789ABCDEFabcdefXYZ+/-~\x00\xff";
    for _ in 0..20_000 {
        let len = (next() % 64) as usize;
        let input: Vec<u8> = (0..len)
            .map(|_| {
                let r = next();
                if r % 3 == 0 {
                    r as u8
                } else {
                    alphabet[(r >> 8) as usize % alphabet.len()]
                }
            })
            .collect();
        let _ = decode_base64(&input);
        let _ = decode_quoted_printable(&input);
        let _ = crlf(&input);
        // Random messages through the stored part tree and random part paths.
        let parts = parts::parse(&input);
        let v = MessageView {
            prefix: b"P: x\r\n",
            file: &input,
            parts: &parts,
        };
        let path: Vec<u32> = (0..next() % 4).map(|_| (next() % 4) as u32).collect();
        let _ = v.binary(&path);
    }
}
