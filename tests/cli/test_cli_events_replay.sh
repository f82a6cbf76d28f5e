#!/usr/bin/env bash
# test_cli_events_replay: flotctl events prints the held events from --since,
# in order, filtered by --deployment and --type, as lines or JSON lines, and
# pages through Replay ("more") when the history does not fit one reply.
source "$(dirname "$0")/lib.sh"

start_daemon 21031 21032

ctl events
expect_rc 0
[[ -z $OUT ]] || fail "events printed something with no events held: $OUT"

publish d1 test.x 5         # seq 1..5
publish d2 test.y 2         # seq 6..7

ctl events --since 3
expect_rc 0
[[ $(awk '{print $1}' <<<"$OUT" | tr '\n' ' ') == "#3 #4 #5 #6 #7 " ]] \
    || fail "events --since 3 did not print #3..#7 in order: $OUT"
expect_out '^#3 [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z test\.x d1 - event 2$'
expect_out '^#7 .* test\.y d2 - event 1$'

ctl events --deployment d1
expect_rc 0
[[ $(awk '{print $1 $4}' <<<"$OUT" | tr '\n' ' ') == "#1d1 #2d1 #3d1 #4d1 #5d1 " ]] \
    || fail "events --deployment d1 did not print exactly #1..#5 of d1: $OUT"

ctl events --type test.y
expect_rc 0
[[ $(awk '{print $1}' <<<"$OUT" | tr '\n' ' ') == "#6 #7 " ]] \
    || fail "events --type test.y did not print exactly #6 #7: $OUT"

ctl --json events
expect_rc 0
cp "$TMP/out" "$TMP/all.json"
check_seqs "$TMP/all.json" 1 7
python3 - "$TMP/all.json" <<'PY' || fail "--json events lack their fields"
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    assert e["type"] in ("test.x", "test.y") and e["deployment"] in ("d1", "d2")
    assert isinstance(e["time_ms"], int)
PY

ctl events --since 8
expect_rc 0
[[ -z $OUT ]] || fail "events --since 8 printed something: $OUT"

ctl events --since x
expect_rc 2
ctl events --deployment 'a/b'
expect_rc 2
ctl events --events-endpoint tcp://127.0.0.1:21032
expect_rc 2

# Twelve events of ~100 kB cannot come back in one Replay reply (1 MiB): the
# replay must follow "more" to print all of them.
big=$(head -c 100000 /dev/zero | tr '\0' 'a')
for i in $(seq 1 12); do
    "$FLOTCTL" call events Publish \
        "{\"type\":\"test.big\",\"deployment\":\"d3\",\"data\":{\"blob\":\"$big\"}}" \
        --json >/dev/null || fail "publishing a big event failed"
done
ctl events --since 6 --json
expect_rc 0
cp "$TMP/out" "$TMP/big.json"
check_seqs "$TMP/big.json" 6 19
echo "PASS test_cli_events_replay"
