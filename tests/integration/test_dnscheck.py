"""`moxide config dnscheck`: against the test's DNS server, a domain added with `moxctl domain
add` fails every check until the records that command printed are published; an SPF record that
leaves out a SOCKS transport's public address is reported with the record that fixes it."""

import re
import subprocess

from conftest import BIN, moxctl


def dnscheck(server, domain):
    return subprocess.run([str(BIN), "config", "dnscheck", domain, "--config", str(server.config)],
                          capture_output=True, text=True, timeout=60)


def publish(zone, records):
    """Adds zone-file lines as `moxctl domain add` prints them (MX and TXT) to the DNS zone."""
    for line in records.splitlines():
        m = re.match(r"^(\S+)\.\s+\d+ IN (MX|TXT) (.*)$", line)
        if not m:
            continue
        name, rtype, data = m.groups()
        if rtype == "MX":
            pref, host = data.split()
            zone.add(name, "MX", (int(pref), host))
        else:
            zone.txt(name, "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', data)).replace('\\"', '"'))


SOCKS = """
[transports.proxy]
type = "socks"
address = "127.0.0.1:1080"
remote_ips = ["192.0.2.55"]
remote_hostname = "out.moxide.test"
"""


def test_dnscheck_until_the_printed_records_are_published(serve, dns):
    server = serve(static_extra=SOCKS)
    added = moxctl("--config", str(server.config), "domain", "add", "new.test")
    assert added.returncode == 0, added.stderr
    dns.zone.add("mx.moxide.test", "A", "127.0.0.1")

    r = dnscheck(server, "new.test")
    assert r.returncode == 1, r.stdout
    problems = [l for l in r.stdout.splitlines() if l.startswith("problem: ")]
    assert any(l.startswith("problem: MX of new.test: ") and "publish: new.test. MX 10 mx.moxide.test." in l
               for l in problems), r.stdout
    assert any("SPF of new.test: no record; publish: new.test. TXT \"v=spf1 mx ip4:127.0.0.1 ip4:192.0.2.55 ~all\"" in l
               for l in problems), r.stdout
    assert sum("DKIM key at " in l and "._domainkey.new.test" in l for l in problems) == 2, r.stdout
    assert any(l.startswith("problem: DMARC for new.test: no record") for l in problems), r.stdout

    # What `domain add` printed, published as it is: all but SPF for the SOCKS address pass.
    publish(dns.zone, added.stdout)
    r = dnscheck(server, "new.test")
    assert r.returncode == 1, r.stdout
    lines = r.stdout.splitlines()
    assert "ok: MX of new.test names mx.moxide.test" in lines
    assert "ok: SPF of new.test passes 127.0.0.1" in lines
    [spf] = [l for l in lines if "192.0.2.55" in l]
    assert spf.startswith('problem: SPF of new.test: 192.0.2.55 gets ') and '"v=spf1 mx ~all"' in spf, spf
    assert sum(l.startswith("ok: DKIM key at ") for l in lines) == 2, r.stdout
    assert "ok: DMARC record at _dmarc.new.test" in lines
    assert lines[-1] == "1 problem(s)"


def test_dnscheck_refuses_unknown_domains(serve, dns):
    server = serve()
    r = dnscheck(server, "unknown.test")
    assert r.returncode == 1 and "not a domain of this server" in r.stderr
