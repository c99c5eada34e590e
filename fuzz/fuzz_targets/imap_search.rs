//! SEARCH criteria parsed and evaluated against a message: the parser and the evaluator must
//! never panic, whatever the criteria and the message.
//!
//! Input layout: byte 0 is the message's flag bits, then the criteria up to the first LF (what
//! follows `t SEARCH `), then the message file.
#![no_main]

use std::convert::Infallible;

use libfuzzer_sys::fuzz_target;
use moxide::protocols::imap::parse::{CommandKind, parse_command};
use moxide::protocols::imap::search::{Hit, Loaded, SearchContext, matches, respond};
use moxide::store::{Content, Flags, MailboxId, Message, MessageId, ModSeq, Uid, parts};

fuzz_target!(|data: &[u8]| {
    let [flags, rest @ ..] = data else {
        return;
    };
    let split = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    let (criteria, file) = rest.split_at(split);
    let mut line = b"t SEARCH ".to_vec();
    line.extend_from_slice(criteria);
    let Ok(cmd) = parse_command(&line) else {
        return;
    };
    let CommandKind::Search(search) = cmd.kind else {
        return;
    };
    let message = Message {
        id: MessageId(1),
        mailbox: MailboxId(1),
        uid: Uid(7),
        modseq: ModSeq(9),
        createseq: ModSeq(2),
        expunged: false,
        flags: Flags(u16::from(*flags)),
        keywords: vec!["work".into()],
        size: file.len() as u64,
        received: 1_700_000_000,
        saved: 1_700_000_001,
    };
    let ctx = SearchContext {
        max_seq: 3,
        max_uid: Uid(9),
        saved: &[Uid(7)],
        now: 1_700_000_100,
    };
    let load = || {
        Ok::<_, Infallible>(Loaded {
            content: Content {
                prefix: b"Received: by fuzz\r\n".to_vec(),
                file_size: file.len() as u64,
                parts: parts::parse(file),
            },
            file: file.to_vec(),
        })
    };
    if let Ok(true) = matches(&search.key, &ctx, &message, 2, load) {
        let _ = respond("t", &search, &[Hit::of(2, &message)], true);
    }
});
