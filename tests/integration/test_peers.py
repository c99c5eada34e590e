"""The third-party peers of peers.py work, driven only by Python's smtplib (and scramp for SCRAM):
no moxide involved."""

import base64
import smtplib
import socket
import ssl
import struct

import pytest
import scramp

from peers import PostfixSubmission

MSG = b"From: a@client.test\r\nTo: b@remote.test\r\nSubject: peer test\r\n\r\nHello there.\r\n"


def insecure():
    return ssl._create_unverified_context()


def test_mx_delivers_over_starttls(postfix_mx):
    mx = postfix_mx()
    with smtplib.SMTP(mx.address, mx.port, timeout=10) as c:
        c.ehlo("client.test")
        assert c.has_extn("starttls")
        c.starttls(context=insecure())
        c.ehlo("client.test")
        assert c.has_extn("smtputf8")
        c.sendmail("a@client.test", ["b@remote.test", "c@remote.test"], MSG)
    [m] = mx.wait_for_messages(1)
    assert m.sender == "a@client.test"
    assert m.recipients == ["b@remote.test", "c@remote.test"]
    assert m.data.startswith(b"Received: from ")
    assert b"with ESMTPS" in m.data
    assert m.data.endswith(MSG)


def test_mx_tempfail_reject_and_no_relay(postfix_mx):
    mx = postfix_mx()
    with smtplib.SMTP(mx.address, mx.port, timeout=10) as c:
        c.ehlo("client.test")
        c.mail("a@client.test")
        assert c.rcpt("tempfail@remote.test")[0] == 451
        assert c.rcpt("reject@remote.test")[0] == 550
        assert c.rcpt("x@elsewhere.test")[0] == 554  # Not its domain: relay access denied.
        assert c.rcpt("ok@remote.test")[0] == 250
        assert c.data(MSG)[0] == 250
        # Now tempfail@ accepts (for new connections).
        mx.set_responses({"ok@remote.test": "452 4.2.2 Mailbox full"})
    with smtplib.SMTP(mx.address, mx.port, timeout=10) as c:
        c.ehlo("client.test")
        c.mail("")
        assert c.rcpt("ok@remote.test")[0] == 452
        assert c.rcpt("tempfail@remote.test")[0] == 250
        assert c.data(MSG)[0] == 250
    msgs = mx.wait_for_messages(2)
    assert [(m.sender, m.recipients) for m in msgs] == [
        ("a@client.test", ["ok@remote.test"]), ("", ["tempfail@remote.test"]),
    ]
    assert "reject: RCPT from" in mx.log()


def test_mx_on_other_loopback_address(postfix_mx):
    mx = postfix_mx(address="127.0.0.2", domains=["other.test"], hostname="mx.other.test")
    assert mx.address == "127.0.0.2"
    with smtplib.SMTP("127.0.0.2", mx.port, timeout=10) as c:
        assert c.ehlo()[1].startswith(b"mx.other.test")
        c.sendmail("a@client.test", ["b@other.test"], MSG)
    assert mx.wait_for_messages(1)[0].recipients == ["b@other.test"]


def test_two_mx_at_once(postfix_mx):
    a, b = postfix_mx(), postfix_mx(domains=["b.test"])
    assert a.port != b.port
    for mx, rcpt in ((a, "x@remote.test"), (b, "y@b.test")):
        with smtplib.SMTP(mx.address, mx.port, timeout=10) as c:
            c.sendmail("a@client.test", [rcpt], MSG)
    assert a.wait_for_messages(1)[0].recipients == ["x@remote.test"]
    assert b.wait_for_messages(1)[0].recipients == ["y@b.test"]


def submit(c, sub, mechanism):
    c.user, c.password = sub.user, sub.password
    c.auth(mechanism, getattr(c, "auth_" + mechanism.lower().replace("-", "_")))
    c.sendmail("relayuser@client.test", ["someone@anywhere.test"], MSG)


def test_submission_plain_and_cram_md5(postfix_submission):
    sub = postfix_submission()
    with smtplib.SMTP(sub.address, sub.port, timeout=10) as c:
        c.ehlo("client.test")
        assert not c.has_extn("auth"), "AUTH only after STARTTLS"
        c.starttls(context=insecure())
        c.ehlo("client.test")
        assert set(c.esmtp_features["auth"].split()) == {"PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"}
        submit(c, sub, "PLAIN")
    with smtplib.SMTP(sub.address, sub.port, timeout=10) as c:
        c.starttls(context=insecure())
        submit(c, sub, "CRAM-MD5")
    msgs = sub.wait_for_messages(2)
    assert [m.recipients for m in msgs] == [["someone@anywhere.test"]] * 2
    assert b"with ESMTPSA" in msgs[0].data
    assert sub.auth_methods_seen() == ["PLAIN", "CRAM-MD5"]


def test_submission_rejects_bad_password_and_unauthenticated(postfix_submission):
    sub = postfix_submission()
    with smtplib.SMTP(sub.address, sub.port, timeout=10) as c:
        c.starttls(context=insecure())
        c.ehlo("client.test")
        c.user, c.password = sub.user, "wrong"
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            c.auth("PLAIN", c.auth_plain)
        assert e.value.smtp_code == 535
        c.mail("a@client.test")
        assert c.rcpt("someone@anywhere.test")[0] == 554


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-1"])
def test_submission_scram(postfix_submission, mechanism):
    sub = postfix_submission(mechanisms=[mechanism.lower()])
    with smtplib.SMTP(sub.address, sub.port, timeout=10) as c:
        c.starttls(context=insecure())
        c.ehlo("client.test")
        assert c.esmtp_features["auth"].strip() == mechanism
        client = scramp.ScramClient([mechanism], sub.user, sub.password)
        b64 = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
        code, resp = c.docmd("AUTH", f"{mechanism} {b64(client.get_client_first())}")
        assert code == 334, resp
        client.set_server_first(base64.b64decode(resp).decode())
        code, resp = c.docmd(b64(client.get_client_final()))
        assert code == 334, resp
        client.set_server_final(base64.b64decode(resp).decode())  # Verifies the server's signature.
        code, resp = c.docmd("")
        assert code == 235, resp
        c.sendmail("relayuser@client.test", ["someone@anywhere.test"], MSG)
    sub.wait_for_messages(1)
    assert sub.auth_methods_seen() == [mechanism]


def test_submission_only_offered_mechanism_and_implicit_tls(postfix_submission):
    sub = postfix_submission(mechanisms=["cram-md5"])
    with smtplib.SMTP_SSL(sub.address, sub.tls_port, context=insecure(), timeout=10) as c:
        c.ehlo("client.test")
        assert c.esmtp_features["auth"].strip() == "CRAM-MD5"
        code, resp = c.docmd("AUTH", "PLAIN " + base64.b64encode(b"\0relayuser\0relaypass1234").decode())
        assert (code, resp) == (535, b"5.7.8 Error: authentication failed: Invalid authentication mechanism")
        c.login(sub.user, sub.password)
        c.sendmail("relayuser@client.test", ["someone@anywhere.test"], MSG)
    assert sub.wait_for_messages(1)[0].recipients == ["someone@anywhere.test"]
    assert sub.auth_methods_seen() == ["CRAM-MD5"]


def test_submission_relays_to_mx(postfix_mx, postfix_submission):
    mx = postfix_mx()
    sub = postfix_submission(relayhost=(mx.address, mx.port))
    with smtplib.SMTP(sub.address, sub.port, timeout=10) as c:
        c.starttls(context=insecure())
        c.login(sub.user, sub.password)
        c.sendmail("relayuser@client.test", ["b@remote.test"], MSG)
    [m] = mx.wait_for_messages(1)
    assert m.recipients == ["b@remote.test"]
    assert b"by smtp.relay.test (Postfix) with ESMTPSA" in m.data
    assert sub.messages() == []


def socks5_connect(proxy, host, port):
    """A socket to host:port through the SOCKS5 proxy (no authentication, IPv4 CONNECT)."""
    s = socket.create_connection((proxy.address, proxy.port), timeout=10)
    s.sendall(b"\x05\x01\x00")
    assert s.recv(2) == b"\x05\x00"
    s.sendall(b"\x05\x01\x00\x01" + socket.inet_aton(host) + struct.pack(">H", port))
    reply = s.recv(10)
    assert reply[:2] == b"\x05\x00", reply
    return s


def test_socks5_proxy_to_mx(postfix_mx, socks5_proxy):
    mx = postfix_mx(address="127.0.0.2")
    proxy = socks5_proxy()
    c = smtplib.SMTP(timeout=10)
    c.sock = socks5_connect(proxy, mx.address, mx.port)
    c.file = None
    assert c.getreply()[0] == 220
    c._host = mx.address  # For STARTTLS's server_hostname.
    c.ehlo("client.test")
    c.starttls(context=insecure())
    c.sendmail("a@client.test", ["b@remote.test"], MSG)
    c.quit()
    assert mx.wait_for_messages(1)[0].recipients == ["b@remote.test"]
    assert ("127.0.0.2", mx.port) in proxy.connections_seen()


def test_socks5_proxy_refuses_non_loopback(socks5_proxy):
    proxy = socks5_proxy()
    s = socket.create_connection((proxy.address, proxy.port), timeout=10)
    s.sendall(b"\x05\x01\x00")
    assert s.recv(2) == b"\x05\x00"
    s.sendall(b"\x05\x01\x00\x01" + socket.inet_aton("192.0.2.1") + struct.pack(">H", 25))
    assert s.recv(10)[1] == 2  # Connection not allowed by ruleset.
    s.close()
    assert proxy.connections_seen() == []


def test_smtp_sink_counts(smtp_sink):
    sink = smtp_sink()
    for _ in range(3):
        with smtplib.SMTP(sink.address, sink.port, timeout=10) as c:
            c.sendmail("a@client.test", ["b@remote.test"], MSG)
            c.sendmail("a@client.test", ["c@remote.test"], MSG)
    assert sink.wait_for_count(6) == 6
