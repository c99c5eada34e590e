//! The IMAP receiver (lines and literals) fed in chunks, and the command parser on every command
//! it assembles.
//!
//! Input layout: byte 0 picks the literal limit, byte 1 seeds the chunk sizes, the rest is what
//! the client sends.
#![no_main]

use libfuzzer_sys::fuzz_target;
use moxide::protocols::imap::parse::{CommandKind, parse_command};
use moxide::protocols::imap::receiver::{Event, Receiver};
use moxide::protocols::imap::types::FetchItem;

fn chunks(data: &[u8], seed: u8) -> Vec<&[u8]> {
    if seed == 0 {
        return vec![data];
    }
    let mut state = u32::from(seed) | 0x100;
    let mut rest = data;
    let mut out = Vec::new();
    while !rest.is_empty() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let n = (state as usize % 32 + 1).min(rest.len());
        let (chunk, tail) = rest.split_at(n);
        out.push(chunk);
        rest = tail;
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let [max_literal, seed, input @ ..] = data else {
        return;
    };
    let mut r = Receiver::new(usize::from(*max_literal) * 4);
    for chunk in chunks(input, *seed) {
        r.receive(chunk);
        while let Some(event) = r.next_event() {
            match event {
                Event::Command(bytes) => match parse_command(&bytes) {
                    Ok(cmd) => {
                        if let CommandKind::Fetch { items, .. } = &cmd.kind {
                            for item in items {
                                if let FetchItem::Body { section, .. } = item {
                                    let _ = section.to_wire();
                                }
                            }
                        }
                        let _ = format!("{cmd:?}");
                    }
                    Err(e) => {
                        let _ = e.to_string();
                    }
                },
                Event::Continue | Event::Refused { .. } => {}
                // The connection is closed after this.
                Event::Fatal(_) => return,
            }
        }
    }
});
