"""Durability: what was acknowledged with 250 survives SIGKILL, exactly once."""

import concurrent.futures
import imaplib
import re
import smtplib
import threading

import subprocess

from conftest import BIN
from test_delivery import MESSAGE, send


def message_ids(server):
    c = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=30)
    c.login("mox@localhost", "moxmoxmox")
    typ, data = c.select("INBOX")
    count = int(data[0])
    ids = []
    if count:
        typ, data = c.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)] BODY.PEEK[TEXT])")
        for item in data:
            if isinstance(item, tuple) and b"HEADER.FIELDS" in item[0]:
                ids.append(item[1].strip())
    c.logout()
    return ids


def test_message_is_there_after_sigkill_right_after_250(tmp_path, start_localserve):
    server = start_localserve()
    sent = []
    for i in range(3):
        msg = MESSAGE.replace(b"<m1@", b"<crash%d@" % i)
        with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as s:
            s.ehlo("client.example")
            s.mail("a@example.org")
            s.rcpt("mox@localhost")
            code, _ = s.data(msg)
            assert code == 250
            sent.append(b"Message-ID: <crash%d@example.org>" % i)
            # Killed the moment 250 arrives: the server gets no chance to flush anything.
            server.kill()
        server = start_localserve()
    assert message_ids(server) == sent


def test_acknowledged_messages_survive_kill_under_load(tmp_path, start_localserve):
    server = start_localserve()
    acknowledged = []
    lock = threading.Lock()
    stop = threading.Event()

    def sender(worker):
        i = 0
        while not stop.is_set():
            msg = MESSAGE.replace(b"<m1@", b"<w%d-%d@" % (worker, i))
            try:
                with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as s:
                    s.ehlo("client.example")
                    while not stop.is_set():
                        msg = MESSAGE.replace(b"<m1@", b"<w%d-%d@" % (worker, i))
                        s.sendmail("a@example.org", ["mox@localhost"], msg)
                        with lock:
                            acknowledged.append(b"Message-ID: <w%d-%d@example.org>" % (worker, i))
                        i += 1
            except (OSError, smtplib.SMTPException):
                return

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(sender, w) for w in range(6)]
        while True:
            with lock:
                if len(acknowledged) >= 100:
                    break
            stop.wait(0.01)
        server.kill()
        stop.set()
        for f in futures:
            f.result()
    with lock:
        acked = list(acknowledged)
    server = start_localserve()
    stored = message_ids(server)
    assert len(stored) == len(set(stored)), "a message was stored twice"
    missing = set(acked) - set(stored)
    assert not missing, f"{len(missing)} acknowledged messages lost"
    # The store is consistent and nothing half-written is visible: every stored message is
    # one that was sent, whole, and its size is what FETCH returns.
    c = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=30)
    c.login("mox@localhost", "moxmoxmox")
    c.select("INBOX")
    typ, data = c.fetch("1:*", "(UID RFC822.SIZE BODY.PEEK[])")
    uids = []
    for item in data:
        if not isinstance(item, tuple):
            continue
        meta, body = item
        uids.append(int(re.search(rb"UID (\d+)", meta).group(1)))
        assert int(re.search(rb"RFC822.SIZE (\d+)", meta).group(1)) == len(body)
        sent = re.search(rb"Message-ID: <(w\d+-\d+)@example.org>", body).group(1)
        assert body.endswith(MESSAGE.replace(b"<m1@", b"<" + sent + b"@")), body[-200:]
    assert uids == sorted(uids) and len(uids) == len(stored)
    c.logout()
    # And the data directory is consistent to the last byte: verifydata finds nothing wrong.
    server.stop()
    v = subprocess.run([str(BIN), "verifydata", str(tmp_path / "ls")], capture_output=True, text=True, timeout=60)
    assert v.returncode == 0, v.stdout + v.stderr
