"""Fixtures that run the real moxide binary on free loopback ports."""

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
        self.ports = {}
        self.proc = None
        self.stderr_path = None

    def start(self, timeout=20):
        log_dir = pathlib.Path(self.cwd or ".")
        self.stderr_path = log_dir / f"moxide-{len(list(log_dir.glob('moxide-*.log')))}.log"
        self.stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            [str(BIN)] + self.args,
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
