"""A message travels SMTP -> account -> IMAP, checked with Python's smtplib and imaplib."""

import concurrent.futures
import imaplib
import re
import smtplib

MESSAGE = (
    b"From: Sender <sender@example.org>\r\n"
    b"To: mox@localhost\r\n"
    b"Subject: caf\xc3\xa9\r\n"
    b"Message-ID: <m1@example.org>\r\n"
    b"\r\n"
    b"Hello.\r\n"
    b".a line starting with a dot\r\n"
    b"\r\n"
)


def send(port, msg=MESSAGE, rcpts=("mox@localhost",), sender="sender@example.org"):
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.ehlo("client.example")
        return s.sendmail(sender, list(rcpts), msg)


def imap_login(server):
    c = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=30)
    c.login("mox@localhost", "moxmoxmox")
    return c


def select_highestmodseq(c, mailbox="INBOX"):
    typ, data = c.select(mailbox)
    assert typ == "OK", data
    codes = c.untagged_responses.get("HIGHESTMODSEQ", [])
    return int(codes[-1]) if codes else None


def test_message_read_back_byte_for_byte(localserve):
    assert send(localserve.ports["smtp"]) == {}
    c = imap_login(localserve)
    highest = select_highestmodseq(c)
    typ, data = c.uid("FETCH", "1:*", "(UID FLAGS RFC822.SIZE MODSEQ BODY.PEEK[])")
    assert typ == "OK"
    meta, body = data[0]
    m = re.search(rb"UID (\d+) FLAGS \(\) RFC822.SIZE (\d+) MODSEQ \((\d+)\)", meta)
    assert m, meta
    uid, size, modseq = int(m.group(1)), int(m.group(2)), int(m.group(3))
    assert uid == 1
    # The message is what was sent, after the trace header (RFC 5321 §4.4) and the
    # authentication results (RFC 8601) the server adds.
    assert body.startswith(b"Received: from client.example (127.0.0.1)\r\n\tby localhost (moxide) with ESMTP")
    assert body.endswith(MESSAGE)
    header = body[: len(body) - len(MESSAGE)]
    fields = re.split(rb"\r\n(?![\t ])", header.rstrip(b"\r\n"))
    assert [f.split(b":")[0] for f in fields] == [b"Received", b"Authentication-Results"], fields
    # localserve without a [dns] section asks no name server: nothing is checked.
    assert fields[1] == b"Authentication-Results: localhost; none (localserve without DNS)"
    assert size == len(body)
    assert modseq > 1
    assert modseq == highest
    c.logout()


def test_fetch_sets_seen_and_takes_a_new_modseq(localserve):
    send(localserve.ports["smtp"])
    c = imap_login(localserve)
    select_highestmodseq(c)
    typ, data = c.fetch("1", "(MODSEQ)")
    before = int(re.search(rb"MODSEQ \((\d+)\)", data[0]).group(1))
    typ, data = c.fetch("1", "(BODY[TEXT])")
    assert typ == "OK"
    meta = data[0][0] + data[1]
    assert b"\\Seen" in meta, data
    after = int(re.search(rb"MODSEQ \((\d+)\)", meta).group(1))
    assert after > before
    # A second FETCH changes nothing and takes no modseq.
    typ, data = c.fetch("1", "(BODY[TEXT] MODSEQ)")
    assert int(re.search(rb"MODSEQ \((\d+)\)", data[1]).group(1)) == after
    assert data[0][1] == b"Hello.\r\n.a line starting with a dot\r\n\r\n"
    c.logout()


def test_many_concurrent_deliveries_keep_modseqs_unique(localserve):
    n = 60

    def one(i):
        msg = MESSAGE.replace(b"<m1@", b"<m%d@" % i)
        return send(localserve.ports["smtp"], msg)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert all(r == {} for r in pool.map(one, range(n)))
    c = imap_login(localserve)
    highest = select_highestmodseq(c)
    typ, data = c.uid("FETCH", "1:*", "(UID MODSEQ BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    rows = [d for d in data if isinstance(d, tuple)]
    assert len(rows) == n
    uids, modseqs, ids = [], [], set()
    for meta, header in rows:
        m = re.search(rb"UID (\d+) MODSEQ \((\d+)\)", meta)
        uids.append(int(m.group(1)))
        modseqs.append(int(m.group(2)))
        ids.add(header)
    assert uids == sorted(uids) and len(set(uids)) == n
    # Uids are handed out in commit order, and so are modseqs: both strictly increase together.
    assert modseqs == sorted(modseqs) and len(set(modseqs)) == n
    assert max(modseqs) == highest
    assert len(ids) == n
    c.logout()


def test_submission_needs_login_and_delivers(localserve):
    with smtplib.SMTP("127.0.0.1", localserve.ports["submission"], timeout=30) as s:
        s.ehlo("client.example")
        assert s.has_extn("auth")
        code, _ = s.mail("mox@localhost")
        assert code == 530
        s.rset()
        try:
            s.login("mox@localhost", "wrong")
            raise AssertionError("wrong password accepted")
        except smtplib.SMTPAuthenticationError as e:
            assert e.smtp_code == 535
        s.login("mox@localhost", "moxmoxmox")
        assert s.sendmail("mox@localhost", ["anyone@example.com"], MESSAGE) == {}
    c = imap_login(localserve)
    c.select("INBOX")
    typ, data = c.uid("FETCH", "1", "(BODY.PEEK[])")
    assert b"with ESMTPA" in data[0][1]
    c.logout()


def test_oversized_message_gets_552_and_is_not_stored(tmp_path, start_localserve):
    ls = tmp_path / "ls"
    ls.mkdir()
    (ls / "moxide.toml").write_text(
        'hostname = "localhost"\n'
        "[listeners.local]\n"
        'ips = ["127.0.0.1"]\n'
        "smtp = { port = 1025, max_message_size = 1000 }\n"
        "submission = { port = 1587 }\n"
        "imap = { port = 1143 }\n"
    )
    server = start_localserve(ls)
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as s:
        s.ehlo("client.example")
        assert "1000" in s.esmtp_features["size"]
        big = b"Subject: big\r\n\r\n" + b"x" * 70 + b"\r\n"
        big = big * 20
        # smtplib declares the size (RFC 1870), so the refusal comes at MAIL.
        try:
            s.sendmail("a@example.org", ["mox@localhost"], big)
            raise AssertionError("oversized message accepted")
        except smtplib.SMTPSenderRefused as e:
            assert e.smtp_code == 552
        # The connection survives and a small message still goes through.
        assert s.sendmail("a@example.org", ["mox@localhost"], MESSAGE) == {}
    c = imap_login(server)
    c.select("INBOX")
    typ, data = c.fetch("1:*", "(UID)")
    assert len(data) == 1, data
    c.logout()


def test_non_ascii_addresses_are_logged_in_both_forms(localserve):
    msg = b"From: x@example.org\r\nSubject: utf8\r\n\r\nhi\r\n"
    with smtplib.SMTP("127.0.0.1", localserve.ports["smtp"], timeout=30) as s:
        s.ehlo("client.example")
        s.sendmail("sender@example.org", ["δοκιμή@παράδειγμα.δοκιμή"], msg, mail_options=["SMTPUTF8"])
    log = localserve.log()
    assert "rcpt=δοκιμή@παράδειγμα.δοκιμή" in log, log
    assert "rcpt_ascii=δοκιμή@xn--hxajbheg2az3al.xn--jxalpdlp" in log, log
