"""swaks (the SMTP test tool) against `serve`: MX delivery, submission with AUTH over STARTTLS
and implicit TLS, PIPELINING, an 8-bit body, and what it does without SMTPUTF8. The
transcript swaks prints is checked line by line: `<-` replies, `->` commands, `~` over TLS,
`*` marks a refusal."""

import imaplib
import re
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks is not installed (scripts/test installs it)")


@pytest.fixture
def server(module_serve):
    return module_serve


def swaks(port, *args):
    """Runs swaks against the server; returns its exit code and its transcript lines."""
    r = subprocess.run(
        ["swaks", "--server", "127.0.0.1", "--port", str(port), "--helo", "client.example", *args],
        capture_output=True, timeout=30,
    )
    return r.returncode, r.stdout.decode("utf-8", "replace").splitlines()


def stored(server, account, subject):
    c = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=30)
    c.login(*server.login(account))
    c.select("INBOX")
    typ, data = c.uid("SEARCH", "SUBJECT", f'"{subject}"')
    bodies = []
    for uid in data[0].split():
        typ, data = c.uid("FETCH", uid, "(BODY.PEEK[])")
        bodies.append(data[0][1])
    c.logout()
    return bodies


@pytest.mark.parametrize("tls", [False, True])
def test_mx_delivery(server, tls):
    subject = f"swaks mx {'starttls' if tls else 'plain'}"
    code, lines = swaks(server.ports["smtp"], "--from", "sender@example.org", "--to", "mjl@moxide.test",
                        "--header", f"Subject: {subject}", *(["--tls"] if tls else []))
    assert code == 0, lines
    p = "<~ " if tls else "<- "
    assert any(line.startswith("=== TLS started with cipher TLSv1.3:") for line in lines) == tls
    assert f"{p} 250 2.1.0 sender ok" in lines and f"{p} 250 2.1.5 recipient ok" in lines
    assert any(re.fullmatch(p + r" 250 2\.0\.0 message delivered, id [0-9a-f]+-[0-9a-f]+", line) for line in lines), lines
    [body] = stored(server, "mjl", subject)
    assert body.startswith(b"Received: from client.example (127.0.0.1)\r\n\tby mx.moxide.test (moxide) with ESMTP"
                           + (b"S" if tls else b"") + b" id ")
    assert b"\r\nAuthentication-Results: mx.moxide.test;\r\n\tiprev=" in body
    assert b"\r\nX-Mailer: swaks v" in body and body.endswith(b"\r\n\r\nThis is a test mailing\r\n\r\n\r\n")


def test_mx_with_helo(server):
    # --protocol SMTP: HELO instead of EHLO, and the Received field says so.
    code, lines = swaks(server.ports["smtp"], "--protocol", "SMTP", "--from", "sender@example.org",
                        "--to", "mjl@moxide.test", "--header", "Subject: swaks helo")
    assert code == 0, lines
    assert "<-  250 mx.moxide.test" in lines
    [body] = stored(server, "mjl", "swaks helo")
    assert body.startswith(b"Received: from client.example (127.0.0.1)\r\n\tby mx.moxide.test (moxide) with SMTP id ")


AUTH_CASES = [
    (mechanism, option, service)
    for option, service in (("--tls", "submission"), ("--tlsc", "submissions"))
    for mechanism in ("PLAIN", "LOGIN", "CRAM-MD5")
]


@pytest.mark.parametrize("mechanism,option,service", AUTH_CASES)
def test_submission_with_auth(server, mechanism, option, service):
    user, password = server.login("mjl")
    subject = f"swaks {mechanism} {option}"
    code, lines = swaks(server.ports[service], option, "--auth", mechanism, "--auth-user", user,
                        "--auth-password", password, "--from", user, "--to", "other@other.test",
                        "--header", f"Subject: {subject}")
    assert code == 0, lines
    assert "<~  250-AUTH SCRAM-SHA-256-PLUS SCRAM-SHA-256 SCRAM-SHA-1-PLUS SCRAM-SHA-1 CRAM-MD5 PLAIN LOGIN" in lines
    assert "<~  235 2.7.0 authentication successful" in lines
    assert any(line.startswith("<~  250 2.0.0 message accepted, id ") for line in lines), lines
    [body] = stored(server, "other", subject)
    assert b"by mx.moxide.test (moxide) with ESMTPSA id " in body


def test_submission_wrong_password(server):
    code, lines = swaks(server.ports["submissions"], "--tlsc", "--auth", "PLAIN", "--auth-user", "mjl@moxide.test",
                        "--auth-password", "wrong", "--from", "mjl@moxide.test", "--to", "other@other.test")
    # swaks' exit code for a failed AUTH.
    assert code == 28, lines
    assert "<~* 535 5.7.8 authentication credentials invalid" in lines


def test_pipelining_with_a_refused_recipient(server):
    user, password = server.login("mjl")
    code, lines = swaks(server.ports["submission"], "--tls", "--pipeline", "--auth", "PLAIN", "--auth-user", user,
                        "--auth-password", password, "--from", user, "--to", "other@other.test,nobody@moxide.test",
                        "--header", "Subject: swaks pipelined")
    assert code == 0, lines
    # The transaction went out in one go, the replies came back in order.
    i = lines.index(" ~> MAIL FROM:<mjl@moxide.test>")
    assert lines[i:i + 8] == [
        " ~> MAIL FROM:<mjl@moxide.test>",
        " ~> RCPT TO:<other@other.test>",
        " ~> RCPT TO:<nobody@moxide.test>",
        " ~> DATA",
        "<~  250 2.1.0 sender ok",
        "<~  250 2.1.5 recipient ok",
        "<~* 550 5.1.1 no such user",
        "<~  354 end data with <CR><LF>.<CR><LF>",
    ]
    assert len(stored(server, "other", "swaks pipelined")) == 1


def test_8bit_body(server):
    body = "Grüße, café, δοκιμή, 日本語"
    code, lines = swaks(server.ports["smtp"], "--from", "sender@example.org", "--to", "mjl@moxide.test",
                        "--header", "Subject: swaks 8bit", "--add-header", "Content-Type: text/plain; charset=utf-8",
                        "--add-header", "Content-Transfer-Encoding: 8bit", "--body", body)
    assert code == 0, lines
    [stored_body] = stored(server, "mjl", "swaks 8bit")
    # The bytes arrive as sent, UTF-8 and all (swaks ends the body with two empty lines).
    assert stored_body.endswith(b"\r\n\r\n" + body.encode() + b"\r\n\r\n\r\n")


def test_non_ascii_address_needs_smtputf8(server):
    # This swaks does not know SMTPUTF8, so it sends a UTF-8 address without it: refused at RCPT
    # (RFC 6531 §3.4); swaks exits with its code for a failed RCPT.
    user, password = server.login("mjl")
    code, lines = swaks(server.ports["submissions"], "--tlsc", "--auth", "PLAIN", "--auth-user", user,
                        "--auth-password", password, "--from", user, "--to", "δοκιμή@moxide.test")
    assert code == 24, lines
    assert "<~* 553 5.6.7 non-ASCII address needs the SMTPUTF8 parameter on MAIL" in lines
    assert lines[-3:] == [" ~> QUIT", "<~  221 2.0.0 mx.moxide.test closing connection",
                          "=== Connection closed with remote host."]
