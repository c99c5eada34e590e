"""CONDSTORE and QRESYNC (RFC 7162), each behaviour with the exact responses."""

import re

from transcript import Imap
from test_imap_messages import MSG, append


def modseq(line):
    return int(re.search(r"MODSEQ \((\d+)\)", line).group(1))


def setup(localserve, n=3):
    c = Imap(localserve.ports["imap"])
    for _ in range(n):
        append(c, "INBOX")
    return c


def test_condstore_select_fetch_store(localserve):
    c = setup(localserve)
    untagged, tagged = c.ok("SELECT INBOX (CONDSTORE)")
    highest = int(re.search(r"HIGHESTMODSEQ (\d+)", "\n".join(untagged)).group(1))
    assert tagged == "OK [READ-WRITE] selected"
    # Every message was appended by its own command: three modseqs, the last is HIGHESTMODSEQ.
    untagged, _ = c.ok("FETCH 1:* (MODSEQ)")
    ms = [modseq(l) for l in untagged]
    assert ms == sorted(ms) and len(set(ms)) == 3 and ms[-1] == highest
    # STORE reports FLAGS and the new MODSEQ once CONDSTORE is on.
    untagged, _ = c.ok("STORE 1 +FLAGS (\\Seen)")
    assert untagged == [f"* 1 FETCH (FLAGS (\\Seen) MODSEQ ({highest + 1}))"]
    # UNCHANGEDSINCE: message 1 changed after `highest`, message 2 did not.
    untagged, tagged = c.command(f"STORE 1:2 (UNCHANGEDSINCE {highest}) +FLAGS (\\Flagged)")
    assert untagged == [f"* 2 FETCH (FLAGS (\\Flagged) MODSEQ ({highest + 2}))"]
    assert tagged == "OK [MODIFIED 1] conditional store failed for some"
    # CHANGEDSINCE returns only what changed after the given modseq.
    untagged, _ = c.ok(f"FETCH 1:* (FLAGS) (CHANGEDSINCE {highest})")
    assert untagged == [f"* 1 FETCH (FLAGS (\\Seen) MODSEQ ({highest + 1}))", f"* 2 FETCH (FLAGS (\\Flagged) MODSEQ ({highest + 2}))"]
    untagged, _ = c.ok("STATUS INBOX (HIGHESTMODSEQ)")
    assert untagged == [f"* STATUS INBOX (HIGHESTMODSEQ {highest + 2})"]


def test_qresync_needs_enable(localserve):
    c = setup(localserve, 1)
    assert c.command("SELECT INBOX (QRESYNC (1 1))")[1].startswith("BAD")
    assert c.ok("ENABLE QRESYNC")[0] == ["* ENABLED QRESYNC"]
    assert c.ok("ENABLE QRESYNC")[0] == ["* ENABLED"]


def test_qresync_resynchronises_and_reports_vanished(localserve):
    c = setup(localserve, 4)
    c.ok("ENABLE QRESYNC")
    untagged, _ = c.ok("SELECT INBOX")
    text = "\n".join(untagged)
    uidvalidity = int(re.search(r"UIDVALIDITY (\d+)", text).group(1))
    known = int(re.search(r"HIGHESTMODSEQ (\d+)", text).group(1))
    c.ok("UNSELECT")

    # Another session changes flags of uid 2 and expunges uid 3.
    other = Imap(localserve.ports["imap"])
    other.ok("SELECT INBOX")
    other.ok("UID STORE 2 +FLAGS (\\Answered)")
    other.ok("UID STORE 3 +FLAGS (\\Deleted)")
    other.ok("UID EXPUNGE 3")

    untagged, tagged = c.ok(f"SELECT INBOX (QRESYNC ({uidvalidity} {known} 1:4))")
    vanished = [l for l in untagged if l.startswith("* VANISHED")]
    fetches = [l for l in untagged if " FETCH " in l]
    assert vanished == ["* VANISHED (EARLIER) 3"]
    assert len(fetches) == 1 and fetches[0].startswith("* 2 FETCH (UID 2 FLAGS (\\Answered) MODSEQ (")
    assert untagged.index(vanished[0]) < untagged.index(fetches[0])
    # Known uids that leave out 3: nothing vanished that the client knew of (RFC 7162 §3.2.5).
    untagged, _ = c.ok(f"SELECT INBOX (QRESYNC ({uidvalidity} {known} 1:2,4))")
    assert not any(l.startswith("* VANISHED") for l in untagged), untagged
    # With the optional sequence match data: the server keeps every tombstone, so the answer
    # is exact and the same as without it.
    untagged, _ = c.ok(f"SELECT INBOX (QRESYNC ({uidvalidity} {known} 1:4 (1:4 1:4)))")
    assert [l for l in untagged if l.startswith("* VANISHED")] == ["* VANISHED (EARLIER) 3"]
    assert [l for l in untagged if " FETCH " in l] == fetches
    # A stale uidvalidity gets no resync data.
    untagged, _ = c.ok(f"SELECT INBOX (QRESYNC ({uidvalidity + 1} {known}))")
    assert untagged[0] == "* OK [CLOSED] previous mailbox closed"
    assert not any("VANISHED" in l or "FETCH" in l for l in untagged)

    # With QRESYNC, an expunge by another session comes as VANISHED, not EXPUNGE.
    other.ok("UID STORE 4 +FLAGS (\\Deleted)")
    other.ok("EXPUNGE")
    untagged, _ = c.ok("NOOP")
    assert "* VANISHED 4" in untagged and not any("EXPUNGE" in l for l in untagged), untagged
    # And this session's own expunge too.
    c.ok("UID STORE 1 +FLAGS (\\Deleted)")
    untagged, _ = c.ok("EXPUNGE")
    assert untagged == ["* VANISHED 1"]


def test_expunge_not_announced_during_fetch_by_sequence_number(localserve):
    c = setup(localserve, 3)
    c.ok("SELECT INBOX")
    other = Imap(localserve.ports["imap"])
    other.ok("SELECT INBOX")
    other.ok("STORE 1 +FLAGS (\\Deleted)")
    other.ok("EXPUNGE")
    # FETCH by sequence number: no EXPUNGE yet (RFC 9051 §7.5.1), the flag change may come.
    untagged, _ = c.ok("FETCH 3 (UID)")
    assert not any("EXPUNGE" in l for l in untagged), untagged
    assert "* 3 FETCH (UID 3)" in untagged
    # A command that allows it (NOOP) gets it.
    untagged, _ = c.ok("NOOP")
    assert "* 1 EXPUNGE" in untagged


def test_uid_fetch_changedsince_vanished(localserve):
    c = setup(localserve, 4)
    c.ok("ENABLE QRESYNC")
    untagged, _ = c.ok("SELECT INBOX")
    since = int(re.search(r"HIGHESTMODSEQ (\d+)", "\n".join(untagged)).group(1))
    c.ok("UID STORE 1,3 +FLAGS.SILENT (\\Deleted)")
    c.ok("UID EXPUNGE 1,3")
    c.ok("UID STORE 4 +FLAGS.SILENT (\\Flagged)")
    untagged, _ = c.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {since} VANISHED)")
    assert untagged[0] == "* VANISHED (EARLIER) 1,3"
    assert len(untagged) == 2 and untagged[1].startswith("* 2 FETCH (UID 4 FLAGS (\\Flagged) MODSEQ (")
    # Without QRESYNC enabled, the modifier is refused (RFC 7162 §3.2.6).
    other = setup(localserve, 0)
    other.ok("SELECT INBOX")
    assert other.command(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {since} VANISHED)")[1].startswith("BAD")


def test_other_sessions_changes_arrive_with_their_modseq_also_in_idle(localserve):
    a = setup(localserve, 3)
    a.ok("SELECT INBOX (CONDSTORE)")
    b = Imap(localserve.ports["imap"])
    b.ok("SELECT INBOX (CONDSTORE)")
    # A STORE in b shows up in a with the modseq b got.
    untagged, _ = b.ok("STORE 2 +FLAGS (\\Flagged)")
    ms = modseq(untagged[0])
    assert a.ok("NOOP")[0] == [f"* 2 FETCH (UID 2 FLAGS (\\Flagged) MODSEQ ({ms}))"]
    # During IDLE: a flag change and an expunge are pushed as they happen.
    a.send_raw(b"i1 IDLE\r\n")
    assert a.line() == "+ idling"
    untagged, _ = b.ok("STORE 3 +FLAGS (\\Deleted)")
    ms = modseq(untagged[0])
    assert a.line() == f"* 3 FETCH (UID 3 FLAGS (\\Deleted) MODSEQ ({ms}))"
    b.ok("EXPUNGE")
    assert a.line() == "* 3 EXPUNGE"
    # b has INBOX selected too, so its own APPEND answer carries the EXISTS first.
    b.send_raw(f"ap APPEND INBOX {{{len(MSG)}+}}\r\n".encode() + MSG + b"\r\n")
    assert b.line() == "* 3 EXISTS"
    assert b.line().startswith("ap OK [APPENDUID ")
    assert a.line() == "* 3 EXISTS"
    a.send_raw(b"DONE\r\n")
    assert a.line() == "i1 OK idle done"
    untagged, _ = a.ok("STATUS INBOX (HIGHESTMODSEQ MESSAGES)")
    assert untagged[0].endswith("MESSAGES 3)")
