"""Started as root, `moxide serve` binds ports below 1024, hands its data directory, configuration
and keys to the service user and becomes that user; SMTP, IMAP and moxctl work afterwards."""

import imaplib
import os
import pathlib
import pwd
import shutil
import smtplib
import stat
import subprocess
import tempfile

import pytest

from conftest import PASSWORD, Server, moxctl, self_signed
from test_queue_delivery import loopback_for_port_25

USER = "moxidetest"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


def service_user():
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
                       check=True)
        return pwd.getpwnam(USER)


def owner_mode(path):
    st = os.lstat(path)
    return st.st_uid, stat.S_IMODE(st.st_mode)


def test_root_binds_low_ports_then_runs_as_the_service_user(dns):
    user = service_user()
    ip = loopback_for_port_25()
    # A directory the service user can reach (pytest's own are root's alone).
    base = pathlib.Path(tempfile.mkdtemp(prefix="moxide-priv-", dir="/tmp"))
    base.chmod(0o755)
    cert, key = self_signed(base, "mx.moxide.test")
    (base / "moxide.toml").write_text(f"""hostname = "mx.moxide.test"
data_dir = "data"
user = "{USER}"
[dns]
nameservers = ["127.0.0.1:{dns.port}"]
timeout_seconds = 2
[listeners.low]
ips = ["{ip}"]
tls = {{ cert_file = "cert.pem", key_file = "key.pem" }}
smtp = {{ port = 25 }}
submission = {{ port = 587 }}
imap = {{ port = 143 }}
""")
    (base / "domains.toml").write_text("""[domains."moxide.test"]
[accounts.mjl]
domain = "moxide.test"
addresses = ["mjl@moxide.test"]
""")
    server = Server(["serve", "--config", str(base / "moxide.toml")], cwd=base)
    server.start()
    try:
        # Running as the service user: all four uids and gids, no supplementary groups.
        status = pathlib.Path(f"/proc/{server.proc.pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        assert fields["Uid"].split() == [str(user.pw_uid)] * 4, fields["Uid"]
        assert fields["Gid"].split() == [str(user.pw_gid)] * 4, fields["Gid"]
        assert fields["Groups"].strip() == ""
        if shutil.which("ps"):
            ps = subprocess.run(["ps", "-o", "user=", "-p", str(server.proc.pid)], capture_output=True, text=True)
            assert ps.stdout.strip() == USER

        # What it was given, and how.
        data = base / "data"
        assert owner_mode(data) == (user.pw_uid, 0o700)
        assert owner_mode(data / "ctl") == (user.pw_uid, 0o600)
        for root, dirs, files in os.walk(data):
            for d in dirs:
                assert owner_mode(pathlib.Path(root) / d) == (user.pw_uid, 0o700), d
            for f in files:
                assert owner_mode(pathlib.Path(root) / f) == (user.pw_uid, 0o600), f
        assert owner_mode(key) == (user.pw_uid, 0o600)
        assert os.lstat(base / "domains.toml").st_uid == user.pw_uid
        assert os.lstat(base).st_uid == user.pw_uid

        # moxctl (as root) reaches it; the service user writes new account data and keys.
        r = moxctl("--config", str(base / "moxide.toml"), "setpassword", "mjl", input=PASSWORD + "\n")
        assert r.returncode == 0, r.stderr
        r = moxctl("--config", str(base / "moxide.toml"), "domain", "add", "new.test", timeout=60)
        assert r.returncode == 0, r.stderr
        keys = list((base / "dkim").rglob("*.pem"))
        assert len(keys) == 2
        for k in keys:
            assert owner_mode(k) == (user.pw_uid, 0o600)

        # SMTP on 25 and IMAP on 143 after the drop.
        with smtplib.SMTP(ip, 25, timeout=30) as s:
            s.ehlo("client.example")
            s.sendmail("someone@example.org", ["mjl@moxide.test"],
                       b"From: someone@example.org\r\nSubject: after the drop\r\n\r\nhi\r\n")
        c = imaplib.IMAP4(ip, 143)
        c.login("mjl@moxide.test", PASSWORD)
        typ, data_ = c.select("INBOX")
        assert typ == "OK" and int(data_[0]) == 1
        c.logout()
        for root, dirs, files in os.walk(data):
            for f in files:
                assert os.lstat(pathlib.Path(root) / f).st_uid == user.pw_uid, f
    finally:
        server.stop()


def test_non_root_cannot_bind_low_ports_and_says_why(tmp_path):
    nobody = pwd.getpwnam("nobody")
    base = pathlib.Path(tempfile.mkdtemp(prefix="moxide-nonroot-", dir="/tmp"))
    base.chmod(0o777)
    (base / "moxide.toml").write_text("""hostname = "mx.moxide.test"
data_dir = "data"
[listeners.low]
ips = ["127.0.0.1"]
smtp = { port = 25 }
""")
    (base / "domains.toml").write_text("")
    from conftest import BIN
    r = subprocess.run([str(BIN), "serve", "--config", str(base / "moxide.toml")], cwd=base,
                       capture_output=True, text=True, timeout=30, user=nobody.pw_uid, group=nobody.pw_gid)
    assert r.returncode != 0
    assert "CAP_NET_BIND_SERVICE" in r.stderr, r.stderr
