#!/usr/bin/env bash
# test_deploy_peer_breaks_protocol: the executor, health and analyzer
# services are a fake peer (fake_peer.c) that breaks the protocol; the
# coordinator says what was wrong, and acts on it as the design says.
#  1. An ExecuteStep answer that is not a STEP_RESULT: whether the hook ran
#     is unknown, so the step fails at once, with no retry (the spec allows
#     2), naming the executor's protocol error.
#  2. A monitoring stream message that is not a health change: the target
#     is unhealthy (health.failed), as a malformed WaitForReady answer is
#     not ready, with what was wrong.
#  3. An analysis the analyzer refuses: its analysis.result event and the
#     kept result say why, not an empty reason.
FAKE_PEER=${3:?usage: $0 FLOTILLAD FLOTCTL FAKE_PEER}
[[ $FAKE_PEER == /* ]] || FAKE_PEER=$PWD/$FAKE_PEER
source "$(dirname "$0")/lib.sh"
PEER_LOG=$TMP/peer.log
: > "$PEER_LOG"

spec () {   # spec NAME TARGET SECTIONS
    cat > "$TMP/$1.yaml" <<EOF2
apiVersion: flotilla/v1
kind: Deployment
name: $1
workload: {name: web, version: "2.0", rollbackVersion: "1.0"}
targets:
  - {name: $2}
strategy:
  canary:
    steps:
      - setWeight: 50
      - gate: {name: judged}
      - pause: {duration: 5s}
hook:
  command: ./hook.sh
  retries: 2
  backoff: 100ms
  env: {HOOK_LOG: "$HOOK_LOG"}
policy: {onFailure: failAll, progressDeadline: 1m}
$3
EOF2
}

( cd "$TMP" && exec "$FLOTILLAD" -b tcp://127.0.0.1:24100 -e tcp://127.0.0.1:24101 \
    --store "$TMP/flotilla.db" -a events,strategy,rollback,coordinator ) \
    2>>"$TMP/flotillad.log" &
DAEMON_PID=$!
export FLOTILLA_ENDPOINT=tcp://127.0.0.1:24100
"$FAKE_PEER" tcp://127.0.0.1:24100 "$PEER_LOG" 2>>"$TMP/peer.err" &
PEER_PID=$!
trap 'kill -TERM $PEER_PID 2>/dev/null || true; wait $PEER_PID 2>/dev/null || true; cleanup' EXIT
coordinator () { "$FLOTCTL" call coordinator List --timeout 300 >/dev/null 2>&1; }
wait_until 5 "the coordinator" coordinator
peer () {
    local s
    for s in executor health analyzer; do
        grep -q "broker: $s instance $s-$PEER_PID registered" "$TMP/flotillad.log" || return 1
    done
}
wait_until 5 "the fake peer's services" peer

# 1. The executor's answer is not a STEP_RESULT: one call, no retry.
spec broken bad ""
apply broken --no-check     # the fake executor refuses ValidateStep too
id=$ID
events_until "$id" "target.failed "
grep -qE "step.failed .*step bad/1 .*failed after 1 attempt: the executor's answer is not a step result: field 'status'" \
    "$TMP/events.txt" || fail "the step did not fail at once, naming the protocol error: $(cat "$TMP/events.txt")"
sleep 0.5                       # past the backoff: a retry would have run
"$FLOTCTL" events --deployment "$id" > "$TMP/events.txt"
started=$(grep -cE "step.started .*step bad/1 " "$TMP/events.txt" || true)
(( started == 1 )) && ! grep -qE "step bad/1 .*retrying" "$TMP/events.txt" \
    || fail "the hook was called again: $(cat "$TMP/events.txt")"
grep -q "^ExecuteStep bad$" "$PEER_LOG" || fail "the fake executor was not called"
[[ $(hook_calls "$id") == "" ]] || fail "a real hook ran: $(hook_calls "$id")"
grep -q "E .*coordinator: $id: step bad/1: the executor's answer is not a step result" \
    "$TMP/flotillad.log" || fail "no error logged: $(tail -n 20 "$TMP/flotillad.log")"

# 2. A monitoring message that is not one: unhealthy, saying why.
spec monitored good "healthChecks:
  - name: web
    command: {command: up.sh}
    period: 500ms"
apply monitored --no-check
id=$ID
events_until "$id" "health.failed "
grep -qE "health.failed .*good is unhealthy: health StartMonitoring: a stream message that is not one: .*healthy" \
    "$TMP/events.txt" || fail "health.failed does not say what was wrong: $(cat "$TMP/events.txt")"

# 3. The analyzer refuses the analysis: the reason is in the event.
spec analysed good "analysis:
  interval: 200ms
  metrics:
    - name: errors
      provider: {command: {command: echo, args: [\"0.01\"]}}
      successCondition: \"result < 0.05\"
      count: 2"
apply analysed --no-check
id=$ID
events_until "$id" "analysis.result "
grep -qE "analysis.result .*good: error, recommends rollback: the analysis failed: the fake analyzer refuses StartAnalysis" \
    "$TMP/events.txt" || fail "analysis.result does not say why: $(cat "$TMP/events.txt")"
"$FLOTCTL" events --deployment "$id" --json > "$TMP/events.json"
python3 - "$TMP/events.json" <<'PY' || fail "the analysis.result data has no reason: $(cat "$TMP/events.json")"
import json, sys
events = [json.loads (l) for l in open (sys.argv [1]) if l.strip ()]
data = [e ["data"] for e in events if e ["type"] == "analysis.result"][0]
assert data ["phase"] == "error" and data ["reason"].startswith ("the analysis failed: the fake analyzer refuses"), data
PY
status_is "$id" "'the fake analyzer refuses' in d['targets'][0]['analysis']['reason']" \
    || fail "the kept result has no reason: $(status_json "$id" d)"
echo "PASS test_deploy_peer_breaks_protocol"
