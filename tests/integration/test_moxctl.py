"""moxctl against a running localserve: status, and a password change that does not wait on open
IMAP sessions."""

import imaplib
import time

from conftest import moxctl


def test_status_and_accounts(localserve, tmp_path):
    r = moxctl("--dir", str(tmp_path / "ls"), "status")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("version ")
    assert "open_accounts mox" in r.stdout
    r = moxctl("--dir", str(tmp_path / "ls"), "accounts")
    assert r.stdout == "mox mox@localhost\n"


def test_setpassword_with_a_session_open(localserve, tmp_path):
    ls = str(tmp_path / "ls")
    busy = imaplib.IMAP4("127.0.0.1", localserve.ports["imap"])
    busy.login("mox@localhost", "moxmoxmox")
    busy.select("INBOX")
    # The session of the same account is idling (RFC 2177) while the password changes.
    tag = busy._new_tag().decode()
    busy.send(f"{tag} IDLE\r\n".encode())
    assert busy.readline().startswith(b"+")
    start = time.monotonic()
    r = moxctl("--dir", ls, "setpassword", "mox", input="n3w pass\n")
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - start < 1.0
    c = imaplib.IMAP4("127.0.0.1", localserve.ports["imap"])
    try:
        c.login("mox@localhost", "moxmoxmox")
        raise AssertionError("old password still works")
    except imaplib.IMAP4.error:
        pass
    c = imaplib.IMAP4("127.0.0.1", localserve.ports["imap"])
    c.login("mox@localhost", "n3w pass")
    c.logout()
    # The open session carries on.
    busy.send(b"DONE\r\n")
    assert busy.readline().startswith(tag.encode() + b" OK")
    assert busy.noop()[0] == "OK"
    busy.logout()


def test_errors_are_clear(tmp_path, localserve):
    r = moxctl("--dir", str(tmp_path / "ls"), "setpassword", "nobody", input="x\n")
    assert r.returncode != 0 and "no account" in r.stderr
    r = moxctl("--dir", str(tmp_path / "nothing-here"), "status")
    assert r.returncode != 0 and "is moxide running" in r.stderr


def test_queue_list_empty_and_orphans_removed_at_start(start_localserve, tmp_path):
    ls = tmp_path / "ls"
    server = start_localserve()
    r = moxctl("--dir", str(ls), "queue", "list")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "queue is empty\n"
    server.stop()
    # What a crash between writing a queued message's file and committing it leaves behind.
    orphan = ls / "data" / "queue" / "0" / "5"
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"Subject: never committed\r\n\r\n")
    server = start_localserve()
    assert not orphan.exists()
    assert "removed queue message files" in server.log()
    r = moxctl("--dir", str(ls), "queue", "list")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "queue is empty\n"
    r = moxctl("--dir", str(ls), "queue")
    assert r.returncode != 0 and "list" in r.stderr
