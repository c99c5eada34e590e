use super::*;

const MAX: usize = 1 << 20;

fn datas(entries: &[Entry]) -> Vec<&[u8]> {
    entries.iter().map(|e| e.data.as_slice()).collect()
}

#[test]
fn splits_at_from_lines_and_drops_the_separating_empty_line() {
    let mbox = b"From a@example.org Tue Nov 14 22:13:20 2023\n\
Subject: one\n\
\n\
body\n\
\n\
From b@example.org Tue Nov 14 22:13:21 2023\n\
Subject: two\n\
\n\
\n\
\n\
From c@example.org Tue Nov 14 22:13:22 2023\n\
Subject: three, empty body\n\
\n\
\n";
    let entries = split(mbox, MAX);
    assert_eq!(
        datas(&entries),
        [
            &b"Subject: one\r\n\r\nbody\r\n"[..],
            b"Subject: two\r\n\r\n\r\n",
            b"Subject: three, empty body\r\n\r\n",
        ]
    );
    assert_eq!(
        entries.iter().map(|e| e.line).collect::<Vec<_>>(),
        [1, 6, 11]
    );
    assert_eq!(entries[0].received(), Some(1_700_000_000));
    assert_eq!(entries[2].received(), Some(1_700_000_002));
    assert_eq!(
        entries[1].from_line.as_deref(),
        Some(&b"From b@example.org Tue Nov 14 22:13:21 2023"[..])
    );
    for e in &entries {
        assert_eq!(e.size, e.data.len() as u64);
    }
}

#[test]
fn mboxrd_quoting_is_undone_on_reading_and_added_on_writing() {
    let mbox = b"From x Tue Nov 14 22:13:20 2023\n\
\n\
>From the start\n\
>>From quoted once\n\
>>>From twice\n\
> From not quoted\n\
>Fromage\n\
From: not a From_ line either? It is: it starts with \"From \".\n";
    let entries = split(mbox, MAX);
    // "From: " does not start with "From " (the colon), so it stays in the message.
    assert_eq!(entries.len(), 1);
    let original = b"\r\n\
From the start\r\n\
>From quoted once\r\n\
>>From twice\r\n\
> From not quoted\r\n\
>Fromage\r\n\
From: not a From_ line either? It is: it starts with \"From \".\r\n";
    assert_eq!(entries[0].data, original);

    let mut out = Vec::new();
    write_message(&mut out, original, 1_700_000_000, Flags::empty()).unwrap();
    assert_eq!(
        out,
        b"From MAILER-DAEMON Tue Nov 14 22:13:20 2023\n\
\n\
>From the start\n\
>>From quoted once\n\
>>>From twice\n\
> From not quoted\n\
>Fromage\n\
From: not a From_ line either? It is: it starts with \"From \".\n\
\n"
    );
    assert_eq!(datas(&split(&out, MAX)), [&original[..]]);
}

#[test]
fn a_file_without_a_final_newline_keeps_its_last_line() {
    let entries = split(
        b"From x Tue Nov 14 22:13:20 2023\nSubject: a\n\nlast line",
        MAX,
    );
    assert_eq!(datas(&entries), [&b"Subject: a\r\n\r\nlast line"[..]]);
    // Written back, it gets the newline an mbox needs.
    let mut out = Vec::new();
    write_message(&mut out, &entries[0].data, 0, Flags::empty()).unwrap();
    assert!(out.ends_with(b"\nlast line\n\n"));
    assert_eq!(
        datas(&split(&out, MAX)),
        [&b"Subject: a\r\n\r\nlast line\r\n"[..]]
    );
}

#[test]
fn crlf_input_keeps_its_line_endings() {
    let mbox = b"From x Tue Nov 14 22:13:20 2023\r\n\
Subject: a\r\n\
\r\n\
body\r\n\
\r\n\
From y Tue Nov 14 22:13:20 2023\r\n\
Subject: b\n\
\n\
mixed\r\n";
    assert_eq!(
        datas(&split(mbox, MAX)),
        [
            &b"Subject: a\r\n\r\nbody\r\n"[..],
            b"Subject: b\r\n\r\nmixed\r\n"
        ]
    );
    let entries = split(mbox, MAX);
    assert_eq!(
        entries[0].from_line.as_deref(),
        Some(&b"From x Tue Nov 14 22:13:20 2023"[..])
    );
    // A bare CR is not a line ending: it stays.
    assert_eq!(datas(&split(b"From x\na\rb\n", MAX)), [&b"a\rb\r\n"[..]]);
}

#[test]
fn empty_messages_and_text_before_the_first_from_line() {
    assert!(split(b"", MAX).is_empty());
    assert!(
        split(b"\n\r\n\n", MAX).is_empty(),
        "blank lines are no message"
    );
    let entries = split(b"\n\nFrom x\n\nFrom y\n", MAX);
    assert_eq!(datas(&entries), [&b""[..], b""]);
    let entries = split(b"Subject: no From_ line\n\nbody\nFrom x\nSubject: x\n", MAX);
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].from_line, None);
    assert_eq!(entries[0].data, b"Subject: no From_ line\r\n\r\nbody\r\n");
    assert_eq!(entries[0].received(), None);
    assert_eq!(entries[1].data, b"Subject: x\r\n");
    // An empty message is written as a From_ line and the empty line.
    let mut out = Vec::new();
    write_message(&mut out, b"", 0, Flags::empty()).unwrap();
    assert_eq!(out, b"From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n\n");
    assert_eq!(datas(&split(&out, MAX)), [&b""[..]]);
}

#[test]
fn oversized_messages_are_counted_not_kept() {
    let big = format!(
        "From x\nSubject: big\n\n{}\n\nFrom y\nSubject: small\n",
        "a".repeat(100)
    );
    let entries = split(big.as_bytes(), 60);
    assert_eq!(entries.len(), 2);
    assert!(entries[0].oversized && entries[0].data.is_empty());
    assert_eq!(entries[0].size, 14 + 2 + 102 + 2);
    assert!(!entries[1].oversized);
    assert_eq!(entries[1].data, b"Subject: small\r\n");
}

#[test]
fn line_reader_caps_lines() {
    let input = b"short\nmuch longer line\nend";
    let mut r = LineReader::new(io::BufReader::with_capacity(4, &input[..]), 8);
    let mut line = Vec::new();
    let mut got = Vec::new();
    while let Some(cut) = r.next_line(&mut line).unwrap() {
        got.push((String::from_utf8(line.clone()).unwrap(), cut));
    }
    assert_eq!(
        got,
        [
            ("short\n".to_string(), 0),
            ("much lon\n".to_string(), 8),
            ("end".to_string(), 0)
        ]
    );
    // The splitter counts what was cut.
    let mut s = Splitter::new(10);
    assert_eq!(s.push_line(b"From x\n", 0), None);
    assert_eq!(s.push_line(b"much lon\n", 8), None);
    let e = s.finish().unwrap();
    assert!(e.oversized);
    assert_eq!(e.size, 17 + 1);
}

#[test]
fn flags_from_status_fields() {
    let m = b"Subject: x\r\nStatus: RO\r\nX-Status: AF\r\n\r\nStatus: D\r\n";
    assert_eq!(
        status_flags(m),
        Flags::SEEN.union(Flags::ANSWERED).union(Flags::FLAGGED)
    );
    assert_eq!(
        status_flags(b"status: O\nx-status: TD\n\n"),
        Flags::DRAFT.union(Flags::DELETED)
    );
    assert_eq!(status_flags(b"Subject: Status: R\n\n"), Flags::empty());
    assert_eq!(status_flags(b""), Flags::empty());
}

#[test]
fn flags_are_written_in_place_of_the_messages_own_status_fields() {
    let m =
        b"Subject: x\r\nStatus: O\r\nX-Status: F\r\n  folded\r\nTo: a@b\r\n\r\nStatus: body\r\n";
    let mut out = Vec::new();
    let flags = Flags::SEEN.union(Flags::ANSWERED).union(Flags::DELETED);
    write_message(&mut out, m, 1_700_000_000, flags).unwrap();
    assert_eq!(
        out,
        b"From MAILER-DAEMON Tue Nov 14 22:13:20 2023\n\
Status: RO\n\
X-Status: AD\n\
Subject: x\n\
To: a@b\n\
\n\
Status: body\n\
\n"
    );
    let entries = split(&out, MAX);
    assert_eq!(entries[0].flags(), flags);
    assert_eq!(entries[0].received(), Some(1_700_000_000));
}

#[test]
fn from_line_dates() {
    let d = |s: &str| from_line_date(s.as_bytes());
    assert_eq!(d("From a@b Tue Nov 14 22:13:20 2023"), Some(1_700_000_000));
    assert_eq!(d("From a@b  Tue Nov 14 22:13:20 2023"), Some(1_700_000_000));
    assert_eq!(d("From MAILER-DAEMON Thu Jan  1 00:00:00 1970"), Some(0));
    assert_eq!(
        d("From a@b Tue Nov 14 23:13:20 2023 +0100"),
        Some(1_700_000_000)
    );
    assert_eq!(
        d("From a@b Tue Nov 14 23:13:20 +0100 2023"),
        Some(1_700_000_000)
    );
    assert_eq!(
        d("From a@b Tue Nov 14 21:13:20 -0100 2023"),
        Some(1_700_000_000)
    );
    assert_eq!(d("From a@b Tue Nov 14 22:13 2023"), Some(1_699_999_980));
    assert_eq!(d("From a@b Nov 14 22:13:20 2023"), Some(1_700_000_000));
    for bad in [
        "From a@b",
        "From a@b yesterday",
        "From a@b Tue Nov 44 22:13:20 2023",
        "From a@b Tue Nov 14 25:13:20 2023",
        "From a@b Tue Nov 14 22:13:20",
        "From a@b Tue Nov 14 22:13:20 +01:00 20x3",
    ] {
        assert_eq!(d(bad), None, "{bad}");
    }
    assert_eq!(from_line_date(b"From a@b \xff Nov"), None);
    assert_eq!(asctime(1_700_000_000), "Tue Nov 14 22:13:20 2023");
    assert_eq!(asctime(86_400 * 3), "Sun Jan  4 00:00:00 1970");
}
