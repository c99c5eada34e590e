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
    assert c.uid("STORE", uid, "-FLAGS", "($Junk)")[0] == "OK"
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


def test_trained_filter_sends_spam_to_junk_on_delivery(junk_server):
    server = junk_server
    c = imaplib.IMAP4("127.0.0.1", server.ports["imap"])
    c.login("mjl@moxide.test", PASSWORD)
    c.create("Archive")
    hams = ["meeting notes project schedule review tomorrow", "family dinner sunday recipe garden",
            "invoice attached accounting quarter report", "hiking trip weekend mountains photos",
            "kernel patch review mailing list discussion"]
    spams = ["cheap pills pharmacy discount viagra", "winner lottery claim prize money transfer",
             "casino bonus free spins jackpot", "loan approved instant cash credit"]
    # 50 ham (Archive: $NotJunk) and 20 spam (Junk: $Junk) train the filter; below 50 ham it
    # decides nothing.
    for i in range(50):
        body = f"Subject: note {i}\r\nFrom: friend{i % 7}@example.net\r\n\r\n{hams[i % len(hams)]} number {i}\r\n"
        assert c.append("Archive", None, None, body.encode())[0] == "OK"
    for i in range(20):
        body = f"Subject: offer {i}\r\nFrom: promo{i}@spam.example\r\n\r\n{spams[i % len(spams)]} now {i}\r\n"
        assert c.append("Junk", None, None, body.encode())[0] == "OK"
    s = stats(server)
    assert (s["ham_messages"], s["spam_messages"]) == (50, 20)
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as smtp:
        smtp.ehlo("client.example")
        smtp.sendmail("promo9@spam.example", ["mjl@moxide.test"],
                      b"From: promo9@spam.example\r\nSubject: offer again\r\n\r\ncasino bonus free spins jackpot viagra pills\r\n")
        smtp.sendmail("friend3@example.net", ["mjl@moxide.test"],
                      b"From: friend3@example.net\r\nSubject: note again\r\n\r\nmeeting notes project schedule review\r\n")
    c.select("Junk")
    typ, data = c.uid("SEARCH", "SUBJECT", '"offer again"')
    assert data[0].split(), "spam not delivered to Junk"
    assert "$Junk" in flags(c, data[0].split()[0].decode())
    c.select("INBOX")
    typ, data = c.uid("SEARCH", "SUBJECT", '"note again"')
    assert data[0].split(), "ham not delivered to the Inbox"
    c.logout()
    scores = re.findall(r"junk filter.*score=([0-9.]+) junk=(true|false)", server.log())
    assert ("true" in [j for _, j in scores]) and ("false" in [j for _, j in scores]), scores


def test_retrain_rebuilds_while_imap_keeps_answering(junk_server):
    import threading
    import time

    server = junk_server
    c = imaplib.IMAP4("127.0.0.1", server.ports["imap"])
    c.login("mjl@moxide.test", PASSWORD)
    c.create("Archive")
    for i in range(300):
        body = f"Subject: ham {i}\r\nFrom: friend{i % 9}@example.net\r\n\r\nproject notes {i} schedule review meeting\r\n"
        assert c.append("Archive", None, None, body.encode())[0] == "OK"
    for i in range(100):
        body = f"Subject: spam {i}\r\nFrom: promo{i}@spam.example\r\n\r\ncasino bonus {i} free spins jackpot\r\n"
        assert c.append("Junk", None, None, body.encode())[0] == "OK"
    before = stats(server)
    assert (before["ham_messages"], before["spam_messages"]) == (300, 100)
    c.logout()

    # An idling session and a session fetching all the time, while the retrain runs.
    idler = imaplib.IMAP4("127.0.0.1", server.ports["imap"])
    idler.login("mjl@moxide.test", PASSWORD)
    idler.select("INBOX")
    tag = idler._new_tag().decode()
    idler.send(f"{tag} IDLE\r\n".encode())
    assert idler.readline().startswith(b"+")
    fetcher = imaplib.IMAP4("127.0.0.1", server.ports["imap"])
    fetcher.login("mjl@moxide.test", PASSWORD)
    fetcher.select("Archive", readonly=True)
    latencies = []
    done = threading.Event()

    def fetch_loop():
        while not done.is_set():
            start = time.monotonic()
            typ, _ = fetcher.fetch("1:20", "(FLAGS UID)")
            latencies.append(time.monotonic() - start)
            assert typ == "OK"

    t = threading.Thread(target=fetch_loop)
    t.start()
    r = moxctl("--config", str(server.config), "retrain", "mjl", timeout=120)
    done.set()
    t.join()
    assert r.returncode == 0, r.stderr
    assert r.stdout == "mjl: junk filter retrained from 401 messages\n", r.stdout
    # The filter is rebuilt from the flags: the same counts as trained one by one.
    assert stats(server) == before
    assert len(latencies) > 5
    assert max(latencies) < 0.1, f"an IMAP command waited {max(latencies) * 1000:.0f} ms during the retrain"
    idler.send(b"DONE\r\n")
    assert idler.readline().startswith(tag.encode() + b" OK")
    idler.logout()
    fetcher.logout()

    r = moxctl("--config", str(server.config), "retrain", "nobody")
    assert r.returncode != 0 and 'no account "nobody"' in r.stderr


def test_offline_retrain(serve):
    import subprocess

    from conftest import BIN

    server = serve(dynamic=DYNAMIC)
    c = imaplib.IMAP4("127.0.0.1", server.ports["imap"])
    c.login("mjl@moxide.test", PASSWORD)
    c.create("Archive")
    for i in range(5):
        assert c.append("Archive", None, None, f"Subject: h{i}\r\n\r\nproject notes {i}\r\n".encode())[0] == "OK"
        assert c.append("Junk", None, None, f"Subject: s{i}\r\n\r\ncasino bonus {i}\r\n".encode())[0] == "OK"
    c.logout()
    before = stats(server)
    assert (before["ham_messages"], before["spam_messages"]) == (5, 5)
    args = [str(BIN), "retrain", "mjl", "--config", str(server.config)]
    running = subprocess.run(args, capture_output=True, text=True, timeout=60, cwd=server.dir)
    assert running.returncode != 0 and "lock" in running.stderr.lower(), running.stderr
    server.stop()
    r = subprocess.run(args, capture_output=True, text=True, timeout=60, cwd=server.dir)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "mjl: junk filter retrained from 10 messages\n"
    server = serve(dynamic=DYNAMIC)
    assert stats(server) == before
