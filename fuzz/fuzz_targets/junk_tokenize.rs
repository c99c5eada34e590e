//! The junk filter's tokenizer on any bytes: it never panics, every token keeps the word rules,
//! and training then untraining the tokens leaves an empty store.
//!
//! Input layout: byte 0 selects the n-grams (bit 0: two-grams, bit 1: three-grams, bit 2: no
//! single words); the rest is the message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use moxide::junk::{self, Class, MemoryStore, Params, Totals, TrainOp};

const FIELDS: [&str; 5] = ["from:", "to:", "cc:", "reply-to:", "subject:"];

fuzz_target!(|data: &[u8]| {
    let [flags, message @ ..] = data else {
        return;
    };
    let params = Params {
        twograms: flags & 1 != 0,
        threegrams: flags & 2 != 0,
        onegrams: flags & 4 == 0,
        ..Params::default()
    };
    let tokens = junk::tokenize(&params, message);
    for token in &tokens {
        let body = FIELDS
            .iter()
            .find_map(|f| token.strip_prefix(f))
            .unwrap_or(token);
        if body.contains('.') {
            // A whole domain from an address field.
            assert!(body.chars().count() <= junk::MAX_WORD, "{token:?}");
            assert!(token.len() > body.len(), "{token:?} without field");
            assert!(
                body.split('.')
                    .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-')),
                "{token:?}"
            );
            continue;
        }
        let words: Vec<&str> = body.split(' ').collect();
        assert!((1..=3).contains(&words.len()), "{token:?}");
        for w in words {
            let n = w.chars().count();
            assert!(n >= 2 && n <= junk::MAX_WORD, "{token:?}");
            assert!(w.chars().all(char::is_alphanumeric), "{token:?}");
            assert!(!w.chars().all(char::is_numeric), "{token:?}");
        }
    }
    let mut store = MemoryStore::new();
    let mut totals = Totals::default();
    let Ok(()) = junk::train(
        &mut store,
        &mut totals,
        &tokens,
        Class::Spam,
        TrainOp::Train,
    );
    let Ok(score) = junk::classify(&params, totals, &store, &tokens);
    assert!((0.0..=1.0).contains(&score.probability));
    let Ok(()) = junk::train(
        &mut store,
        &mut totals,
        &tokens,
        Class::Spam,
        TrainOp::Untrain,
    );
    assert!(store.is_empty() && totals == Totals::default());
});
