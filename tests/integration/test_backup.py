"""`moxctl backup` of a server under load: deliveries over SMTP and flag changes over IMAP go on
while it runs; the backup, restored and started, serves every message that was acknowledged
before it began, whole, with nothing that was never sent, and the queue."""

import imaplib
import re
import shutil
import smtplib
import threading

import subprocess

from conftest import BIN, PASSWORD, Server, moxctl


def verifydata(path):
    return subprocess.run([str(BIN), "verifydata", str(path)], capture_output=True, text=True, timeout=60)


def message(tag):
    return f"From: sender@example.org\r\nSubject: {tag}\r\nMessage-ID: <{tag}@example.org>\r\n\r\nbody of {tag}\r\n".encode()


def stored(server):
    """Message-ID → (flags, whole message) of mjl's INBOX."""
    c = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=30)
    c.login("mjl@moxide.test", PASSWORD)
    typ, data = c.select("INBOX")
    found = {}
    if data != [b"0"]:
        typ, data = c.fetch("1:*", "(FLAGS BODY.PEEK[])")
        for item in data:
            if isinstance(item, tuple):
                body = item[1]
                mid = re.search(rb"Message-ID: <([^>]+)>", body).group(1).decode()
                flags = re.search(rb"FLAGS \(([^)]*)\)", item[0]).group(1).decode()
                found[mid] = (flags, body)
    c.logout()
    return found


def test_backup_under_load_restores_and_serves(serve, tmp_path):
    server = serve()
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as s:
        for i in range(200):
            s.sendmail("sender@example.org", ["mjl@moxide.test"], message(f"before{i}"))
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=30) as s:
        s.login("mjl@moxide.test", PASSWORD)
        s.sendmail("mjl@moxide.test", ["someone@remote.example"], b"From: mjl@moxide.test\r\nSubject: queued\r\n\r\nout\r\n")
    acked_before = {f"before{i}@example.org" for i in range(200)}
    sent = set(acked_before)
    stop = threading.Event()
    errors = []
    during = threading.Semaphore(0)

    def deliver():
        i = 0
        try:
            with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as s:
                while not stop.is_set():
                    sent.add(f"during{i}@example.org")
                    s.sendmail("sender@example.org", ["mjl@moxide.test"], message(f"during{i}"))
                    during.release()
                    i += 1
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    def store_flags():
        try:
            c = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=30)
            c.login("mjl@moxide.test", PASSWORD)
            c.select("INBOX")
            n = 0
            while not stop.is_set():
                c.store("1:10", "+FLAGS" if n % 2 == 0 else "-FLAGS", "(\\Flagged)")
                n += 1
            c.logout()
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=deliver), threading.Thread(target=store_flags)]
    for t in threads:
        t.start()
    # The load is running: deliveries are being acknowledged.
    for _ in range(10):
        assert during.acquire(timeout=30)
    # Three backups one after the other, all while the load goes on; the last is restored.
    for n in range(3):
        dest = tmp_path / f"backup{n}"
        r = moxctl("--config", str(server.config), "backup", str(dest), timeout=60)
        assert r.returncode == 0, r.stderr
        assert during.acquire(timeout=30), "deliveries stopped during the backup"
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors
    assert r.returncode == 0, r.stderr
    assert re.fullmatch(
        rf"backup of 2 account\(s\), (\d+) message\(s\), 1 queue entry in {re.escape(str(dest))}: [\d.]+ MB linked, [\d.]+ MB copied, [\d.]+ s\n",
        r.stdout,
    ), r.stdout
    # Each backup is consistent: verifydata (which never writes) finds nothing wrong.
    for n in range(3):
        v = verifydata(tmp_path / f"backup{n}")
        assert v.returncode == 0, v.stdout + v.stderr
        assert re.fullmatch(r"2 accounts, \d+ messages, 1 queue entry checked: 0 problems\n", v.stdout.splitlines(True)[-1]), v.stdout
    # The server was serving all along, and still is.
    assert len(stored(server)) == len(sent)
    assert (dest / "README.txt").read_text().startswith("moxide backup, made ")
    for f in ("moxide.toml", "domains.toml", "cert.pem", "key.pem"):
        assert (dest / "config" / f).is_file(), f
    # A second backup into the same directory is refused.
    r = moxctl("--config", str(server.config), "backup", str(dest))
    assert r.returncode != 0 and "exists already" in r.stderr
    server.stop()

    # Restore: the config files and the data directory back in place, in a new directory.
    restored_dir = tmp_path / "restored"
    shutil.copytree(dest / "config", restored_dir)
    shutil.copytree(dest / "data", restored_dir / "data")
    restored = Server(["serve", "--config", str(restored_dir / "moxide.toml")], cwd=restored_dir).start()
    try:
        messages = stored(restored)
        # Everything acknowledged before the backup began, maybe more; nothing never sent.
        assert acked_before <= set(messages), acked_before - set(messages)
        assert set(messages) <= sent
        for mid, (flags, body) in messages.items():
            tag = mid.split("@")[0]
            assert body.endswith(message(tag)), body
        r = moxctl("--config", str(restored_dir / "moxide.toml"), "queue", "list")
        assert r.returncode == 0 and "-> <someone@remote.example>" in r.stdout, r.stdout
    finally:
        restored.stop()
    v = verifydata(restored_dir)
    assert v.returncode == 0, v.stdout + v.stderr
