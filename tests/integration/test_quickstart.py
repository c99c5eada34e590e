"""`moxide quickstart` makes an installation that `moxide config test` accepts and `moxide serve`
runs: the printed DNS records parse as a zone and their DKIM keys verify signatures made (by
dkimpy) with the generated key files; the printed password logs in over IMAP; a second run is
refused and changes nothing. `moxide config printservice` writes a unit systemd accepts.
"""

import base64
import imaplib
import re
import shutil
import socket
import ssl
import subprocess

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from dnslib import QTYPE, RR

from conftest import BIN, Server

ADDRESS = "mjl@example.com"


def quickstart(directory, *args):
    return subprocess.run([str(BIN), "quickstart", ADDRESS, "--dir", str(directory), *args],
                          capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """One quickstart for the module's tests: (directory, its output)."""
    directory = tmp_path_factory.mktemp("qs") / "mail"
    r = quickstart(directory)
    assert r.returncode == 0, r.stderr
    return directory, r.stdout


def records(output):
    """The resource records of the printed zone-file section."""
    section = output.split("DNS records to publish", 1)[1].split("\n\n")[1]
    return RR.fromZone(section)


def txt(rr):
    return b"".join(rr.rdata.data).decode()


def test_records_are_complete_and_valid(installed):
    _, out = installed
    rrs = records(out)
    by_type = {}
    for rr in rrs:
        by_type.setdefault(QTYPE[rr.rtype], []).append(rr)
    assert [(str(r.rname), str(r.rdata)) for r in by_type["MX"]] == [("example.com.", "10 mail.example.com.")]
    texts = {str(r.rname): txt(r) for r in by_type["TXT"]}
    assert texts["example.com."] == "v=spf1 mx ~all"
    assert texts["_dmarc.example.com."] == "v=DMARC1; p=reject; rua=mailto:postmaster@example.com"
    dkim_names = sorted(n for n in texts if "._domainkey." in n)
    assert len(dkim_names) == 2
    kinds = sorted(re.search(r"k=(\w+)", texts[n]).group(1) for n in dkim_names)
    assert kinds == ["ed25519", "rsa"]
    for n in dkim_names:
        assert re.fullmatch(r"v=DKIM1; k=(ed25519|rsa); p=[A-Za-z0-9+/]+=*", texts[n]), texts[n]
        assert re.fullmatch(r"\d{8}[er]\._domainkey\.example\.com\.", n), n


def dkimpy_key(path):
    """The generated PKCS#8 PEM key in the form dkimpy signs with: the base64 seed for ed25519
    (RFC 8463), PKCS#1 PEM for RSA."""
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if path.name.endswith(".ed25519.pem"):
        raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption())
        return base64.b64encode(raw), b"ed25519-sha256"
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    return pem, b"rsa-sha256"


def test_dkim_records_verify_signatures_of_the_generated_keys(installed):
    directory, out = installed
    published = {str(r.rname).rstrip("."): txt(r) for r in records(out) if r.rtype == QTYPE.TXT}
    key_files = sorted((directory / "config" / "dkim" / "example.com").glob("*.pem"))
    assert len(key_files) == 2
    for f in key_files:
        assert f.stat().st_mode & 0o777 == 0o600
        assert f"{f.relative_to(directory / 'config')}" in (directory / "config" / "domains.toml").read_text()
    message = (b"From: mjl@example.com\r\nTo: someone@example.org\r\nSubject: hi\r\n"
               b"Date: Mon, 1 Jan 2026 00:00:00 +0000\r\nMessage-ID: <1@example.com>\r\n\r\nHello.\r\n")

    def dnsfunc(name, timeout=5):
        return published.get(name.decode().rstrip("."), "").encode()

    for f in key_files:
        selector = f.name.split(".")[0]
        key, algorithm = dkimpy_key(f)
        signature = dkim.sign(message, selector.encode(), b"example.com", key,
                              include_headers=[b"From", b"To", b"Subject"], signature_algorithm=algorithm)
        assert dkim.verify(signature + message, dnsfunc=dnsfunc), f"{f.name} does not verify"
        # A key that is not published does not verify.
        assert not dkim.verify(signature + message, dnsfunc=lambda name, timeout=5: b"")


def test_config_test_passes(installed):
    directory, _ = installed
    r = subprocess.run([str(BIN), "config", "test", "--config", str(directory / "config" / "moxide.toml")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count(": ok") == 2


def snapshot(directory):
    return {p: p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_second_run_refused_and_changes_nothing(installed):
    directory, _ = installed
    before = snapshot(directory / "config")
    r = quickstart(directory, "--hostname", "other.example.com")
    assert r.returncode != 0
    assert "moxide.toml exists" in r.stderr and "nothing was changed" in r.stderr, r.stderr
    assert snapshot(directory / "config") == before


def test_bad_account_name_refused(tmp_path):
    r = subprocess.run([str(BIN), "quickstart", "jøran@example.com", "--dir", str(tmp_path / "x")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "--account" in r.stderr, r.stderr
    assert not (tmp_path / "x" / "config" / "moxide.toml").exists()


def test_password_logs_in_over_imap(tmp_path, dns):
    """The generated configuration runs, moved to loopback and free ports for the test (the real
    one binds every address on ports below 1024)."""
    directory = tmp_path / "mail"
    r = quickstart(directory)
    assert r.returncode == 0, r.stderr
    password = re.search(r"^  password: (\S+)$", r.stdout, re.M).group(1)
    config = directory / "config" / "moxide.toml"
    text = config.read_text()
    text = text.replace('ips = ["0.0.0.0"]', 'ips = ["127.0.0.1"]')
    text = re.sub(r"(?m)^port = \d+$", "port = 0", text)
    text = text.replace("nameservers = []", f'nameservers = ["127.0.0.1:{dns.port}"]')
    # The test runs as root in a directory only root may enter: the server keeps its privileges
    # (the drop to the service user is test_privileges.py's).
    text = text.replace('user = "moxide"', 'user = "root"')
    # Beside the real one: relative paths (data, domains, keys, certificate) resolve the same.
    test_config = config.with_name("test.toml")
    test_config.write_text(text)
    server = Server(["serve", "--config", str(test_config)], cwd=tmp_path).start()
    try:
        assert set(server.ports) == {"smtp", "submission", "submissions", "imap", "imaps"}
        for login in (ADDRESS, "mjl"):
            imap = imaplib.IMAP4("127.0.0.1", server.ports["imap"])
            assert imap.login(login, password)[0] == "OK"
            assert imap.select("INBOX")[0] == "OK"
            imap.logout()
        imap = imaplib.IMAP4("127.0.0.1", server.ports["imap"])
        with pytest.raises(imaplib.IMAP4.error):
            imap.login(ADDRESS, password + "x")
        imap.shutdown()
        # The self-signed certificate is for the host name, and serves implicit TLS.
        context = ssl.create_default_context(cafile=str(directory / "config" / "tls" / "cert.pem"))
        with socket.create_connection(("127.0.0.1", server.ports["imaps"]), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname="mail.example.com") as tls:
                assert tls.recv(100).startswith(b"* OK")
    finally:
        server.stop()


def test_printservice_unit_verifies(installed, tmp_path):
    directory, _ = installed
    config = directory / "config" / "moxide.toml"
    r = subprocess.run([str(BIN), "config", "printservice", "--config", str(config)],
                       capture_output=True, text=True, timeout=30, cwd="/")
    assert r.returncode == 0, r.stderr
    unit = r.stdout
    root = directory.resolve()
    assert f"\nWorkingDirectory={root}\n" in unit
    assert f"\nExecStart={BIN.resolve()} serve --config {root}/config/moxide.toml\n" in unit
    assert f"\nReadWritePaths={root}/data {root}/config\n" in unit
    assert "\nRestart=on-failure\n" in unit
    assert "\nUser=" not in unit and "\nAmbientCapabilities=" not in unit
    for setting in ("ProtectSystem=strict", "ProtectHome=true", "PrivateTmp=true", "NoNewPrivileges=true",
                    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX"):
        assert f"\n{setting}\n" in unit
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed (apt-get install systemd): the unit is not verified")
    path = tmp_path / "moxide.service"
    path.write_text(unit)
    v = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60)
    # Problems in the unit are warnings on stderr, not always a failing exit code.
    problems = [line for line in (v.stdout + v.stderr).splitlines() if "moxide.service" in line]
    assert v.returncode == 0 and not problems, v.stdout + v.stderr


def test_printservice_refuses_a_bad_config(tmp_path):
    r = subprocess.run([str(BIN), "config", "printservice", "--config", str(tmp_path / "none.toml")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "none.toml" in r.stderr

