"""A tiny IMAP client for transcript tests: send a command, get back exactly what the server
answered (untagged lines and the tagged one), so tests can state the expected responses."""

import re
import socket


class Imap:
    def __init__(self, port, login=True):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.n = 0
        self.greeting = self.line()
        if login:
            self.ok("LOGIN mox@localhost moxmoxmox")

    def line(self):
        """One response line, with any literals it carries inlined."""
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        m = re.search(rb"\{(\d+)\}$", line)
        if m:
            n = int(m.group(1))
            while len(self.buf) < n:
                self.buf += self.sock.recv(65536)
            line += b"\r\n" + self.buf[:n]
            self.buf = self.buf[n:]
            line += self.line().encode("utf-8", "surrogateescape")
        return line.decode("utf-8", "surrogateescape")

    def send_raw(self, data):
        self.sock.sendall(data)

    def command(self, text, tag=None):
        """Sends `text` and returns (untagged lines, tagged line)."""
        self.n += 1
        tag = tag or f"t{self.n}"
        self.sock.sendall(f"{tag} {text}\r\n".encode())
        untagged = []
        while True:
            line = self.line()
            if line.startswith(tag + " "):
                return untagged, line[len(tag) + 1 :]
            untagged.append(line)

    def ok(self, text):
        untagged, tagged = self.command(text)
        assert tagged.startswith("OK"), f"{text}: {tagged} {untagged}"
        return untagged, tagged

    def close(self):
        self.sock.close()
