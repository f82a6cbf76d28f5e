#!/usr/bin/env bash
# test_cli_canary_promote: a canary with a `pause: {}` step runs both
# targets to half weight, then stays running with both targets waiting,
# hooks idle, for as long as nobody promotes it; a watcher keeps watching.
# pause and resume answer with the new state; flotctl promote lets it go
# on, and the watcher exits 0 once it completed.
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

start_flotilla 21116 21117

ctl apply -f "$HERE/specs/canary-pause.yaml"
expect_rc 0
id=$(started_id)
expect_out "^deployment $id started: 6 steps$"

waiting="d['state'] == 'running' and [t['state'] for t in d['targets']] == ['waiting', 'waiting']"
wait_until 10 "both targets waiting for a promote" status_is "$id" "$waiting"

"$FLOTCTL" watch "$id" >"$TMP/watch.out" 2>"$TMP/watch.err" &
watcher=$!
bg_started "$watcher"
wait_until 5 "the watcher to listen" grep -q "^flotctl: watching deployment $id" "$TMP/watch.err"

sleep 1.5                   # no promote: nothing moves
status_is "$id" "$waiting and d['steps_done'] == 2 and d['percent'] == 33" \
    || fail "the canary moved without a promote: $(status_json "$id" d)"
kill -0 "$watcher" 2>/dev/null || fail "watch exited while the canary waits: $(cat "$TMP/watch.out")"
[[ $(sort "$CLI_RECORD") == $'eu-1 eu-1/1 4.0.0\neu-2 eu-2/1 4.0.0' ]] \
    || fail "hooks before the promote: $(cat "$CLI_RECORD")"
grep -qE "^$id running 33% \(2/6 steps\); targets: 2 waiting; now: eu-1 waiting eu-1/2 \(pause\)" \
    "$TMP/watch.out" || fail "watch shows no waiting summary: $(cat "$TMP/watch.out")"

ctl status "$id"
expect_rc 0
expect_out "^state +running$"
expect_out "^eu-1 +waiting +eu-1/2 +pause +running "
expect_out "^eu-2 +waiting +eu-2/2 +pause +running "

ctl pause "$id"
expect_rc 0
[[ $OUT == "deployment $id: running, paused" ]] || fail "pause said: $OUT"
ctl resume "$id"
expect_rc 0
[[ $OUT == "deployment $id: running" ]] || fail "resume said: $OUT"

ctl promote "$id"
expect_rc 0
[[ $OUT == "deployment $id: running" ]] || fail "promote said: $OUT"

deadline=$(( $(now_ms) + 10000 ))
while kill -0 "$watcher" 2>/dev/null; do
    (( $(now_ms) < deadline )) || fail "watch did not end after the promote: $(cat "$TMP/watch.out")"
    sleep 0.05
done
rc=0
wait "$watcher" || rc=$?
[[ $rc == 0 ]] || fail "watch exited $rc after the canary completed: $(cat "$TMP/watch.out" "$TMP/watch.err")"
grep -qE "deployment\.promoted" "$TMP/watch.out" || fail "watch missed the promote: $(cat "$TMP/watch.out")"
grep -qE "^deployment $id completed: 6 of 6 steps" "$TMP/watch.out" \
    || fail "watch did not say it completed: $(cat "$TMP/watch.out")"
[[ $(sort "$CLI_RECORD") == $'eu-1 eu-1/1 4.0.0\neu-1 eu-1/3 4.0.0\neu-2 eu-2/1 4.0.0\neu-2 eu-2/3 4.0.0' ]] \
    || fail "hooks after the promote: $(cat "$CLI_RECORD")"
echo "PASS test_cli_canary_promote"
