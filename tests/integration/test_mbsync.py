"""isync's mbsync, a real synchronising client, syncs a mailbox both ways with moxide."""

import os
import pathlib
import shutil
import subprocess

import pytest

from test_delivery import MESSAGE, send
from transcript import Imap

pytestmark = pytest.mark.skipif(shutil.which("mbsync") is None, reason="mbsync (Debian package isync) not installed")


def config(tmp_path, port):
    mail = tmp_path / "mail"
    mail.mkdir(exist_ok=True)
    cfg = tmp_path / "mbsyncrc"
    cfg.write_text(
        f"""IMAPAccount moxide
Host 127.0.0.1
Port {port}
User mox@localhost
Pass moxmoxmox
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account moxide

MaildirStore local
Path {mail}/
Inbox {mail}/INBOX
SubFolders Verbatim

Channel sync
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
"""
    )
    return cfg, mail


def mbsync(cfg):
    r = subprocess.run(["mbsync", "-c", str(cfg), "-a"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def maildir_messages(folder):
    return sorted(p for sub in ("cur", "new") for p in (folder / sub).iterdir()) if folder.exists() else []


def test_mbsync_both_ways(tmp_path, localserve):
    for i in range(3):
        send(localserve.ports["smtp"], MESSAGE.replace(b"<m1@", b"<sync%d@" % i))
    cfg, mail = config(tmp_path, localserve.ports["imap"])
    mbsync(cfg)
    inbox = mail / "INBOX"
    local = maildir_messages(inbox)
    assert len(local) == 3
    for folder in ("Sent", "Drafts", "Trash", "Junk", "Archive"):
        assert (mail / folder / "cur").is_dir(), folder

    # Locally: mark one seen, trash another, add a message, make a new folder with one.
    seen, trashed = local[0], local[1]
    os.rename(seen, seen.parent.parent / "cur" / (seen.name.split(":")[0] + ":2,S"))
    os.rename(trashed, trashed.parent.parent / "cur" / (trashed.name.split(":")[0] + ":2,T"))
    (inbox / "new" / "local-1.host").write_bytes(b"Subject: written locally\r\n\r\nhello\r\n")
    for sub in ("cur", "new", "tmp"):
        (mail / "Local" / sub).mkdir(parents=True)
    (mail / "Local" / "new" / "local-2.host").write_bytes(b"Subject: in a new folder\r\n\r\nhi\r\n")
    mbsync(cfg)

    c = Imap(localserve.ports["imap"])
    untagged, _ = c.ok("SELECT INBOX")
    assert "* 3 EXISTS" in untagged, untagged
    untagged, _ = c.ok("UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    text = "\n".join(untagged)
    assert text.count("\\Seen") == 1, text
    assert "Subject: written locally" in text
    assert c.ok('STATUS Local (MESSAGES)')[0] == ["* STATUS Local (MESSAGES 1)"]

    # On the server: flag a message and deliver a new one; mbsync brings both down.
    c.ok("STORE 1 +FLAGS (\\Flagged)")
    send(localserve.ports["smtp"], MESSAGE.replace(b"<m1@", b"<later@"))
    mbsync(cfg)
    local = maildir_messages(inbox)
    assert len(local) == 4
    assert sum(1 for p in local if "F" in p.name.split(":2,")[-1]) == 1
    assert any(b"<later@example.org>" in p.read_bytes() for p in local)
