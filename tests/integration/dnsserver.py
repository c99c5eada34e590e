"""A real DNS server on loopback for tests (dnslib's server, UDP and TCP), answering from records
a test sets, with names that answer SERVFAIL to make lookups fail temporarily."""

import threading

from dnslib import AAAA, MX, PTR, QTYPE, RCODE, RR, SOA, TXT, A
from dnslib.server import BaseResolver, DNSLogger, DNSServer


def _txt_chunks(text):
    """A TXT value as strings of at most 255 bytes (RFC 1035 §3.3.14)."""
    data = text.encode()
    return [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]


class Zone(BaseResolver):
    def __init__(self):
        self.records = {}
        self.servfail = set()
        self.lock = threading.Lock()
        self.queries = []

    def add(self, name, rtype, value):
        name = name.lower().rstrip(".")
        with self.lock:
            self.records.setdefault((name, rtype), []).append(value)

    def txt(self, name, text):
        self.add(name, "TXT", text)

    def fail(self, name):
        """Every question about `name` gets SERVFAIL (a temporary error)."""
        self.servfail.add(name.lower().rstrip("."))

    def resolve(self, request, handler):
        reply = request.reply()
        qname = request.q.qname
        name = str(qname).lower().rstrip(".")
        rtype = QTYPE[request.q.qtype]
        with self.lock:
            self.queries.append((name, rtype))
            if name in self.servfail:
                reply.header.rcode = RCODE.SERVFAIL
                return reply
            values = self.records.get((name, rtype), [])
            exists = any(k[0] == name for k in self.records)
        for v in values:
            rdata = {
                "TXT": lambda v: TXT(_txt_chunks(v)),
                "A": A,
                "AAAA": AAAA,
                "MX": lambda v: MX(v[1], v[0]),
                "PTR": PTR,
            }[rtype](v)
            reply.add_answer(RR(qname, QTYPE.reverse[rtype], rdata=rdata, ttl=60))
        if not values:
            if not exists:
                reply.header.rcode = RCODE.NXDOMAIN
            # As a real server does: an SOA says for how long the negative answer holds
            # (RFC 2308), so resolvers cache it.
            apex = ".".join(name.split(".")[-2:]) or "."
            soa = SOA(f"ns.{apex}.", f"hostmaster.{apex}.", (1, 3600, 600, 86400, 60))
            reply.add_auth(RR(apex + ".", QTYPE.SOA, rdata=soa, ttl=60))
        return reply


class DnsServer:
    """Serves `zone` on 127.0.0.1 (one port, UDP and TCP)."""

    def __init__(self, zone=None):
        self.zone = zone or Zone()
        quiet = DNSLogger(logf=lambda _: None)
        # The UDP port the system picks may be taken for TCP by someone else: pick again.
        for attempt in range(20):
            self.udp = DNSServer(self.zone, address="127.0.0.1", port=0, logger=quiet)
            self.port = self.udp.server.server_address[1]
            try:
                self.tcp = DNSServer(self.zone, address="127.0.0.1", port=self.port, tcp=True, logger=quiet)
                break
            except OSError:
                self.udp.server.server_close()
                if attempt == 19:
                    raise
        self.udp.start_thread()
        self.tcp.start_thread()

    def stop(self):
        self.udp.stop()
        self.tcp.stop()
