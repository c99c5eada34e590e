"""`moxide gentestdata`: a generated setup verifies clean, serves, and shows what was generated
over IMAP (non-ASCII mailbox names in modified UTF-7) and moxctl (the queue)."""

import imaplib
import re
import subprocess

import imapclient

from conftest import BIN, Server, moxctl

PASSWORD = "moxide-test-1234"


def run(*args):
    return subprocess.run([str(BIN), *map(str, args)], capture_output=True, text=True, timeout=120)


def generated_counts(stdout):
    """{account: {mailbox: live messages}} from what gentestdata printed."""
    counts, account = {}, None
    for line in stdout.splitlines():
        m = re.match(r"account (\S+) \(login (\S+) ", line)
        if m:
            account = m.group(1)
            counts[account] = {"login": m.group(2), "mailboxes": {}}
            continue
        m = re.match(r"  (.+): (\d+) messages, (\d+) expunged$", line)
        if m:
            counts[account]["mailboxes"][m.group(1)] = int(m.group(2))
    return counts


def test_generated_setup_verifies_serves_and_shows_its_data(tmp_path):
    directory = tmp_path / "gen"
    r = run("gentestdata", directory)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-2] == "3 accounts, 314 messages, 73 expunged, 8 queue entries"
    generated = generated_counts(r.stdout)
    assert set(generated) == {"mjl", "joran", "test.user"}
    # Deterministic: a second run writes the same messages.
    again = run("gentestdata", tmp_path / "again")
    assert again.stdout.replace(str(tmp_path / "again"), "D") == r.stdout.replace(str(directory), "D")
    # Never over an existing directory.
    refused = run("gentestdata", directory)
    assert refused.returncode != 0 and "exists" in refused.stderr

    v = run("verifydata", directory)
    assert (v.returncode, v.stdout) == (0, "3 accounts, 314 messages, 8 queue entries checked: 0 problems\n")

    server = Server(["serve", "--config", str(directory / "moxide.toml")], cwd=tmp_path).start()
    try:
        # The raw names on the wire, in modified UTF-7 (RFC 3501 §5.1.3).
        c = imaplib.IMAP4("127.0.0.1", server.ports["imap"], timeout=30)
        c.login("mjl@moxide.example", PASSWORD)
        typ, data = c.list()
        raw = {line.decode().split(' "/" ', 1)[1] for line in data}
        assert {'"Gr&APYA3w-e &- Ma&AN8-"', "&ZeVnLIqe-/&MMYwuTDI-", "&A5UDuwO7A7cDvQO5A7oDrA-",
                "Lists/rust/announce", "Projekte/2025"} <= raw, raw
        assert "Projects/2024" not in raw
        c.logout()

        for account, info in generated.items():
            with imapclient.IMAPClient("127.0.0.1", port=server.ports["imap"], ssl=False, timeout=30) as client:
                # AUTHENTICATE PLAIN: LOGIN cannot carry the non-ASCII addresses.
                client.plain_login(info["login"], PASSWORD)
                names = {name for _, _, name in client.list_folders()}
                assert names == set(info["mailboxes"]), account
                for name, live in info["mailboxes"].items():
                    assert client.folder_status(name, ["MESSAGES"])[b"MESSAGES"] == live, (account, name)
                client.select_folder("INBOX", readonly=True)
                flags = client.get_flags(client.search("ALL"))
                assert any(b"todo" in f for f in flags.values())
                assert any(b"\\Deleted" in f for f in flags.values())
                assert any(b"\\Seen" not in f for f in flags.values())
                subscribed = {name for _, _, name in client.list_sub_folders()}
                assert {"INBOX", "Lists/rust", "Größe & Maß", "日本語/テスト"} <= subscribed

        q = moxctl("--config", str(directory / "moxide.toml"), "queue", "list")
        assert q.returncode == 0, q.stderr
        lines = q.stdout.splitlines()
        assert len(lines) == 8, lines
        assert any("<jøran@møx.example> -> <ünïcode@exämple.org>" in line for line in lines)
        assert any(line.endswith("error: 451 4.3.0 temporary failure at example.net (generated)") for line in lines)
        assert any("<> -> <bounced@example.org>" in line for line in lines)
    finally:
        server.stop()
    v = run("verifydata", directory)
    assert (v.returncode, v.stdout) == (0, "3 accounts, 314 messages, 8 queue entries checked: 0 problems\n")
