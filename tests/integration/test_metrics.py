"""The Prometheus endpoint: `GET /metrics` on a loopback listener, parsed as the text format by
the official Python client's parser, with deliveries, rejects by reason, IMAP sessions, the queue
and commit histograms."""

import imaplib
import smtplib
import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from conftest import PASSWORD


def scrape(server):
    url = f"http://127.0.0.1:{server.ports['metrics']}/metrics"
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = r.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            key = s.name + "".join(f"{{{k}={v}}}" for k, v in sorted(s.labels.items()))
            samples[key] = s.value
    return samples


def test_metrics_endpoint(serve):
    server = serve(static_extra='[metrics]\nlisten = "127.0.0.1:0"\n')
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as s:
        s.ehlo("client.example")
        assert s.sendmail("someone@example.org", ["mjl@moxide.test"], b"Subject: m\r\n\r\nhi\r\n") == {}
        s.mail("someone@example.org")
        assert s.rcpt("nobody@moxide.test")[0] == 550
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=30) as s:
        s.login("mjl@moxide.test", PASSWORD)
        s.sendmail("mjl@moxide.test", ["far@remote.example"], b"From: mjl@moxide.test\r\nSubject: q\r\n\r\nhi\r\n")
    imap = imaplib.IMAP4("127.0.0.1", server.ports["imap"])
    imap.login("mjl@moxide.test", PASSWORD)

    deadline = time.monotonic() + 10
    while True:
        m = scrape(server)
        if m.get("moxide_queue_attempts_total", 0) >= 1 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert m["moxide_deliveries_total"] >= 1
    assert m["moxide_smtp_rejects_total{reason=550 5.1.1}"] == 1
    assert m["moxide_imap_sessions"] == 1
    assert m["moxide_queue_entries"] == 1
    assert m["moxide_queue_attempts_total"] >= 1
    assert m["moxide_commit_seconds_count"] >= 1
    assert m["moxide_commit_batch_ops_bucket{le=+Inf}"] == m["moxide_commit_batch_ops_count"]
    imap.logout()

    try:
        urllib.request.urlopen(f"http://127.0.0.1:{server.ports['metrics']}/other", timeout=10)
        raise AssertionError("not a 404")
    except urllib.error.HTTPError as e:
        assert e.code == 404
