"""`moxide sendmail`: the sendmail-compatible command submitting to the test server, as cron and
scripts would run it (also through a link named `sendmail`)."""

import os
import stat
import subprocess
import uuid

import pytest

from conftest import BIN, PASSWORD, stored

MJL = "mjl@moxide.test"
OTHER = "other@other.test"


@pytest.fixture
def server(module_serve):
    return module_serve


def token():
    return f"t{uuid.uuid4().hex}"


def write_config(tmp_path, server, tls="starttls", password=PASSWORD, extra=""):
    port = server.ports["submissions" if tls == "tls" else "submission"]
    path = tmp_path / "sendmail.toml"
    path.write_text(
        f'host = "127.0.0.1"\nport = {port}\ntls = "{tls}"\n'
        f'username = "{MJL}"\npassword = "{password}"\n'
        f'ca_file = "{server.dir / "cert.pem"}"\n{extra}'
    )
    return path


def sendmail(tmp_path, config, args, message, binary=BIN):
    env = dict(os.environ, MOXIDE_SENDMAIL_CONFIG=str(config), HOME=str(tmp_path))
    # Through a link named sendmail the arguments are sendmail's own; else the subcommand.
    command = [str(binary)] + (["sendmail"] if binary == BIN else []) + args
    return subprocess.run(command, input=message, capture_output=True, env=env, timeout=60)




def test_automatic_mechanism_over_starttls(server, tmp_path):
    config = write_config(tmp_path, server)
    tok = token()
    # LF line ends as scripts write them, no From: sendmail adds one, with -F's name.
    message = f"To: {OTHER}\nSubject: {tok}\n\nHello.\n.a dot line\n".encode()
    r = sendmail(tmp_path, config, ["-v", "-i", "-FCron Daemon", MJL, OTHER], message)
    assert r.returncode == 0, r.stderr
    assert b"sendmail: authenticated with SCRAM-SHA-256-PLUS\n" in r.stderr, r.stderr
    for account in ("mjl", "other"):
        (body,) = stored(server, account, tok)
        assert f"From: Cron Daemon <{MJL}>\r\n".encode() in body, body
        assert body.endswith(f"To: {OTHER}\r\nSubject: {tok}\r\n\r\nHello.\r\n.a dot line\r\n".encode()), body
    assert not (tmp_path / "moxide-sendmail").exists()


@pytest.mark.parametrize("mechanism", ["CRAM-MD5", "SCRAM-SHA-1"])
def test_configured_mechanism(server, tmp_path, mechanism):
    config = write_config(tmp_path, server, extra=f'mechanisms = ["{mechanism}"]\n')
    tok = token()
    r = sendmail(tmp_path, config, ["-v", f"-f{MJL}", MJL], f"Subject: {tok}\n\nhi\n".encode())
    assert r.returncode == 0, r.stderr
    assert f"sendmail: authenticated with {mechanism}\n".encode() in r.stderr, r.stderr
    assert len(stored(server, "mjl", tok)) == 1


def test_implicit_tls(server, tmp_path):
    config = write_config(tmp_path, server, tls="tls")
    tok = token()
    r = sendmail(tmp_path, config, ["-v", OTHER], f"From: <{MJL}>\nSubject: {tok}\n\nhi\n".encode())
    assert r.returncode == 0, r.stderr
    assert b"sendmail: TLS established" in r.stderr, r.stderr
    assert b"sendmail: authenticated with SCRAM-SHA-256-PLUS\n" in r.stderr, r.stderr
    assert len(stored(server, "other", tok)) == 1


def test_recipients_from_header(server, tmp_path):
    config = write_config(tmp_path, server)
    tok = token()
    remote = f"{tok}@remote.example"
    message = (
        f"From: <{MJL}>\nTo: Other <{OTHER}>\nCc: {remote}\nBcc: {MJL},\n nobody-else@moxide.test\n"
        f"Subject: {tok}\n\nbody\n.\nafter the dot\n"
    ).encode()
    # Without -i the "." line ends the message, as traditional sendmail has it.
    r = sendmail(tmp_path, config, ["-t"], message)
    # nobody-else@moxide.test does not exist: refused, the rest delivered.
    assert r.returncode == 69, r.stderr
    assert b"sendmail: nobody-else@moxide.test: not accepted: 5" in r.stderr, r.stderr
    expect = f"From: <{MJL}>\r\nTo: Other <{OTHER}>\r\nCc: {remote}\r\nSubject: {tok}\r\n\r\nbody\r\n".encode()
    for account in ("other", "mjl"):
        (body,) = stored(server, account, tok)
        assert body.endswith(expect), body
        assert b"Bcc" not in body
    assert any(f"<{remote}>" in line for line in server.queue_list())
    # Saved for the refused recipient only.
    (saved,) = (tmp_path / "moxide-sendmail").glob("*.eml")
    assert saved.read_bytes() == expect
    assert saved.with_suffix(".envelope").read_text() == f"from: {MJL}\nto: nobody-else@moxide.test\n"


def test_invoked_as_sendmail(server, tmp_path):
    config = write_config(tmp_path, server)
    link = tmp_path / "sendmail"
    link.symlink_to(BIN)
    tok = token()
    r = sendmail(tmp_path, config, ["-oi", "-oem", "-odi", "-B8BITMIME", "-v", OTHER],
                 f"Subject: {tok}\n\nhi\n".encode(), binary=link)
    assert r.returncode == 0, r.stderr
    assert b"sendmail: authenticated with SCRAM-SHA-256-PLUS\n" in r.stderr, r.stderr
    assert len(stored(server, "other", tok)) == 1
    # A real sendmail has no --config.
    r = sendmail(tmp_path, config, ["--config", str(config), OTHER], b"x\n", binary=link)
    assert r.returncode == 64, r.stderr


def test_failure_saves_message(server, tmp_path):
    config = write_config(tmp_path, server, password="wrong")
    message = f"From: <{MJL}>\r\nTo: <{OTHER}>\r\nSubject: {token()}\r\n\r\nkeep me\r\n".encode()
    r = sendmail(tmp_path, config, [OTHER, MJL], message)
    assert r.returncode == 69, r.stderr
    assert b"535" in r.stderr, r.stderr
    directory = tmp_path / "moxide-sendmail"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    (saved,) = directory.glob("*.eml")
    assert str(saved).encode() in r.stderr
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert saved.read_bytes() == message
    assert saved.with_suffix(".envelope").read_text() == f"from: {MJL}\nto: {OTHER}\nto: {MJL}\n"


def test_connection_refused_is_temporary(server, tmp_path):
    config = tmp_path / "sendmail.toml"
    # Port 9 (discard) on loopback: nothing listens.
    config.write_text(f'host = "127.0.0.1"\nport = 9\nusername = "{MJL}"\npassword = "x"\n')
    r = sendmail(tmp_path, config, [OTHER], b"Subject: x\n\nhi\n")
    assert r.returncode == 75, r.stderr
    assert len(list((tmp_path / "moxide-sendmail").glob("*.eml"))) == 1


def test_usage_errors(server, tmp_path):
    config = write_config(tmp_path, server)
    r = sendmail(tmp_path, config, [], b"Subject: x\n\nhi\n")
    assert r.returncode == 64 and b"no recipients" in r.stderr, r.stderr
    r = sendmail(tmp_path, config, ["-q", OTHER], b"hi\n")
    assert r.returncode == 64 and b"unknown option -q" in r.stderr, r.stderr


def test_bad_config(server, tmp_path):
    config = tmp_path / "sendmail.toml"
    config.write_text('host = "127.0.0.1"\nhots = "x"\n')
    r = sendmail(tmp_path, config, [OTHER], b"hi\n")
    assert r.returncode == 78, r.stderr
    assert f"{config}: hots: ".encode() in r.stderr, r.stderr
    assert b"unknown field" in r.stderr, r.stderr


def test_config_option_over_environment(server, tmp_path):
    good = write_config(tmp_path, server)
    bad = tmp_path / "bad.toml"
    bad.write_text('tls = "none"\nhost = "mail.example.org"\nfrom = "x@example.org"\n')
    # --config wins over $MOXIDE_SENDMAIL_CONFIG.
    r = sendmail(tmp_path, good, ["--config", str(bad), OTHER], b"hi\n")
    assert r.returncode == 78, r.stderr
    assert f"{bad}: tls: ".encode() in r.stderr, r.stderr
    tok = token()
    r = sendmail(tmp_path, bad, [f"--config={good}", OTHER], f"Subject: {tok}\n\nhi\n".encode())
    assert r.returncode == 0, r.stderr
    assert len(stored(server, "other", tok)) == 1
