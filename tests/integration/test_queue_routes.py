"""Transports and routes: relaying through Postfix with Dovecot SASL (each mechanism, and the
automatic choice), through a second moxide (SCRAM-SHA-256-PLUS), through a SOCKS5 proxy (dante),
and routes chosen account over domain over global, first match, with `minimum_attempts`."""

import subprocess

import pytest

from conftest import BIN, SERVE_DYNAMIC, UNREACHABLE_MX, Serve
from test_queue_delivery import kick, loopback_for_port_25, mx_for, queue, submit, wait_queue


def relay_transport(name, kind, port, cert, mechanisms=None, user="relayuser", password="relaypass1234"):
    text = (f'[transports.{name}]\ntype = "{kind}"\nhost = "127.0.0.1"\nport = {port}\n'
            f'username = "{user}"\npassword = "{password}"\nca_file = "{cert}"\n')
    if mechanisms:
        text += "mechanisms = [" + ", ".join(f'"{m}"' for m in mechanisms) + "]\n"
    return text


def smtp_transport(name, port):
    return f'[transports.{name}]\ntype = "smtp"\nhost = "127.0.0.1"\nport = {port}\n'


GLOBAL_ROUTE = '\n[[routes]]\ntransport = "relay"\n'


@pytest.mark.parametrize("kind,mechanism,expected", [
    ("submission", None, "SCRAM-SHA-256"),
    ("submission", "SCRAM-SHA-1", "SCRAM-SHA-1"),
    ("submission", "CRAM-MD5", "CRAM-MD5"),
    ("submission", "PLAIN", "PLAIN"),
    ("submissions", None, "SCRAM-SHA-256"),
])
def test_relay_through_postfix_with_dovecot_sasl(serve, postfix_submission, kind, mechanism, expected):
    relay = postfix_submission()
    port = relay.port if kind == "submission" else relay.tls_port
    server = serve(
        static_extra=relay_transport("relay", kind, port, relay.cert, [mechanism] if mechanism else None),
        dynamic=SERVE_DYNAMIC + GLOBAL_ROUTE,
    )
    submit(server, ["someone@anywhere.example"], f"relayed {kind} {mechanism}")
    [m] = relay.wait_for_messages(1, timeout=30)
    assert m.recipients == ["someone@anywhere.example"]
    assert relay.auth_methods_seen() == [expected]
    wait_queue(server, lambda q: q == {})
    assert f'mechanism="{expected}"' in server.log() or f"mechanism={expected}" in server.log()


def test_relay_with_wrong_password_stays_queued(serve, postfix_submission):
    relay = postfix_submission()
    server = serve(
        static_extra=relay_transport("relay", "submission", relay.port, relay.cert, password="wrong"),
        dynamic=SERVE_DYNAMIC + GLOBAL_ROUTE,
    )
    submit(server, ["someone@anywhere.example"], "bad password")
    q = wait_queue(server, lambda q: (q.get("someone@anywhere.example") or (0, 0, None))[2] is not None)
    _, attempts, error = q["someone@anywhere.example"]
    assert attempts == 1 and "535" in error, error
    assert relay.messages() == []


def test_relay_through_moxide_with_scram_plus(serve, tmp_path):
    # The relay: a second, independent moxide whose account "relay" may send anything.
    other = Serve(tmp_path / "relay", hostname="relay.moxide.test", dynamic=SERVE_DYNAMIC).start()
    try:
        server = serve(
            static_extra=relay_transport("relay", "submission", other.ports["submission"],
                                         other.dir / "cert.pem", user="mjl@moxide.test", password="test1234pass"),
            dynamic=SERVE_DYNAMIC + GLOBAL_ROUTE,
        )
        # From mjl@moxide.test: the relay's account mjl may send as that address.
        submit(server, ["friend@remote.example"], "via moxide")
        wait_queue(server, lambda q: q == {})
        assert 'mechanism="SCRAM-SHA-256-PLUS"' in server.log() or "mechanism=SCRAM-SHA-256-PLUS" in server.log()
        assert "friend@remote.example" in queue(other)
    finally:
        other.stop()


def test_direct_delivery_through_socks5_proxy(serve, dns, postfix_mx, socks5_proxy):
    ip = loopback_for_port_25()
    mx = postfix_mx(address=ip, port=25)
    mx_for(dns, "remote.test", ip)
    proxy = socks5_proxy()
    transport = (f'[transports.proxy]\ntype = "socks"\naddress = "127.0.0.1:{proxy.port}"\n'
                 'remote_ips = ["127.0.0.1"]\nremote_hostname = "out.moxide.test"\n')
    server = serve(static_extra=transport, dynamic=SERVE_DYNAMIC + '\n[[routes]]\ntransport = "proxy"\n')
    submit(server, ["someone@remote.test"], "via proxy")
    [m] = mx.wait_for_messages(1, timeout=30)
    assert m.recipients == ["someone@remote.test"]
    assert (ip, 25) in proxy.connections_seen(), proxy.log()
    wait_queue(server, lambda q: q == {})


def test_routes_account_then_domain_then_global_with_minimum_attempts(serve, dns, postfix_mx):
    domains = ("remote.test", "acct.test", "dom.test", "glob.test", "late.test")
    direct_ip = loopback_for_port_25()
    direct = postfix_mx(address=direct_ip, port=25, domains=domains)
    acct, dom, glob = (postfix_mx(domains=domains) for _ in range(3))
    for d in ("remote.test", "acct.test", "dom.test", "glob.test"):
        mx_for(dns, d, direct_ip)
    mx_for(dns, "late.test", UNREACHABLE_MX)
    static = smtp_transport("t_acct", acct.port) + smtp_transport("t_dom", dom.port) + smtp_transport("t_glob", glob.port)
    dynamic = SERVE_DYNAMIC.replace(
        '[domains."moxide.test"]',
        '[domains."moxide.test"]\n[[domains."moxide.test".routes]]\nto_domain = [".test"]\ntransport = "t_dom"\n',
    ).replace(
        'addresses = ["mjl@moxide.test", "info@moxide.test"]',
        'addresses = ["mjl@moxide.test", "info@moxide.test"]\n'
        '[[accounts.mjl.routes]]\nto_domain = ["acct.test"]\ntransport = "t_acct"\n',
    ) + ('\n[[routes]]\nto_domain = ["glob.test"]\ntransport = "t_glob"\n'
         '\n[[routes]]\nto_domain = ["late.test"]\nminimum_attempts = 1\ntransport = "t_glob"\n')
    server = serve(static_extra=static, dynamic=dynamic)

    submit(server, ["x@acct.test"], "account route")
    assert acct.wait_for_messages(1, timeout=30)[0].recipients == ["x@acct.test"]
    submit(server, ["x@dom.test"], "domain route")
    assert dom.wait_for_messages(1, timeout=30)[0].recipients == ["x@dom.test"]

    import smtplib
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=30) as s:
        s.login("other@other.test", "test1234pass")
        s.sendmail("other@other.test", ["x@glob.test", "y@remote.test"],
                   b"From: other@other.test\r\nSubject: global\r\n\r\nhi\r\n")
        s.sendmail("other@other.test", ["z@late.test"], b"From: other@other.test\r\nSubject: late\r\n\r\nhi\r\n")
    # Global route for glob.test; no route for remote.test: direct to its MX.
    assert [m.recipients for m in glob.wait_for_messages(1, timeout=30)] == [["x@glob.test"]]
    assert [m.recipients for m in direct.wait_for_messages(1, timeout=30)] == [["y@remote.test"]]
    # late.test: the first attempt goes direct (refused), the second through the route.
    q = wait_queue(server, lambda q: (q.get("z@late.test") or (0, 0, None))[2] is not None)
    qid, attempts, error = q["z@late.test"]
    assert attempts == 1 and "refused" in error, error
    kick(server, qid)
    msgs = glob.wait_for_messages(2, timeout=30)
    assert msgs[1].recipients == ["z@late.test"]
    wait_queue(server, lambda q: q == {})
    assert acct.messages()[0].recipients == ["x@acct.test"] and len(acct.messages()) == 1
    assert len(dom.messages()) == 1


def test_unknown_transport_is_a_startup_error(tmp_path):
    server = Serve(tmp_path / "bad", dynamic=SERVE_DYNAMIC + '\n[[accounts.mjl.routes]]\ntransport = "nowhere"\n')
    r = subprocess.run([str(BIN), "serve", "--config", str(server.config)], capture_output=True, text=True,
                       timeout=30, cwd=server.dir)
    assert r.returncode != 0
    assert 'domains.toml: accounts.mjl.routes[0].transport: unknown transport "nowhere"' in r.stderr, r.stderr
