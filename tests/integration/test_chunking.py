"""CHUNKING (RFC 3030) with a raw socket client, since smtplib has no BDAT: chunks arrive
byte-exact, refused chunks are still read, and a connection lost mid-chunk stores nothing."""

import imaplib
import re

from test_protocol_errors import Conn, inbox_subjects

# Not dot-stuffed in BDAT: a line with only "." and lines starting with dots are message
# bytes like any other, as are 8-bit bytes.
MESSAGE = (
    b"From: <sender@example.org>\r\n"
    b"To: <mox@localhost>\r\n"
    b"Subject: chunks\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"caf\xc3\xa9\r\n"
    b".\r\n"
    b"..two dots\r\n"
    + b"0123456789" * 200
    + b"\r\n"
)


def start(port):
    c = Conn(port)
    assert c.reply()[0].startswith("220 ")
    c.send(b"EHLO client.example\r\n")
    assert "250-CHUNKING" in c.reply()
    return c


def stored(server):
    c = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=30)
    c.login("mox@localhost", "moxmoxmox")
    c.select("INBOX")
    typ, data = c.fetch("1:*", "(BODY.PEEK[])")
    c.logout()
    return [d[1] for d in data if isinstance(d, tuple)]


def test_chunks_arrive_byte_exact(localserve):
    c = start(localserve.ports["smtp"])
    # Cut inside a CRLF, after a lone "." line and in the middle of a line; all pipelined.
    cuts = [MESSAGE.index(b".\r\n") + 2, MESSAGE.index(b"..two") + 3, len(MESSAGE) - 700]
    chunks = [MESSAGE[a:b] for a, b in zip([0] + cuts, cuts + [len(MESSAGE)])]
    pipelined = b"MAIL FROM:<sender@example.org> BODY=8BITMIME\r\nRCPT TO:<mox@localhost>\r\n"
    for chunk in chunks[:-1]:
        pipelined += b"BDAT %d\r\n" % len(chunk) + chunk
    pipelined += b"BDAT %d LAST\r\n" % len(chunks[-1]) + chunks[-1]
    c.send(pipelined)
    assert c.reply() == ["250 2.1.0 sender ok"]
    assert c.reply() == ["250 2.1.5 recipient ok"]
    for n in cuts:
        assert c.reply() == [f"250 2.0.0 {n} bytes received"]
    last = c.reply()
    assert re.fullmatch(r"250 2\.0\.0 message delivered, id [0-9a-f]+-[0-9a-f]+", last[0]), last
    # An empty LAST chunk ends a message too.
    c.send(b"MAIL FROM:<sender@example.org>\r\nRCPT TO:<mox@localhost>\r\n"
           b"BDAT %d\r\n" % len(MESSAGE) + MESSAGE + b"BDAT 0 LAST\r\n")
    assert [c.reply()[0][:9] for _ in range(4)] == ["250 2.1.0", "250 2.1.5", "250 2.0.0", "250 2.0.0"]
    c.close()
    bodies = stored(localserve)
    assert len(bodies) == 2
    for body in bodies:
        # Exactly what was sent, after the Received and Authentication-Results the server adds.
        assert body.endswith(MESSAGE)
        header = body[: len(body) - len(MESSAGE)]
        fields = re.split(rb"\r\n(?![\t ])", header.rstrip(b"\r\n"))
        assert [f.split(b":")[0] for f in fields] == [b"Received", b"Authentication-Results"], fields


def test_refused_chunks_are_read_before_the_reply(localserve):
    c = start(localserve.ports["smtp"])
    # The chunk's bytes look like commands: they must be skipped, not run.
    c.send(b"BDAT 12\r\nRSET\r\nRSET\r\nNOOP\r\n")
    assert c.reply() == ["503 5.5.1 send MAIL first"]
    assert c.reply() == ["250 2.0.0 ok"]
    c.send(b"MAIL FROM:<sender@example.org>\r\nBDAT 6 LAST\r\nNOOP\r\nNOOP\r\n")
    assert c.reply() == ["250 2.1.0 sender ok"]
    assert c.reply() == ["554 5.5.1 no valid recipients"]
    assert c.reply() == ["250 2.0.0 ok"]
    # BDAT and DATA do not mix in one transaction; recipients come before the first chunk.
    c.send(b"RCPT TO:<mox@localhost>\r\nBDAT 4\r\nA: bDATA\r\nRCPT TO:<mox@localhost>\r\n")
    assert c.reply() == ["250 2.1.5 recipient ok"]
    assert c.reply() == ["250 2.0.0 4 bytes received"]
    assert c.reply() == ["503 5.5.1 DATA after BDAT"]
    assert c.reply() == ["503 5.5.1 recipients must come before the first BDAT"]
    # The transaction is still open: its last chunk delivers what the chunks add up to.
    rest = b"\r\nSubject: chunked after errors\r\n\r\nbody\r\n"
    c.send(b"BDAT %d LAST\r\n" % len(rest) + rest)
    assert c.reply()[0].startswith("250 2.0.0 message delivered")
    # A bad size is a syntax error and nothing is read as chunk data.
    c.send(b"BDAT -1\r\nBDAT 1 NOW\r\nNOOP\r\n")
    assert c.reply() == ["501 5.5.4 BDAT needs a chunk size"]
    assert c.reply() == ["501 5.5.4 expected BDAT size [LAST]"]
    assert c.reply() == ["250 2.0.0 ok"]
    c.close()
    [body] = stored(localserve)
    assert body.endswith(b"A: b" + rest)


def test_disconnect_mid_chunk_stores_nothing(localserve):
    port = localserve.ports["smtp"]
    # In the middle of a chunk.
    c = start(port)
    c.send(b"MAIL FROM:<sender@example.org>\r\nRCPT TO:<mox@localhost>\r\nBDAT %d LAST\r\n" % len(MESSAGE)
           + MESSAGE[:1000])
    assert c.reply()[0].startswith("250 2.1.0")
    assert c.reply()[0].startswith("250 2.1.5")
    c.close()
    # Between chunks, after the first was acknowledged.
    c = start(port)
    c.send(b"MAIL FROM:<sender@example.org>\r\nRCPT TO:<mox@localhost>\r\nBDAT 100\r\n" + MESSAGE[:100])
    assert [c.reply()[0][:9] for _ in range(3)] == ["250 2.1.0", "250 2.1.5", "250 2.0.0"]
    c.close()
    # A whole message after those: the only one stored.
    c = start(port)
    whole = MESSAGE.replace(b"Subject: chunks", b"Subject: whole")
    c.send(b"MAIL FROM:<sender@example.org>\r\nRCPT TO:<mox@localhost>\r\nBDAT %d LAST\r\n" % len(whole) + whole)
    assert [c.reply()[0][:9] for _ in range(3)] == ["250 2.1.0", "250 2.1.5", "250 2.0.0"]
    c.close()
    assert inbox_subjects(localserve) == [b"Subject: whole"]
