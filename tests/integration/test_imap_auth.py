"""IMAP authentication with real SASL clients: imaplib's CRAM-MD5, and SCRAM (with and without
channel binding) from the scramp library, against moxide's stored secrets."""

import imaplib
import ssl

import pytest
import scramp


def context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def scram_login(conn, mechanism, password, channel_binding=None):
    client = scramp.ScramClient([mechanism], "mox@localhost", password, channel_binding=channel_binding)
    steps = iter([client.get_client_first, None, None])

    def answer(challenge):
        step = next(steps)
        if step is not None:
            return step().encode()
        if challenge.startswith(b"r="):
            client.set_server_first(challenge.decode())
            return client.get_client_final().encode()
        client.set_server_final(challenge.decode())
        return b""

    return conn.authenticate(mechanism, answer)


def test_cram_md5(localserve):
    c = imaplib.IMAP4("127.0.0.1", localserve.ports["imap"])
    assert "AUTH=CRAM-MD5" in c.capabilities
    with pytest.raises(imaplib.IMAP4.error):
        c.login_cram_md5("mox@localhost", "wrong")
    c = imaplib.IMAP4("127.0.0.1", localserve.ports["imap"])
    typ, _ = c.login_cram_md5("mox@localhost", "moxmoxmox")
    assert typ == "OK"
    assert c.select("INBOX")[0] == "OK"


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-1"])
def test_scram(localserve, mechanism):
    c = imaplib.IMAP4("127.0.0.1", localserve.ports["imap"])
    assert f"AUTH={mechanism}" in c.capabilities
    assert f"AUTH={mechanism}-PLUS" not in c.capabilities, "no channel binding without TLS"
    typ, _ = scram_login(c, mechanism, "moxmoxmox")
    assert typ == "OK"
    assert c.select("INBOX")[0] == "OK"
    c = imaplib.IMAP4("127.0.0.1", localserve.ports["imap"])
    with pytest.raises(imaplib.IMAP4.error):
        scram_login(c, mechanism, "wrong")


def test_scram_plus_binds_to_the_tls_connection(localserve):
    c = imaplib.IMAP4_SSL("127.0.0.1", localserve.ports["imaps"], ssl_context=context())
    assert "AUTH=SCRAM-SHA-256-PLUS" in c.capabilities
    binding = scramp.make_channel_binding("tls-server-end-point", c.sock)
    typ, _ = scram_login(c, "SCRAM-SHA-256-PLUS", "moxmoxmox", binding)
    assert typ == "OK"
    # Binding data of another connection is refused: a man in the middle cannot relay.
    other = imaplib.IMAP4_SSL("127.0.0.1", localserve.ports["imaps"], ssl_context=context())
    c2 = imaplib.IMAP4_SSL("127.0.0.1", localserve.ports["imaps"], ssl_context=context())
    wrong = ("tls-server-end-point", b"\x00" * 32)
    with pytest.raises(imaplib.IMAP4.error):
        scram_login(c2, "SCRAM-SHA-256-PLUS", "moxmoxmox", wrong)
    other.logout()


def test_unknown_user_is_indistinguishable(localserve):
    c = imaplib.IMAP4("127.0.0.1", localserve.ports["imap"])
    client = scramp.ScramClient(["SCRAM-SHA-256"], "nobody@localhost", "x")
    first = []

    def answer(challenge):
        if not first:
            first.append(1)
            return client.get_client_first().encode()
        if challenge.startswith(b"r="):
            # A salt and iteration count come back as for a real account.
            assert b",s=" in challenge and b",i=" in challenge
            client.set_server_first(challenge.decode())
            return client.get_client_final().encode()
        raise AssertionError(challenge)

    with pytest.raises(imaplib.IMAP4.error):
        c.authenticate("SCRAM-SHA-256", answer)
