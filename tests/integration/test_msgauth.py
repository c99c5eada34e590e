"""Message authentication end to end: SPF, DKIM, DMARC and iprev of mail arriving over SMTP,
judged against records a real DNS server on loopback serves, and checked in the
Authentication-Results field (RFC 8601) a real IMAP client reads back, or in the SMTP reply where
the message is refused.

Messages are sent with smtplib and swaks, signed with dkimpy, and read with imapclient: none of
them written here. The servers and the DNS server are shared by the tests of this module; every
test uses names of its own (a fresh domain and Message-ID), so none sees another's records or
messages and the order they run in does not matter.
"""

import base64
import re
import smtplib
import subprocess
import uuid

import dkim
import imapclient
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from conftest import PASSWORD, Serve, Server, localserve_args
from dnsserver import DnsServer

RCPT = "mjl@moxide.test"
MJL = ("mjl@moxide.test", PASSWORD)
MOX = ("mox@localhost", "moxmoxmox")
# Every connection comes from 127.0.0.1, whose reverse name the resolver answers itself (see
# test_iprev_of_loopback).
IPREV = "iprev=pass policy.iprev=127.0.0.1"
SERVFAIL = object()

# localserve's default moxide.toml (src/cli/localserve.rs) with a [dns] section: localserve keeps
# a moxide.toml it finds in its directory.
LOCALSERVE_TOML = """hostname = "localhost"
data_dir = "data"
log_level = "info"

[listeners.local]
ips = ["127.0.0.1"]
tls = {{ cert_file = "localserve-cert.pem", key_file = "localserve-key.pem" }}
smtp = {{ port = 1025 }}
submission = {{ port = 1587 }}
submissions = {{ port = 1465 }}
imap = {{ port = 1143 }}
imaps = {{ port = 1993 }}

[dns]
nameservers = ["127.0.0.1:{port}"]
timeout_seconds = 2
attempts = 1
"""


@pytest.fixture(scope="module")
def authdns():
    server = DnsServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mx(tmp_path_factory, authdns):
    """`moxide serve` (hostname mx.moxide.test) resolving through `authdns`."""
    server = Serve(tmp_path_factory.mktemp("msgauth") / "serve", dns_port=authdns.port).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def ls(tmp_path_factory, authdns):
    """`moxide localserve` (hostname localhost) resolving through `authdns`."""
    base = tmp_path_factory.mktemp("msgauth-ls")
    (base / "ls").mkdir()
    (base / "ls" / "moxide.toml").write_text(LOCALSERVE_TOML.format(port=authdns.port))
    server = Server(localserve_args(base / "ls"), cwd=base).start()
    yield server
    server.stop()


@pytest.fixture
def zone(authdns):
    return authdns.zone


@pytest.fixture
def name():
    """A domain and Message-ID of the test's own."""
    token = uuid.uuid4().hex[:12]
    return Names(token)


class Names:
    def __init__(self, token):
        self.token = token
        self.domain = f"d{token}.test"
        self.msgid = f"<{token}@msgauth.test>"

    def sub(self, label):
        """Another domain of the test's own."""
        return f"{label}.{self.domain}"


@pytest.fixture(scope="module")
def keys():
    """DKIM keys: (private key as dkimpy takes it, DNS record) per algorithm."""
    r = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_private = r.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    rsa_public = r.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    e = ed25519.Ed25519PrivateKey.generate()
    ed_private = e.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    ed_public = e.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {
        b"rsa-sha256": (rsa_private, f"v=DKIM1; k=rsa; p={base64.b64encode(rsa_public).decode()}"),
        b"ed25519-sha256": (base64.b64encode(ed_private), f"v=DKIM1; k=ed25519; p={base64.b64encode(ed_public).decode()}"),
    }


def message(from_domain, msgid, body=b"Hello.\r\n", extra=b""):
    return (
        extra
        + b"From: Sender <sender@%s>\r\n" % from_domain.encode()
        + b"To: <mjl@moxide.test>\r\n"
        + b"Subject: authentication\r\n"
        + b"Date: Thu, 26 Nov 2026 05:47:37 +0000\r\n"
        + b"Message-ID: %s\r\n" % msgid.encode()
        + b"\r\n"
        + body
    )


def sign(msg, domain, selector, keys, algorithm=b"rsa-sha256"):
    """`msg` with a DKIM-Signature by dkimpy on top, and the signature's first 8 characters of b=."""
    private, _ = keys[algorithm]
    sig = dkim.sign(
        msg,
        selector.encode(),
        domain.encode(),
        private,
        signature_algorithm=algorithm,
        include_headers=[b"from", b"to", b"subject", b"date", b"message-id"],
    )
    b = re.search(rb";\s*b=([^;]*)$", sig.rstrip()).group(1)
    return sig + msg, re.sub(rb"\s", b"", b)[:8].decode()


def publish_key(zone, domain, selector, keys, algorithm=b"rsa-sha256"):
    zone.txt(f"{selector}._domainkey.{domain}", keys[algorithm][1])


def smtp(port, mail_from, msg, helo="client.example", rcpt=RCPT):
    """Sends `msg` with smtplib; the reply to the end of the data, as (code, text)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.ehlo(helo)
        code, text = s.mail(mail_from)
        assert code == 250, (code, text)
        code, text = s.rcpt(rcpt)
        assert code == 250, (code, text)
        code, text = s.data(msg)
        return code, text.decode()


def delivered(port, mail_from, msg, **kwargs):
    code, text = smtp(port, mail_from, msg, **kwargs)
    assert code == 250, (code, text)


def swaks(server, mail_from, data_file, helo="client.example"):
    """Sends the message in `data_file` with swaks; its exit status and transcript."""
    return subprocess.run(
        ["swaks", "--server", "127.0.0.1", "--port", str(server.ports["smtp"]), "--helo", helo,
         "--from", mail_from, "--to", RCPT, "--data", f"@{data_file}"],
        capture_output=True, text=True, timeout=60,
    )


def stored(server, login, msgid):
    """Every copy of the message with `msgid`, by mailbox: {mailbox: [message, ...]}."""
    with imapclient.IMAPClient("127.0.0.1", port=server.ports["imap"], ssl=False, timeout=30) as c:
        c.login(*login)
        found = {}
        for _flags, _delimiter, mailbox in c.list_folders():
            c.select_folder(mailbox, readonly=True)
            uids = c.search(["HEADER", "Message-ID", msgid])
            if uids:
                found[mailbox] = [d[b"BODY[]"] for d in c.fetch(uids, ["BODY.PEEK[]"]).values()]
        return found


def only_copy(server, login, msgid, mailbox="INBOX"):
    """The one stored copy of the message, which must be in `mailbox`."""
    found = stored(server, login, msgid)
    assert list(found) == [mailbox] and len(found[mailbox]) == 1, found.keys()
    return found[mailbox][0]


def header_fields(msg):
    """The header fields of `msg` as they are, folding included, without the final CRLF."""
    header = msg.split(b"\r\n\r\n", 1)[0]
    return [f.decode() for f in re.split(rb"\r\n(?![\t ])", header)]


def results_field(authserv_id, *results):
    """The Authentication-Results field the server writes (results.rs): one result per line."""
    return f"Authentication-Results: {authserv_id};" + ";".join(f"\r\n\t{r}" for r in results)


def assert_results(msg, *results, authserv_id="mx.moxide.test"):
    """The message carries our Received and then exactly this Authentication-Results field, and no
    other field of that name."""
    fields = header_fields(msg)
    assert fields[0].startswith("Received: from "), fields[0]
    assert fields[1] == results_field(authserv_id, *results)
    assert [f for f in fields if f.lower().startswith("authentication-results:")] == [fields[1]], fields


# SPF of the MAIL FROM identity (RFC 7208). Without a DMARC record nothing is refused.

# mail-auth, which evaluates SPF for the server, reads some broken records leniently instead of
# returning permerror as RFC 7208 requires; the expectation stays, marked as a known failure.
LENIENT = pytest.mark.xfail(strict=True, reason="mail-auth 0.13 parses this broken SPF record leniently")

SPF_CASES = [
    ("pass", "v=spf1 ip4:127.0.0.1 -all"),
    ("pass", "v=spf1 ip4:192.0.2.1 ip4:127.0.0.0/8 -all"),
    ("fail", "v=spf1 -all"),
    ("fail", "v=spf1 ip4:192.0.2.1 -all"),
    ("softfail", "v=spf1 ~all"),
    ("neutral", "v=spf1 ?all"),
    ("none", None),
    # A TXT record that is not SPF.
    ("none", "site-verification=3a1d5e"),
    ("temperror", SERVFAIL),
    # RFC 7208 §4.6: a syntax error anywhere in the record is a permerror.
    ("permerror", "v=spf1 ip4:192.0.2 -all"),
    # An address that is no address (octet 300): mail-auth takes it as 255.0.0.1.
    pytest.param("permerror", "v=spf1 ip4:300.0.0.1 -all", marks=LENIENT),
    # §4.6.1: an unknown mechanism (not a modifier, which has "="): mail-auth skips it.
    pytest.param("permerror", "v=spf1 frobnicate:x -all", marks=LENIENT),
    # An empty prefix length: mail-auth takes it as /32.
    pytest.param("permerror", "v=spf1 ip4:127.0.0.1/ -all", marks=LENIENT),
    # §4.5: two SPF records are a permerror; mail-auth uses the first that parses.
    pytest.param("permerror", ["v=spf1 ip4:127.0.0.1 -all", "v=spf1 -all"], marks=LENIENT),
]


def _case_id(case):
    want = case.values[0] if hasattr(case, "values") else case[0]
    return f"{want}-{SPF_CASES.index(case)}"


@pytest.mark.parametrize("want,record", SPF_CASES, ids=[_case_id(c) for c in SPF_CASES])
def test_spf_mail_from(mx, zone, name, want, record):
    if record is SERVFAIL:
        zone.fail(name.domain)
    elif isinstance(record, list):
        for r in record:
            zone.txt(name.domain, r)
    elif record is not None:
        zone.txt(name.domain, record)
    mail_from = f"bounces@{name.domain}"
    delivered(mx.ports["smtp"], mail_from, message(name.domain, name.msgid))
    assert_results(
        only_copy(mx, MJL, name.msgid),
        IPREV,
        f"spf={want} smtp.mailfrom={mail_from}",
        "dkim=none",
        f"dmarc=none header.from={name.domain}",
    )


@pytest.mark.parametrize("want,record", [("pass", "v=spf1 ip4:127.0.0.1 -all"), ("fail", "v=spf1 -all"), ("none", None)])
def test_spf_null_reverse_path_checks_helo(mx, zone, name, want, record):
    helo = name.sub("mail")
    if record:
        zone.txt(helo, record)
    delivered(mx.ports["smtp"], "", message(name.domain, name.msgid), helo=helo)
    assert_results(
        only_copy(mx, MJL, name.msgid),
        IPREV,
        f"spf={want} smtp.mailfrom=<> smtp.helo={helo}",
        "dkim=none",
        f"dmarc=none header.from={name.domain}",
    )


def test_spf_null_reverse_path_and_address_literal_helo(mx, name):
    delivered(mx.ports["smtp"], "", message(name.domain, name.msgid), helo="[127.0.0.1]")
    assert_results(
        only_copy(mx, MJL, name.msgid),
        IPREV,
        'spf=none smtp.mailfrom=<> smtp.helo="[127.0.0.1]"',
        "dkim=none",
        f"dmarc=none header.from={name.domain}",
    )


def test_spf_mail_from_is_checked_not_helo(mx, zone, name):
    """With a reverse path, its domain is the SPF identity even when the HELO name would fail."""
    helo = name.sub("mail")
    zone.txt(helo, "v=spf1 -all")
    zone.txt(name.domain, "v=spf1 ip4:127.0.0.1 -all")
    delivered(mx.ports["smtp"], f"a@{name.domain}", message(name.domain, name.msgid), helo=helo)
    results = header_fields(only_copy(mx, MJL, name.msgid))[1]
    assert f"spf=pass smtp.mailfrom=a@{name.domain};" in results, results


# DKIM (RFC 6376), signatures made by dkimpy.


@pytest.mark.parametrize("algorithm", [b"rsa-sha256", b"ed25519-sha256"])
def test_dkim_pass(mx, zone, name, keys, algorithm):
    publish_key(zone, name.domain, "sel", keys, algorithm)
    msg, b = sign(message(name.domain, name.msgid), name.domain, "sel", keys, algorithm)
    delivered(mx.ports["smtp"], f"bounces@{name.sub('other')}", msg)
    stored_msg = only_copy(mx, MJL, name.msgid)
    assert_results(
        stored_msg,
        IPREV,
        f"spf=none smtp.mailfrom=bounces@{name.sub('other')}",
        f"dkim=pass header.d={name.domain} header.s=sel header.a={algorithm.decode()} header.b={b}",
        f"dmarc=none header.from={name.domain}",
    )
    # What was signed is stored untouched after the fields the server adds.
    assert stored_msg.endswith(msg)


def test_dkim_fail_when_body_altered(mx, zone, name, keys):
    publish_key(zone, name.domain, "sel", keys)
    msg, b = sign(message(name.domain, name.msgid), name.domain, "sel", keys)
    msg = msg.replace(b"Hello.", b"Hello!")
    delivered(mx.ports["smtp"], f"bounces@{name.sub('other')}", msg)
    assert_results(
        only_copy(mx, MJL, name.msgid),
        IPREV,
        f"spf=none smtp.mailfrom=bounces@{name.sub('other')}",
        # RFC 6376 §6.1.3: a body hash that does not verify is a permanent failure of the
        # signature, "fail" in RFC 8601 §2.7.1 terms.
        f"dkim=fail header.d={name.domain} header.s=sel header.a=rsa-sha256 header.b={b}",
        f"dmarc=none header.from={name.domain}",
    )


def test_dkim_fail_when_signed_header_altered(mx, zone, name, keys):
    publish_key(zone, name.domain, "sel", keys, b"ed25519-sha256")
    msg, b = sign(message(name.domain, name.msgid), name.domain, "sel", keys, b"ed25519-sha256")
    msg = msg.replace(b"Subject: authentication", b"Subject: authenticated")
    delivered(mx.ports["smtp"], f"bounces@{name.sub('other')}", msg)
    assert_results(
        only_copy(mx, MJL, name.msgid),
        IPREV,
        f"spf=none smtp.mailfrom=bounces@{name.sub('other')}",
        f"dkim=fail header.d={name.domain} header.s=sel header.a=ed25519-sha256 header.b={b}",
        f"dmarc=none header.from={name.domain}",
    )


def test_dkim_none_when_unsigned(mx, name):
    delivered(mx.ports["smtp"], f"a@{name.domain}", message(name.domain, name.msgid))
    assert_results(
        only_copy(mx, MJL, name.msgid),
        IPREV,
        f"spf=none smtp.mailfrom=a@{name.domain}",
        "dkim=none",
        f"dmarc=none header.from={name.domain}",
    )


@pytest.mark.parametrize(
    "want,record",
    [("temperror", SERVFAIL), ("permerror", None), ("permerror", "v=DKIM1; k=rsa; p=")],
    ids=["key-servfail", "no-key-record", "revoked-key"],
)
def test_dkim_key_problems(mx, zone, name, keys, want, record):
    selector = f"sel._domainkey.{name.domain}"
    if record is SERVFAIL:
        zone.fail(selector)
    elif record is not None:
        zone.txt(selector, record)
    msg, b = sign(message(name.domain, name.msgid), name.domain, "sel", keys)
    delivered(mx.ports["smtp"], f"bounces@{name.sub('other')}", msg)
    assert_results(
        only_copy(mx, MJL, name.msgid),
        IPREV,
        f"spf=none smtp.mailfrom=bounces@{name.sub('other')}",
        f"dkim={want} header.d={name.domain} header.s=sel header.a=rsa-sha256 header.b={b}",
        f"dmarc=none header.from={name.domain}",
    )


def test_dkim_two_signatures_two_results(mx, zone, name, keys):
    """One result per signature, in the order the signatures appear (the last added on top)."""
    other = name.sub("esp")
    publish_key(zone, other, "r", keys, b"rsa-sha256")
    publish_key(zone, name.domain, "e", keys, b"ed25519-sha256")
    msg, b_rsa = sign(message(name.domain, name.msgid), other, "r", keys, b"rsa-sha256")
    msg, b_ed = sign(msg, name.domain, "e", keys, b"ed25519-sha256")
    delivered(mx.ports["smtp"], f"bounces@{other}", msg)
    assert_results(
        only_copy(mx, MJL, name.msgid),
        IPREV,
        f"spf=none smtp.mailfrom=bounces@{other}",
        f"dkim=pass header.d={name.domain} header.s=e header.a=ed25519-sha256 header.b={b_ed}",
        f"dkim=pass header.d={other} header.s=r header.a=rsa-sha256 header.b={b_rsa}",
        f"dmarc=none header.from={name.domain}",
    )


# DMARC (RFC 7489): the From domain's policy applied.


def test_dmarc_pass_through_aligned_spf(mx, zone, name):
    zone.txt(name.domain, "v=spf1 ip4:127.0.0.1 -all")
    zone.txt(f"_dmarc.{name.domain}", "v=DMARC1; p=reject")
    delivered(mx.ports["smtp"], f"bounces@{name.domain}", message(name.domain, name.msgid))
    assert_results(
        only_copy(mx, MJL, name.msgid),
        IPREV,
        f"spf=pass smtp.mailfrom=bounces@{name.domain}",
        "dkim=none",
        f"dmarc=pass (p=reject) header.from={name.domain}",
    )


def test_dmarc_pass_through_aligned_dkim(mx, zone, name, keys):
    # SPF fails, for a domain that is not the From domain: the aligned signature is enough.
    other = f"{name.token}-bounces.test"
    zone.txt(other, "v=spf1 -all")
    zone.txt(f"_dmarc.{name.domain}", "v=DMARC1; p=reject")
    publish_key(zone, name.domain, "sel", keys)
    msg, b = sign(message(name.domain, name.msgid), name.domain, "sel", keys)
    delivered(mx.ports["smtp"], f"x@{other}", msg)
    assert_results(
        only_copy(mx, MJL, name.msgid),
        IPREV,
        f"spf=fail smtp.mailfrom=x@{other}",
        f"dkim=pass header.d={name.domain} header.s=sel header.a=rsa-sha256 header.b={b}",
        f"dmarc=pass (p=reject) header.from={name.domain}",
    )


def unaligned(zone, name, policy):
    """A message whose SPF passes for another domain and that has no signature, From a domain
    whose DMARC record says `policy`: DMARC fails. Returns (MAIL FROM, message)."""
    other = f"{name.token}-bounces.test"
    zone.txt(other, "v=spf1 ip4:127.0.0.1 -all")
    zone.txt(f"_dmarc.{name.domain}", f"v=DMARC1; p={policy}")
    return f"x@{other}", message(name.domain, name.msgid)


def test_dmarc_fail_policy_none_delivers_to_inbox(mx, zone, name):
    mail_from, msg = unaligned(zone, name, "none")
    delivered(mx.ports["smtp"], mail_from, msg)
    assert_results(
        only_copy(mx, MJL, name.msgid, "INBOX"),
        IPREV,
        f"spf=pass smtp.mailfrom={mail_from}",
        "dkim=none",
        f"dmarc=fail (p=none) header.from={name.domain}",
    )


def test_dmarc_fail_policy_quarantine_delivers_to_junk(mx, zone, name):
    mail_from, msg = unaligned(zone, name, "quarantine")
    delivered(mx.ports["smtp"], mail_from, msg)
    with imapclient.IMAPClient("127.0.0.1", port=mx.ports["imap"], ssl=False, timeout=30) as c:
        c.login(*MJL)
        junk = [m for flags, _, m in c.list_folders() if b"\\Junk" in flags]
    assert junk == ["Junk"]
    assert_results(
        only_copy(mx, MJL, name.msgid, "Junk"),
        IPREV,
        f"spf=pass smtp.mailfrom={mail_from}",
        "dkim=none",
        f"dmarc=fail (p=quarantine) header.from={name.domain}",
    )


def test_dmarc_fail_policy_reject_refused(mx, zone, name):
    mail_from, msg = unaligned(zone, name, "reject")
    code, text = smtp(mx.ports["smtp"], mail_from, msg)
    assert code == 550 and text.startswith("5.7.1 "), (code, text)
    assert stored(mx, MJL, name.msgid) == {}


def test_dmarc_reject_seen_by_swaks(mx, zone, name, tmp_path):
    mail_from, msg = unaligned(zone, name, "reject")
    (tmp_path / "msg.eml").write_bytes(msg)
    r = swaks(mx, mail_from, tmp_path / "msg.eml")
    # 26: "server did not accept mail following data".
    assert r.returncode == 26, r.stdout
    assert re.search(r"^<\*\* +550 5\.7\.1 ", r.stdout, re.M), r.stdout
    assert stored(mx, MJL, name.msgid) == {}


def test_dmarc_accepted_seen_by_swaks(mx, zone, name, tmp_path):
    zone.txt(name.domain, "v=spf1 ip4:127.0.0.1 -all")
    zone.txt(f"_dmarc.{name.domain}", "v=DMARC1; p=reject")
    (tmp_path / "msg.eml").write_bytes(message(name.domain, name.msgid))
    r = swaks(mx, f"a@{name.domain}", tmp_path / "msg.eml")
    assert r.returncode == 0, r.stdout
    assert re.search(r"^<- +250 2\.0\.0 ", r.stdout, re.M), r.stdout
    assert_results(
        only_copy(mx, MJL, name.msgid),
        IPREV,
        f"spf=pass smtp.mailfrom=a@{name.domain}",
        "dkim=none",
        f"dmarc=pass (p=reject) header.from={name.domain}",
    )


def test_dmarc_none_without_record(mx, zone, name):
    mail_from, msg = f"a@{name.sub('other')}", message(name.domain, name.msgid)
    delivered(mx.ports["smtp"], mail_from, msg)
    assert_results(
        only_copy(mx, MJL, name.msgid),
        IPREV,
        f"spf=none smtp.mailfrom={mail_from}",
        "dkim=none",
        f"dmarc=none header.from={name.domain}",
    )
    assert (f"_dmarc.{name.domain}", "TXT") in zone.queries


def test_dmarc_temperror_is_451_in_serve(mx, zone, name):
    zone.fail(f"_dmarc.{name.domain}")
    code, text = smtp(mx.ports["smtp"], f"a@{name.domain}", message(name.domain, name.msgid))
    assert code == 451 and text.startswith("4.7.0 "), (code, text)
    assert stored(mx, MJL, name.msgid) == {}


def test_dmarc_temperror_seen_by_swaks(mx, zone, name, tmp_path):
    zone.fail(f"_dmarc.{name.domain}")
    (tmp_path / "msg.eml").write_bytes(message(name.domain, name.msgid))
    r = swaks(mx, f"a@{name.domain}", tmp_path / "msg.eml")
    assert r.returncode == 26, r.stdout
    assert re.search(r"^<\*\* +451 4\.7\.0 ", r.stdout, re.M), r.stdout
    assert stored(mx, MJL, name.msgid) == {}


def test_dkim_temperror_on_the_aligned_signature_is_451_under_reject(mx, zone, name, keys):
    """The one signature that could make DMARC pass cannot be checked now (its key lookup gets
    SERVFAIL): DMARC has no verdict (temperror), so p=reject is neither applied nor ignored, and
    the sender is asked to try again later."""
    zone.fail(f"sel._domainkey.{name.domain}")
    zone.txt(f"_dmarc.{name.domain}", "v=DMARC1; p=reject")
    msg, _ = sign(message(name.domain, name.msgid), name.domain, "sel", keys)
    code, text = smtp(mx.ports["smtp"], f"a@{name.sub('other')}", msg)
    assert code == 451 and text.startswith("4.7.0 "), (code, text)
    assert stored(mx, MJL, name.msgid) == {}


def test_dmarc_temperror_recorded_in_localserve(ls, zone, name):
    zone.fail(f"_dmarc.{name.domain}")
    delivered(ls.ports["smtp"], f"a@{name.domain}", message(name.domain, name.msgid))
    assert_results(
        only_copy(ls, MOX, name.msgid),
        IPREV,
        f"spf=none smtp.mailfrom=a@{name.domain}",
        "dkim=none",
        f"dmarc=temperror header.from={name.domain}",
        authserv_id="localhost",
    )


def test_dmarc_reject_recorded_in_localserve(ls, zone, name):
    mail_from, msg = unaligned(zone, name, "reject")
    delivered(ls.ports["smtp"], mail_from, msg)
    assert_results(
        only_copy(ls, MOX, name.msgid),
        IPREV,
        f"spf=pass smtp.mailfrom={mail_from}",
        "dkim=none",
        f"dmarc=fail (p=reject) header.from={name.domain}",
        authserv_id="localhost",
    )


# iprev (RFC 8601 §3).


def test_iprev_of_loopback(mx, zone, name):
    """The resolver (hickory) answers reverse questions about 127.0.0.0/8 itself, with
    "localhost." (RFC 6761 §6.3), and localhost's address itself, 127.0.0.1: iprev passes
    without a question reaching the DNS server, whatever PTR and A records it holds."""
    ptr = f"mail.{name.domain}"
    zone.add("1.0.0.127.in-addr.arpa", "PTR", ptr)
    zone.add(ptr, "A", "127.0.0.1")
    delivered(mx.ports["smtp"], f"a@{name.domain}", message(name.domain, name.msgid))
    results = header_fields(only_copy(mx, MJL, name.msgid))[1]
    assert results.startswith(f"Authentication-Results: mx.moxide.test;\r\n\t{IPREV};\r\n"), results
    asked = {q for q in zone.queries if q[0].endswith(".in-addr.arpa") or q[0] in ("localhost", ptr)}
    assert asked == set()


# Authentication-Results fields in the incoming message.


def test_forged_results_removed_others_kept(mx, name):
    forged = (
        b"Authentication-Results: mx.moxide.test; spf=pass smtp.mailfrom=a@example.org;\r\n"
        b"\tdkim=pass header.d=example.org\r\n"
        b"Authentication-Results: (says who) MX.Moxide.Test; dmarc=pass header.from=example.org\r\n"
        b"Authentication-Results: other.example; dkim=pass header.d=other.example\r\n"
    )
    delivered(mx.ports["smtp"], f"a@{name.domain}", message(name.domain, name.msgid, extra=forged))
    stored_msg = only_copy(mx, MJL, name.msgid)
    fields = header_fields(stored_msg)
    results = [f for f in fields if f.lower().startswith("authentication-results:")]
    assert results == [
        results_field(
            "mx.moxide.test",
            IPREV,
            f"spf=none smtp.mailfrom=a@{name.domain}",
            "dkim=none",
            f"dmarc=none header.from={name.domain}",
        ),
        "Authentication-Results: other.example; dkim=pass header.d=other.example",
    ], fields
    assert fields[1] == results[0]
    # Nothing else of the message changed.
    kept = b"Authentication-Results: other.example; dkim=pass header.d=other.example\r\n"
    assert stored_msg.endswith(kept + message(name.domain, name.msgid))
