//! Server bytes to the SMTP client's `ReplyParser`, in chunks (the first byte sets their size)
//! and whole: it must never panic and both ways must read the same replies. Each reply also goes
//! through `Capabilities::parse` and the error text the queue shows.
#![no_main]

use libfuzzer_sys::fuzz_target;
use moxide::protocols::smtp::Reply;
use moxide::protocols::smtp::client::{Capabilities, ClientError, ReplyParser, Step};

fn parse(input: &[u8], chunk: usize) -> (Vec<Reply>, bool) {
    let mut parser = ReplyParser::default();
    let mut buf = Vec::new();
    let mut replies = Vec::new();
    for piece in input.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match parser.feed(&buf) {
                Ok((reply, used)) => {
                    buf.drain(..used);
                    match reply {
                        Some(r) => replies.push(r),
                        None => break,
                    }
                }
                Err(_) => return (replies, true),
            }
        }
    }
    (replies, false)
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(first).max(1);
    let (chunked, chunked_err) = parse(input, chunk);
    let (whole, whole_err) = parse(input, input.len().max(1));
    assert_eq!(chunked_err, whole_err);
    assert_eq!(chunked, whole);
    for reply in whole {
        assert!((200..600).contains(&reply.code));
        let _ = Capabilities::parse(&reply);
        let e = ClientError::Reply {
            step: Step::Rcpt,
            reply,
        };
        let _ = (e.to_string(), e.is_permanent());
    }
});
