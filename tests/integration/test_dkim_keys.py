"""DKIM keys made by openssl are accepted by the configuration loader of a real server; bad ones
stop it with the file and key named, and a bad edit while running keeps the previous snapshot.

The keys are the kinds `openssl genpkey` writes: PKCS#8 ed25519 (v1, without the public key) and
PKCS#8 RSA, plus the PKCS#1 ("RSA PRIVATE KEY") form of RSA that older tools write.
"""

import subprocess
import time

from conftest import BIN, Server, localserve_args

DOMAINS = """[domains.localhost]
[domains.localhost.dkim]
sign = {sign}
{selectors}
[accounts.mox]
domain = "localhost"
addresses = ["mox@localhost"]
"""


def genkey(path, *args):
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["openssl", "genpkey", *args, "-out", str(path)], check=True, capture_output=True)
    return path


def keys(ls):
    """Writes the test keys under ls/dkim/localhost; returns their paths relative to ls."""
    d = ls / "dkim" / "localhost"
    genkey(d / "ed.pem", "-algorithm", "ed25519")
    genkey(d / "rsa.pem", "-algorithm", "rsa", "-pkeyopt", "rsa_keygen_bits:2048")
    subprocess.run(["openssl", "pkey", "-in", str(d / "rsa.pem"), "-traditional", "-out", str(d / "rsa1.pem")], check=True)
    genkey(d / "rsa1024.pem", "-algorithm", "rsa", "-pkeyopt", "rsa_keygen_bits:1024")
    genkey(d / "ec.pem", "-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:P-256")
    (d / "garbage.pem").write_text("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    assert (d / "ed.pem").read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert (d / "rsa1.pem").read_text().startswith("-----BEGIN RSA PRIVATE KEY-----")


def domains(sign, **selectors):
    text = "".join(
        f'[domains.localhost.dkim.selectors.{name}]\nprivate_key_file = "dkim/localhost/{file}"\n'
        for name, file in selectors.items()
    )
    return DOMAINS.format(sign="[" + ", ".join(f'"{s}"' for s in sign) + "]", selectors=text)


GOOD = domains(["ed", "rsa"], ed="ed.pem", rsa="rsa.pem", rsa1="rsa1.pem")


def test_openssl_keys_are_accepted(tmp_path):
    ls = tmp_path / "ls"
    keys(ls)
    (ls / "domains.toml").write_text(GOOD)
    # Started from elsewhere: key paths are relative to the directory of domains.toml.
    server = Server(localserve_args(ls), cwd=tmp_path).start()
    server.stop()
    # `config test` reads the same files and says so.
    r = subprocess.run([str(BIN), "config", "test", "--config", str(ls / "moxide.toml")], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert f"{ls / 'domains.toml'}: ok" in r.stdout


def refused(tmp_path, text):
    ls = tmp_path / "ls"
    (ls / "domains.toml").write_text(text)
    r = subprocess.run([str(BIN)] + localserve_args(ls), capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert r.returncode != 0, r.stdout
    assert "ready" not in r.stdout
    return r.stderr


def test_bad_keys_stop_the_server_with_file_and_key(tmp_path):
    ls = tmp_path / "ls"
    keys(ls)
    file = ls / "domains.toml"
    key = "domains.localhost.dkim"
    err = refused(tmp_path, domains(["ed"], ed="ed.pem", bad="garbage.pem"))
    assert f"{file}: {key}.selectors.bad.private_key_file: not an ed25519 or RSA private key" in err, err
    err = refused(tmp_path, domains(["ed"], ed="ed.pem", ec="ec.pem"))
    assert f"{file}: {key}.selectors.ec.private_key_file: not an ed25519 or RSA private key" in err, err
    err = refused(tmp_path, domains(["ed"], ed="ed.pem", gone="missing.pem"))
    assert f"{file}: {key}.selectors.gone.private_key_file: cannot read {ls}/dkim/localhost/missing.pem" in err, err
    err = refused(tmp_path, domains(["ed"], ed="ed.pem", small="rsa1024.pem"))
    assert f"{file}: {key}.selectors.small.private_key_file: RSA key of 1024 bits" in err, err
    err = refused(tmp_path, domains(["ed", "nope"], ed="ed.pem"))
    assert f'{file}: {key}.sign[1]: unknown selector "nope"' in err, err
    # Every problem at once.
    err = refused(tmp_path, domains(["nope"], bad="garbage.pem", gone="missing.pem"))
    assert err.count(str(file)) == 3, err


def test_bad_key_edit_while_running_keeps_the_previous_config(tmp_path):
    ls = tmp_path / "ls"
    keys(ls)
    file = ls / "domains.toml"
    file.write_text(GOOD)
    server = Server(localserve_args(ls), cwd=tmp_path).start()
    try:
        (ls / "dkim" / "localhost" / "ed.pem").rename(ls / "dkim" / "localhost" / "ed-moved.pem")
        file.write_text(GOOD + "\n# edited\n")
        deadline = time.monotonic() + 10
        while "domains.localhost.dkim.selectors.ed.private_key_file: cannot read" not in server.log():
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.2)
        assert "not reloaded" in server.log()
        assert server.proc.poll() is None
    finally:
        server.stop()
