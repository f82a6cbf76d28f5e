#!/usr/bin/env bash
# test_cli_watch_survives: flotctl watch outlives the services it talks to.
# The broker runs alone, the executor and the other workers in a second
# flotillad, the events service in a third, the coordinator in a fourth.
# While a deployment of slow hooks runs, the events service, the
# coordinator (for longer than a call's timeout) and the broker are killed
# with SIGKILL and started again (the stores keep the history and the
# deployment): watch goes on, prints every event of the deployment once, in
# order of seq (as `flotctl events --deployment` has them), and exits 0
# when it completes.
# Then: exit 1 for a deployment that fails, 3 once nothing answered for
# --timeout, and with --json the error as one JSON object on stderr.
source "$(dirname "$0")/lib.sh"

BROKER=tcp://127.0.0.1:26310
EVENTS=tcp://127.0.0.1:26311
export FLOTILLA_ENDPOINT=$BROKER
export HOOK_LOG=$TMP/hooks.log
: >"$HOOK_LOG"
cat >"$HOOKS_DIR/slow.sh" <<'EOF'
#!/bin/sh
# Records each run's start and end; fails where HOOK_FAIL names the target
# (but not its rollback).
echo "start $FLOTILLA_TARGET $FLOTILLA_STEP_ID" >>"$HOOK_LOG"
sleep "$HOOK_SLEEP"
[ "$FLOTILLA_TARGET" != "${HOOK_FAIL:-}" ] || [ "$FLOTILLA_STEP_TYPE" = rollback ] || exit 7
echo "end $FLOTILLA_TARGET $FLOTILLA_STEP_ID" >>"$HOOK_LOG"
EOF
chmod 0755 "$HOOKS_DIR/slow.sh"

spec () {   # spec NAME FAIL: five targets one after another, 0.8 s hooks
    cat >"$TMP/$1.yaml" <<EOF
apiVersion: flotilla/v1
kind: Deployment
name: $1
workload: {name: web, version: "2.0", rollbackVersion: "1.0"}
targets: [{name: t1}, {name: t2}, {name: t3}, {name: t4}, {name: t5}]
strategy: {rolling: {}}
hook:
  command: slow.sh
  timeout: 20s
  retries: 3
  backoff: 200ms
  env: {HOOK_SLEEP: "0.8", HOOK_FAIL: "$2"}
policy: {maxConcurrency: 1, onFailure: failAll, progressDeadline: 2m}
EOF
}

# start NAME ARGS...: a flotillad of some actors, its pid in PID_<NAME>.
start () {
    local name=$1
    shift
    ( cd "$TMP" && exec "$FLOTILLAD" "$@" --hooks-dir "$HOOKS_DIR" \
        --heartbeat 200 --liveness 3 ) 2>>"$TMP/flotillad.log" &
    printf -v "PID_$name" %s "$!"
    bg_started "$!"
}
answers () { "$FLOTCTL" call "$1" "$2" --timeout 300 >/dev/null 2>&1; }
start_events () {
    start events --connect "$BROKER" -a events -e "$EVENTS" --store "$TMP/events.db"
    wait_until 20 "the events service" answers events Info
}
start_coordinator () {
    start coordinator --connect "$BROKER" -a coordinator --store "$TMP/flotilla.db"
    wait_until 20 "the coordinator" answers coordinator List
}
kill9 () { kill -KILL "$1"; wait "$1" 2>/dev/null || true; }

start_broker () {
    start broker -b "$BROKER" --broker-only
    wait_until 20 "the broker" answers broker Ping
}
start_broker
start main --connect "$BROKER" -a strategy,executor,health,analyzer,rollback \
    --store "$TMP/main.db"
wait_until 20 "the strategy service" answers strategy ListStrategies
start_events
start_coordinator

# 1. Survives the events service and the coordinator going away.
spec calm ""
ctl apply -f "$TMP/calm.yaml"
expect_rc 0
id=$(started_id)
"$FLOTCTL" watch "$id" --json >"$TMP/watch.out" 2>"$TMP/watch.err" &
watcher=$!
bg_started "$watcher"
wait_until 10 "t2's hook" grep -q "^start t2 " "$HOOK_LOG"
kill9 "$PID_events"
sleep 1.5
start_events
wait_until 10 "t3's hook" grep -q "^start t3 " "$HOOK_LOG"
kill9 "$PID_coordinator"
sleep 6                         # longer than a call's timeout (5 s)
start_coordinator
wait_until 20 "t4's hook" grep -q "^start t4 " "$HOOK_LOG"
kill9 "$PID_broker"
kill9 "$PID_coordinator"
sleep 1
start_broker                    # UNKNOWN_SERVICE until the coordinator is back
# A GetStatus in flight when the broker died ends as its link drops
# (DEADLINE, said); the next goes to the new broker, which knows no
# coordinator yet (UNKNOWN_SERVICE, said too: the error changed).
sleep 3
start_coordinator
wait_until 20 "t5's hook" grep -q "^start t5 " "$HOOK_LOG"
kill9 "$PID_events"
kill9 "$PID_coordinator"
sleep 1
start_coordinator
sleep 1
start_events

deadline=$(( $(now_ms) + 60000 ))
while kill -0 "$watcher" 2>/dev/null; do
    (( $(now_ms) < deadline )) || fail "watch still runs 60 s on: $(tail -n 5 "$TMP/watch.err")"
    sleep 0.1
done
rc=0
wait "$watcher" || rc=$?
[[ $rc == 0 ]] || fail "watch exited $rc, expected 0: $(cat "$TMP/watch.err")"
status_is "$id" "d['state'] == 'completed'" || fail "$id did not complete"
"$FLOTCTL" events --deployment "$id" --json >"$TMP/held.out" \
    || fail "flotctl events --deployment $id failed"
python3 - "$TMP/watch.out" "$TMP/held.out" <<'PY' || fail "watch's events differ from the history"
import json, sys
def seqs(path):
    out = []
    for line in open(path):
        d = json.loads(line)
        if "seq" in d and "type" in d:
            out.append((d["seq"], d["type"]))
    return out
watched, held = seqs(sys.argv[1]), seqs(sys.argv[2])
if watched != held:
    sys.exit("watch printed %s\nthe history holds %s" % (watched, held))
if not held or held[-1][1] != "deployment.completed":
    sys.exit("the history does not end with deployment.completed: %s" % held)
PY
grep -q "warning: coordinator GetStatus: NO_INSTANCE" "$TMP/watch.err" \
    || fail "watch did not say the coordinator stopped answering: $(cat "$TMP/watch.err")"
grep -q "warning: coordinator GetStatus: UNKNOWN_SERVICE" "$TMP/watch.err" \
    || fail "watch did not say the new broker knew no coordinator: $(cat "$TMP/watch.err")"

# 2. A deployment that fails: exit 1, with --json its end as one JSON object.
spec failing t2
ctl apply -f "$TMP/failing.yaml" --watch --json
expect_rc 1
python3 - "$TMP/err" <<'PY' || fail "apply --watch --json did not end with a JSON error: $ERR"
import json, sys
last = open(sys.argv[1]).read().strip().splitlines()[-1]
d = json.loads(last)
assert d["exit"] == 1 and d["code"] == 0, d
assert d["name"] in ("failed", "rolled_back"), d
assert "status 7" in d["message"], d
assert d["message"] and d["deployment"], d
PY

# An unknown deployment is an error that does not pass: exit 1 at once.
ctl watch nosuch-1 --json
expect_rc 1
python3 - "$TMP/err" <<'PY' || fail "watch --json of an unknown deployment: $ERR"
import json, sys
d = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
assert d["exit"] == 1 and d["code"] == 11 and d["name"] == "NOT_FOUND", d
PY

# 3. Nothing answers: exit 3 after --timeout, not before, and not for a
# coordinator that is only between instances.
spec last ""
ctl apply -f "$TMP/last.yaml"
expect_rc 0
id=$(started_id)
"$FLOTCTL" watch "$id" --timeout 1500 --json >"$TMP/watch3.out" 2>"$TMP/watch3.err" &
watcher=$!
bg_started "$watcher"
wait_until 10 "the watcher to follow" grep -q "^flotctl: watching deployment $id" "$TMP/watch3.err"
kill9 "$PID_coordinator"
kill9 "$PID_events"
killed=$(now_ms)
sleep 1
kill9 "$PID_main"
kill9 "$PID_broker"
while kill -0 "$watcher" 2>/dev/null; do
    (( $(now_ms) - killed < 10000 )) || fail "watch still runs 10 s after everything died"
    sleep 0.05
done
took=$(( $(now_ms) - killed ))
rc=0
wait "$watcher" || rc=$?
[[ $rc == 3 ]] || fail "watch exited $rc when nothing answered, expected 3: $(cat "$TMP/watch3.err")"
(( took >= 500 )) || fail "watch gave up $took ms after the coordinator died, before --timeout 1500"
python3 - "$TMP/watch3.err" <<'PY' || fail "watch --json did not end with a JSON error: $(cat "$TMP/watch3.err")"
import json, sys
d = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
assert d["exit"] == 3 and d["code"] in (4, 5, 6, 7), d
assert d["name"] and d["message"], d
PY
echo "PASS test_cli_watch_survives"
