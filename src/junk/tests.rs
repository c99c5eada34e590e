use std::collections::BTreeSet;

use super::*;

fn tokens(message: &str) -> BTreeSet<String> {
    tokenize(&Params::default(), message.as_bytes())
}

fn has(set: &BTreeSet<String>, token: &str) -> bool {
    set.contains(token)
}

#[test]
fn header_words_are_prefixed() {
    let t = tokens(
        "From: Alice Wonder <alice@Example.COM>\r\n\
         To: bob@example.org, Carol <carol@mail.example.net>\r\n\
         Cc: dave@example.net\r\n\
         Reply-To: replies@lists.example\r\n\
         Subject: =?UTF-8?Q?Cheap_Watches_f=C3=BCr_you?=\r\n\
         X-Other: notcounted\r\n\
         \r\n\
         Hello there friend\r\n",
    );
    for want in [
        "from:alice",
        "from:wonder",
        "from:example.com",
        "to:bob",
        "to:example.org",
        "to:carol",
        "to:mail.example.net",
        "cc:dave",
        "reply-to:replies",
        "reply-to:lists.example",
        "subject:cheap",
        "subject:watches",
        "subject:für",
        "subject:you",
        "hello",
        "there",
        "friend",
    ] {
        assert!(has(&t, want), "{want} missing from {t:?}");
    }
    assert!(!t.iter().any(|t| t.contains("notcounted")), "{t:?}");
    assert!(!has(&t, "cheap"), "subject words only with prefix");
}

#[test]
fn html_is_turned_into_text() {
    let t = tokens(
        "Content-Type: text/html; charset=utf-8\r\n\
         \r\n\
         <html><head><style>body { colorful: red }</style></head>\
         <body><p>Click&nbsp;<b>here</b> for <a href=\"http://x.example/\">amazing&amp;offers</a></p>\
         <script>tracker()</script></body></html>\r\n",
    );
    for want in ["click", "here", "for", "amazing", "offers"] {
        assert!(has(&t, want), "{want} missing from {t:?}");
    }
    for not in ["html", "body", "colorful", "tracker", "href", "style"] {
        assert!(!has(&t, not), "{not} in {t:?}");
    }
}

#[test]
fn multipart_alternative_and_nested_message() {
    let t = tokens(
        "From: outer@example.com\r\n\
         Subject: fwd\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
         \r\n\
         --b1\r\n\
         Content-Type: multipart/alternative; boundary=\"b2\"\r\n\
         \r\n\
         --b2\r\n\
         Content-Type: text/plain\r\n\
         \r\n\
         plainversion words\r\n\
         --b2\r\n\
         Content-Type: text/html\r\n\
         \r\n\
         <p>htmlversion words</p>\r\n\
         --b2--\r\n\
         --b1\r\n\
         Content-Type: message/rfc822\r\n\
         \r\n\
         From: inner@sender.example\r\n\
         Subject: innersubject\r\n\
         \r\n\
         innerbody text\r\n\
         --b1\r\n\
         Content-Type: application/octet-stream\r\n\
         Content-Transfer-Encoding: base64\r\n\
         \r\n\
         YmluYXJ5c2VjcmV0\r\n\
         --b1--\r\n",
    );
    for want in [
        "plainversion",
        "htmlversion",
        "words",
        "innerbody",
        "text",
        "innersubject",
        "inner",
        "subject:fwd",
        "from:outer",
    ] {
        assert!(has(&t, want), "{want} missing from {t:?}");
    }
    // An attached message's fields are plain words, not the outer message's fields.
    assert!(!has(&t, "from:inner") && !has(&t, "subject:innersubject"));
    assert!(!has(&t, "from:sender.example"));
    // Binary attachments are not read.
    assert!(!t.iter().any(|t| t.contains("binarysecret")), "{t:?}");
}

#[test]
fn charsets_and_transfer_encodings() {
    let t = tokens(
        "Subject: x\r\n\
         Content-Type: multipart/mixed; boundary=b\r\n\
         \r\n\
         --b\r\n\
         Content-Type: text/plain; charset=iso-8859-1\r\n\
         Content-Transfer-Encoding: quoted-printable\r\n\
         \r\n\
         Gr=FC=DFe aus K=F6ln\r\n\
         --b\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: base64\r\n\
         \r\n\
         0J/RgNC40LLQtdGCINC80LjRgA==\r\n\
         --b--\r\n",
    );
    // "Grüße aus Köln", then "Привет мир" (Russian).
    for want in ["grüße", "aus", "köln", "привет", "мир"] {
        assert!(has(&t, want), "{want} missing from {t:?}");
    }
}

#[test]
fn short_digit_long_and_random_words_are_dropped() {
    let long = "a".repeat(41);
    let max = "b".repeat(40);
    let t = tokens(&format!(
        "Subject: x\r\n\r\n\
         an ox is ok but cat stays; 2002 12345 3.14 mp3 x86 ipv6 win2000 \
         a1b2c3 7106643c34 20020821t 4f3a9c1e {long} {max} ÖL é 日本語のテキスト\r\n"
    ));
    for want in [
        "cat", "stays", "but", "mp3", "x86", "ipv6", "win2000", "öl", &max,
    ] {
        assert!(has(&t, want), "{want} missing from {t:?}");
    }
    for not in [
        "an",
        "ox",
        "is",
        "ok",
        "2002",
        "12345",
        "14",
        "a1b2c3",
        "7106643c34",
        "20020821t",
        "4f3a9c1e",
        &long,
        "é",
    ] {
        assert!(!has(&t, not), "{not} in {t:?}");
    }
    // Unspaced scripts become overlapping character pairs.
    for want in ["日本", "本語", "語の", "のテ", "テキ", "キス", "スト"] {
        assert!(has(&t, want), "{want} missing from {t:?}");
    }
    assert!(!t.iter().any(|t| t.contains("日本語")), "{t:?}");
}

#[test]
fn ngrams_when_enabled() {
    let msg = "Subject: Cheap pills now\r\n\r\nBuy cheap pills, today only!\r\n";
    let t = tokens(msg);
    assert!(!t.iter().any(|t| t.contains(' ')), "{t:?}");

    let params = Params {
        onegrams: false,
        twograms: true,
        threegrams: true,
        ..Params::default()
    };
    let t = tokenize(&params, msg.as_bytes());
    for want in [
        "buy cheap",
        "cheap pills",
        "pills today",
        "buy cheap pills",
        "today only",
        "pills today only",
        "subject:cheap pills",
        "subject:pills now",
        "subject:cheap pills now",
    ] {
        assert!(has(&t, want), "{want} missing from {t:?}");
    }
    assert!(!has(&t, "buy") && !has(&t, "subject:cheap"), "{t:?}");
    // N-grams do not cross from one text to the next.
    assert!(!has(&t, "now buy"), "{t:?}");
}

#[test]
fn garbage_never_panics() {
    let inputs: [&[u8]; 6] = [
        b"",
        b"\xff\xfe\x00garbage words here\x80",
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n--x\r\nContent-Type: message/rfc822\r\n\r\n--x--",
        b"Subject: =?utf-8?B?////?=\r\n\r\nbody",
        b"From: <@@@>\r\nTo: ,,,;:\r\n\r\n",
        b"no header at all, just words",
    ];
    for input in inputs {
        let _ = tokenize(&Params::default(), input);
    }
    let t = tokenize(&Params::default(), b"no header at all, just words");
    assert!(has(&t, "words") || has(&t, "just"), "{t:?}");
}

fn store(words: &[(&str, u32, u32)]) -> MemoryStore {
    let mut s = MemoryStore::new();
    for &(t, ham, spam) in words {
        s.put(t, WordCounts { ham, spam }).unwrap();
    }
    s
}

const TOTALS: Totals = Totals {
    ham: 100,
    spam: 100,
};

fn counts() -> MemoryStore {
    store(&[
        ("viagra", 0, 60),
        ("pills", 1, 40),
        ("cheap", 5, 50),
        ("winner", 2, 30),
        ("meeting", 50, 1),
        ("agenda", 30, 0),
        ("project", 40, 3),
        ("the", 90, 88),
        ("once", 0, 1),
        ("twice", 0, 2),
    ])
}

#[test]
fn spammy_message_is_junk() {
    let p = Params::default();
    let score = classify(&p, TOTALS, &counts(), ["viagra", "pills", "cheap", "the"]).unwrap();
    assert!(score.probability >= p.threshold, "{score:?}");
    assert!(score.is_junk);
    let names: Vec<&str> = score.significant.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(names, ["viagra", "pills", "cheap"], "neutral 'the' ignored");
    assert!(
        (score.significant[0].1 - 0.99).abs() < 1e-9,
        "clamped to 1 - max_power"
    );
}

#[test]
fn hammy_message_is_not_junk() {
    let p = Params::default();
    let score = classify(
        &p,
        TOTALS,
        &counts(),
        ["meeting", "agenda", "project", "cheap"],
    )
    .unwrap();
    assert!(score.probability < 0.01, "{score:?}");
    assert!(!score.is_junk);
}

#[test]
fn unknown_and_rare_words_are_neutral() {
    let p = Params::default();
    let score = classify(
        &p,
        TOTALS,
        &counts(),
        ["never", "seen", "once", "twice", "the"],
    )
    .unwrap();
    assert_eq!(score.probability, 0.5);
    assert!(score.significant.is_empty());
    assert!(!score.is_junk);
}

#[test]
fn top_words_limits_each_side() {
    let p = Params {
        top_words: 1,
        ..Params::default()
    };
    let score = classify(
        &p,
        TOTALS,
        &counts(),
        ["viagra", "cheap", "agenda", "project"],
    )
    .unwrap();
    let names: Vec<&str> = score.significant.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(names, ["viagra", "agenda"]);
    assert!((score.probability - 0.5).abs() < 1e-9, "{score:?}");
}

#[test]
fn untrained_filter_calls_nothing_junk() {
    let p = Params::default();
    let few_ham = Totals { ham: 49, spam: 500 };
    let score = classify(&p, few_ham, &counts(), ["viagra", "pills"]).unwrap();
    assert!(score.probability >= p.threshold);
    assert!(!score.is_junk, "fewer than min_ham_trained ham");
    let empty = classify(&p, Totals::default(), &MemoryStore::new(), ["viagra"]).unwrap();
    assert_eq!(empty.probability, 0.5);
    assert!(!empty.is_junk);
}

#[test]
fn train_then_untrain_restores_state() {
    let p = Params::default();
    let mut s = counts();
    let mut totals = TOTALS;
    let before = (s.clone(), totals);
    let msg = tokenize(
        &p,
        b"Subject: cheap viagra\r\n\r\nA new winner, the pills are cheap!\r\n",
    );
    train(&mut s, &mut totals, &msg, Class::Spam, TrainOp::Train).unwrap();
    assert_eq!(totals.spam, 101);
    assert_eq!(
        s.get("cheap").unwrap(),
        Some(WordCounts { ham: 5, spam: 51 })
    );
    assert_eq!(s.get("new").unwrap(), Some(WordCounts { ham: 0, spam: 1 }));
    train(&mut s, &mut totals, &msg, Class::Spam, TrainOp::Untrain).unwrap();
    assert_eq!((s.clone(), totals), before);

    // Trained as spam, then retrained as ham (untrain as spam, train as ham), then untrained.
    train(&mut s, &mut totals, &msg, Class::Spam, TrainOp::Train).unwrap();
    train(&mut s, &mut totals, &msg, Class::Spam, TrainOp::Untrain).unwrap();
    train(&mut s, &mut totals, &msg, Class::Ham, TrainOp::Train).unwrap();
    assert_eq!(
        totals,
        Totals {
            ham: 101,
            spam: 100
        }
    );
    assert_eq!(
        s.get("viagra").unwrap(),
        Some(WordCounts { ham: 0, spam: 60 }),
        "the body does not say viagra"
    );
    assert_eq!(
        s.get("subject:viagra").unwrap(),
        Some(WordCounts { ham: 1, spam: 0 })
    );
    train(&mut s, &mut totals, &msg, Class::Ham, TrainOp::Untrain).unwrap();
    assert_eq!((s, totals), before);
}

#[test]
fn untraining_never_goes_negative() {
    let mut s = store(&[("one", 1, 0), ("both", 1, 1)]);
    let mut totals = Totals { ham: 1, spam: 0 };
    let msg = ["one", "both", "absent"];
    train(&mut s, &mut totals, msg, Class::Spam, TrainOp::Untrain).unwrap();
    assert_eq!(totals, Totals { ham: 1, spam: 0 });
    assert_eq!(s.get("one").unwrap(), Some(WordCounts { ham: 1, spam: 0 }));
    assert_eq!(s.get("both").unwrap(), Some(WordCounts { ham: 1, spam: 0 }));
    assert_eq!(s.get("absent").unwrap(), None);
    train(&mut s, &mut totals, msg, Class::Ham, TrainOp::Untrain).unwrap();
    train(&mut s, &mut totals, msg, Class::Ham, TrainOp::Untrain).unwrap();
    assert_eq!(totals, Totals::default());
    assert!(s.is_empty(), "0/0 tokens are deleted: {s:?}");

    let mut full = Totals {
        ham: u32::MAX,
        spam: 0,
    };
    let mut s = store(&[("max", u32::MAX, 0)]);
    train(&mut s, &mut full, ["max"], Class::Ham, TrainOp::Train).unwrap();
    assert_eq!(full.ham, u32::MAX);
    assert_eq!(
        s.get("max").unwrap(),
        Some(WordCounts {
            ham: u32::MAX,
            spam: 0
        })
    );
}
