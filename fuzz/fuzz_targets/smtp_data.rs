//! The DATA phase reader: fed in chunks it must agree with being fed all at once, never claim
//! more bytes than it was given, and never emit more than the maximum size.
//!
//! Input layout: byte 0 picks the maximum size, byte 1 seeds the chunk sizes, the rest is data.
#![no_main]

use libfuzzer_sys::fuzz_target;
use moxide::protocols::smtp::data::DataReader;

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

/// Feeds `parts` until the end of the message; returns (output, end offset if found, reader).
fn read(parts: &[&[u8]], max: u64) -> (Vec<u8>, Option<usize>, DataReader) {
    let mut r = DataReader::new(max);
    let mut out = Vec::new();
    let mut offset = 0;
    for part in parts {
        let p = r.feed(part, &mut out);
        assert!(
            p.consumed <= part.len(),
            "consumed {} of {}",
            p.consumed,
            part.len()
        );
        assert!(
            p.done || p.consumed == part.len(),
            "stopped early without the end"
        );
        offset += p.consumed;
        if p.done {
            return (out, Some(offset), r);
        }
    }
    (out, None, r)
}

fuzz_target!(|data: &[u8]| {
    let [max, seed, input @ ..] = data else {
        return;
    };
    let max = u64::from(*max) * 4;
    let (out, end, r) = read(&[input], max);
    assert!(
        out.len() as u64 <= max,
        "{} bytes emitted, maximum {max}",
        out.len()
    );
    assert!(out.len() as u64 <= r.size());
    assert_eq!(r.too_large(), r.size() > max);
    let (out2, end2, r2) = read(&chunks(input, *seed), max);
    assert_eq!(out, out2, "chunked output differs");
    assert_eq!(end, end2, "chunked end differs");
    assert_eq!(
        (r.size(), r.bare_line_ending),
        (r2.size(), r2.bare_line_ending)
    );
});
