"""SEARCH with imaplib and exact ESEARCH/SEARCHRES/MODSEQ transcripts."""

import imaplib

from transcript import Imap
from test_imap_messages import append


def test_search_keys_with_imaplib(localserve):
    c = Imap(localserve.ports["imap"])
    append(c, "INBOX", "\\Seen", b"From: Alice <alice@example.org>\r\nSubject: =?utf-8?q?caf=C3=A9?= menu\r\nDate: Mon, 2 Jan 2023 10:00:00 +0000\r\n\r\nlunch at noon\r\n")
    append(c, "INBOX", "", b"From: bob@example.org\r\nSubject: report\r\n\r\nquarterly numbers\r\n")
    append(c, "INBOX", "\\Flagged", b"From: alice@example.org\r\nSubject: again\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nd=E9j=E0 vu\r\n")
    m = imaplib.IMAP4("127.0.0.1", localserve.ports["imap"])
    m.login("mox@localhost", "moxmoxmox")
    m.select("INBOX")
    assert m.search(None, "ALL") == ("OK", [b"1 2 3"])
    assert m.search(None, "FROM", "alice") == ("OK", [b"1 3"])
    assert m.search(None, "UNSEEN") == ("OK", [b"2 3"])
    assert m.search(None, "OR", "FLAGGED", "SEEN") == ("OK", [b"1 3"])
    # imaplib sends str arguments as ASCII; non-ASCII goes in a literal with CHARSET UTF-8.
    m.literal = "café".encode()
    assert m.search("UTF-8", "SUBJECT") == ("OK", [b"1"])
    m.literal = "déjà".encode()
    assert m.search("UTF-8", "TEXT") == ("OK", [b"3"])
    assert m.search(None, "BODY", "quarterly") == ("OK", [b"2"])
    assert m.search(None, "SENTBEFORE", "3-Jan-2023") == ("OK", [b"1"])
    assert m.search(None, "LARGER", "95") == ("OK", [b"1 3"])
    assert m.uid("SEARCH", None, "2:*") == ("OK", [b"2 3"])
    typ, _ = m._simple_command("SEARCH", "CHARSET", "KOI8-R", "ALL")
    assert typ == "NO"


def test_esearch_searchres_and_modseq(localserve):
    c = Imap(localserve.ports["imap"])
    for flags in ("\\Seen", "", "\\Seen", ""):
        append(c, "INBOX", flags)
    c.ok("SELECT INBOX")
    untagged, tagged = c.command("SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN", tag="s1")
    assert untagged == ['* ESEARCH (TAG "s1") MIN 2 MAX 4 COUNT 2 ALL 2,4']
    untagged, tagged = c.command("UID SEARCH RETURN (COUNT) DELETED", tag="s2")
    assert untagged == ['* ESEARCH (TAG "s2") UID COUNT 0']
    # SAVE then use `$` in FETCH (RFC 5182).
    assert c.ok("SEARCH RETURN (SAVE) SEEN")[0] == []
    assert c.ok("FETCH $ (UID)")[0] == ["* 1 FETCH (UID 1)", "* 3 FETCH (UID 3)"]
    assert c.ok("SEARCH $ UNSEEN")[0] == ["* SEARCH"]
    # MODSEQ: the highest modseq of the matches comes with the result (RFC 7162 §3.1.5).
    untagged, _ = c.ok("FETCH 4 (MODSEQ)")
    ms = int(untagged[0].split("MODSEQ (")[1].rstrip("))"))
    untagged, _ = c.ok(f"SEARCH MODSEQ {ms}")
    assert untagged == [f"* SEARCH 4 (MODSEQ {ms})"]
