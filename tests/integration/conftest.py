"""Fixtures that run the real moxide binary on free loopback ports."""

import imaplib
import os
import pathlib
import re
import signal
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("MOXIDE_BIN", ROOT / "target" / "debug" / "moxide"))
MOXCTL = BIN.parent / "moxctl"


class Server:
    """A running moxide process and what it printed at start."""

    def __init__(self, args, cwd=None, env=None):
        self.args = args
        self.cwd = cwd
        self.env = env
        # A command the binary runs under, e.g. `unshare --net ...` for a network namespace.
        self.wrapper = []
        self.ports = {}
        self.proc = None
        self.stderr_path = None

    def start(self, timeout=20):
        log_dir = pathlib.Path(self.cwd or ".")
        self.stderr_path = log_dir / f"moxide-{len(list(log_dir.glob('moxide-*.log')))}.log"
        self.stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            self.wrapper + [str(BIN)] + self.args,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            cwd=self.cwd,
            env=self.env,
        )
        deadline = time.monotonic() + timeout
        lines = []
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline().decode()
            if not line:
                raise RuntimeError(f"moxide exited early: {lines} {self.log()}")
            lines.append(line)
            m = re.match(r"listening (\w+) 127\.0\.0\.1:(\d+)", line)
            if m:
                self.ports[m.group(1)] = int(m.group(2))
            if line.strip() == "ready":
                return self
        raise RuntimeError(f"moxide did not become ready: {lines}")

    def log(self):
        if not self.stderr.closed:
            self.stderr.flush()
        return self.stderr_path.read_text(errors="replace") if self.stderr_path else ""

    def kill(self):
        """SIGKILL: no chance to clean up, as in a crash."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.proc:
            self.proc.stdout.close()
        self.stderr.close()


def localserve_args(directory, password=None):
    args = ["localserve", "--dir", str(directory)] + [f"--{p}-port=0" for p in ("smtp", "submission", "submissions", "imap", "imaps")]
    if password:
        args += ["--password", password]
    return args


@pytest.fixture
def localserve(tmp_path):
    """A fresh `moxide localserve` in a temporary directory."""
    server = Server(localserve_args(tmp_path / "ls"), cwd=tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def start_localserve(tmp_path):
    """Starts (and restarts) localserve servers on one directory; stops them at the end."""
    servers = []

    def start(directory=None, password=None):
        server = Server(localserve_args(directory or tmp_path / "ls", password), cwd=tmp_path).start()
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.stop()


def moxctl(*args, input=None, timeout=10):
    return subprocess.run([str(MOXCTL), *args], input=input, capture_output=True, timeout=timeout, text=True)


# Where mail for the test's remote domains goes: an address on loopback where nothing listens,
# so that delivery attempts fail temporarily and queued messages stay queued.
UNREACHABLE_MX = "127.255.255.254"


def unreachable_remotes(zone):
    for domain in ("remote.example", "elsewhere.example", "xn--hxajbheg2az3al.xn--jxalpdlp"):
        zone.add(domain, "MX", (10, f"mx.{domain}"))
        zone.add(f"mx.{domain}", "A", UNREACHABLE_MX)


@pytest.fixture
def dns():
    """A DNS server on loopback serving records the test adds (see dnsserver.py). The domains
    remote.example and elsewhere.example have an MX where nothing listens."""
    from dnsserver import DnsServer

    server = DnsServer()
    unreachable_remotes(server.zone)
    yield server
    server.stop()


def self_signed(directory, name="localhost"):
    """A self-signed certificate and key for `name` (PEM files), made with openssl."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", "2", "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name},IP:127.0.0.1",
         # An end-entity certificate (a CA one is refused as a server's by webpki), trusted as itself.
         "-addext", "basicConstraints=critical,CA:FALSE",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return cert, key


SERVE_STATIC = """hostname = "{hostname}"
data_dir = "data"
# Tests run as root in directories only root may enter: the server keeps its privileges (the
# privilege drop has its own test, test_privileges.py).
user = "root"
log_level = "debug,hickory=info,hickory_proto=info,hickory_resolver=info"
{extra}
[dns]
nameservers = [{nameservers}]
timeout_seconds = 2
attempts = 1

[listeners.local]
ips = ["127.0.0.1"]
tls = {{ cert_file = "cert.pem", key_file = "key.pem" }}
smtp = {{ port = 0{smtp} }}
submission = {{ port = 0{submission} }}
submissions = {{ port = 0 }}
imap = {{ port = 0 }}
imaps = {{ port = 0 }}
"""

SERVE_DYNAMIC = """postmaster = "mjl"

[domains."moxide.test"]
[domains."other.test"]

[accounts.mjl]
domain = "moxide.test"
addresses = ["mjl@moxide.test", "info@moxide.test"]

[accounts.other]
domain = "other.test"
addresses = ["other@other.test"]
"""

PASSWORD = "test1234pass"


class Serve(Server):
    """`moxide serve` with a config written for the test: domains moxide.test (account mjl) and
    other.test (account other), both with password PASSWORD, on free loopback ports.
    `static_extra` adds sections to moxide.toml (e.g. `[limits]`); `smtp` and `submission` add
    settings to those services (e.g. `max_recipients = 100`)."""

    def __init__(self, directory, dns_port=None, hostname="mx.moxide.test", static_extra="", dynamic=SERVE_DYNAMIC,
                 smtp="", submission=""):
        directory.mkdir(parents=True, exist_ok=True)
        self.dir = directory
        self.config = directory / "moxide.toml"
        if not (directory / "cert.pem").exists():
            self_signed(directory, hostname)
        nameservers = f'"127.0.0.1:{dns_port}"' if dns_port else '"127.0.0.1:9"'
        self.config.write_text(SERVE_STATIC.format(
            hostname=hostname, extra=static_extra, nameservers=nameservers,
            smtp=f", {smtp}" if smtp else "", submission=f", {submission}" if submission else "",
        ))
        domains = directory / "domains.toml"
        if not domains.exists():
            domains.write_text(dynamic)
        super().__init__(["serve", "--config", str(self.config)], cwd=directory)

    def start(self, timeout=20):
        super().start(timeout)
        for account in ("mjl", "other"):
            r = moxctl("--config", str(self.config), "setpassword", account, input=PASSWORD + "\n")
            assert r.returncode == 0, r.stderr
        return self

    def login(self, account):
        return f"{account}@{'moxide.test' if account == 'mjl' else 'other.test'}", PASSWORD

    def queue_list(self):
        """The lines of `moxctl queue list`."""
        r = moxctl("--config", str(self.config), "queue", "list")
        assert r.returncode == 0, r.stderr
        return r.stdout.splitlines()


@pytest.fixture
def serve(tmp_path, dns):
    """A `moxide serve` for the test, resolving through the test's DNS server."""
    servers = []

    def start(**kwargs):
        kwargs.setdefault("dns_port", dns.port)
        server = Serve(tmp_path / "serve", **kwargs).start()
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.stop()


@pytest.fixture(scope="module")
def module_serve(tmp_path_factory):
    """One `serve` shared by the tests of a module, for tests that neither restart it nor change
    its configuration (each pytest-xdist worker gets its own)."""
    from dnsserver import DnsServer

    dns = DnsServer()
    unreachable_remotes(dns.zone)
    server = Serve(tmp_path_factory.mktemp("serve") / "serve", dns_port=dns.port).start()
    yield server
    server.stop()
    dns.stop()



def _peers(cls):
    """A factory starting `cls(**kwargs)` peers, and a function stopping them all."""
    started = []

    def start(**kwargs):
        peer = cls(**kwargs).start()
        started.append(peer)
        return peer

    def stop():
        for peer in reversed(started):
            peer.stop()

    return start, stop


# Real third-party peers for tests of outgoing delivery (see peers.py). Each fixture is a factory
# taking the peer's constructor arguments, e.g. `mx = postfix_mx(address="127.0.0.2")`; the peers
# are stopped and their directories removed after the test.


@pytest.fixture
def postfix_mx():
    """Starts peers.PostfixMX(**kwargs): Postfix as the MX of remote.test (by default), mail
    delivered to files (mx.wait_for_messages(n)), STARTTLS, 451/550 for tempfail@/reject@remote.test."""
    from peers import PostfixMX

    start, stop = _peers(PostfixMX)
    yield start
    stop()


@pytest.fixture
def postfix_submission():
    """Starts peers.PostfixSubmission(**kwargs): Postfix submission relay with Dovecot SASL (user
    relayuser), STARTTLS on .port and implicit TLS on .tls_port; auth_methods_seen() from its log."""
    from peers import PostfixSubmission

    start, stop = _peers(PostfixSubmission)
    yield start
    stop()


@pytest.fixture
def socks5_proxy():
    """Starts peers.Socks5Proxy(**kwargs): dante without authentication on .port, to 127.0.0.0/8
    only; connections_seen() lists the (ip, port) it connected to."""
    from peers import Socks5Proxy

    start, stop = _peers(Socks5Proxy)
    yield start
    stop()


@pytest.fixture
def smtp_sink():
    """Starts peers.SmtpSink(**kwargs): Postfix's smtp-sink on .port, count() of messages received."""
    from peers import SmtpSink

    start, stop = _peers(SmtpSink)
    yield start
    stop()


def stored(server, account, subject):
    """The messages in `account`'s Inbox with `subject`, as stored (BODY[])."""
    c = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=30)
    try:
        c.login(*server.login(account))
        c.select("INBOX")
        typ, data = c.uid("SEARCH", "SUBJECT", subject)
        assert typ == "OK", data
        bodies = []
        for uid in data[0].split():
            typ, data = c.uid("FETCH", uid, "(BODY.PEEK[])")
            bodies.append(data[0][1])
        return bodies
    finally:
        c.logout()
