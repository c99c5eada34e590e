"""moxctl import and export (mbox and Maildir) and queue dump against a running `serve`. The
mbox files and Maildirs are written and read back with Python's `mailbox` module, a peer nobody
here wrote."""

import email.utils
import imaplib
import mailbox
import os
import pty
import re
import smtplib
import subprocess
import time

from conftest import MOXCTL, PASSWORD, moxctl

WHEN = email.utils.parsedate_to_datetime("Tue, 14 Nov 2023 22:13:20 +0000")


def ctl(server, *args, input=None):
    return moxctl("--config", str(server.config), *args, input=input, timeout=60)


def ok(server, *args):
    r = ctl(server, *args)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "", r.stderr
    return r.stdout


def message(subject, body, sender="sender@example.org"):
    return (f"From: {sender}\nTo: mjl@moxide.test\nSubject: {subject}\n"
            f"Content-Type: text/plain; charset=utf-8\n\n{body}").encode()


def fetch_all(server, name):
    """(flags, internaldate, message) of each message of mailbox `name`, in uid order."""
    c = imaplib.IMAP4("127.0.0.1", server.ports["imap"])
    c.login("mjl@moxide.test", PASSWORD)
    typ, _ = c.select(f'"{name}"', readonly=True)
    assert typ == "OK", name
    typ, data = c.uid("FETCH", "1:*", "(FLAGS INTERNALDATE BODY.PEEK[])")
    assert typ == "OK"
    out = []
    for item in data:
        if not isinstance(item, tuple):
            continue
        meta = item[0].decode()
        flags = set(re.search(r"FLAGS \(([^)]*)\)", meta).group(1).split())
        date = imaplib.Internaldate2tuple(item[0])
        out.append((flags, time.mktime(date), item[1]))
    c.logout()
    return out


def test_import_mbox_with_flags_dates_and_quoting(module_serve, tmp_path):
    server = module_serve
    path = tmp_path / "old.mbox"
    box = mailbox.mbox(path)
    seen = mailbox.mboxMessage(message("seen", "first\n"))
    seen.set_flags("RO")
    seen.set_from("alice@example.org", WHEN.timetuple())
    box.add(seen)
    flagged = mailbox.mboxMessage(message("flagged and answered", "From the start of a line\n>From quoted\nünïcödé\n"))
    flagged.set_flags("AF")
    box.add(flagged)
    box.add(mailbox.mboxMessage(message("plain", "no final newline")))
    box.close()

    out = ok(server, "import", "mbox", "mjl", "Imported/Old", str(path))
    assert out == "3 messages imported into Imported/Old\n"
    got = fetch_all(server, "Imported/Old")
    assert len(got) == 3
    assert "\\Seen" in got[0][0] and "\\Flagged" not in got[0][0]
    assert {"\\Flagged", "\\Answered"} <= got[1][0] and "\\Seen" not in got[1][0]
    assert got[2][0] == set()
    assert got[0][1] == WHEN.timestamp()
    # Stored with CRLF; Python writes mboxo: ">From quoted" came back without its '>'.
    assert b"\r\nFrom the start of a line\r\nFrom quoted\r\n" in got[1][2]
    assert "ünïcödé".encode() in got[1][2]
    assert b"\n" not in got[0][2].replace(b"\r\n", b"")
    assert got[2][2].endswith(b"no final newline\r\n")


def test_import_maildir(module_serve, tmp_path):
    server = module_serve
    md = mailbox.Maildir(tmp_path / "md")
    m = mailbox.MaildirMessage(message("draft", "d\n"))
    m.set_flags("DS")
    m.set_date(WHEN.timestamp())
    md.add(m)
    m = mailbox.MaildirMessage(message("new one", "n\n"))
    m.set_date(WHEN.timestamp() + 60)
    md.add(m)
    out = ok(server, "import", "maildir", "mjl", "FromMaildir", str(tmp_path / "md"))
    assert out == "2 messages imported into FromMaildir\n"
    got = fetch_all(server, "FromMaildir")
    assert got[0][0] == {"\\Draft", "\\Seen"} and got[1][0] == set()
    assert got[0][1] == WHEN.timestamp() and got[1][1] == WHEN.timestamp() + 60
    assert b"Subject: draft\r\n" in got[0][2]


def test_import_problems_are_reported(module_serve, tmp_path):
    server = module_serve
    bad = tmp_path / "bad.mbox"
    bad.write_bytes(b"not a From line\n\nFrom x@y Tue Nov 14 22:13:20 2023\nSubject: ok\n\nbody\n")
    r = ctl(server, "import", "mbox", "mjl", "Partial", str(bad))
    assert r.returncode != 0
    assert r.stderr.startswith("moxctl: 1 messages imported into Partial\n"), r.stderr
    assert "skipped: text at line 1 before the first \"From \" line" in r.stderr
    assert r.stderr.endswith("1 messages were not imported\n")
    assert len(fetch_all(server, "Partial")) == 1

    r = ctl(server, "import", "mbox", "nobody", "INBOX", str(bad))
    assert r.returncode != 0 and r.stderr == 'moxctl: no account "nobody"\n'
    r = ctl(server, "import", "mbox", "mjl", "INBOX", str(tmp_path / "missing"))
    assert r.returncode != 0 and "missing: No such file" in r.stderr
    r = ctl(server, "import", "maildir", "mjl", "INBOX", str(tmp_path))
    assert r.returncode != 0 and "not a Maildir" in r.stderr
    r = ctl(server, "import", "mbox", "mjl", "bad\x01name", str(bad))
    assert r.returncode != 0 and "mailbox" in r.stderr


def test_export_round_trips_through_python_mailbox(module_serve, tmp_path):
    server = module_serve
    src = mailbox.mbox(tmp_path / "src.mbox")
    for i in range(5):
        m = mailbox.mboxMessage(message(f"export {i}", f"line\nFrom inside {i}\n"))
        m.set_flags("RO" if i % 2 else "")
        m.set_from("x@example.org", WHEN.timetuple())
        src.add(m)
    src.close()
    ok(server, "import", "mbox", "mjl", "Exp/Sub", str(tmp_path / "src.mbox"))

    dest = tmp_path / "out-mbox"
    out = ok(server, "export", "mbox", "mjl", str(dest), "--mailbox", "Exp/Sub")
    assert out == f"5 messages in 1 mailboxes exported to {dest}\n"
    exported = mailbox.mbox(dest / "Exp" / "Sub.mbox")
    msgs = list(exported)
    assert [m["Subject"] for m in msgs] == [f"export {i}" for i in range(5)]
    assert ["R" in m.get_flags() for m in msgs] == [False, True, False, True, False]
    # Quoted as mboxrd (Python's reader leaves the quote in place, as every mbox reader but
    # mboxrd ones does).
    assert msgs[0].get_payload() == "line\n>From inside 0\n"

    # Our own mboxrd export imports back to the same messages and flags.
    ok(server, "import", "mbox", "mjl", "Again", str(dest / "Exp" / "Sub.mbox"))
    body = lambda m: m.split(b"\r\n\r\n", 1)[1]
    before, after = fetch_all(server, "Exp/Sub"), fetch_all(server, "Again")
    assert [(f, d, body(m)) for f, d, m in before] == [(f, d, body(m)) for f, d, m in after]

    dest = tmp_path / "out-maildir"
    out = ok(server, "export", "maildir", "mjl", str(dest))
    assert re.fullmatch(r"\d+ messages in \d+ mailboxes exported to .*\n", out), out
    md = mailbox.Maildir(dest / "Exp" / "Sub", factory=None, create=False)
    msgs = sorted(md, key=lambda m: m["Subject"])
    assert [m["Subject"] for m in msgs] == [f"export {i}" for i in range(5)]
    assert ["S" in m.get_flags() for m in msgs] == [False, True, False, True, False]
    assert all(m.get_date() == WHEN.timestamp() for m in msgs)
    assert (dest / "INBOX" / "cur").is_dir()

    # Everything the account has is in the export, mailbox by mailbox.
    names = {str(p.relative_to(dest).parent) for p in dest.rglob("cur")}
    assert {"INBOX", "Exp/Sub", "Exp"} <= names

    r = ctl(server, "export", "mbox", "mjl", str(dest))
    assert r.returncode != 0 and "exists and is not empty" in r.stderr
    r = ctl(server, "export", "mbox", "mjl", str(tmp_path / "x"), "--mailbox", "Nope")
    assert r.returncode != 0 and 'no mailbox "Nope"' in r.stderr


def test_progress_bar_on_a_terminal(module_serve, tmp_path):
    server = module_serve
    box = mailbox.mbox(tmp_path / "p.mbox")
    for i in range(20):
        box.add(mailbox.mboxMessage(message(f"p {i}", "x" * 20000 + "\n")))
    box.close()
    controller, terminal = pty.openpty()
    r = subprocess.run(
        [str(MOXCTL), "--config", str(server.config), "import", "mbox", "mjl", "Progress", str(tmp_path / "p.mbox")],
        stderr=terminal, stdout=subprocess.PIPE, timeout=60,
    )
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    assert r.returncode == 0
    assert r.stdout == b"20 messages imported into Progress\n"
    assert b"importing [" in shown and b"100%" in shown and b"20 messages" in shown, shown


def test_queue_dump(module_serve):
    server = module_serve
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=30) as s:
        s.login("mjl@moxide.test", PASSWORD)
        s.sendmail("mjl@moxide.test", ["dump@remote.example"],
                   b"From: mjl@moxide.test\r\nSubject: to dump\r\n\r\nthe body\r\n")
    line = next(l for l in server.queue_list() if "dump@remote.example" in l)
    qid, size = line.split()[0], int(line.split()[4])
    r = subprocess.run([str(MOXCTL), "--config", str(server.config), "queue", "dump", qid],
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout) == size
    assert r.stdout.endswith(b"Subject: to dump\r\n\r\nthe body\r\n")
    assert b"\r\nReceived: " in r.stdout or r.stdout.startswith(b"Received: ") or b"DKIM-Signature" in r.stdout
    r = ctl(server, "queue", "dump", "99999")
    assert r.returncode != 0 and r.stderr == "moxctl: no queue entry 99999\n"
