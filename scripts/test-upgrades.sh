#!/usr/bin/env bash
# Upgrade test: a data directory written by a version of moxide must be verified clean and served
# by this one, and stay clean after serving.
#
# For each generator — this build first, then every binary listed in OLD_BINARIES:
#   1. GENERATOR gentestdata DIR                       a complete setup: config, accounts, queue
#   2. moxide verifydata DIR                           (this build) must be clean
#   3. moxide serve --config DIR/moxide.toml           (this build) on free loopback ports:
#      IMAP LOGIN/SELECT/FETCH/STATUS with Python's imaplib, and a message submitted over SMTP
#      (submission, AUTH PLAIN: from loopback, without TLS) that must arrive
#   4. stop it (SIGTERM), moxide verifydata DIR again  must be clean
#
# Older versions: OLD_BINARIES is a space-separated list of `moxide` binaries of released
# versions (each with the gentestdata subcommand), e.g.
#   OLD_BINARIES="target/releases/0.1.0/moxide target/releases/0.2.0/moxide" scripts/test-upgrades.sh
# Empty for now: there is no release before the one that brought gentestdata. When there is, a
# step here builds the release tags into target/releases/ (git worktree + cargo build) and lists
# them. The checks in step 3 rely on what gentestdata writes: account mjl, login
# mjl@moxide.example, password moxide-test-1234, joran@other.example an address of account joran,
# port 0 listeners. Keep those stable across versions, or teach this script each version's.
#
# Needs the test venv (.venv, made by scripts/test). Takes a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

OLD_BINARIES=${OLD_BINARIES:-}
PY=.venv/bin/python
PASSWORD=moxide-test-1234

cargo build --quiet --locked --bins
NEW=$PWD/target/debug/moxide
WORK=$(mktemp -d "${TMPDIR:-/tmp}/moxide-upgrades.XXXXXX")
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
    echo "test-upgrades: $*" >&2
    exit 1
}

verify_clean() {
    local dir=$1 out
    if ! out=$("$NEW" verifydata "$dir"); then
        echo "$out" >&2
        fail "verifydata $dir found problems"
    fi
    echo "  verifydata: $out"
}

# Starts `moxide serve` on the setup in $1; sets SERVER_PID, IMAP_PORT, SUBMISSION_PORT.
start_server() {
    local dir=$1
    "$NEW" serve --config "$dir/moxide.toml" >"$dir/serve.out" 2>"$dir/serve.log" &
    SERVER_PID=$!
    for _ in $(seq 200); do
        grep -q '^ready$' "$dir/serve.out" 2>/dev/null && break
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$dir/serve.log" >&2; fail "serve exited early"; }
        sleep 0.05
    done
    grep -q '^ready$' "$dir/serve.out" || { cat "$dir/serve.log" >&2; fail "serve not ready"; }
    IMAP_PORT=$(awk '/^listening imap 127\.0\.0\.1:/{split($3, a, ":"); print a[2]}' "$dir/serve.out")
    SUBMISSION_PORT=$(awk '/^listening submission 127\.0\.0\.1:/{split($3, a, ":"); print a[2]}' "$dir/serve.out")
    [ -n "$IMAP_PORT" ] && [ -n "$SUBMISSION_PORT" ] || fail "no imap or submission port in $dir/serve.out"
}

stop_server() {
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" || fail "serve exited with status $?"
    SERVER_PID=
}

check_serving() {
    "$PY" - "$IMAP_PORT" "$SUBMISSION_PORT" "$PASSWORD" <<'PY'
import imaplib
import smtplib
import sys

imap_port, submission_port, password = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]


def inbox(login):
    c = imaplib.IMAP4("127.0.0.1", imap_port, timeout=30)
    c.login(login, password)
    typ, data = c.select("INBOX", readonly=True)
    assert typ == "OK", data
    return c, int(data[0])


c, n = inbox("mjl@moxide.example")
assert n > 0, "empty INBOX"
typ, data = c.fetch("1:*", "(UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
assert typ == "OK" and sum(isinstance(d, tuple) for d in data) == n, data[:3]
typ, data = c.status('"Gr&APYA3w-e &- Ma&AN8-"', "(MESSAGES UNSEEN)")
assert typ == "OK", data
c.logout()

c, before = inbox("joran")
c.logout()
message = (b"From: mjl@moxide.example\r\nTo: joran@other.example\r\nSubject: upgrade test\r\n"
           b"Message-ID: <upgrade-test@moxide.example>\r\n\r\nDelivered by the new version.\r\n")
with smtplib.SMTP("127.0.0.1", submission_port, timeout=30) as s:
    s.login("mjl@moxide.example", password)
    s.sendmail("mjl@moxide.example", ["joran@other.example"], message)
c, after = inbox("joran")
assert after == before + 1, (before, after)
typ, data = c.fetch(str(after), "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
assert b"upgrade test" in data[0][1], data
c.logout()
print(f"  served: mjl INBOX {n} messages; a submitted message arrived in joran's INBOX")
PY
}

n=0
for generator in "$NEW" $OLD_BINARIES; do
    n=$((n + 1))
    dir=$WORK/$n
    echo "data of $("$generator" version) ($generator):"
    "$generator" gentestdata "$dir" >"$WORK/$n.gentestdata.out" || fail "$generator gentestdata failed"
    echo "  gentestdata: $(tail -n 2 "$WORK/$n.gentestdata.out" | head -n 1)"
    verify_clean "$dir"
    start_server "$dir"
    check_serving
    stop_server
    verify_clean "$dir"
done
echo "test-upgrades: ok ($n data directories generated, served and verified)"
