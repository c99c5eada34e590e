"""Message submission (RFC 6409) with real clients against `moxide serve`: every AUTH mechanism
over plain text on loopback, STARTTLS and implicit TLS (smtplib does PLAIN, LOGIN and CRAM-MD5,
scramp drives SCRAM and SCRAM-PLUS), the rules a submitted message must follow, and remote
recipients going to the outgoing queue, durably."""

import base64
import calendar
import ctypes
import imaplib
import os
import re
import smtplib
import ssl
import subprocess
import threading
import time
import uuid

import pytest
import scramp

from conftest import Serve, stored

MECHANISMS = ["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256-PLUS"]
# What EHLO offers: -PLUS only where there is a TLS channel to bind to.
AUTH_PLAIN_TEXT = "SCRAM-SHA-256 SCRAM-SHA-1 CRAM-MD5 PLAIN LOGIN"
AUTH_TLS = "SCRAM-SHA-256-PLUS SCRAM-SHA-256 SCRAM-SHA-1-PLUS SCRAM-SHA-1 CRAM-MD5 PLAIN LOGIN"
MJL = "mjl@moxide.test"


def context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


@pytest.fixture
def server(module_serve):
    return module_serve


def connect(server, transport, source=None):
    """An smtplib client after EHLO: "plain" (port submission, no TLS), "starttls" (the same
    port after STARTTLS) or "tls" (port submissions, implicit TLS)."""
    if transport == "tls":
        s = smtplib.SMTP_SSL("127.0.0.1", server.ports["submissions"], timeout=30, context=context(),
                             source_address=source)
    else:
        s = smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=30, source_address=source)
    s.ehlo("client.example")
    if transport == "starttls":
        s.starttls(context=context())
        s.ehlo("client.example")
    return s


def authenticate(s, mechanism, user, password, binding=None, initial_response_ok=True):
    """AUTH with `mechanism`: smtplib's own for PLAIN, LOGIN and CRAM-MD5; scramp's client for
    SCRAM, bound to the TLS connection (tls-server-end-point) for -PLUS unless `binding` is
    given. Returns smtplib's (code, text) or raises SMTPAuthenticationError."""
    if not mechanism.startswith("SCRAM-"):
        s.user, s.password = user, password
        method = {"PLAIN": s.auth_plain, "LOGIN": s.auth_login, "CRAM-MD5": s.auth_cram_md5}[mechanism]
        return s.auth(mechanism, method, initial_response_ok=initial_response_ok)
    if binding is None and mechanism.endswith("-PLUS"):
        binding = scramp.make_channel_binding("tls-server-end-point", s.sock)
    client = scramp.ScramClient([mechanism], user, password, channel_binding=binding)

    def answer(challenge=None):
        if challenge is None:
            return client.get_client_first()
        text = challenge.decode()
        if text.startswith("r="):
            client.set_server_first(text)
            return client.get_client_final()
        # The server's signature: scramp checks it proves the server knows the password too.
        client.set_server_final(text)
        return ""

    return s.auth(mechanism, answer)


def message(token, sender=MJL, to="other@other.test", headers=b""):
    """A message with `token` as its Subject, for finding it again over IMAP."""
    return (
        f"From: Mjl <{sender}>\r\nTo: <{to}>\r\nSubject: {token}\r\n".encode()
        + headers
        + b"\r\nHello.\r\n.a line starting with a dot\r\n"
    )


def token():
    return f"t{uuid.uuid4().hex}"




def received(body, protocol, rcpt="other@other.test", ip="127.0.0.1"):
    """Checks the Received field the server put first, and returns what follows it."""
    m = re.match(
        rb"Received: from client\.example \(" + re.escape(ip.encode()) + rb"\)\r\n"
        rb"\tby mx\.moxide\.test \(moxide\) with " + protocol.encode() + rb" id [0-9a-f]+-[0-9a-f]+"
        + (rb"\r\n\tfor <" + re.escape(rcpt.encode()) + rb">" if rcpt else b"")
        + rb";\r\n\t[A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0000\r\n",
        body,
    )
    assert m, body[:300]
    return body[m.end():]


AUTH_CASES = [
    (mechanism, transport)
    for transport in ("plain", "starttls", "tls")
    for mechanism in MECHANISMS
    # Without TLS there is nothing to bind to: see test_plus_needs_tls.
    if not (transport == "plain" and mechanism.endswith("-PLUS"))
]


@pytest.mark.parametrize("mechanism,transport", AUTH_CASES)
def test_auth_mechanism_then_local_delivery(server, mechanism, transport):
    user, password = server.login("mjl")
    with connect(server, transport) as s:
        assert s.esmtp_features["auth"].strip() == (AUTH_PLAIN_TEXT if transport == "plain" else AUTH_TLS)
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            authenticate(s, mechanism, user, password + "x")
        assert (e.value.smtp_code, e.value.smtp_error) == (535, b"5.7.8 authentication credentials invalid")
        # A failed attempt leaves the session usable: the right password works next.
        assert authenticate(s, mechanism, user, password) == (235, b"2.7.0 authentication successful")
        # Logged in, AUTH is no longer offered or allowed.
        assert "auth" not in s.ehlo("client.example")[1].decode().lower()
        assert s.docmd("AUTH", "PLAIN") == (503, b"5.5.1 already authenticated")
        t = token()
        msg = message(t, headers=f"Message-ID: <{t}@moxide.test>\r\nDate: Mon, 2 Jan 2023 10:00:00 +0000\r\n".encode())
        assert s.sendmail(user, ["other@other.test"], msg) == {}
    [body] = stored(server, "other", t)
    assert received(body, "ESMTPA" if transport == "plain" else "ESMTPSA") == msg


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_password_mechanisms_without_initial_response(server, mechanism):
    user, password = server.login("other")
    with connect(server, "plain") as s:
        assert authenticate(s, mechanism, user, password, initial_response_ok=False)[0] == 235


def test_login_names_and_unknown_user(server):
    with connect(server, "plain") as s:
        # An unknown login fails exactly like a wrong password, for every mechanism.
        for mechanism in ("PLAIN", "CRAM-MD5", "SCRAM-SHA-256"):
            with pytest.raises(smtplib.SMTPAuthenticationError) as e:
                authenticate(s, mechanism, "nobody@moxide.test", "x")
            assert (e.value.smtp_code, e.value.smtp_error) == (535, b"5.7.8 authentication credentials invalid")
        # The account name works as login too, as do the account's other addresses.
        assert authenticate(s, "PLAIN", "mjl", server.login("mjl")[1])[0] == 235
    with connect(server, "plain") as s:
        assert authenticate(s, "SCRAM-SHA-256", "info@moxide.test", server.login("mjl")[1])[0] == 235


def test_plus_needs_tls(server):
    user, password = server.login("mjl")
    with connect(server, "plain") as s:
        for mechanism in ("SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS"):
            assert s.docmd("AUTH", mechanism) == (504, f"5.5.4 unsupported mechanism {mechanism}".encode())
    with connect(server, "tls") as s:
        # Binding data of another certificate (a man in the middle) does not verify.
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            authenticate(s, "SCRAM-SHA-256-PLUS", user, password, binding=("tls-server-end-point", b"\0" * 32))
        assert (e.value.smtp_code, e.value.smtp_error) == (
            501, b"5.5.2 channel binding: channel binding data differs from the connection's")
        # A client that can bind but thinks the server cannot ("y" flag) is told of the downgrade.
        binding = scramp.make_channel_binding("tls-server-end-point", s.sock)
        client = scramp.ScramClient(["SCRAM-SHA-256"], user, password, channel_binding=binding)
        first = base64.b64encode(client.get_client_first().encode()).decode()
        assert s.docmd("AUTH", f"SCRAM-SHA-256 {first}") == (
            501, b"5.5.2 channel binding: the client believes we cannot bind, but we offer -PLUS: possible downgrade")


def test_auth_is_for_submission_only(server):
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as s:
        s.ehlo("client.example")
        assert not s.has_extn("auth")
        assert s.docmd("AUTH", "PLAIN") == (503, b"5.5.1 authentication not available here")


def test_submission_needs_auth_first(server):
    with connect(server, "starttls") as s:
        assert s.mail(MJL) == (530, b"5.7.0 authentication required")


# Submission rules.


def test_mail_from_must_be_of_the_account(server):
    user, password = server.login("mjl")
    with connect(server, "plain") as s:
        s.login(user, password)
        assert s.mail("other@other.test") == (550, b"5.7.1 other@other.test is not an address of your account")
        assert s.mail("someone@example.org") == (550, b"5.7.1 someone@example.org is not an address of your account")
        # Any address of the account goes, in any case; so does the null reverse path.
        assert s.mail("INFO@moxide.test") == (250, b"2.1.0 sender ok")
        s.rset()
        t = token()
        msg = message(t)
        assert s.mail("") == (250, b"2.1.0 sender ok")
        assert s.rcpt("other@other.test") == (250, b"2.1.5 recipient ok")
        assert s.data(msg)[0] == 250
    [body] = stored(server, "other", t)
    assert body.endswith(msg)


def test_from_header_must_be_of_the_account(server):
    user, password = server.login("mjl")
    with connect(server, "plain") as s:
        s.login(user, password)
        t = token()
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail(MJL, ["other@other.test"], message(t, sender="other@other.test"))
        assert (e.value.smtp_code, e.value.smtp_error) == (
            550, b"5.7.1 From address other@other.test is not an address of your account")
        # Every address in From must be the account's.
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail(MJL, ["other@other.test"], b"From: mjl@moxide.test, x@example.org\r\nSubject: " + t.encode() + b"\r\n\r\nhi\r\n")
        assert (e.value.smtp_code, e.value.smtp_error) == (
            550, b"5.7.1 From address x@example.org is not an address of your account")
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail(MJL, ["other@other.test"], b"To: other@other.test\r\nSubject: " + t.encode() + b"\r\n\r\nhi\r\n")
        assert (e.value.smtp_code, e.value.smtp_error) == (
            554, b"5.6.0 message has no From header (RFC 5322 section 3.6)")
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail(MJL, ["other@other.test"], b"From: mjl@moxide.test\r\nFrom: info@moxide.test\r\nSubject: " + t.encode() + b"\r\n\r\nhi\r\n")
        assert e.value.smtp_code == 554
        # The session goes on: another address of the account in From is fine.
        msg = message(t, sender="info@moxide.test")
        assert s.sendmail(MJL, ["other@other.test"], msg) == {}
    [body] = stored(server, "other", t)
    assert body.endswith(msg)


def test_message_id_and_date_added_when_missing(server):
    user, password = server.login("mjl")
    t1, t2 = token(), token()
    complete = message(t1, headers=b"Message-ID: <kept@client.example>\r\nDate: Mon, 2 Jan 2023 10:00:00 +0000\r\n")
    bare = message(t2)
    with connect(server, "plain") as s:
        s.login(user, password)
        assert s.sendmail(MJL, ["other@other.test"], complete) == {}
        assert s.sendmail(MJL, ["other@other.test"], bare) == {}
    [body] = stored(server, "other", t1)
    assert received(body, "ESMTPA") == complete
    [body] = stored(server, "other", t2)
    rest = received(body, "ESMTPA")
    m = re.match(
        rb"Message-ID: <[0-9a-f]{32}\.[0-9a-f]+@mx\.moxide\.test>\r\n"
        rb"Date: ([A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0000)\r\n",
        rest,
    )
    assert m, rest[:200]
    assert rest[m.end():] == bare
    sent = calendar.timegm(time.strptime(m.group(1).decode(), "%a, %d %b %Y %H:%M:%S +0000"))
    assert abs(sent - time.time()) < 60


def test_localserve_accepts_any_sender(localserve):
    t = token()
    msg = message(t, sender="someone@example.org", to="anyone@example.com")
    with smtplib.SMTP("127.0.0.1", localserve.ports["submission"], timeout=30) as s:
        s.ehlo("client.example")
        s.login("mox@localhost", "moxmoxmox")
        assert s.mail("someone@example.org") == (250, b"2.1.0 sender ok")
        assert s.rcpt("anyone@example.com") == (250, b"2.1.5 recipient ok")
        assert s.data(msg)[0] == 250
    c = imaplib.IMAP4("127.0.0.1", localserve.ports["imap"], timeout=30)
    c.login("mox@localhost", "moxmoxmox")
    c.select("INBOX")
    typ, data = c.uid("SEARCH", "SUBJECT", t)
    typ, data = c.uid("FETCH", data[0], "(BODY.PEEK[])")
    c.logout()
    assert data[0][1].endswith(msg)


# Remote recipients: the outgoing queue.

QUEUE_LINE = re.compile(
    r"(\d+)  (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)  (\d+)  (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)  (\d+)  <(.*)> -> <(.*?)>(  error: .*)?$"
)


def queue_entries(server):
    """(id, size, from, rcpt) per queue line, checking the fields that must hold for new entries."""
    lines = server.queue_list()
    if lines == ["queue is empty"]:
        return []
    entries = []
    for line in lines:
        m = QUEUE_LINE.match(line)
        assert m, line
        created = calendar.timegm(time.strptime(m.group(2), "%Y-%m-%dT%H:%M:%SZ"))
        assert abs(created - time.time()) < 120, line
        if m.group(3) == "0":
            # Never tried yet: the first attempt is due right away.
            assert m.group(4) == m.group(2) and not m.group(8), line
        else:
            # Tried (the test's remote domains have an MX where nothing listens): the next
            # attempt is minutes away, and once the attempt is over the error says why.
            assert m.group(4) > m.group(2) and "refused" in (m.group(8) or "refused"), line
        entries.append((int(m.group(1)), int(m.group(5)), m.group(6), m.group(7)))
    return entries


def rfc822_size(server, account, subject):
    c = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=30)
    c.login(*server.login(account))
    c.select("INBOX")
    typ, data = c.uid("SEARCH", "SUBJECT", subject)
    typ, data = c.uid("FETCH", data[0], "(RFC822.SIZE)")
    c.logout()
    return int(re.search(rb"RFC822\.SIZE (\d+)", data[0]).group(1))


def test_remote_recipients_are_queued_and_survive_sigkill(serve):
    server = serve()
    assert server.queue_list() == ["queue is empty"]
    user, password = server.login("mjl")
    t = token()
    msg = message(t, to="someone@remote.example")
    with connect(server, "starttls") as s:
        s.login(user, password)
        assert s.mail(MJL) == (250, b"2.1.0 sender ok")
        for rcpt in ("someone@remote.example", "other@other.test", "x@elsewhere.example", "mjl@moxide.test"):
            assert s.rcpt(rcpt) == (250, b"2.1.5 recipient ok")
        code, text = s.data(msg)
        assert code == 250 and text.startswith(b"2.0.0 message accepted"), text
        # Killed the moment 250 arrives: both the local copies and the queue entries were durable.
        server.kill()
    server = serve()
    entries = queue_entries(server)
    assert [e[2:] for e in entries] == [(MJL, "someone@remote.example"), (MJL, "x@elsewhere.example")]
    assert entries[1][0] == entries[0][0] + 1
    # One prefix (Received, Message-ID, Date) for all copies: the queued size is the stored size.
    size = rfc822_size(server, "other", t)
    assert [e[1] for e in entries] == [size, size]
    for account in ("other", "mjl"):
        [body] = stored(server, account, t)
        # Four recipients: the Received field names none of them.
        assert received(body, "ESMTPSA", rcpt=None).endswith(msg)
    # A clean restart keeps them too.
    server.stop()
    server = serve()
    assert queue_entries(server) == entries


def test_queue_keeps_smtputf8_addresses(server):
    user, password = server.login("mjl")
    t = token()
    before = queue_entries(server)
    with connect(server, "plain") as s:
        s.login(user, password)
        msg = message(t, to="δοκιμή@παράδειγμα.δοκιμή")
        assert s.sendmail(MJL, ["δοκιμή@παράδειγμα.δοκιμή"], msg, mail_options=["SMTPUTF8"]) == {}
        # Without SMTPUTF8 addresses are ASCII: a client gives the domain in A-labels.
        with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
            s.sendmail(MJL, ["user@παράδειγμα.δοκιμή"], message(t))
        assert e.value.recipients == {
            "user@παράδειγμα.δοκιμή": (553, b"5.6.7 non-ASCII address needs the SMTPUTF8 parameter on MAIL")}
        assert s.sendmail(MJL, ["user@xn--hxajbheg2az3al.xn--jxalpdlp"], message(t)) == {}
    new = [e[2:] for e in queue_entries(server) if e not in before]
    assert new == [(MJL, "δοκιμή@παράδειγμα.δοκιμή"), (MJL, "user@xn--hxajbheg2az3al.xn--jxalpdlp")]


def test_requiretls(server):
    user, password = server.login("mjl")
    with connect(server, "plain") as s:
        assert not s.has_extn("requiretls")
        s.login(user, password)
        assert s.mail(MJL, ["REQUIRETLS"]) == (530, b"5.7.10 REQUIRETLS needs a TLS connection")
    for transport in ("starttls", "tls"):
        t = token()
        with connect(server, transport) as s:
            assert s.has_extn("requiretls")
            s.login(user, password)
            assert s.mail(MJL, ["REQUIRETLS"]) == (250, b"2.1.0 sender ok")
            assert s.rcpt(f"{t}@remote.example") == (250, b"2.1.5 recipient ok")
            assert s.data(message(t))[0] == 250
        # Recorded with the queue entry (the log line is written once the entry is durable).
        assert queued_log(server, f"{t}@remote.example").endswith(" requiretls=true")
    # RFC 8689 §5: "TLS-Required: No" asks for the opposite, and is recorded as such.
    t = token()
    with connect(server, "plain") as s:
        s.login(user, password)
        assert s.sendmail(MJL, [f"{t}@remote.example"], message(t, headers=b"TLS-Required: No\r\n")) == {}
        assert s.sendmail(MJL, [f"{t}-2@remote.example"], message(t)) == {}
    assert queued_log(server, f"{t}@remote.example").endswith(" requiretls=false")
    assert "requiretls" not in queued_log(server, f"{t}-2@remote.example")


def queued_log(server, rcpt):
    """The log line of the queue entry for `rcpt`, written once the entry is durable."""
    lines = [line for line in server.log().splitlines() if " queued " in line and f" rcpt={rcpt} " in line + " "]
    assert len(lines) == 1, lines
    return lines[0]


# From an address that is not loopback, in a network namespace of the test's own.

NS_ADDRESS = "10.1.2.3"
CLONE_NEWNET = 0x40000000


def namespaces_work():
    try:
        r = subprocess.run(["unshare", "--net", "ip", "link", "set", "lo", "up"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


def in_namespace(pid, fn):
    """Runs `fn` in a thread that entered the network namespace of process `pid`; returns its
    result or raises its exception. Sockets made there stay in that namespace."""
    outcome = {}

    def run():
        try:
            fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns")
            finally:
                os.close(fd)
            outcome["value"] = fn()
        except BaseException as e:  # noqa: B036 - handed to the calling thread
            outcome["error"] = e

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@pytest.mark.skipif(not namespaces_work(), reason="needs root to create a network namespace (unshare --net)")
def test_no_authentication_before_tls_unless_loopback(tmp_path, dns):
    # The server runs in a new network namespace whose loopback interface also has NS_ADDRESS;
    # clients there connect to 127.0.0.1 from NS_ADDRESS, which is not a loopback address.
    server = Serve(tmp_path / "serve", dns_port=dns.port)
    server.wrapper = ["unshare", "--net", "sh", "-c",
                      f'ip link set lo up && ip addr add {NS_ADDRESS}/32 dev lo && exec "$0" "$@"']
    server.start()
    try:
        user, password = server.login("mjl")
        source = (NS_ADDRESS, 0)
        t = token()
        msg = message(t)

        def plain_text():
            with connect(server, "plain", source) as s:
                # No mechanism is offered before TLS, and none is allowed.
                assert s.has_extn("starttls") and not s.has_extn("auth")
                for mechanism in ("PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256"):
                    assert s.docmd("AUTH", mechanism) == (538, b"5.7.11 encryption required: use STARTTLS first")
                assert s.mail(MJL) == (530, b"5.7.0 authentication required")
            with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30, source_address=source) as s:
                s.ehlo("client.example")
                assert not s.has_extn("auth")

        def over_tls():
            for transport in ("starttls", "tls"):
                with connect(server, transport, source) as s:
                    assert s.esmtp_features["auth"].strip() == AUTH_TLS
                    assert authenticate(s, "SCRAM-SHA-256-PLUS", user, password)[0] == 235
                    if transport == "tls":
                        assert s.sendmail(MJL, ["other@other.test"], msg) == {}

        def failures_are_limited():
            # Loopback is never limited; other addresses are refused for a while after 10
            # failures, even with the right password.
            for _ in range(2):
                with connect(server, "tls", source) as s:
                    for _ in range(5):
                        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
                            authenticate(s, "PLAIN", user, "wrong")
                        assert e.value.smtp_code == 535
            with connect(server, "tls", source) as s:
                with pytest.raises(smtplib.SMTPAuthenticationError) as e:
                    authenticate(s, "PLAIN", user, password)
                assert (e.value.smtp_code, e.value.smtp_error) == (
                    454, b"4.7.0 too many failed authentications from your address, try again later")
                with pytest.raises(smtplib.SMTPAuthenticationError) as e:
                    authenticate(s, "SCRAM-SHA-256", user, password)
                assert e.value.smtp_code == 454

        in_namespace(server.proc.pid, plain_text)
        in_namespace(server.proc.pid, over_tls)
        in_namespace(server.proc.pid, failures_are_limited)
        # From loopback in the same namespace, the right password still works.
        in_namespace(server.proc.pid, lambda: authenticate(connect(server, "plain"), "PLAIN", user, password))
        [body] = in_namespace(server.proc.pid, lambda: stored(server, "other", t))
        assert received(body, "ESMTPSA", ip=NS_ADDRESS).endswith(msg)
    finally:
        server.stop()
