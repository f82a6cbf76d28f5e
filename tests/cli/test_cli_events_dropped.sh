#!/usr/bin/env bash
# test_cli_events_dropped: an event the events contract refuses (no type, not
# a map, a seq of 2^64-1 after which no seq could follow) is dropped with a
# warning, one by one: the rest of its Replay page is printed, and events
# and events --follow neither fail nor stop at it. The events service sends
# its history as it holds it, so the bad events are written into its store
# while flotillad is down.
source "$(dirname "$0")/lib.sh"

start_daemon 21061 21062
publish d1 test.x 5         # seq 1..5
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID" || true

python3 - "$TMP/flotilla.db-events" <<'PY' || fail "cannot write bad events into the store"
import sqlite3, struct, sys

def pack(o):
    if isinstance(o, dict):
        return bytes([0x80 | len(o)]) + b"".join(pack(k) + pack(v) for k, v in o.items())
    if isinstance(o, list):
        return bytes([0x90 | len(o)]) + b"".join(pack(v) for v in o)
    if isinstance(o, str):
        b = o.encode()
        return (bytes([0xa0 | len(b)]) if len(b) < 32 else bytes([0xd9, len(b)])) + b
    if isinstance(o, int):
        return bytes([o]) if o < 128 else b"\xcf" + struct.pack(">Q", o)
    raise TypeError(o)

db = sqlite3.connect(sys.argv[1])
bad = {
    2: {"seq": 2, "time_ms": 1000, "deployment": "d1", "message": "no type"},
    3: [1, 2, 3],
    4: {"seq": 2**64 - 1, "time_ms": 1000, "type": "test.x", "deployment": "d1",
        "message": "the last seq there can be"},
}
for seq, body in bad.items():
    n = db.execute("UPDATE events SET body = ? WHERE seq = ?", (pack(body), seq)).rowcount
    assert n == 1, "no event %d in the store" % seq
db.commit()
PY

start_daemon 21061 21062
warnings () {
    local why
    [[ $(grep -c 'warning: dropped a malformed event' <<<"$ERR") == 3 ]] \
        || fail "$LAST did not warn once for each of 3 bad events: $ERR"
    for why in "field 'type' is required" 'the event is not a map' \
               "field 'seq': 18446744073709551615 is not in 1..18446744073709551614"; do
        grep -qF -- "$why" <<<"$ERR" || fail "$LAST: no warning '$why': $ERR"
    done
}

ctl events
expect_rc 0
[[ $(awk '{print $1}' <<<"$OUT" | tr '\n' ' ') == "#1 #5 " ]] \
    || fail "events did not print #1 and #5 around the bad events: $OUT"
warnings

ctl events --deployment d1 --json
expect_rc 0
[[ $(python3 -c 'import json,sys; print(*[json.loads(l)["seq"] for l in sys.stdin])' \
     <<<"$OUT") == "1 5" ]] || fail "events --json did not print seq 1 and 5: $OUT"
warnings

# A follower from --since 1 replays past them, then follows: 6 comes live.
"$FLOTCTL" events --follow --since 1 --json >"$TMP/follow.out" 2>"$TMP/follow.err" &
follower=$!
bg_started "$follower"
wait_until 5 "the follower to listen" grep -q '^flotctl: following events' "$TMP/follow.err"
publish d1 test.y 1         # seq 6
wait_until 5 "3 events" lines_at_least "$TMP/follow.out" 3
stop_follower "$follower"
[[ $(python3 -c 'import json,sys; print(*[json.loads(l)["seq"] for l in sys.stdin])' \
     <"$TMP/follow.out") == "1 5 6" ]] \
    || fail "the follower did not print seq 1, 5, 6: $(cat "$TMP/follow.out")"
[[ $(grep -c 'dropped a malformed event' "$TMP/follow.err") == 3 ]] \
    || fail "the follower did not warn of 3 bad events: $(cat "$TMP/follow.err")"
echo "PASS test_cli_events_dropped"
