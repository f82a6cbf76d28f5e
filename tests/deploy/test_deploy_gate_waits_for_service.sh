#!/usr/bin/env bash
# test_deploy_gate_waits_for_service: a gate whose analyzer is not there
# (flotillad runs every actor but the analyzer) does not fail the
# deployment: it says so (gate.waiting) and asks again, and once an
# analyzer process connects to the broker, the gate passes and the
# deployment completes.
source "$(dirname "$0")/lib.sh"
ln -s /bin/echo "$TMP/echo"         # the hooks directory ($TMP) allows echo

cat > "$TMP/later.yaml" <<EOF
apiVersion: flotilla/v1
kind: Deployment
name: later
workload: {name: web, version: "2.0", rollbackVersion: "1.0"}
targets:
  - {name: t1}
strategy: {canary: {steps: [{setWeight: 50}, {gate: {name: judged}}]}}
hook:
  command: ./hook.sh
  env: {HOOK_LOG: "$HOOK_LOG"}
policy: {progressDeadline: 1m}
analysis:
  interval: 200ms
  metrics:
    - name: errors
      provider: {command: {command: echo, args: ["0.01"]}}
      successCondition: "result < 0.05"
      count: 2
EOF

( cd "$TMP" && exec "$FLOTILLAD" -b tcp://127.0.0.1:24280 -e tcp://127.0.0.1:24281 \
    --store "$TMP/flotilla.db" --hooks-dir "$TMP" \
    -a events,strategy,executor,health,rollback,coordinator ) \
    2>>"$TMP/flotillad.log" &
DAEMON_PID=$!
export FLOTILLA_ENDPOINT=tcp://127.0.0.1:24280
coordinator () { "$FLOTCTL" call coordinator List --timeout 300 >/dev/null 2>&1; }
wait_until 5 "the coordinator" coordinator
apply later
id=$ID
events_until "$id" "gate.waiting .*the analyzer service could not answer"
status_is "$id" "d['state'] == 'running'" || fail "without an analyzer: $(status_json "$id" d)"

"$FLOTILLAD" --connect tcp://127.0.0.1:24280 -a analyzer --hooks-dir "$TMP" \
    2>>"$TMP/analyzer.log" &
ANALYZER_PID=$!
trap 'kill -TERM $ANALYZER_PID 2>/dev/null || true; wait $ANALYZER_PID 2>/dev/null || true; cleanup' EXIT
wait_state 30 "$id" completed
events_until "$id" "gate.passed .*gate judged of t1 passed"
check_events gate.waiting gate.passed analysis.result
echo "PASS test_deploy_gate_waits_for_service"
