//! A mailbox name in modified UTF-7 (RFC 3501 §5.1.3): decoding never panics, and since only the
//! canonical form is accepted, what decodes encodes back to the same string.
#![no_main]

use libfuzzer_sys::fuzz_target;
use moxide::protocols::imap::utf7;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(name) = utf7::decode(s) {
        assert_eq!(utf7::encode(&name), s);
    }
    let wire = utf7::encode(s);
    assert_eq!(utf7::decode(&wire).as_deref(), Ok(s));
});
