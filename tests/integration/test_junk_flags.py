"""AutomaticJunkFlags and junk filter training through IMAP (imaplib): moving to Junk sets $Junk
and trains as spam, moving on to Archive untrains and trains as ham, STORE and EXPUNGE untrain,
a copy trains on its own; the counts are read back with `moxctl junk stats` after each step."""

import imaplib
import re
import smtplib

import pytest

from conftest import PASSWORD, SERVE_DYNAMIC, moxctl

DYNAMIC = SERVE_DYNAMIC + "\n[accounts.mjl.automatic_junk_flags]\nenabled = true\n"


def stats(server):
    r = moxctl("--config", str(server.config), "junk", "stats", "mjl")
    assert r.returncode == 0, r.stderr
    return {k: int(v) for k, v in (line.split() for line in r.stdout.splitlines())}


def flags(c, uid):
    typ, data = c.uid("FETCH", uid, "(FLAGS)")
    assert typ == "OK", data
    return set(re.search(rb"FLAGS \(([^)]*)\)", data[0]).group(1).decode().split())


def only_uid(c):
    typ, data = c.uid("SEARCH", "ALL")
    [uid] = data[0].split()
    return uid.decode()


@pytest.fixture
def junk_server(serve):
    server = serve(dynamic=DYNAMIC)
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as s:
        s.ehlo("client.example")
        s.sendmail("someone@example.org", ["mjl@moxide.test"],
                   b"From: someone@example.org\r\nSubject: cheap pills offer\r\n\r\n"
                   b"buy cheap pills today, limited offer on pharmacy products\r\n")
    return server


def test_moves_store_and_expunge_train_and_untrain(junk_server):
    server = junk_server
    c = imaplib.IMAP4("127.0.0.1", server.ports["imap"])
    c.login("mjl@moxide.test", PASSWORD)
    c.select("INBOX")
    uid = only_uid(c)
    # Delivered to INBOX (neutral): no flag, no training.
    assert not flags(c, uid) & {"$Junk", "$NotJunk"}
    assert stats(server) == {"ham_messages": 0, "spam_messages": 0, "words": 0, "trained_ham": 0, "trained_spam": 0}

    # Into Junk: $Junk, trained as spam.
    assert c.uid("MOVE", uid, "Junk")[0] == "OK"
    c.select("Junk")
    uid = only_uid(c)
    assert "$Junk" in flags(c, uid)
    s = stats(server)
    assert (s["spam_messages"], s["trained_spam"], s["ham_messages"]) == (1, 1, 0) and s["words"] > 5
    words = s["words"]

    # Back to INBOX (neutral: flags stay), then Archive (notjunk): untrained as spam, trained as ham.
    assert c.uid("MOVE", uid, "INBOX")[0] == "OK"
    c.select("INBOX")
    uid = only_uid(c)
    assert "$Junk" in flags(c, uid) and stats(server)["spam_messages"] == 1
    assert c.uid("MOVE", uid, "Archive")[0] == "OK"
    c.select("Archive")
    uid = only_uid(c)
    assert flags(c, uid) & {"$Junk", "$NotJunk"} == {"$NotJunk"}
    assert stats(server) == {"ham_messages": 1, "spam_messages": 0, "words": words, "trained_ham": 1, "trained_spam": 0}

    # A client's STORE untrains and trains.
    assert c.uid("STORE", uid, "-FLAGS", "($NotJunk)")[0] == "OK"
    assert stats(server) == {"ham_messages": 0, "spam_messages": 0, "words": 0, "trained_ham": 0, "trained_spam": 0}
    assert c.uid("STORE", uid, "+FLAGS", "($Junk)")[0] == "OK"
    assert stats(server)["spam_messages"] == 1

    # A copy is trained on its own (into Junk: spam again).
    assert c.uid("COPY", uid, "Junk")[0] == "OK"
    s = stats(server)
    assert (s["spam_messages"], s["trained_spam"]) == (2, 2)

    # Expunge untrains.
    assert c.uid("STORE", uid, "+FLAGS", "(\\Deleted)")[0] == "OK"
    assert c.expunge()[0] == "OK"
    s = stats(server)
    assert (s["spam_messages"], s["trained_spam"], s["words"]) == (1, 1, words)
    c.select("Junk")
    assert c.uid("STORE", only_uid(c), "+FLAGS", "(\\Deleted)")[0] == "OK"
    assert c.expunge()[0] == "OK"
    assert stats(server) == {"ham_messages": 0, "spam_messages": 0, "words": 0, "trained_ham": 0, "trained_spam": 0}
    c.logout()


def test_append_to_junk_and_disabled_accounts(junk_server):
    server = junk_server
    c = imaplib.IMAP4("127.0.0.1", server.ports["imap"])
    c.login("mjl@moxide.test", PASSWORD)
    assert c.append("Spam/2024", None, None, b"Subject: x\r\n\r\nwin money now\r\n")[0] in ("OK", "NO")
    c.create("Spam")
    assert c.append("Spam", None, None, b"Subject: x\r\n\r\nwin money now\r\n")[0] == "OK"
    c.select("Spam")
    assert "$Junk" in flags(c, only_uid(c))
    assert stats(server)["spam_messages"] == 1
    c.logout()
    # Account "other" has no automatic_junk_flags: moving to Junk sets nothing.
    o = imaplib.IMAP4("127.0.0.1", server.ports["imap"])
    o.login("other@other.test", PASSWORD)
    assert o.append("Junk", None, None, b"Subject: y\r\n\r\nhello\r\n")[0] == "OK"
    o.select("Junk")
    assert not flags(o, only_uid(o)) & {"$Junk", "$NotJunk"}
    o.logout()
