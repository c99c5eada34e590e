"""Several sessions on one mailbox see each other's changes, pushed by the mailbox actor."""

import imapclient

from test_delivery import MESSAGE, send


def client(server):
    c = imapclient.IMAPClient("127.0.0.1", port=server.ports["imap"], ssl=False, timeout=30)
    c.login("mox@localhost", "moxmoxmox")
    return c


def test_changes_reach_other_sessions(localserve):
    for _ in range(3):
        send(localserve.ports["smtp"])
    a, b = client(localserve), client(localserve)
    sel = a.select_folder("INBOX")
    assert sel[b"EXISTS"] == 3
    highest = sel[b"HIGHESTMODSEQ"]
    b.select_folder("INBOX")

    b.add_flags([2], [b"\\Flagged"])
    send(localserve.ports["smtp"])
    b.add_flags([3], [b"\\Deleted"])
    b.expunge()

    a._imap.untagged_responses.clear()
    a._imap.noop()
    untagged = a._imap.untagged_responses
    fetches = untagged.get("FETCH", [])
    assert any(b"\\Flagged" in f and b"UID 2" in f for f in fetches), untagged
    assert untagged.get("EXISTS") == [b"4"], untagged
    assert untagged.get("EXPUNGE") == [b"3"], untagged
    untagged.clear()
    # The view is now the server's: uids 1, 2, 4.
    flags = a.get_flags([1, 2, 4])
    assert set(flags) == {1, 2, 4}
    assert b"\\Flagged" in flags[2]
    modseqs = a.fetch([1, 2, 4], ["MODSEQ"])
    assert all(v[b"MODSEQ"][0] > 0 for v in modseqs.values())
    assert max(v[b"MODSEQ"][0] for v in modseqs.values()) > highest
    a.logout()
    b.logout()


def test_store_unchangedsince_reports_modified(localserve):
    send(localserve.ports["smtp"])
    a = client(localserve)
    a.select_folder("INBOX")
    ms = a.fetch([1], ["MODSEQ"])[1][b"MODSEQ"][0]
    a.add_flags([1], [b"$Label"])
    typ, data = a._imap._simple_command("UID", "STORE", "1", "(UNCHANGEDSINCE %d)" % ms, "+FLAGS.SILENT", "(\\Seen)")
    assert typ == "OK" and data[-1].startswith(b"[MODIFIED 1]"), data
    assert b"\\Seen" not in a.get_flags([1])[1]
    a.logout()


def test_examine_is_read_only(localserve):
    send(localserve.ports["smtp"])
    a = client(localserve)
    a.select_folder("INBOX", readonly=True)
    a.fetch([1], ["BODY[]"])
    assert a.get_flags([1])[1] == ()
    try:
        a.add_flags([1], [b"\\Seen"])
        raise AssertionError("STORE in a read-only mailbox")
    except imapclient.exceptions.IMAPClientError:
        pass
    a.logout()
