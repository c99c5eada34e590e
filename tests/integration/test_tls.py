"""TLS: STARTTLS on SMTP and IMAP, implicit TLS on submissions and imaps (RFC 8314), with the
self-signed certificate localserve makes."""

import imaplib
import smtplib
import socket
import ssl

from test_delivery import MESSAGE


def context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def test_smtp_starttls_then_submission_auth(localserve):
    with smtplib.SMTP("127.0.0.1", localserve.ports["submission"], timeout=30) as s:
        s.ehlo("client.example")
        assert s.has_extn("starttls")
        s.starttls(context=context())
        s.ehlo("client.example")
        assert not s.has_extn("starttls")
        s.login("mox@localhost", "moxmoxmox")
        assert s.sendmail("mox@localhost", ["mox@localhost"], MESSAGE) == {}
    with imaplib.IMAP4_SSL("127.0.0.1", localserve.ports["imaps"], ssl_context=context()) as c:
        assert "STARTTLS" not in c.capabilities
        c.login("mox@localhost", "moxmoxmox")
        c.select("INBOX")
        typ, data = c.fetch("1", "(BODY.PEEK[])")
        assert b"with ESMTPSA" in data[0][1]
        assert data[0][1].endswith(MESSAGE)


def test_implicit_tls_submission(localserve):
    with smtplib.SMTP_SSL("127.0.0.1", localserve.ports["submissions"], timeout=30, context=context()) as s:
        s.ehlo("client.example")
        assert not s.has_extn("starttls")
        assert s.has_extn("auth")
        s.login("mox@localhost", "moxmoxmox")
        assert s.sendmail("mox@localhost", ["mox@localhost"], MESSAGE) == {}


def test_imap_starttls(localserve):
    c = imaplib.IMAP4("127.0.0.1", localserve.ports["imap"])
    assert "STARTTLS" in c.capabilities
    c.starttls(ssl_context=context())
    c.login("mox@localhost", "moxmoxmox")
    assert c.select("INBOX")[0] == "OK"
    c.logout()


def test_imap_starttls_drops_pipelined_plaintext(localserve):
    raw = socket.create_connection(("127.0.0.1", localserve.ports["imap"]), timeout=10)
    f = raw.makefile("rb")
    assert f.readline().startswith(b"* OK")
    # An attacker appends a command to the STARTTLS packet: it must not run after the handshake.
    raw.sendall(b"a1 STARTTLS\r\ninjected LOGIN mox@localhost moxmoxmox\r\n")
    assert f.readline() == b"a1 OK begin TLS negotiation now\r\n"
    tls = context().wrap_socket(raw, server_hostname="localhost")
    tf = tls.makefile("rb")
    tls.sendall(b"a2 CAPABILITY\r\n")
    lines = [tf.readline(), tf.readline()]
    assert lines[0].startswith(b"* CAPABILITY ") and b"STARTTLS" not in lines[0]
    assert lines[1] == b"a2 OK done\r\n", lines
    tls.sendall(b"a3 SELECT INBOX\r\n")
    assert tf.readline().startswith(b"a3 BAD log in first")
    tls.close()


def test_smtp_starttls_drops_pipelined_plaintext(localserve):
    raw = socket.create_connection(("127.0.0.1", localserve.ports["smtp"]), timeout=10)
    f = raw.makefile("rb")
    f.readline()
    raw.sendall(b"EHLO c\r\n")
    while not f.readline().startswith(b"250 "):
        pass
    raw.sendall(b"STARTTLS\r\nMAIL FROM:<injected@example.org>\r\n")
    assert f.readline().startswith(b"220 2.0.0")
    tls = context().wrap_socket(raw, server_hostname="localhost")
    tf = tls.makefile("rb")
    tls.sendall(b"MAIL FROM:<a@example.org>\r\n")
    # The injected MAIL did not run: without a new EHLO, MAIL is out of sequence.
    assert tf.readline().startswith(b"503 5.5.1")
    tls.close()
