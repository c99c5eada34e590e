"""`moxide serve`: configuration is validated before binding; the dynamic file reloads."""

import smtplib
import socket
import subprocess
import time

from conftest import BIN, Server


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


STATIC = """hostname = "mail.example.com"
data_dir = "data"
user = "root"
[listeners.local]
ips = ["127.0.0.1"]
smtp = {{ port = {smtp} }}
imap = {{ port = {imap} }}
"""

DOMAINS = """[domains."example.com"]
[domains."møx.example"]
[accounts.mjl]
domain = "example.com"
addresses = ["mjl@example.com"]
"""


def write_config(tmp_path, smtp, imap, domains=DOMAINS):
    cfg = tmp_path / "config"
    cfg.mkdir(exist_ok=True)
    (cfg / "moxide.toml").write_text(STATIC.format(smtp=smtp, imap=imap))
    (cfg / "domains.toml").write_text(domains)
    return cfg / "moxide.toml"


def test_bad_config_is_reported_with_file_and_key_and_nothing_binds(tmp_path):
    port = free_port()
    config = write_config(tmp_path, port, free_port(), DOMAINS + 'bogus_key = 1\n[accounts.x]\ndomain = "nowhere.example"\naddresses = ["x"]\n')
    r = subprocess.run([str(BIN), "serve", "--config", str(config)], capture_output=True, text=True, timeout=20)
    assert r.returncode != 0
    assert "domains.toml: accounts.mjl.bogus_key: unknown field" in r.stderr, r.stderr
    # Every problem is reported at once once the file parses.
    (tmp_path / "config" / "domains.toml").write_text(DOMAINS + '[accounts.x]\ndomain = "nowhere.example"\naddresses = ["x", "bad@@x"]\n')
    r = subprocess.run([str(BIN), "serve", "--config", str(config)], capture_output=True, text=True, timeout=20)
    assert r.returncode != 0
    assert "domains.toml: accounts.x.domain: domain nowhere.example is not configured" in r.stderr, r.stderr
    # Nothing was bound: the port is still free.
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
    r = subprocess.run([str(BIN), "config", "test", "--config", str(config)], capture_output=True, text=True, timeout=20)
    assert r.returncode != 0 and "accounts.x.domain" in r.stderr


def test_wrong_value_in_static_file(tmp_path):
    config = write_config(tmp_path, 70000, 143)
    r = subprocess.run([str(BIN), "serve", "--config", str(config)], capture_output=True, text=True, timeout=20)
    assert r.returncode != 0
    assert "moxide.toml: listeners.local.smtp.port" in r.stderr, r.stderr


def test_dynamic_config_reloads_without_restart(tmp_path):
    config = write_config(tmp_path, free_port(), free_port())
    server = Server(["serve", "--config", str(config)], cwd=tmp_path).start()
    try:
        def rcpt(address):
            with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=10) as s:
                s.ehlo("client.example")
                s.mail("a@example.org")
                return s.rcpt(address)[0]

        assert rcpt("mjl@example.com") == 250
        assert rcpt("new@example.com") == 550
        assert rcpt("someone@other.example") == 550
        # A bad edit is refused and the old configuration stays.
        (tmp_path / "config" / "domains.toml").write_text("[accounts.broken]\n")
        time.sleep(2.5)
        assert rcpt("mjl@example.com") == 250
        assert "not reloaded" in server.log()
        (tmp_path / "config" / "domains.toml").write_text(DOMAINS.replace('["mjl@example.com"]', '["mjl@example.com", "new@example.com", "@møx.example"]'))
        deadline = time.monotonic() + 10
        while rcpt("new@example.com") != 250:
            assert time.monotonic() < deadline, "configuration not reloaded"
            time.sleep(0.2)
        assert rcpt("anyone@xn--mx-lka.example") == 250
    finally:
        server.stop()


def test_second_server_on_the_same_data_directory_is_refused(tmp_path, localserve):
    from conftest import localserve_args

    r = subprocess.run([str(BIN)] + localserve_args(tmp_path / "ls"), capture_output=True, text=True, timeout=20)
    assert r.returncode != 0
    assert "another moxide is using this data directory" in r.stderr, r.stderr
    # The first one is unharmed.
    with smtplib.SMTP("127.0.0.1", localserve.ports["smtp"], timeout=10) as s:
        assert s.noop()[0] == 250


def test_ipv4_and_ipv6_wildcards_share_a_port(tmp_path):
    port = free_port()
    cfg = tmp_path / "config"
    cfg.mkdir()
    (cfg / "moxide.toml").write_text(f"""hostname = "mail.example.com"
data_dir = "data"
user = "root"
[listeners.all]
ips = ["0.0.0.0", "::"]
smtp = {{ port = {port} }}
""")
    (cfg / "domains.toml").write_text(DOMAINS)
    server = Server(["serve", "--config", str(cfg / "moxide.toml")], cwd=tmp_path).start()
    try:
        for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            with socket.socket(family) as s:
                s.settimeout(10)
                s.connect((host, port))
                assert s.recv(100).startswith(b"220 ")
    finally:
        server.stop()
