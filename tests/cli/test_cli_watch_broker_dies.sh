#!/usr/bin/env bash
# test_cli_watch_broker_dies: flotctl watch of a deployment that waits for
# a promote never hangs: when flotillad is killed, watch exits 3 (no answer
# in time) within its --timeout and a little more.
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

start_flotilla 21122 21123

ctl apply -f "$HERE/specs/canary-pause.yaml"
expect_rc 0
id=$(started_id)
wait_until 10 "the canary to wait" status_is "$id" \
    "[t['state'] for t in d['targets']] == ['waiting', 'waiting']"

"$FLOTCTL" watch "$id" --timeout 1000 >"$TMP/watch.out" 2>"$TMP/watch.err" &
watcher=$!
bg_started "$watcher"
wait_until 5 "the watcher to listen" grep -q "^flotctl: watching deployment $id" "$TMP/watch.err"
sleep 1.2
kill -0 "$watcher" 2>/dev/null || fail "watch exited while the canary waits: $(cat "$TMP/watch.err")"

kill -KILL "$DAEMON_PID"
killed=$(now_ms)
while kill -0 "$watcher" 2>/dev/null; do
    (( $(now_ms) - killed < 4000 )) || fail "watch still runs 4 s after flotillad died"
    sleep 0.05
done
rc=0
wait "$watcher" || rc=$?
[[ $rc == 3 ]] || fail "watch exited $rc when flotillad died, expected 3: $(cat "$TMP/watch.err")"
# What it waited for: a GetStatus that went unanswered, or (when one was
# in flight as flotillad died) whose link dropped.
grep -Eq "DEADLINE \(6\): no answer from coordinator GetStatus (within 1000 ms|\(broker .*\): the link to the broker dropped)" \
    "$TMP/watch.err" || fail "watch did not say what it waited for: $(cat "$TMP/watch.err")"
echo "PASS test_cli_watch_broker_dies"
