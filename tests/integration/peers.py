"""Real third-party peers for tests of outgoing delivery: Postfix as a remote MX (`PostfixMX`), Postfix
as a submission relay authenticating through Dovecot (`PostfixSubmission`), a dante SOCKS5 proxy
(`Socks5Proxy`) and Postfix's smtp-sink (`SmtpSink`).

Each peer runs from its own temporary directory (made world-traversable, because Postfix and
Dovecot drop privileges to their own users) on free loopback ports, never touching /etc/postfix,
/var/spool/postfix or the system Dovecot, so pytest-xdist workers can run them in parallel. Use them
as context managers or call start() and stop(); conftest.py has fixtures that do that."""

import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass

POSTFIX_SBIN = "/usr/sbin/postfix"
DOVECOT = "/usr/sbin/dovecot"
DANTED = "/usr/sbin/danted"
SMTP_SINK = "/usr/sbin/smtp-sink"
# User the delivery script runs as: Postfix's pipe refuses root and its own mail_owner.
DELIVERY_USER = "nobody"


class PortInUse(RuntimeError):
    pass


def free_port(address="127.0.0.1"):
    """A port that was free on `address` a moment ago (peers retry if another process takes it)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def _listener_inodes(address, port):
    """Socket inodes listening on TCP address:port (or the wildcard address), from /proc/net."""
    wanted = {address, "0.0.0.0", "::", "::ffff:" + address}
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in _read(table).splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            ip_hex, port_hex = local.split(":")
            if state != "0A" or int(port_hex, 16) != port:
                continue
            raw = bytes.fromhex(ip_hex)
            # The kernel prints 32-bit words in host (little endian) order.
            raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
            ip = socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)
            if ip in wanted:
                inodes.add(inode)
    return inodes


def _socket_owners(inodes):
    links = {f"socket:[{i}]" for i in inodes}
    pids = set()
    for proc in pathlib.Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in links for fd in (proc / "fd").iterdir()):
                pids.add(int(proc.name))
        except OSError:
            continue
    return pids


def _descends_from(pid, ancestor):
    while pid > 1:
        if pid == ancestor:
            return True
        try:
            stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        pid = int(stat.rsplit(")", 1)[1].split()[1])
    return False


def wait_for_port(address, port, timeout, proc, log=lambda: ""):
    """Polls until `proc` (or a process it started) listens on address:port and accepts a connection.
    Raises PortInUse if another process listens there, RuntimeError with `log()` if `proc` exits or
    does not listen within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            text = log()
            _check_port_in_use(text)
            raise RuntimeError(f"daemon for {address}:{port} exited with {proc.returncode}:\n{text}")
        inodes = _listener_inodes(address, port)
        if inodes:
            owners = _socket_owners(inodes)
            if any(_descends_from(pid, proc.pid) for pid in owners):
                try:
                    socket.create_connection((address, port), timeout=1).close()
                    return
                except OSError:
                    pass
            elif owners:
                raise PortInUse(f"{address}:{port} is taken by process {owners}")
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {address}:{port} after {timeout}s:\n{log()}")


def peer_dir(kind):
    """A fresh temporary directory others can traverse (pytest's tmp_path base is 0700, which
    the postfix, dovecot and nobody users could not enter)."""
    d = pathlib.Path(tempfile.mkdtemp(prefix=f"moxide-{kind}-"))
    d.chmod(0o755)
    return d


def backdate(*paths):
    """Postfix waits while a configuration file is younger than a second or two (in case an editor
    is still writing it): make them older."""
    t = time.time() - 10
    for path in paths:
        os.utime(path, (t, t))


def _read(path):
    try:
        return pathlib.Path(path).read_text(errors="replace")
    except FileNotFoundError:
        return ""


class Peer:
    """Common start/stop with retries when a port turns out to be taken."""

    name = "peer"
    attempts = 5
    programs = ()

    def __init__(self, directory=None):
        missing = [p for p in self.programs if not os.access(p, os.X_OK)]
        if missing:
            raise RuntimeError(f"{missing} not installed: apt-get install postfix dovecot-core dante-server "
                               "(scripts/test does)")
        self.own_dir = directory is None
        self.dir = pathlib.Path(directory) if directory else peer_dir(self.name)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o755)
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def log(self):
        raise NotImplementedError

    def start(self, timeout=15):
        for attempt in range(self.attempts):
            try:
                self._start(timeout)
                return self
            except PortInUse:
                self._stop_processes()
                # Another process took the free port we picked: pick again.
                if attempt == self.attempts - 1 or self.fixed_ports():
                    self.stop()
                    raise
            except BaseException:
                self.stop()
                raise
        return self

    def _start(self, timeout):
        raise NotImplementedError

    def fixed_ports(self):
        """Whether the test chose the ports (then a taken one is an error, not a reason to retry)."""
        return getattr(self, "fixed_port", None) is not None or getattr(self, "fixed_tls_port", None) is not None

    def _stop_processes(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def stop(self):
        self._stop_processes()
        if self.own_dir and not os.environ.get("MOXIDE_KEEP_PEERS"):
            shutil.rmtree(self.dir, ignore_errors=True)


def _check_port_in_use(text):
    if re.search(r"[Aa]ddress already in use", text):
        raise PortInUse(text)


@dataclass
class Message:
    """A message a Postfix peer delivered: envelope and the bytes as delivered (Postfix adds a
    Received header at the top)."""

    sender: str
    recipients: list
    data: bytes


# Postfix's pipe(8) runs this as DELIVERY_USER for each delivery: message on stdin, envelope on the
# command line. It writes the message and then, atomically, a JSON envelope that points at it.
DELIVER_PY = r"""import json, os, sys, time
out, sender, recipients = sys.argv[1], sys.argv[2], sys.argv[3:]
# pipe(8) gives lines ending in LF; SMTP had CRLF.
data = sys.stdin.buffer.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
name = "%020d-%d" % (time.time_ns(), os.getpid())
with open(os.path.join(out, name + ".eml"), "wb") as f:
    f.write(data)
tmp = os.path.join(out, "." + name + ".json")
with open(tmp, "w") as f:
    json.dump({"sender": sender, "recipients": recipients, "file": name + ".eml"}, f)
os.rename(tmp, os.path.join(out, name + ".json"))
"""

MASTER_CF = """\
{listeners}
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
files     unix  -       n       n       -       -       pipe null_sender= user={user} argv={python} {dir}/deliver.py {dir}/mail ${{sender}} ${{recipient}}
"""

MAIN_CF = """\
compatibility_level = 3.6
config_directory = {dir}/etc
queue_directory = {dir}/spool
data_directory = {dir}/data
maillog_file = {dir}/maillog
maillog_file_prefixes = {dir}
myhostname = {hostname}
mydomain = {hostname}
myorigin = {hostname}
mydestination =
mynetworks =
# Not the listening address: Postfix wants these on an interface, and 127.0.0.2 is not (though
# usable, as all of 127.0.0.0/8). master.cf has the listening addresses.
inet_interfaces = loopback-only
inet_protocols = {protocols}
smtputf8_enable = yes
smtpd_peername_lookup = no
# No header rewriting or added Message-ID/Date/From for mail from clients.
local_header_rewrite_clients =
smtp_dns_support_level = disabled
alias_maps =
alias_database =
local_recipient_maps =
biff = no
# Everything this instance accepts goes to the files transport, unless relayhost says otherwise.
default_transport = files
relay_transport = files
relay_domains = {domains}
smtpd_tls_security_level = may
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
smtpd_tls_received_header = yes
smtpd_relay_restrictions = {restrictions}
smtpd_recipient_restrictions = check_recipient_access texthash:{dir}/etc/responses
# Quick retries if a delivery here fails, and no waiting for more input before the delivery.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
in_flow_delay = 0
delay_warning_time = 0
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 1000
smtpd_hard_error_limit = 1000
smtpd_client_connection_rate_limit = 0
"""


class Postfix(Peer):
    """A private Postfix instance (own config, queue and data directories) whose accepted mail is
    written to files by a pipe(8) delivery, read back with messages()/wait_for_messages()."""

    name = "postfix"
    programs = (POSTFIX_SBIN, "/usr/bin/python3")

    def __init__(self, domains=("remote.test",), address="127.0.0.1", port=None, hostname="mx.remote.test",
                 responses=None, directory=None, relayhost=None, extra_main=""):
        super().__init__(directory)
        self.domains = list(domains)
        self.address = address
        self.fixed_port = port
        self.port = port
        self.hostname = hostname
        self.responses = dict(DEFAULT_RESPONSES if responses is None else responses)
        self.relayhost = relayhost
        self.extra_main = extra_main
        self.etc = self.dir / "etc"
        self.mail = self.dir / "mail"
        self.maillog = self.dir / "maillog"
        # Its self-signed certificate (CN and DNS name `hostname`), for clients that verify.
        self.cert = self.dir / "cert.pem"

    # What subclasses change.
    def restrictions(self):
        return "reject_unauth_destination"

    def listeners(self):
        return [(self.port, "")]

    def more_main(self):
        return ""

    def free_ports(self):
        if self.fixed_port is None:
            self.port = free_port(self.address)

    def _listener_name(self, port):
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{port}"

    def _write_config(self):
        for d in (self.etc, self.dir / "spool", self.dir / "data"):
            d.mkdir(exist_ok=True)
        shutil.chown(self.dir / "data", "postfix", "postfix")
        self.mail.mkdir(exist_ok=True)
        self.mail.chmod(0o777)
        (self.dir / "deliver.py").write_text(DELIVER_PY)
        if not (self.dir / "cert.pem").exists():
            from conftest import self_signed

            self_signed(self.dir, self.hostname)
        listeners = "\n".join(
            f"{self._listener_name(port)} inet n - n - - smtpd{opts}" for port, opts in self.listeners()
        )
        (self.etc / "master.cf").write_text(MASTER_CF.format(
            listeners=listeners, user=DELIVERY_USER, python="/usr/bin/python3", dir=self.dir,
        ))
        main = MAIN_CF.format(
            dir=self.dir, hostname=self.hostname, address=self.address,
            protocols="all" if ":" in self.address else "ipv4",
            domains=", ".join(self.domains), cert=self.dir / "cert.pem", key=self.dir / "key.pem",
            restrictions=self.restrictions(),
        )
        if self.relayhost:
            host, port = self.relayhost
            main += f"relayhost = [{host}]:{port}\nrelay_transport = relay\ndefault_transport = smtp\n"
            main += "smtp_tls_security_level = may\n"
        main += self.more_main() + self.extra_main
        (self.etc / "main.cf").write_text(main)
        self._write_responses()
        backdate(self.etc / "main.cf", self.etc / "master.cf")

    def _write_responses(self):
        lines = [f"{addr} {answer}" for addr, answer in self.responses.items()]
        (self.etc / "responses").write_text("\n".join(lines) + "\n")
        backdate(self.etc / "responses")

    def set_responses(self, responses):
        """Replaces the recipient → SMTP answer map (e.g. {"x@remote.test": "451 4.3.0 later"}),
        effective for new connections."""
        self.responses = dict(responses)
        self._write_responses()
        self._postfix("reload")

    def _postfix(self, *args, check=True):
        r = subprocess.run([POSTFIX_SBIN, "-c", str(self.etc), *args], capture_output=True, text=True, timeout=30)
        if check and r.returncode != 0:
            raise RuntimeError(f"postfix {' '.join(args)}: {r.stdout}{r.stderr}\n{self.log()}")
        return r

    def _make_queue(self):
        """The queue directories as post-install would make them (from Postfix's postfix-files), and
        a quick-start file so `postfix start-fg` skips its checks (slow, and what they print on
        failure goes to a log that is not running yet)."""
        spool = self.dir / "spool"
        spool.chmod(0o755)
        for name, group, mode in QUEUE_DIRS:
            d = spool / name
            d.mkdir(exist_ok=True)
            shutil.chown(d, "root" if name == "pid" else "postfix", group)
            d.chmod(mode)
        (spool / "quick-start").touch()

    def _start(self, timeout):
        self.free_ports()
        self._write_config()
        self._make_queue()
        self.proc = subprocess.Popen(
            [POSTFIX_SBIN, "-c", str(self.etc), "start-fg"],
            stdout=open(self.dir / "master.out", "ab"), stderr=subprocess.STDOUT,
            env={**os.environ, "MAIL_CONFIG": str(self.etc)},
        )
        for port, _ in self.listeners():
            try:
                wait_for_port(self.address, port, timeout, self.proc, log=self.log)
            except RuntimeError as e:
                _check_port_in_use(str(e))
                raise

    def _stop_processes(self):
        # SIGTERM to the master (not the postfix script that waits for it) stops it and its children.
        if self.proc and self.proc.poll() is None:
            try:
                os.kill(int(_read(self.dir / "spool" / "pid" / "master.pid").split()[0]), signal.SIGTERM)
                self.proc.wait(10)
            except (IndexError, ValueError, ProcessLookupError, subprocess.TimeoutExpired):
                self._postfix("stop", check=False)
        super()._stop_processes()

    def log(self):
        """Postfix's log (maillog_file) and what the master printed."""
        return _read(self.maillog) + _read(self.dir / "master.out")

    def messages(self):
        """The messages delivered so far, oldest first."""
        result = []
        for env in sorted(self.mail.glob("*.json")):
            meta = json.loads(env.read_text())
            result.append(Message(meta["sender"], meta["recipients"], (self.mail / meta["file"]).read_bytes()))
        return result

    def wait_for_messages(self, n, timeout=10):
        """Waits until at least `n` messages were delivered; returns them (a delivery carries the
        recipients of one domain, so a message to two domains counts twice)."""
        deadline = time.monotonic() + timeout
        while True:
            msgs = self.messages()
            if len(msgs) >= n:
                return msgs
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(msgs)} of {n} messages after {timeout}s:\n{self.log()}")
            time.sleep(0.05)


QUEUE_DIRS = [(name, "root", 0o700) for name in (
    "active", "bounce", "corrupt", "defer", "deferred", "flush", "hold", "incoming", "private", "saved", "trace",
)] + [("maildrop", "postdrop", 0o730), ("public", "postdrop", 0o710), ("pid", "root", 0o755)]

DEFAULT_RESPONSES = {
    "tempfail@remote.test": "451 4.3.0 Temporary failure, try again later",
    "reject@remote.test": "550 5.1.1 No such user",
}


class PostfixMX(Postfix):
    """Postfix as a remote domain's MX on `address`:`port` (port free unless given): accepts mail
    for `domains` from anyone, offers STARTTLS with a self-signed certificate, and answers the
    recipients in `responses` (address → SMTP reply, default DEFAULT_RESPONSES: tempfail@remote.test
    451, reject@remote.test 550) with that reply."""

    name = "postfix-mx"


DOVECOT_CONF = """\
base_dir = {dir}/run
state_dir = {dir}/state
instance_name = {instance}
protocols =
ssl = no
log_path = {dir}/dovecot.log
info_log_path = {dir}/dovecot.log
auth_mechanisms = {mechanisms}
auth_verbose = yes
# Failed logins answer at once (the default delays them 2s).
auth_failure_delay = 0
disable_plaintext_auth = no
default_internal_user = dovecot
default_login_user = dovenull
passdb {{
  driver = passwd-file
  args = {dir}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}}
service auth {{
  unix_listener auth-postfix {{
    mode = 0666
  }}
}}
"""


class Dovecot(Peer):
    """A Dovecot running only its auth service, for Postfix's SASL (socket at `auth_socket`)."""

    name = "dovecot"
    programs = (DOVECOT,)

    def __init__(self, users, mechanisms, directory):
        super().__init__(directory)
        self.users = users
        self.mechanisms = mechanisms
        self.auth_socket = self.dir / "run" / "auth-postfix"

    def _start(self, timeout):
        (self.dir / "state").mkdir(exist_ok=True)
        (self.dir / "users").write_text("".join(f"{u}:{{PLAIN}}{p}\n" for u, p in self.users.items()))
        (self.dir / "dovecot.conf").write_text(DOVECOT_CONF.format(
            dir=self.dir, instance=f"dovecot-{self.dir.name}", mechanisms=" ".join(self.mechanisms),
        ))
        self.proc = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.dir / "dovecot.conf")],
            stdout=open(self.dir / "dovecot.out", "ab"), stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while not self.auth_socket.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dovecot auth did not start:\n{self.log()}")
            time.sleep(0.05)

    def log(self):
        return _read(self.dir / "dovecot.log") + _read(self.dir / "dovecot.out")

    def stop(self):
        self._stop_processes()


class PostfixSubmission(Postfix):
    """Postfix as a submission relay: STARTTLS on `port`, implicit TLS on `tls_port`, SASL through a
    private Dovecot (user `user` with `password`, mechanisms `mechanisms`, e.g. ["cram-md5"]), AUTH
    only after TLS unless `auth_without_tls`. Ports are free ones unless given. Mail from authenticated clients, to any domain, is
    delivered to files (messages()) or relayed to `relayhost` (host, port) if given."""

    name = "postfix-submission"
    MECHANISMS = ("plain", "login", "cram-md5", "scram-sha-1", "scram-sha-256")

    def __init__(self, user="relayuser", password="relaypass1234", mechanisms=MECHANISMS, auth_without_tls=False,
                 hostname="smtp.relay.test", tls_port=None, **kwargs):
        kwargs.setdefault("domains", ())
        super().__init__(hostname=hostname, **kwargs)
        self.user = user
        self.password = password
        self.mechanisms = list(mechanisms)
        self.auth_without_tls = auth_without_tls
        self.fixed_tls_port = tls_port
        self.tls_port = tls_port
        self.dovecot = Dovecot({user: password}, self.mechanisms, self.dir / "dovecot")

    def restrictions(self):
        return "permit_sasl_authenticated, reject"

    def free_ports(self):
        super().free_ports()
        if self.fixed_tls_port is None:
            self.tls_port = free_port(self.address)

    def listeners(self):
        return [
            (self.port, ""),
            (self.tls_port, " -o smtpd_tls_wrappermode=yes"),
        ]

    def more_main(self):
        return (
            "smtpd_sasl_auth_enable = yes\n"
            "smtpd_sasl_type = dovecot\n"
            f"smtpd_sasl_path = {self.dovecot.auth_socket}\n"
            f"smtpd_tls_auth_only = {'no' if self.auth_without_tls else 'yes'}\n"
            "smtpd_sasl_security_options = noanonymous\n"
            "smtpd_sasl_tls_security_options = noanonymous\n"
        )

    def start(self, timeout=15):
        try:
            self.dovecot.start(timeout)
        except BaseException:
            self.stop()
            raise
        return super().start(timeout)

    def stop(self):
        # Dovecot takes a second to stop: let it while Postfix stops.
        if self.dovecot.proc and self.dovecot.proc.poll() is None:
            self.dovecot.proc.send_signal(signal.SIGTERM)
        self._stop_processes()
        self.dovecot.stop()
        super().stop()

    def log(self):
        return super().log() + "\n--- dovecot ---\n" + self.dovecot.log()

    def auth_methods_seen(self):
        """SASL mechanisms of the messages accepted after a login so far, in order, e.g. ["PLAIN",
        "SCRAM-SHA-256"] (Postfix logs the mechanism with each message, not at login)."""
        return re.findall(r"sasl_method=([A-Z0-9-]+)", _read(self.maillog))


DANTED_CONF = """\
logoutput: {dir}/danted.log
debug: 0
internal: {address} port = {port}
external: {external}
socksmethod: none
clientmethod: none
user.privileged: root
user.unprivileged: nobody
client pass {{
  from: 127.0.0.0/8 to: 0.0.0.0/0
  log: connect disconnect error
}}
socks pass {{
  from: 127.0.0.0/8 to: 127.0.0.0/8
  command: connect
  log: connect disconnect error
}}
socks block {{
  from: 0.0.0.0/0 to: 0.0.0.0/0
  log: connect error
}}
"""


class Socks5Proxy(Peer):
    """dante's SOCKS5 proxy on `address`:`port` (port free unless given), no authentication,
    carrying CONNECTs from loopback to 127.0.0.0/8 only; connections_seen() tells where to."""

    name = "danted"
    programs = (DANTED,)

    def __init__(self, address="127.0.0.1", port=None, directory=None):
        super().__init__(directory)
        self.address = address
        self.fixed_port = port
        self.port = port

    def _start(self, timeout):
        if self.fixed_port is None:
            self.port = free_port(self.address)
        (self.dir / "danted.conf").write_text(DANTED_CONF.format(
            dir=self.dir, address=self.address, port=self.port, external=self.address,
        ))
        self.proc = subprocess.Popen(
            [DANTED, "-f", str(self.dir / "danted.conf"), "-p", str(self.dir / "danted.pid"), "-N", "1"],
            stdout=open(self.dir / "danted.out", "ab"), stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(self.address, self.port, timeout, self.proc, log=self.log)
        except RuntimeError as e:
            _check_port_in_use(str(e))
            raise

    def log(self):
        return _read(self.dir / "danted.log") + _read(self.dir / "danted.out")

    def connections_seen(self):
        """(ip, port) destinations of the connections the proxy carried, in order."""
        # "pass(1): tcp/connect [: client proxy-in -> proxy-out destination", addresses as ip.port.
        found = []
        for m in re.finditer(r"tcp/connect \[: \S+ \S+ -> \S+ (\S+)\.(\d+)$", _read(self.dir / "danted.log"), re.M):
            found.append((m.group(1), int(m.group(2))))
        return found


class SmtpSink(Peer):
    """Postfix's smtp-sink on `address`:`port` (port free unless given): accepts and discards
    every message; count() is how many DATA transactions completed (from its -c counter)."""

    name = "smtp-sink"
    programs = (SMTP_SINK,)

    def __init__(self, address="127.0.0.1", port=None, backlog=1000, args=(), directory=None):
        super().__init__(directory)
        self.address = address
        self.fixed_port = port
        self.port = port
        self.backlog = backlog
        self.args = list(args)

    def _start(self, timeout):
        if self.fixed_port is None:
            self.port = free_port(self.address)
        host = f"[{self.address}]" if ":" in self.address else self.address
        self.proc = subprocess.Popen(
            [SMTP_SINK, "-c", "-u", "nobody", *self.args, f"{host}:{self.port}", str(self.backlog)],
            stdout=open(self.dir / "smtp-sink.out", "wb"), stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(self.address, self.port, timeout, self.proc, log=self.log)
        except RuntimeError as e:
            _check_port_in_use(str(e))
            raise

    def log(self):
        return _read(self.dir / "smtp-sink.out")

    def count(self):
        """Messages received so far (the mesg= of smtp-sink's last counter line)."""
        counts = re.findall(r"mesg=(\d+)", self.log())
        return int(counts[-1]) if counts else 0

    def wait_for_count(self, n, timeout=10):
        """Waits until at least `n` messages were received; returns the count."""
        deadline = time.monotonic() + timeout
        while (count := self.count()) < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"smtp-sink received {count} of {n} messages after {timeout}s")
            time.sleep(0.05)
        return count
