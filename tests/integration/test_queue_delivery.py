"""Outgoing delivery against real MTAs: Postfix as the remote MX (direct delivery, STARTTLS,
4xx/5xx answers), Postfix with Dovecot SASL as a submission relay, dante as a SOCKS5 proxy. The
test's DNS server points the MX records at them. Attempts are driven with `moxctl queue kick`,
never by waiting for the schedule."""

import email
import email.policy
import imaplib
import random
import re
import smtplib
import socket
import time

import pytest

from conftest import PASSWORD, SERVE_DYNAMIC, UNREACHABLE_MX, moxctl

MJL = "mjl@moxide.test"


def loopback_for_port_25():
    """A loopback address whose port 25 is free (each test its own, so workers never clash)."""
    for _ in range(50):
        ip = f"127.{random.randint(1, 250)}.{random.randint(1, 250)}.{random.randint(2, 250)}"
        with socket.socket() as s:
            try:
                s.bind((ip, 25))
                return ip
            except OSError:
                continue
    raise RuntimeError("no free loopback address for port 25")


def mx_for(dns, domain, ip):
    dns.zone.add(domain, "MX", (10, f"mx.{domain}"))
    dns.zone.add(f"mx.{domain}", "A", ip)


def submit(server, rcpts, subject, body="hello\r\n"):
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=30) as s:
        s.login(MJL, PASSWORD)
        msg = f"From: {MJL}\r\nTo: {', '.join(rcpts)}\r\nSubject: {subject}\r\n\r\n{body}"
        assert s.sendmail(MJL, rcpts, msg.encode()) == {}


def queue(server):
    """{recipient: (id, attempts, error)} of the queue."""
    out = {}
    for line in server.queue_list():
        if line == "queue is empty":
            continue
        fields = line.split("  ")
        rcpt = re.search(r"-> <(.*?)>", line).group(1)
        error = line.split("  error: ", 1)[1] if "  error: " in line else None
        out[rcpt] = (fields[0], int(fields[2]), error)
    return out


def wait_queue(server, predicate, timeout=30, what="queue"):
    deadline = time.monotonic() + timeout
    while True:
        q = queue(server)
        if predicate(q):
            return q
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: {q}")
        time.sleep(0.05)


def kick(server, qid):
    r = moxctl("--config", str(server.config), "queue", "kick", qid)
    assert r.returncode == 0, r.stderr


def inbox(server, account="mjl", subject=None):
    """The messages in the account's Inbox (parsed), optionally only those with `subject` in
    their Subject."""
    user, password = server.login(account)
    c = imaplib.IMAP4("127.0.0.1", server.ports["imap"])
    c.login(user, password)
    c.select("INBOX", readonly=True)
    typ, data = c.uid("FETCH", "1:*", "(BODY.PEEK[])")
    c.logout()
    msgs = [email.message_from_bytes(d[1], policy=email.policy.default) for d in data if isinstance(d, tuple)]
    return [m for m in msgs if subject is None or subject in str(m["Subject"])]


def wait_inbox(server, subject, n=1, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        msgs = inbox(server, subject=subject)
        if len(msgs) >= n:
            return msgs
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(msgs)} messages with {subject!r} in the Inbox")
        time.sleep(0.1)


def delivery_status(dsn):
    """The per-recipient fields of a DSN's delivery-status part (RFC 3464)."""
    assert dsn.get_content_type() == "multipart/report"
    assert dsn.get_param("report-type") == "delivery-status"
    parts = list(dsn.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "message/delivery-status", "text/rfc822-headers"]
    status = parts[1]
    # Python parses message/delivery-status into header blocks: per-message, then per-recipient.
    blocks = status.get_payload()
    assert blocks[0]["Reporting-MTA"] == "dns; mx.moxide.test"
    return blocks[1], parts[2]


def test_direct_delivery_to_postfix_over_starttls(serve, dns, postfix_mx):
    ip = loopback_for_port_25()
    mx = postfix_mx(address=ip, port=25)
    mx_for(dns, "remote.test", ip)
    server = serve()
    submit(server, ["one@remote.test", "two@remote.test"], "direct")
    [m] = mx.wait_for_messages(1, timeout=30)
    # Both recipients of the domain in one transaction.
    assert sorted(m.recipients) == ["one@remote.test", "two@remote.test"]
    assert m.sender == MJL
    assert b"Subject: direct\r\n" in m.data
    # One connection, STARTTLS, both recipients in one transaction.
    assert re.search(r"disconnect from .* ehlo=2 starttls=1 mail=1 rcpt=2 (bdat|data)=1 quit=1", mx.log()), mx.log()
    wait_queue(server, lambda q: q == {}, what="delivered entries removed")


def test_temporary_failure_then_success(serve, dns, postfix_mx):
    ip = loopback_for_port_25()
    mx = postfix_mx(address=ip, port=25)
    mx_for(dns, "remote.test", ip)
    server = serve()
    submit(server, ["tempfail@remote.test"], "retry")
    q = wait_queue(server, lambda q: q.get("tempfail@remote.test", (0, 0, None))[2] is not None)
    qid, attempts, error = q["tempfail@remote.test"]
    assert attempts == 1
    assert error.startswith("mx.remote.test: 451 "), error
    assert "(RCPT)" in error or "RCPT" in error, error
    mx.set_responses({})
    kick(server, qid)
    [m] = mx.wait_for_messages(1, timeout=30)
    assert m.recipients == ["tempfail@remote.test"]
    wait_queue(server, lambda q: q == {})


def test_permanent_failure_sends_failure_dsn(serve, dns, postfix_mx):
    ip = loopback_for_port_25()
    postfix_mx(address=ip, port=25)
    mx_for(dns, "remote.test", ip)
    server = serve()
    submit(server, ["reject@remote.test"], "bounce me")
    [dsn] = wait_inbox(server, "Undelivered mail")
    assert dsn["Auto-Submitted"] == "auto-replied"
    fields, original = delivery_status(dsn)
    assert fields["Final-Recipient"] == "rfc822; reject@remote.test"
    assert fields["Action"] == "failed"
    assert fields["Status"].startswith("5.")
    assert fields["Diagnostic-Code"].startswith("smtp; 550")
    assert "Subject: bounce me" in original.get_content()
    wait_queue(server, lambda q: q == {})


def test_unreachable_mx_gives_delayed_dsn_after_five_attempts(serve, dns):
    mx_for(dns, "down.test", UNREACHABLE_MX)
    server = serve()
    submit(server, ["someone@down.test"], "slow one")
    for n in range(1, 6):
        # An attempt is over when the log says so (the listing counts it when it starts).
        deadline = time.monotonic() + 30
        while server.log().count("delivery failed, will retry") < n:
            assert time.monotonic() < deadline, f"attempt {n} did not finish"
            time.sleep(0.05)
        qid, attempts, error = queue(server)["someone@down.test"]
        assert attempts == n and "refused" in error, (n, error)
        if n == 4:
            assert inbox(server, subject="Delayed") == []
        if n < 5:
            kick(server, qid)
    [dsn] = wait_inbox(server, "Delayed mail")
    fields, _ = delivery_status(dsn)
    assert fields["Action"] == "delayed"
    assert fields["Status"].startswith("4.")
    assert "Will-Retry-Until" in fields
    # Still queued: it is only late.
    assert "someone@down.test" in queue(server)


def test_null_mx_fails_at_once(serve, dns):
    dns.zone.add("nomail.test", "MX", (0, "."))
    server = serve()
    submit(server, ["x@nomail.test"], "null mx")
    [dsn] = wait_inbox(server, "Undelivered mail")
    fields, _ = delivery_status(dsn)
    assert fields["Action"] == "failed"
    text = dsn.get_body(preferencelist=("plain",)).get_content()
    assert "does not accept mail (null MX record)" in text, text


def test_sigkill_during_delivery_loses_and_repeats_nothing(serve, dns, postfix_mx):
    ip = loopback_for_port_25()
    # Each transaction takes 2 s at the MX (at RCPT time), so deliveries are in flight when the
    # server is killed.
    mx = postfix_mx(address=ip, port=25, extra_main="smtpd_client_restrictions = sleep 2, permit\n")
    mx_for(dns, "remote.test", ip)
    server = serve()
    for n in (1, 2, 3):
        submit(server, [f"a{n}@remote.test"], f"crash {n}")
    # The first is delivered and removed from the queue; the second is on the wire.
    wait_queue(server, lambda q: "a1@remote.test" not in q, what="first delivered")
    server.kill()
    server = serve()
    # The attempt in flight was recorded before dialing: it counts, and the entry is still there.
    q = queue(server)
    assert "a1@remote.test" not in q
    assert q["a2@remote.test"][1] >= 1, q
    kick_all = moxctl("--config", str(server.config), "queue", "kick")
    assert kick_all.returncode == 0, kick_all.stderr
    wait_queue(server, lambda q: q == {}, timeout=60, what="all delivered after restart")
    delivered = [tuple(m.recipients) for m in mx.wait_for_messages(3, timeout=30)]
    time.sleep(1)
    delivered = [tuple(m.recipients) for m in mx.messages()]
    assert sorted(delivered) == [("a1@remote.test",), ("a2@remote.test",), ("a3@remote.test",)], delivered


def test_one_connection_carries_the_messages_queued_meanwhile(serve, dns, postfix_mx):
    ip = loopback_for_port_25()
    # The first transaction takes a second at the MX: the others are queued meanwhile.
    mx = postfix_mx(address=ip, port=25, extra_main="smtpd_client_restrictions = sleep 1, permit\n")
    mx_for(dns, "remote.test", ip)
    server = serve()
    for n in (1, 2, 3):
        submit(server, [f"r{n}@remote.test"], f"reuse {n}")
    msgs = mx.wait_for_messages(3, timeout=30)
    assert sorted(m.recipients[0] for m in msgs) == ["r1@remote.test", "r2@remote.test", "r3@remote.test"]
    wait_queue(server, lambda q: q == {})
    # One connection, three transactions (RSET between them is the client's business).
    assert re.search(r"disconnect from .* mail=3 rcpt=3 (bdat|data)=3", mx.log()), mx.log()
