"""`moxide verifydata`: clean on what a real server wrote, each damage to the message files
reported on its own line, and refused while a server holds the data directory."""

import imaplib
import re
import smtplib
import subprocess

from conftest import BIN


def verifydata(directory):
    return subprocess.run([str(BIN), "verifydata", str(directory)], capture_output=True, text=True, timeout=60)


def deliver(server, n):
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as s:
        s.ehlo("client.example")
        for i in range(n):
            msg = (f"From: a@example.org\r\nTo: mox@localhost\r\nSubject: verify {i}\r\n"
                   f"Message-ID: <verify{i}@example.org>\r\n\r\nbody {i}\r\n" + "line\r\n" * i).encode()
            s.sendmail("a@example.org", ["mox@localhost"], msg)


def test_verifydata_clean_then_each_damaged_file_reported(tmp_path, start_localserve):
    directory = tmp_path / "ls"
    server = start_localserve(directory)
    deliver(server, 5)
    c = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=30)
    c.login("mox@localhost", "moxmoxmox")
    c.select("INBOX")
    c.store("2:3", "+FLAGS", r"(\Deleted)")
    c.expunge()
    typ, data = c.fetch("1:*", "(UID)")
    uids = [int(re.search(rb"UID (\d+)", d).group(1)) for d in data]
    c.logout()

    # Refused while the server runs, with a clear message, and nothing checked.
    r = verifydata(directory)
    assert r.returncode == 2, r
    assert "a running moxide holds" in r.stderr and "moxide.lock" in r.stderr, r.stderr
    assert r.stdout == ""

    server.stop()
    r = verifydata(directory)
    assert r.returncode == 0, r
    assert r.stdout == "1 account, 3 messages, 0 queue entries checked: 0 problems\n"
    # The data directory itself is accepted too.
    assert verifydata(directory / "data").stdout == r.stdout

    msg = directory / "data" / "accounts" / "mox" / "msg" / "0"
    files = sorted(int(p.name) for p in msg.iterdir())
    # A fresh account delivering only to INBOX: message ids are the uids.
    assert files == uids == [1, 4, 5]
    (msg / "1").unlink()
    size = (msg / "4").stat().st_size
    with open(msg / "4", "r+b") as f:
        f.truncate(size - 10)
    (msg / "77").write_bytes(b"not a message")

    r = verifydata(directory)
    assert r.returncode == 1, r
    assert r.stdout.splitlines() == [
        "account mox: files: msg/0/77: extra file: nothing in the index refers to it",
        'account mox: files: msg/0/1: missing file of message 1 ("INBOX" uid 1)',
        f'account mox: files: msg/0/4: file of message 4 ("INBOX" uid 4) has {size - 10} bytes, '
        f"the index says {size} (truncated)",
        "1 account, 3 messages, 0 queue entries checked: 3 problems",
    ]
