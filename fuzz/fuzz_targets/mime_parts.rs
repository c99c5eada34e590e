//! The MIME part tree of a message, then what IMAP FETCH takes from it: body sections, BINARY,
//! ENVELOPE and BODYSTRUCTURE.
//!
//! Input layout: byte 0 holds flags (bit 0: a Received prefix comes before the file), byte 1 the
//! length (low 2 bits) of a part path and the section kind (next 3 bits), bytes 2..5 the path
//! numbers; the rest is the message file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use moxide::protocols::imap::binary::BinaryError;
use moxide::protocols::imap::bodystructure::body_structure;
use moxide::protocols::imap::envelope::envelope;
use moxide::protocols::imap::section::MessageView;
use moxide::protocols::imap::types::{Section, SectionPart};
use moxide::store::parts;

const PREFIX: &[u8] = b"Received: from client.example by mx.example\r\n";

fn spec(kind: u8) -> Option<SectionPart> {
    match kind % 6 {
        0 => None,
        1 => Some(SectionPart::Header),
        2 => Some(SectionPart::Text),
        3 => Some(SectionPart::Mime),
        4 => Some(SectionPart::HeaderFields(vec![
            "subject".into(),
            "FROM".into(),
        ])),
        _ => Some(SectionPart::HeaderFieldsNot(vec!["Received".into()])),
    }
}

fuzz_target!(|data: &[u8]| {
    let [flags, shape, a, b, c, file @ ..] = data else {
        return;
    };
    let prefix = if flags & 1 != 0 { PREFIX } else { b"" };
    let parts = parts::parse(file);
    assert!(!parts.is_empty(), "no root part");
    for (i, p) in parts.iter().enumerate() {
        // Parts are listed root first, children after their parent: no cycles.
        for &child in &p.children {
            assert!(
                (child as usize) > i && (child as usize) < parts.len(),
                "part {i} has child {child}"
            );
        }
        // Not promised by mail-parser, but held in every run so far; section.rs clamps offsets,
        // so a failure here means wrong FETCH bytes, not a crash.
        assert!(
            p.header_start <= p.body_start && p.body_start <= p.end && p.end as usize <= file.len(),
            "part {i}: offsets {} {} {} in {} bytes",
            p.header_start,
            p.body_start,
            p.end,
            file.len()
        );
    }
    let view = MessageView {
        prefix,
        file,
        parts: &parts,
    };
    let whole = view
        .section(&Section::default())
        .expect("the whole message");
    assert_eq!(whole.len(), prefix.len() + file.len());
    assert!(whole.starts_with(prefix) && whole.ends_with(file));
    let total = prefix.len() + file.len();
    let check = |section: Section| {
        if let Some(bytes) = view.section(&section) {
            // HEADER.FIELDS adds a CRLF; everything else is a slice of the message.
            assert!(
                bytes.len() <= total + 2,
                "{section:?}: {} bytes of {total}",
                bytes.len()
            );
        }
    };
    for path in [&[][..], &[1], &[2], &[1, 1], &[2, 1], &[1, 2, 1]] {
        for kind in 0..6 {
            check(Section {
                part: path.to_vec(),
                spec: spec(kind),
            });
        }
        match view.binary(path) {
            // Decoding never grows data by more than the CRLFs it may add to text.
            Ok(bytes) => assert!(bytes.len() <= 2 * total, "BINARY{path:?}: {}", bytes.len()),
            Err(BinaryError::NoSuchPart | BinaryError::Multipart | BinaryError::UnknownCte(_)) => {}
        }
    }
    for utf8 in [false, true] {
        for extensions in [false, true] {
            let structure = body_structure(&parts, extensions, utf8);
            assert!(structure.starts_with(b"(") && structure.ends_with(b")"));
        }
        let env = envelope(&parts, utf8);
        assert!(env.starts_with(b"(") && env.ends_with(b")"));
    }
    let len = usize::from(shape & 3);
    let path: Vec<u32> = [a, b, c]
        .iter()
        .take(len)
        .map(|&&n| u32::from(n % 8))
        .collect();
    check(Section {
        part: path,
        spec: spec(shape >> 2),
    });
});
