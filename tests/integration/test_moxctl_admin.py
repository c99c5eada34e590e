"""moxctl's account, address, domain, queue and loglevel commands against a running `serve`,
checking their output, what they change in domains.toml, and that none of them waits on an open
IMAP session."""

import email
import imaplib
import os
import re
import smtplib
import stat
import time

import dkim

from conftest import PASSWORD, moxctl


def ctl(server, *args, input=None):
    return moxctl("--config", str(server.config), *args, input=input)


def ok(server, *args, input=None):
    r = ctl(server, *args, input=input)
    assert r.returncode == 0, r.stderr
    return r.stdout


def refused(server, *args):
    r = ctl(server, *args)
    assert r.returncode != 0 and r.stdout == "", r.stdout
    assert r.stderr.startswith("moxctl: "), r.stderr
    return r.stderr


def idle_session(server):
    """An IMAP session of mjl, idling: nothing an admin command does may wait on it."""
    c = imaplib.IMAP4("127.0.0.1", server.ports["imap"])
    c.login("mjl@moxide.test", PASSWORD)
    c.select("INBOX")
    tag = c._new_tag().decode()
    c.send(f"{tag} IDLE\r\n".encode())
    assert c.readline().startswith(b"+")
    return c, tag


def timed(fn):
    start = time.monotonic()
    result = fn()
    elapsed = time.monotonic() - start
    assert elapsed < 1.0, f"took {elapsed:.2f}s"
    return result


def deliver(server, rcpt, subject):
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as s:
        s.ehlo("client.example")
        return s.sendmail("sender@example.org", [rcpt], f"From: sender@example.org\r\nSubject: {subject}\r\n\r\nhi\r\n".encode())


def test_accounts_and_addresses(serve, tmp_path):
    server = serve()
    busy, _ = idle_session(server)
    out = timed(lambda: ok(server, "account", "add", "new", "new@moxide.test"))
    assert out == "account new added with address new@moxide.test; set its password with: moxctl setpassword new\n"
    timed(lambda: ok(server, "setpassword", "new", input="s3cret pw\n"))
    assert ok(server, "account", "list") == (
        "mjl mjl@moxide.test,info@moxide.test\nnew new@moxide.test\nother other@other.test\n"
    )
    text = (tmp_path / "serve" / "domains.toml").read_text()
    assert '[accounts.new]\ndomain = "moxide.test"\naddresses = ["new@moxide.test"]\n' in text

    out = timed(lambda: ok(server, "address", "add", "Second@moxide.test", "new"))
    assert out == "address Second@moxide.test added to account new\n"
    deliver(server, "second@moxide.test", "to the second address")
    c = imaplib.IMAP4("127.0.0.1", server.ports["imap"])
    c.login("new@moxide.test", "s3cret pw")
    assert c.select("INBOX")[1] == [b"1"]
    c.logout()

    out = timed(lambda: ok(server, "address", "rm", "second@moxide.test"))
    assert out == "address second@moxide.test removed from account new\n"
    try:
        deliver(server, "second@moxide.test", "gone")
        raise AssertionError("delivered to a removed address")
    except smtplib.SMTPRecipientsRefused as e:
        assert e.recipients["second@moxide.test"][0] == 550

    assert "belongs to account mjl already" in refused(server, "address", "add", "info@moxide.test", "new")
    assert "last address of account new" in refused(server, "address", "rm", "new@moxide.test")
    assert "not configured" in refused(server, "account", "add", "x", "x@elsewhere.example")
    assert "exists already" in refused(server, "account", "add", "new", "y@moxide.test")
    assert "postmaster" in refused(server, "account", "rm", "mjl")
    assert "invalid address" in refused(server, "address", "rm", "no-at-sign")

    out = timed(lambda: ok(server, "account", "rm", "new"))
    m = re.fullmatch(r"account new removed; its data was moved to (\S+) \(delete it when no longer needed\)\n", out)
    assert m, out
    moved = m.group(1)
    assert os.path.isdir(moved) and "/data/removed/new-" in moved
    assert not (tmp_path / "serve" / "data" / "accounts" / "new").exists()
    c = imaplib.IMAP4("127.0.0.1", server.ports["imap"])
    try:
        c.login("new@moxide.test", "s3cret pw")
        raise AssertionError("login to a removed account")
    except imaplib.IMAP4.error:
        pass
    # The idling session of another account was never in the way, and is still fine.
    busy.send(b"DONE\r\n")
    assert b"OK" in busy.readline()
    assert busy.noop()[0] == "OK"
    busy.logout()


def test_domain_add_with_dkim_and_records(serve, tmp_path):
    server = serve()
    busy, _ = idle_session(server)
    # Key generation (RSA) takes a moment, but nothing waits on the idling session.
    out = ok(server, "domain", "add", "møx.example")
    lines = out.splitlines()
    assert lines[0] == "domain møx.example added"
    assert lines[1] == "DKIM keys:"
    keys = [l.strip() for l in lines[2:4]]
    for k in keys:
        assert re.search(r"/dkim/xn--mx-lka\.example/\d{8}[er]\.(ed25519|rsa2048)\.pem$", k), k
        assert stat.S_IMODE(os.stat(k).st_mode) == 0o600
    assert "Publish these DNS records:" in out
    assert re.search(r"^xn--mx-lka\.example\. +300 IN MX 10 mx\.moxide\.test\.$", out, re.M), out
    assert re.search(r'^xn--mx-lka\.example\. +300 IN TXT "v=spf1 mx ~all"$', out, re.M), out
    assert re.search(r'^_dmarc\.xn--mx-lka\.example\. +300 IN TXT "v=DMARC1; p=reject; rua=mailto:postmaster@xn--mx-lka\.example"$', out, re.M)
    dkim_records = dict(re.findall(r'^(\S+)\._domainkey\.xn--mx-lka\.example\. +300 IN TXT (.*)$', out, re.M))
    assert len(dkim_records) == 2
    text = (tmp_path / "serve" / "domains.toml").read_text()
    assert '[domains."møx.example".dkim]' in text and "mta" not in text.lower()
    assert "møx.example xn--mx-lka.example" in ok(server, "domain", "list").splitlines()

    # Mail from the new domain is signed with both new keys, verifiable with the printed records.
    ok(server, "address", "add", "mjl@møx.example", "mjl")
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=30) as s:
        s.login("mjl@moxide.test", PASSWORD)
        s.sendmail("mjl@xn--mx-lka.example", ["other@other.test"], b"From: mjl@xn--mx-lka.example\r\nSubject: new domain\r\n\r\nhello\r\n")
    c = imaplib.IMAP4("127.0.0.1", server.ports["imap"])
    c.login("other@other.test", PASSWORD)
    c.select("INBOX")
    stored = c.fetch("1", "(BODY.PEEK[])")[1][0][1]
    c.logout()
    assert len(email.message_from_bytes(stored).get_all("DKIM-Signature")) == 2

    def dnsfunc(name, timeout=5):
        selector = name.decode().split("._domainkey.")[0]
        record = dkim_records.get(selector)
        # Zone-file form: one or more quoted strings, in parentheses when several.
        return "".join(re.findall(r'"([^"]*)"', record)).encode() if record else None

    for i in range(2):
        assert dkim.DKIM(stored).verify(idx=i, dnsfunc=dnsfunc)

    assert "still used by account(s) mjl" in refused(server, "domain", "rm", "møx.example")
    ok(server, "address", "rm", "mjl@møx.example")
    assert ok(server, "domain", "rm", "xn--mx-lka.example") == "domain møx.example removed (its DKIM key files stay where they are)\n"
    assert "exists already" in refused(server, "domain", "add", "moxide.test")
    assert "invalid domain" in refused(server, "domain", "add", "bad_domain!")
    busy.send(b"DONE\r\n")
    assert b"OK" in busy.readline()
    busy.logout()


def test_queue_kick_and_drop(serve):
    server = serve()
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=30) as s:
        s.login("mjl@moxide.test", PASSWORD)
        s.sendmail("mjl@moxide.test", ["a@remote.example", "b@remote.example"], b"From: mjl@moxide.test\r\nSubject: out\r\n\r\nhi\r\n")
    ids = [l.split()[0] for l in ok(server, "queue", "list").splitlines()]
    assert len(ids) == 2
    assert ok(server, "queue", "kick", ids[0]) == "1 queue entry due now\n"
    assert ok(server, "queue", "kick") == "2 queue entries due now\n"
    out = ok(server, "queue", "drop", ids[0])
    assert out == f"dropped queue entry {ids[0]} <mjl@moxide.test> -> <a@remote.example>\n"
    assert [l.split()[0] for l in ok(server, "queue", "list").splitlines()] == [ids[1]]
    assert "no queue entry 999" in refused(server, "queue", "kick", "999")
    assert "999" in refused(server, "queue", "drop", "999")


def test_loglevel(serve):
    server = serve()
    assert ok(server, "loglevel", "trace") == "log level trace\n"
    deliver(server, "mjl@moxide.test", "logged")
    assert " TRACE " in server.log()
    assert ok(server, "loglevel", "info,moxide::store=debug") == "log level info,moxide::store=debug\n"
    assert "unknown log level" in refused(server, "loglevel", "loud")
