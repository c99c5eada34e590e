"""A message submitted on port 587 is DKIM-signed with the From domain's selectors, and what
is delivered verifies with dkimpy (a DKIM implementation nobody here wrote)."""

import base64
import email
import imaplib
import smtplib
import ssl
import subprocess

import dkim

from conftest import PASSWORD, SERVE_DYNAMIC

DKIM_SECTION = """
[domains."moxide.test".dkim]
sign = ["ed", "rsa"]
[domains."moxide.test".dkim.selectors.ed]
private_key_file = "dkim/ed.pem"
[domains."moxide.test".dkim.selectors.rsa]
private_key_file = "dkim/rsa.pem"
canonicalization = "simple/simple"
"""


def txt_record(key):
    """The DKIM TXT record of a PEM private key (RFC 6376 §3.6.1, RFC 8463 for ed25519)."""
    der = subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-outform", "DER"], check=True, capture_output=True).stdout
    if "ed" in key.name:
        return b"v=DKIM1; k=ed25519; p=" + base64.b64encode(der[-32:])
    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


def test_submitted_message_verifies_with_dkimpy(tmp_path, serve):
    d = tmp_path / "serve" / "dkim"
    d.mkdir(parents=True)
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(d / "ed.pem")], check=True, capture_output=True)
    subprocess.run(["openssl", "genpkey", "-algorithm", "rsa", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(d / "rsa.pem")], check=True, capture_output=True)
    records = {b"ed._domainkey.moxide.test.": txt_record(d / "ed.pem"), b"rsa._domainkey.moxide.test.": txt_record(d / "rsa.pem")}
    dynamic = SERVE_DYNAMIC.replace('[domains."other.test"]', DKIM_SECTION + '\n[domains."other.test"]')
    server = serve(dynamic=dynamic)

    # No Message-ID and no Date: the server adds them, and signs them too.
    message = b"From: Mjl <mjl@moxide.test>\r\nTo: other@other.test\r\nSubject: signed\r\n\r\nHello,\r\nsigned by the server.\r\n"
    context = ssl.create_default_context(cafile=str(tmp_path / "serve" / "cert.pem"))
    with smtplib.SMTP("127.0.0.1", server.ports["submission"], timeout=30) as s:
        s.starttls(context=context)
        s.login("mjl@moxide.test", PASSWORD)
        s.sendmail("mjl@moxide.test", ["other@other.test"], message)

    c = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=30)
    c.login("other@other.test", PASSWORD)
    c.select("INBOX")
    typ, data = c.fetch("1", "(BODY.PEEK[])")
    stored = data[0][1]
    c.logout()

    parsed = email.message_from_bytes(stored)
    assert parsed["Message-ID"] and parsed["Date"]
    signatures = parsed.get_all("DKIM-Signature")
    assert len(signatures) == 2, signatures

    def dnsfunc(name, timeout=5):
        return records.get(name)

    # dkimpy checks one signature per call (index): both must verify.
    for index in range(2):
        d = dkim.DKIM(stored)
        assert d.verify(idx=index, dnsfunc=dnsfunc), f"signature {index} does not verify"
    # A changed body fails (dkimpy says so by returning False or raising ValidationError).
    tampered = stored.replace(b"signed by the server", b"signed by someone else")
    try:
        verified = dkim.DKIM(tampered).verify(idx=0, dnsfunc=dnsfunc)
    except dkim.ValidationError:
        verified = False
    assert not verified

