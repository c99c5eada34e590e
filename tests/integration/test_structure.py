"""ENVELOPE, BODYSTRUCTURE, BODY, BINARY and SAVEDATE as a real client parses them (imapclient)."""

import imaplib

import imapclient

from test_delivery import imap_login, send

REPORT = (
    b"From: Carol <carol@example.net>\r\n"
    b"To: Team: mox@localhost, \"Bob B.\" <bob@example.com>;\r\n"
    b"Subject: =?utf-8?q?Caf=C3=A9?= report\r\n"
    b"Date: Wed, 15 Nov 2023 09:00:00 +0100\r\n"
    b"Message-ID: <report.7@example.net>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
    b"\r\n"
    b"--outer\r\n"
    b"Content-Type: text/plain; charset=us-ascii\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"See the attached=\r\n report.\r\n"
    b"\r\n"
    b"--outer\r\n"
    b"Content-Type: application/pdf; name=\"report.pdf\"\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"Content-Disposition: attachment; filename=\"report.pdf\"\r\n"
    b"\r\n"
    b"JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5n\r\n"
    b"dGggNiAwIFI+PgpzdHJlYW0K\r\n"
    b"--outer\r\n"
    b"Content-Type: message/rfc822\r\n"
    b"\r\n"
    b"From: Dave <dave@example.com>\r\n"
    b"Subject: inner\r\n"
    b"\r\n"
    b"inner body\r\n"
    b"--outer\r\n"
    b"Content-Type: application/octet-stream\r\n"
    b"Content-Transfer-Encoding: x-uuencode\r\n"
    b"\r\n"
    b"begin 644 x\r\n`\r\nend\r\n"
    b"--outer--\r\n"
)

PDF = b"%PDF-1.4\n%\xc7\xec\x8f\xa2\n5 0 obj\n<</Length 6 0 R>>\nstream\n"


def client(server):
    c = imapclient.IMAPClient("127.0.0.1", port=server.ports["imap"], ssl=False, timeout=30)
    c.login("mox@localhost", "moxmoxmox")
    return c


def test_structure_items_parse(localserve):
    send(localserve.ports["smtp"], REPORT)
    c = client(localserve)
    c.select_folder("INBOX")
    data = c.fetch([1], ["ENVELOPE", "BODYSTRUCTURE", "BODY", "SAVEDATE", "FLAGS"])[1]

    env = data[b"ENVELOPE"]
    assert env.subject == b"=?utf-8?q?Caf=C3=A9?= report"
    assert env.message_id == b"<report.7@example.net>"
    assert [(a.name, a.mailbox, a.host) for a in env.from_] == [(b"Carol", b"carol", b"example.net")]
    # Sender and Reply-To are filled from From (RFC 9051 §7.5.2).
    assert env.sender == env.from_ and env.reply_to == env.from_
    # The group: start marker, two members, end marker.
    assert [(a.mailbox, a.host) for a in env.to] == [
        (b"Team", None),
        (b"mox", b"localhost"),
        (b"bob", b"example.com"),
        (None, None),
    ]
    assert env.cc is None and env.bcc is None

    bs = data[b"BODYSTRUCTURE"]
    assert bs.is_multipart
    parts, subtype = bs[0], bs[1]
    assert subtype == b"MIXED"
    assert [p[0] + b"/" + p[1] for p in parts] == [
        b"TEXT/PLAIN",
        b"APPLICATION/PDF",
        b"MESSAGE/RFC822",
        b"APPLICATION/OCTET-STREAM",
    ]
    assert parts[1][5] == b"BASE64" and parts[1][6] == 66
    # The message/rfc822 part carries the inner envelope and body structure.
    assert parts[2][7][1] == b"inner"
    assert parts[2][8][0] == b"TEXT"
    # BODY is the same without extension data.
    assert len(data[b"BODY"][0][1]) < len(parts[1])
    assert data[b"SAVEDATE"] is not None
    # None of this is a body fetch: \Seen stays off.
    assert data[b"FLAGS"] == ()
    c.logout()


def test_binary(localserve):
    send(localserve.ports["smtp"], REPORT)
    c = client(localserve)
    c.select_folder("INBOX")
    data = c.fetch([1], ["BINARY.PEEK[2]", "BINARY.SIZE[2]", "BINARY.PEEK[1]", "BINARY.PEEK[9]"])[1]
    assert data[b"BINARY[2]"] == PDF
    assert data[b"BINARY.SIZE[2]"] == len(PDF)
    assert data[b"BINARY[1]"] == b"See the attached report.\r\n"
    assert data[b"BINARY[9]"] is None
    assert c.get_flags([1])[1] == ()
    data = c.fetch([1], ["BINARY[2]<4.4>"])[1]
    assert data[b"BINARY[2]<4>"] == b"-1.4"
    assert c.get_flags([1])[1] == (b"\\Seen",)
    c.logout()


def test_binary_failures_and_macros(localserve):
    send(localserve.ports["smtp"], REPORT)
    c = imap_login(localserve)
    c.select("INBOX")
    typ, data = c.fetch("1", "(BINARY.PEEK[4])")
    assert typ == "NO" and data[0].startswith(b"[UNKNOWN-CTE]"), data
    typ, data = c.fetch("1", "(BINARY.PEEK[3.1])")
    assert typ == "OK" and data[0][1] == b"inner body", data
    typ, data = c.fetch("1", "FULL")
    assert typ == "OK", data
    flat = b"".join(d if isinstance(d, bytes) else b"".join(d) for d in data)
    for item in (b"FLAGS", b"INTERNALDATE", b"RFC822.SIZE", b"ENVELOPE", b"BODY ("):
        assert item in flat, data
    assert b"BODYSTRUCTURE" not in flat
    try:
        c.fetch("1", "(BINARY[1.TEXT])")
        raise AssertionError("BINARY with a section text")
    except imaplib.IMAP4.error:
        pass
    c.logout()
