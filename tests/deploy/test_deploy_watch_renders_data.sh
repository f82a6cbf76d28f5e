#!/usr/bin/env bash
# test_deploy_watch_renders_data: flotctl watch and flotctl events say what
# an event's data holds, not its message. A canary's setWeight steps show
# their weight, which only the data holds; an event published with data
# that its message contradicts is shown as its data says; an event of a
# type the events contract does not define is shown by its message.
source "$(dirname "$0")/lib.sh"

cat > "$TMP/weights.yaml" <<EOF
apiVersion: flotilla/v1
kind: Deployment
name: weights
workload: {name: web, version: "3.0", rollbackVersion: "2.9"}
targets:
  - {name: a}
strategy:
  canary:
    steps:
      - setWeight: 30
hook:
  command: ./hook.sh
  timeout: 10s
  env: {HOOK_LOG: "$HOOK_LOG"}
policy: {maxConcurrency: 1, progressDeadline: 1h}
EOF

start_flotilla 24296
apply weights
id=$ID
wait_state 10 "$id" completed
events_until "$id" "deployment\.completed "

# The data says step a/9 at weight 77; the message says nothing of it.
"$FLOTCTL" call events Publish "{\"type\": \"step.started\", \"deployment\": \"$id\",
    \"target\": \"a\", \"message\": \"MESSAGE-ONLY\", \"data\": {\"deployment\": \"$id\",
    \"by\": \"\", \"target\": \"a\", \"step\": \"a/9\", \"step_type\": \"setWeight\",
    \"attempt\": 3, \"weight\": 77, \"rollback\": false, \"waiting\": false}}" >/dev/null \
    || fail "publishing a step.started event failed"
"$FLOTCTL" call events Publish "{\"type\": \"custom.note\", \"deployment\": \"$id\",
    \"message\": \"a note in words\", \"data\": {\"weight\": 5}}" >/dev/null \
    || fail "publishing an event of another type failed"

"$FLOTCTL" watch "$id" --timeout 5000 >"$TMP/watch.out" 2>"$TMP/watch.err" \
    || fail "watch of a completed deployment failed: $(cat "$TMP/watch.out" "$TMP/watch.err")"
"$FLOTCTL" events --deployment "$id" >"$TMP/events.out" || fail "flotctl events failed"
for out in "$TMP/watch.out" "$TMP/events.out"; do
    grep -qE "step\.started +($id +)?a step a/1 \(setWeight 30%\)$" "$out" \
        || fail "no weight 30 for step a/1: $(cat "$out")"
    grep -qE "step\.completed +($id +)?a step a/1 \(setWeight 30%\) succeeded$" "$out" \
        || fail "step a/1 did not complete at weight 30: $(cat "$out")"
    grep -qE "step\.started +($id +)?a step a/9 \(setWeight 77%\), again$" "$out" \
        || fail "the published step.started was not shown from its data: $(cat "$out")"
    ! grep -q "MESSAGE-ONLY" "$out" || fail "an event's message was shown, not its data: $(cat "$out")"
    grep -qE "custom\.note +($id +)?- a note in words$" "$out" \
        || fail "an event of another type was not shown by its message: $(cat "$out")"
    grep -qE "deployment\.started +($id +)?- web 3\.0 of weights: 1 targets, 2 steps \(by local\)$" "$out" \
        || fail "deployment.started is not shown from its data: $(cat "$out")"
done
grep -qE "^deployment $id completed" "$TMP/watch.out" \
    || fail "watch did not end with the completed deployment: $(cat "$TMP/watch.out")"
echo "PASS test_deploy_watch_renders_data"
