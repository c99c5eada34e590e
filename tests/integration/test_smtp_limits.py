"""The MX of `serve`: per-address limits from `[limits]` (connections at once, messages per
minute), max_recipients, and which recipients it takes (local ones, `<Postmaster>`) or refuses
(unknown local addresses, other domains)."""

import imaplib
import smtplib
import time

from conftest import SERVE_DYNAMIC
from test_protocol_errors import Conn

LIMITS = "[limits]\nsmtp_connections_per_ip = 2\nsmtp_messages_per_ip_per_minute = 3\n"
GREETING = ["220 mx.moxide.test ESMTP moxide"]


def message(subject):
    return f"From: <sender@example.org>\r\nTo: <mjl@moxide.test>\r\nSubject: {subject}\r\n\r\nHello.\r\n".encode()


def subjects(server, account="mjl"):
    c = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=30)
    c.login(*server.login(account))
    typ, data = c.select("INBOX")
    found = []
    if data != [b"0"]:
        typ, data = c.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        found = [d[1].strip().decode() for d in data if isinstance(d, tuple)]
    c.logout()
    return found


def test_connections_per_address(serve):
    server = serve(static_extra=LIMITS)
    port = server.ports["smtp"]
    first, second = Conn(port), Conn(port)
    assert first.reply() == GREETING and second.reply() == GREETING
    third = Conn(port)
    assert third.reply() == ["421 4.7.0 too many connections from your address, try again later"]
    assert third.sock.recv(1) == b""
    third.close()
    # The two open ones work; submission is not counted.
    first.send(b"EHLO client.example\r\n")
    assert first.reply()[-1] == "250 HELP"
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=30) as s:
        assert s.ehlo("client.example")[0] == 250
    # Once one is closed, its place is free again (when the server has seen the close).
    first.send(b"QUIT\r\n")
    assert first.reply() == ["221 2.0.0 mx.moxide.test closing connection"]
    assert first.sock.recv(1) == b""
    first.close()
    deadline = time.monotonic() + 10
    while True:
        again = Conn(port)
        got = again.reply()
        if got == GREETING:
            break
        assert got[0].startswith("421 4.7.0") and time.monotonic() < deadline, got
        again.close()
        time.sleep(0.02)
    again.close()
    second.close()


def test_messages_per_address_per_minute(serve):
    server = serve(static_extra=LIMITS)
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as s:
        s.ehlo("client.example")
        for i in range(2):
            assert s.sendmail("sender@example.org", ["mjl@moxide.test"], message(f"m{i}")) == {}
        # A transaction counts at MAIL FROM, whether or not a message follows.
        assert s.mail("sender@example.org") == (250, b"2.1.0 sender ok")
        assert s.rset()[0] == 250
        assert s.mail("sender@example.org") == (451, b"4.7.0 too many messages from your address, try again later")
        assert s.noop()[0] == 250
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as s:
        s.ehlo("client.example")
        assert s.mail("<>")[0] == 451
    # Authenticated submission is not limited by it.
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=30) as s:
        s.ehlo("client.example")
        s.login(*server.login("mjl"))
        assert s.sendmail("mjl@moxide.test", ["mjl@moxide.test"], message("submitted").replace(b"sender@example.org", b"mjl@moxide.test")) == {}
    assert subjects(server) == ["Subject: m0", "Subject: m1", "Subject: submitted"]


def test_max_recipients(serve):
    server = serve(smtp="max_recipients = 100")
    c = Conn(server.ports["smtp"])
    assert c.reply() == GREETING
    c.send(b"EHLO client.example\r\nMAIL FROM:<sender@example.org>\r\n" + b"RCPT TO:<mjl@moxide.test>\r\n" * 101 + b"DATA\r\n")
    assert c.reply()[-1] == "250 HELP"
    assert c.reply() == ["250 2.1.0 sender ok"]
    assert [c.reply() for _ in range(100)] == [["250 2.1.5 recipient ok"]] * 100
    # RFC 5321 §4.5.3.1.10: a temporary error; the client sends the rest in another transaction.
    assert c.reply() == ["452 4.5.3 too many recipients"]
    assert c.reply() == ["354 end data with <CR><LF>.<CR><LF>"]
    c.send(message("hundred") + b".\r\nQUIT\r\n")
    assert c.reply()[0].startswith("250 2.0.0 message delivered")
    assert c.reply()[0].startswith("221 ")
    c.close()
    # The same address a hundred times is one copy.
    assert subjects(server) == ["Subject: hundred"]


def test_recipients_on_the_mx(serve):
    # No postmaster account configured.
    server = serve(dynamic=SERVE_DYNAMIC.replace('postmaster = "mjl"\n', ""))
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as s:
        s.ehlo("client.example")
        assert s.mail("sender@example.org") == (250, b"2.1.0 sender ok")
        assert s.rcpt("nobody@moxide.test") == (550, b"5.1.1 no such user")
        assert s.rcpt("someone@remote.example") == (550, b"5.7.1 not accepting mail for this domain (no relaying)")
        # The server's host name is not one of its mail domains here, but it is ours: never
        # relayed.
        assert s.rcpt("postmaster@mx.moxide.test") == (550, b"5.1.1 no such user")
        # <Postmaster> without a domain (RFC 5321 §4.1.1.3) is postmaster@ the host name, which
        # has no mailbox in this configuration: refused, saying so.
        assert s.rcpt("<Postmaster>") == (550, b"5.1.1 no mailbox for postmaster@mx.moxide.test")
        # Addresses are case-insensitive; the transaction goes on after refusals.
        assert s.rcpt("MJL@Moxide.Test") == (250, b"2.1.5 recipient ok")
        assert s.rcpt("info@moxide.test") == (250, b"2.1.5 recipient ok")
        code, text = s.data(message("refusals"))
        assert code == 250, text
    assert subjects(server) == ["Subject: refusals"]
    # On submission, <Postmaster> is not sent to the outgoing queue for our own host either.
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=30) as s:
        s.ehlo("client.example")
        s.login(*server.login("mjl"))
        assert s.mail("mjl@moxide.test")[0] == 250
        assert s.rcpt("<Postmaster>") == (550, b"5.1.1 no mailbox for postmaster@mx.moxide.test")


def test_postmaster_account(serve):
    # `postmaster = "mjl"` in domains.toml: postmaster@ every domain and of the host name, and
    # <Postmaster>, reach mjl unless an account lists the address itself.
    server = serve()
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as s:
        s.ehlo("client.example")
        assert s.mail("sender@example.org") == (250, b"2.1.0 sender ok")
        for rcpt in ("<Postmaster>", "postmaster@mx.moxide.test", "PostMaster@other.test", "postmaster@moxide.test"):
            assert s.rcpt(rcpt) == (250, b"2.1.5 recipient ok"), rcpt
        code, text = s.data(message("to the postmaster"))
        assert code == 250, text
    assert subjects(server) == ["Subject: to the postmaster"]


def test_postmaster_of_the_host_name(serve):
    # With the host name configured as a mail domain and its postmaster address given to an
    # account, <Postmaster> reaches that account, from the MX and from submission.
    dynamic = SERVE_DYNAMIC.replace('[domains."other.test"]', '[domains."other.test"]\n[domains."mx.moxide.test"]').replace(
        '"info@moxide.test"]', '"info@moxide.test", "postmaster@mx.moxide.test"]')
    server = serve(dynamic=dynamic)
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as s:
        s.ehlo("client.example")
        assert s.mail("<>")[0] == 250
        assert s.rcpt("<POSTMASTER>") == (250, b"2.1.5 recipient ok")
        assert s.data(message("to postmaster"))[0] == 250
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=30) as s:
        s.ehlo("client.example")
        s.login(*server.login("other"))
        assert s.mail("other@other.test")[0] == 250
        assert s.rcpt("<Postmaster>") == (250, b"2.1.5 recipient ok")
        assert s.data(message("submitted to postmaster").replace(b"sender@example.org", b"other@other.test"))[0] == 250
    assert subjects(server) == ["Subject: to postmaster", "Subject: submitted to postmaster"]
    assert server.queue_list() == ["queue is empty"]
