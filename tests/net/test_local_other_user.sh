#!/usr/bin/env bash
# test_local_other_user.sh - on one host, another local user cannot drive
# the embedded daemon.
#
# flotillad started with no keys on loopback makes its own (an admin key
# and the broker's key pair, readable by its user only) and admits only
# them; flotctl run by the same user finds them. This test makes a second
# user and checks that it can neither read those keys nor get an answer
# from the daemon: not with flotctl, not with its own keys, not with a raw
# socket; while the daemon's own user still can. Needs root to make the
# user (CI runs as root); exits 77 (skip) without it. Removes the user.
#
# Usage: test_local_other_user.sh FLOTILLAD FLOTCTL

set -euo pipefail
# A command that fails outside fail () says where, before the test exits.
trap 'echo "FAIL: line $LINENO: \"$BASH_COMMAND\" exited $?" >&2' ERR

FLOTILLAD=${1:?usage: $0 FLOTILLAD FLOTCTL}
FLOTCTL=${2:?usage: $0 FLOTILLAD FLOTCTL}
[[ $FLOTILLAD == /* ]] || FLOTILLAD=$PWD/$FLOTILLAD
[[ $FLOTCTL == /* ]] || FLOTCTL=$PWD/$FLOTCTL
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [[ $(id -u) != 0 ]] || ! command -v useradd >/dev/null || ! command -v runuser >/dev/null; then
    echo "SKIP: making a second user needs root, useradd and runuser"
    exit 77
fi
source "$HERE/../lib/python.sh"

PORT=23711
OTHER=flottest$$
TMP=$(mktemp -d "${TMPDIR:-/tmp}/flotilla-user.XXXXXX")
# The other user may enter the scratch folder (to run flotctl from it), but
# the daemon's home in it is the daemon user's own.
chmod 755 "$TMP"
DAEMON_PID=

cleanup () {
    if [[ -n $DAEMON_PID ]]; then
        kill -TERM "$DAEMON_PID" 2>/dev/null || true
        wait "$DAEMON_PID" 2>/dev/null || true
    fi
    pkill -KILL -u "$OTHER" 2>/dev/null || true
    userdel -r "$OTHER" >/dev/null 2>&1 || userdel "$OTHER" >/dev/null 2>&1 || true
    rm -rf "$TMP"
}
trap cleanup EXIT

fail () {
    echo "FAIL: $*" >&2
    [[ -s $TMP/flotillad.log ]] && tail -n 30 "$TMP/flotillad.log" >&2
    exit 1
}

useradd --home-dir "$TMP/other-home" --create-home --shell /bin/sh "$OTHER" \
    || fail "cannot make user $OTHER"
as_other () {
    runuser -u "$OTHER" -- env -i PATH=/usr/bin:/bin HOME="$TMP/other-home" \
        LANG=C "$@"
}
# The built programs must be reachable by the other user: copies in a
# folder it may read.
mkdir -p "$TMP/bin"
cp "$FLOTCTL" "$TMP/bin/flotctl"
chmod 755 "$TMP/bin" "$TMP/bin/flotctl"

export FLOTILLA_HOME=$TMP/home
"$FLOTILLAD" -a events,strategy -b "tcp://127.0.0.1:$PORT" -e "tcp://127.0.0.1:$(( PORT + 1 ))" \
    --store "$TMP/flotilla.db" 2>>"$TMP/flotillad.log" &
DAEMON_PID=$!
deadline=$(( $(date +%s) + 10 ))
until "$FLOTCTL" --endpoint "tcp://127.0.0.1:$PORT" ping --timeout 300 >/dev/null 2>&1; do
    kill -0 "$DAEMON_PID" 2>/dev/null || fail "flotillad exited at start"
    (( $(date +%s) < deadline )) || fail "the daemon's own user gets no answer"
    sleep 0.1
done
echo "the daemon's user is served with the keys the daemon made"

# Its keys are its user's alone.
for path in "$FLOTILLA_HOME" "$FLOTILLA_HOME/local"; do
    mode=$(stat -c %a "$path")
    [[ $mode == 700 ]] || fail "$path has mode $mode, not 700"
done
mode=$(stat -c %a "$FLOTILLA_HOME/local/local.key")
[[ $mode == 600 ]] || fail "local.key has mode $mode, not 600"
if as_other cat "$FLOTILLA_HOME/local/local.key" >/dev/null 2>&1; then
    fail "the other user can read the daemon's key"
fi

# The other user: flotctl with nothing, then with the home it is told of
# (unreadable), then with keys of its own; a raw socket without CURVE.
out=$(as_other "$TMP/bin/flotctl" --endpoint "tcp://127.0.0.1:$PORT" ping --timeout 1500 2>&1) \
    && fail "the other user's ping was answered: $out"
grep -q "no answer" <<<"$out" || fail "unexpected error for the other user: $out"
out=$(as_other env FLOTILLA_HOME="$FLOTILLA_HOME" "$TMP/bin/flotctl" \
          --endpoint "tcp://127.0.0.1:$PORT" ping --timeout 1500 2>&1) \
    && fail "the other user's ping with the daemon's home was answered: $out"
as_other "$TMP/bin/flotctl" keys create mine --out "$TMP/other-home/mine" >/dev/null \
    || fail "the other user cannot make a key pair"
cp "$FLOTILLA_HOME/local/broker.pub" "$TMP/broker.pub"
chmod 644 "$TMP/broker.pub"
out=$(as_other "$TMP/bin/flotctl" --endpoint "tcp://127.0.0.1:$PORT" \
          --cert "$TMP/other-home/mine.key" --broker-cert "$TMP/broker.pub" \
          call coordinator Abort '{"id": "x-1"}' --timeout 1500 2>&1) \
    && fail "the other user's own key was answered: $out"
grep -q "no answer" <<<"$out" || fail "unexpected error for the other user's key: $out"
if [[ -n $PY ]]; then
    out=$(as_other "$PY" - "$PORT" <<'PY'
import struct, sys, zmq
s = zmq.Context().socket(zmq.DEALER)
s.linger = 0
s.connect("tcp://127.0.0.1:%s" % sys.argv[1])
name = lambda t: bytes([len(t)]) + t
s.send(b"FLOT02\x01" + struct.pack(">Q", 1) + name(b"broker") + b"\x00"
       + struct.pack(">I", 1000) + name(b"Ping") + b"\x80")
print("answered" if s.poll(1500) else "no answer")
PY
)
    [[ $out == "no answer" ]] || fail "a raw socket of the other user was answered: $out"
fi
echo "the other user gets no answer"

# The daemon is unharmed and still serves its own user.
kill -0 "$DAEMON_PID" || fail "flotillad died"
"$FLOTCTL" --endpoint "tcp://127.0.0.1:$PORT" ping >/dev/null || fail "the daemon's user lost its access"
echo "PASS"
