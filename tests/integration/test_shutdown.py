"""SIGTERM: the server stops accepting, answers the message a client is in the middle of sending
and then says 421, tells IMAP sessions BYE, and exits 0; the message is there after a restart."""

import imaplib
import signal
import socket
import time

from conftest import PASSWORD


def read_reply(f):
    lines = []
    while True:
        line = f.readline()
        assert line, "connection closed"
        lines.append(line)
        if line[3:4] != b"-":
            return lines


def test_sigterm_finishes_transactions_and_says_bye(serve):
    server = serve()
    imap = imaplib.IMAP4("127.0.0.1", server.ports["imap"])
    imap.login("mjl@moxide.test", PASSWORD)
    imap.select("INBOX")
    tag = imap._new_tag().decode()
    imap.send(f"{tag} IDLE\r\n".encode())
    assert imap.readline().startswith(b"+")

    smtp = socket.create_connection(("127.0.0.1", server.ports["smtp"]), timeout=30)
    f = smtp.makefile("rb")
    assert read_reply(f)[0].startswith(b"220")
    for cmd in (b"EHLO client.example", b"MAIL FROM:<someone@example.org>", b"RCPT TO:<mjl@moxide.test>", b"DATA"):
        smtp.sendall(cmd + b"\r\n")
        read_reply(f)
    smtp.sendall(b"From: someone@example.org\r\nSubject: in flight\r\n\r\nfirst half\r\n")
    time.sleep(0.2)

    server.proc.send_signal(signal.SIGTERM)
    # The idling IMAP session is told.
    assert imap.readline() == b"* BYE server shutting down\r\n"
    # New connections are no longer accepted.
    deadline = time.monotonic() + 5
    while True:
        try:
            socket.create_connection(("127.0.0.1", server.ports["imap"]), timeout=1).close()
        except OSError:
            break
        assert time.monotonic() < deadline, "still accepting after SIGTERM"
        time.sleep(0.05)
    # The message being sent is finished and answered, then the connection is closed with 421.
    smtp.sendall(b"second half\r\n.\r\n")
    lines = read_reply(f)
    assert lines[0].startswith(b"250 "), lines
    assert read_reply(f)[0].startswith(b"421 4.3.2"), "no 421"
    assert f.readline() == b""
    assert server.proc.wait(15) == 0

    server = serve()
    c = imaplib.IMAP4("127.0.0.1", server.ports["imap"])
    c.login("mjl@moxide.test", PASSWORD)
    c.select("INBOX")
    typ, data = c.search(None, "SUBJECT", '"in flight"')
    assert data[0].split(), "the message answered during shutdown is not there"
    c.logout()
