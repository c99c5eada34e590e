//! Domain and address parsing (IDNA included).
#![no_main]

use libfuzzer_sys::fuzz_target;
use moxide::address::{Address, Domain};
use moxide::protocols::smtp::command::{parse_mailbox, parse_path};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(d) = Domain::parse(s) {
        assert!(!d.ascii().is_empty() && d.ascii().len() <= 253);
        assert!(d.ascii().is_ascii());
        // The ASCII form is a fixed point.
        let again = Domain::parse(d.ascii()).expect("the ASCII form of a domain parses");
        assert_eq!(again.ascii(), d.ascii());
        let _ = (d.to_string(), d.log_ascii());
    }
    if let Ok(a) = Address::parse_simple(s) {
        let _ = (
            a.to_string(),
            a.lookup_key(),
            a.log_ascii(),
            a.localpart.needs_quotes(),
        );
    }
    let _ = parse_mailbox(s);
    let _ = parse_path(s);
});
