#!/usr/bin/env python3
"""A DNS server on 127.0.0.1 for benchmarks and manual tests: serves the records in ZONEFILE
(lines `NAME TYPE VALUE`, TYPE one of TXT A AAAA PTR, `MX` values as `PREF HOST`), prints
`port N` once listening, runs until SIGTERM or SIGINT, then prints `queries N` (how many it
answered). Needs dnslib (in the test venv)."""

import pathlib
import signal
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "integration"))
from dnsserver import DnsServer  # noqa: E402


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: dns-serve.py ZONEFILE")
    # Blocked in every thread (they inherit it), so that sigwait below receives them.
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM, signal.SIGINT])
    server = DnsServer()
    for line in pathlib.Path(sys.argv[1]).read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, rtype, value = line.split(None, 2)
        if rtype == "MX":
            pref, host = value.split()
            value = (host, int(pref))
        server.zone.add(name, rtype, value)
    print(f"port {server.port}", flush=True)
    signal.sigwait([signal.SIGTERM, signal.SIGINT])
    server.stop()
    print(f"queries {len(server.zone.queries)}", flush=True)
    counts = {}
    for q in server.zone.queries:
        counts[q] = counts.get(q, 0) + 1
    for (name, rtype), n in sorted(counts.items(), key=lambda kv: -kv[1]):
        print(f"query {n} {name} {rtype}", flush=True)


if __name__ == "__main__":
    main()
