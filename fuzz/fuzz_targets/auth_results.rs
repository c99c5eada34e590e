//! A received message into `msgauth::results::strip_forged`, which removes the
//! Authentication-Results fields that claim our authserv-id. It must never panic, never add
//! bytes, and leave nothing to remove when run again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use moxide::msgauth::results::strip_forged;

fuzz_target!(|data: &[u8]| {
    let Some(out) = strip_forged(data, "mx.example") else {
        return;
    };
    assert!(out.len() < data.len());
    assert!(strip_forged(&out, "mx.example").is_none());
});
