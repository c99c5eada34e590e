//! mbox files for `moxctl import`: splitting never panics, sizes add up, and a message written
//! back (mboxrd) reads as exactly one message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use moxide::store::mbox;

fuzz_target!(|data: &[u8]| {
    for entry in mbox::split(data, 4096) {
        if entry.oversized {
            assert!(entry.size > 4096 && entry.data.is_empty());
            continue;
        }
        assert_eq!(entry.size, entry.data.len() as u64);
        let _ = entry.flags();
        let _ = entry.received();
        let mut out = Vec::new();
        mbox::write_message(&mut out, &entry.data, entry.received().unwrap_or(0), entry.flags())
            .expect("writing to memory");
        assert_eq!(mbox::split(&out, usize::MAX).len(), 1, "{out:?}");
    }
});
