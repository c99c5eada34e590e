"""Bad input gets a protocol error and the connection survives; nothing partial is stored."""

import imaplib
import socket


class Conn:
    """A line-oriented client socket that keeps what it has read but not returned."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError(self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode(errors="replace")

    def reply(self):
        """One SMTP reply, all its lines."""
        got = [self.line()]
        while got[-1][3:4] == "-":
            got.append(self.line())
        return got

    def until(self, prefix):
        """IMAP: lines up to and including the one starting with `prefix`."""
        got = [self.line()]
        while not got[-1].startswith(prefix):
            got.append(self.line())
        return got

    def close(self):
        self.sock.close()


def start_data(c):
    c.send(b"EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<mox@localhost>\r\nDATA\r\n")
    assert c.reply()[-1].startswith("250 ")
    assert c.reply()[0].startswith("250 2.1.0")
    assert c.reply()[0].startswith("250 2.1.5")
    assert c.reply()[0].startswith("354 ")


def inbox_subjects(server):
    c = imaplib.IMAP4("127.0.0.1", server.ports["imap"])
    c.login("mox@localhost", "moxmoxmox")
    typ, data = c.select("INBOX")
    subjects = []
    if data != [b"0"]:
        typ, data = c.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        subjects = [d[1].strip() for d in data if isinstance(d, tuple)]
    c.logout()
    return subjects


def test_smtp_bad_commands_get_errors_and_connection_survives(localserve):
    c = Conn(localserve.ports["smtp"])
    assert c.reply()[0].startswith("220 ")
    c.send(b"HELLO there\r\n")
    assert c.reply()[0].startswith("500 5.5.2")
    c.send(b"MAIL FROM:<a@example.org>\r\n")
    assert c.reply()[0].startswith("503 5.5.1")
    c.send(b"EHLO client.example\r\n")
    assert c.reply()[-1] == "250 HELP"
    c.send(b"MAIL FROM:<not an address>\r\n")
    assert c.reply()[0].startswith("501 5.5.4")
    c.send(b"MAIL FROM:<a@example.org> BOGUS=1\r\n")
    assert c.reply()[0].startswith("555 5.5.4")
    c.send(b"RCPT TO:<mox@localhost>\r\n")
    assert c.reply()[0].startswith("503 5.5.1")
    c.send(b"X" * 5000 + b"\r\n")
    assert c.reply()[0].startswith("500 5.5.2 line too long")
    c.send(b"NOOP\r\n")
    assert c.reply()[0].startswith("250 2.0.0")
    c.send(b"QUIT\r\n")
    assert c.reply()[0].startswith("221 2.0.0")
    c.close()


def test_client_disconnecting_mid_data_stores_nothing(localserve):
    c = Conn(localserve.ports["smtp"])
    c.reply()
    start_data(c)
    c.send(b"Subject: partial\r\n\r\nnever finished\r\n")
    c.close()
    c = Conn(localserve.ports["smtp"])
    c.reply()
    start_data(c)
    c.send(b"Subject: whole\r\n\r\nbody\r\n.\r\nQUIT\r\n")
    assert c.reply()[0].startswith("250 2.0.0")
    c.close()
    assert inbox_subjects(localserve) == [b"Subject: whole"]


def test_oversized_message_without_size_parameter(tmp_path, start_localserve):
    ls = tmp_path / "ls"
    ls.mkdir()
    (ls / "moxide.toml").write_text(
        'hostname = "localhost"\n[listeners.local]\nips = ["127.0.0.1"]\n'
        "smtp = { port = 1025, max_message_size = 1000 }\nsubmission = { port = 1587 }\nimap = { port = 1143 }\n"
    )
    server = start_localserve(ls)
    c = Conn(server.ports["smtp"])
    c.reply()
    start_data(c)
    c.send(b"Subject: big\r\n\r\n" + (b"x" * 70 + b"\r\n") * 30 + b".\r\n")
    assert c.reply()[0].startswith("552 5.3.4")
    # The session goes on.
    c.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<mox@localhost>\r\nDATA\r\n")
    assert [c.reply()[0][:3] for _ in range(3)] == ["250", "250", "354"]
    c.send(b"Subject: small\r\n\r\nok\r\n.\r\n")
    assert c.reply()[0].startswith("250 2.0.0")
    c.close()
    assert inbox_subjects(server) == [b"Subject: small"]


def test_bare_lf_in_data_is_refused(localserve):
    c = Conn(localserve.ports["smtp"])
    c.reply()
    start_data(c)
    # The smuggling pattern: "\n.\n" must not end the message.
    c.send(b"Subject: x\r\n\r\nbody\n.\nMAIL FROM:<evil@example.org>\r\n.\r\n")
    assert c.reply()[0].startswith("554 5.6.0")
    c.close()
    assert inbox_subjects(localserve) == []


def test_imap_bad_commands_get_bad_and_connection_survives(localserve):
    c = Conn(localserve.ports["imap"])
    assert c.line().startswith("* OK [CAPABILITY IMAP4rev2")
    c.send(b"a1 BOGUS\r\n")
    assert c.line().startswith("a1 BAD")
    c.send(b"a2 SELECT INBOX\r\n")
    assert c.line().startswith("a2 BAD")
    c.send(b"a3 LOGIN mox@localhost wrong\r\n")
    assert c.line().startswith("a3 NO [AUTHENTICATIONFAILED]")
    c.send(b"a4 LOGIN {13}\r\n")
    assert c.line().startswith("+ ")
    c.send(b"mox@localhost {9+}\r\nmoxmoxmox\r\n")
    assert c.line().startswith("a4 OK")
    c.send(b"a5 FETCH 1:* (FLAGS\r\n")
    assert c.line().startswith("a5 BAD")
    c.send(b"a6 SELECT INBOX\r\n")
    assert c.until("a6 ")[-1].startswith("a6 OK [READ-WRITE]")
    c.send(b"a7 FETCH 5 FLAGS\r\n")
    assert c.line().startswith("a7 BAD")
    c.send(b"a8 LOGIN {99999999}\r\n")
    assert c.line().startswith("a8 BAD [TOOBIG]")
    c.send(b"a9 LOGOUT\r\n")
    assert c.until("a9 ") == ["* BYE logging out", "a9 OK done"]
    c.close()


def test_imap_too_many_failed_logins_disconnects(localserve):
    c = Conn(localserve.ports["imap"])
    c.line()
    for i in range(3):
        c.send(b"t%d LOGIN mox@localhost wrong\r\n" % i)
    got = c.until("t2 ")
    assert got[-2] == "* BYE too many failed logins"
    assert c.sock.recv(1) == b""


def test_smtp_nul_bytes_and_non_ascii_in_commands(localserve):
    c = Conn(localserve.ports["smtp"])
    c.reply()
    c.send(b"EHLO client.example\r\n")
    assert c.reply()[-1] == "250 HELP"
    for line, reply in [
        (b"NOOP\0", "500 5.5.2 unknown command"),
        (b"\0\0\0", "500 5.5.2 unknown command"),
        (b"MAIL FROM:<a\0b@example.org>", '501 5.5.4 invalid localpart "a\\0b"'),
        (b"MAIL FROM:<a@example.org>\0", "501 5.5.4 expected space after address"),
        # What a reply quotes of the command never carries control characters back.
        (b"MAIL FROM:<a@example.org> \0", "555 5.5.4 unsupported parameter  "),
        (b"MAIL FROM:<\xff@example.org>", "501 5.5.4 command line is not UTF-8"),
        # RFC 6531 §3.4: a non-ASCII address needs SMTPUTF8 on MAIL.
        ("MAIL FROM:<δοκιμή@example.org>".encode(), "553 5.6.7 non-ASCII address needs the SMTPUTF8 parameter"),
        (b"MAIL FROM:<a@example.org>", "250 2.1.0 sender ok"),
        (b"RCPT TO:<mox@local\0host>", '501 5.5.4 invalid domain "local\\0host": only letters, digits and hyphens are allowed'),
        (b'RCPT TO:<"mo\0x"@localhost>', "501 5.5.4 control character in localpart"),
        ("RCPT TO:<δοκιμή@localhost>".encode(), "553 5.6.7 non-ASCII address needs the SMTPUTF8 parameter on MAIL"),
        ("RCPT TO:<mox@παράδειγμα.δοκιμή>".encode(), "553 5.6.7 non-ASCII address needs the SMTPUTF8 parameter on MAIL"),
        # The transaction survived all of that.
        (b"RCPT TO:<mox@localhost>", "250 2.1.5 recipient ok"),
        (b"DATA", "354 end data with <CR><LF>.<CR><LF>"),
    ]:
        c.send(line + b"\r\n")
        assert c.reply() == [reply], line
    c.send(b"Subject: survived\r\n\r\nbody\r\n.\r\n")
    assert c.reply()[0].startswith("250 2.0.0 ")
    # With SMTPUTF8 the same addresses go.
    c.send("MAIL FROM:<δοκιμή@example.org> SMTPUTF8\r\nRCPT TO:<δοκιμή@localhost>\r\nRSET\r\n".encode())
    assert [c.reply() for _ in range(3)] == [["250 2.1.0 sender ok"], ["250 2.1.5 recipient ok"], ["250 2.0.0 reset"]]
    c.close()
    assert inbox_subjects(localserve) == [b"Subject: survived"]


def test_smtp_line_length_limit(localserve):
    # 4096 bytes with the CRLF (RFC 5321 §4.5.3.1.4 asks for at least 512), however the line
    # arrives in packets; a longer one is refused and skipped, and the transaction survives.
    c = Conn(localserve.ports["smtp"])
    c.reply()
    c.send(b"EHLO client.example\r\nMAIL FROM:<a@example.org>\r\n")
    assert c.reply()[-1] == "250 HELP"
    assert c.reply() == ["250 2.1.0 sender ok"]
    c.send(b"NOOP " + b"x" * 4089 + b"\r\n")
    assert c.reply() == ["250 2.0.0 ok"]
    c.send(b"NOOP " + b"x" * 4090 + b"\r\n")
    assert c.reply() == ["500 5.5.2 line too long"]
    for _ in range(3):
        c.send(b"RCPT TO:<" + b"a" * 3000)
    c.send(b"@localhost>\r\nRCPT TO:<mox@localhost>\r\nDATA\r\n")
    assert c.reply() == ["500 5.5.2 line too long"]
    assert c.reply() == ["250 2.1.5 recipient ok"]
    assert c.reply()[0].startswith("354 ")
    c.send(b"Subject: after long lines\r\n\r\n" + b"y" * 10000 + b"\r\n.\r\n")
    # Lines of the message are not held to the command limit (RFC 5321 §4.5.3.1 asks for
    # no limits where possible).
    assert c.reply()[0].startswith("250 2.0.0 ")
    c.close()
    assert inbox_subjects(localserve) == [b"Subject: after long lines"]
