"""APPEND, COPY, MOVE and UID EXPUNGE with their UIDPLUS response codes (RFC 4315), and IDLE."""

import re
import time

import imapclient

from transcript import Imap

MSG = b"From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n"


def append(c, mailbox, flags="", msg=MSG):
    flags = f" ({flags})" if flags else ""
    c.n += 1
    tag = f"t{c.n}"
    c.send_raw(f"{tag} APPEND {mailbox}{flags} {{{len(msg)}+}}\r\n".encode() + msg + b"\r\n")
    line = c.line()
    assert line.startswith(tag + " OK"), line
    return line


def test_append_copy_move_expunge(localserve):
    c = Imap(localserve.ports["imap"])
    uidvalidity = re.search(r"UIDVALIDITY (\d+)", c.ok("STATUS INBOX (UIDVALIDITY)")[0][0]).group(1)
    assert append(c, "INBOX", "\\Seen") == f"t{c.n} OK [APPENDUID {uidvalidity} 1] appended"
    append(c, "INBOX")
    append(c, "INBOX", "\\Deleted")
    # MULTIAPPEND: both or none.
    c.send_raw(b"m1 APPEND INBOX {3+}\r\nabc (\\Flagged) {3+}\r\ndef\r\n")
    assert c.line() == f"m1 OK [APPENDUID {uidvalidity} 4:5] appended"
    assert c.command("APPEND Nowhere {1+}\r\nx")[1] == "NO [TRYCREATE] no such mailbox"

    untagged, tagged = c.ok("SELECT INBOX")
    assert "* 5 EXISTS" in untagged
    archive = re.search(r"UIDVALIDITY (\d+)", c.ok("STATUS Archive (UIDVALIDITY)")[0][0]).group(1)
    assert c.ok("COPY 1:2 Archive")[1] == f"OK [COPYUID {archive} 1:2 1:2] copied"
    assert c.ok("UID COPY 4,99 Archive")[1] == f"OK [COPYUID {archive} 4 3] copied"
    assert c.command("COPY 1 Nowhere")[1] == "NO [TRYCREATE] no such mailbox"

    # MOVE: COPYUID untagged, then EXPUNGE, then the tagged OK (RFC 6851 §4.3).
    untagged, tagged = c.ok("MOVE 2 Archive")
    assert untagged == [f"* OK [COPYUID {archive} 2 4] moved", "* 2 EXPUNGE"]
    assert tagged == "OK moved"
    # UID EXPUNGE removes only \Deleted messages among the given uids: uid 3.
    c.ok("UID STORE 4 +FLAGS.SILENT (\\Deleted)")
    untagged, _ = c.ok("UID EXPUNGE 3")
    assert untagged == ["* 2 EXPUNGE"]
    untagged, _ = c.ok("UID FETCH 1:* (FLAGS)")
    assert untagged == ["* 1 FETCH (UID 1 FLAGS (\\Seen))", "* 2 FETCH (UID 4 FLAGS (\\Deleted))", "* 3 FETCH (UID 5 FLAGS (\\Flagged))"]
    untagged, _ = c.ok("STATUS Archive (MESSAGES)")
    assert untagged == ["* STATUS Archive (MESSAGES 4)"]


def test_idle_sees_changes_from_another_session(localserve):
    a = imapclient.IMAPClient("127.0.0.1", port=localserve.ports["imap"], ssl=False, timeout=30)
    a.login("mox@localhost", "moxmoxmox")
    b = Imap(localserve.ports["imap"])
    append(b, "INBOX")
    a.select_folder("INBOX")
    a.idle()
    append(b, "INBOX")
    b.ok("SELECT INBOX")
    b.ok("STORE 1 +FLAGS (\\Flagged)")
    responses = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(responses) < 2:
        responses += a.idle_check(timeout=1)
    a.idle_done()
    assert (2, b"EXISTS") in responses, responses
    assert any(r[1] == b"FETCH" and b"\\Flagged" in str(r[2]).encode() for r in responses), responses
    a.idle()
    b.ok("STORE 2 +FLAGS (\\Deleted)")
    b.ok("EXPUNGE")
    got = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(r[1] == b"EXPUNGE" for r in got):
        got += a.idle_check(timeout=1)
    a.idle_done()
    assert (2, b"EXPUNGE") in got, got
    a.logout()


def test_compress_deflate(localserve):
    import zlib

    c = Imap(localserve.ports["imap"])
    append(c, "INBOX", "", MSG * 50)
    assert c.ok("COMPRESS DEFLATE")[1] == "OK DEFLATE active"
    out = zlib.compressobj(wbits=-15)
    inflate = zlib.decompressobj(wbits=-15)
    received = b""

    def send(line):
        c.sock.sendall(out.compress(line) + out.flush(zlib.Z_SYNC_FLUSH))

    def until(tag):
        nonlocal received
        while not re.search(rb"(^|\r\n)" + tag.encode() + rb" ", received):
            received += inflate.decompress(c.sock.recv(65536))
        return received

    send(b"z1 SELECT INBOX\r\nz2 UID FETCH 1 (BODY.PEEK[])\r\nz3 COMPRESS DEFLATE\r\n")
    data = until("z3")
    assert b"z1 OK [READ-WRITE]" in data
    assert data.count(b"Subject: hi") == 50
    assert b"z3 NO [COMPRESSIONACTIVE]" in data
