#!/usr/bin/env bash
# test_deploy_events_typed: every event real deployments publish is typed.
# Five deployments run: a canary paused and resumed by an operator, then
# promoted past its pause, that completes; one whose hook fails (after a
# retry) and that is rolled back; one aborted at its pause and rolled back;
# a rolling one that fails under holdDependents (failed, nothing rolled
# back); and one whose rollback fails too. Then every event `flotctl events
# --json` gives is checked against protocol/contracts/events.json
# (check_events.py: its type is defined, its data has every required field
# with the right JSON type and value, names the event's deployment and
# target, one event ends each deployment, its last), the types such
# deployments publish are all seen, and a few values only the data holds
# are as the deployments made them.
source "$(dirname "$0")/lib.sh"

# canary NAME HOOK_FAIL: two targets, a <- b; setWeight 40, a pause, 100.
canary () {
    cat > "$TMP/$1.yaml" <<EOF
apiVersion: flotilla/v1
kind: Deployment
name: $1
workload: {name: web, version: "2.0", rollbackVersion: "1.9"}
targets:
  - {name: a}
  - {name: b, dependsOn: [a]}
strategy:
  canary:
    steps:
      - setWeight: 40
      - pause: {}
hook:
  command: ./hook.sh
  timeout: 10s
  retries: 1
  backoff: 100ms
  env: {HOOK_LOG: "$HOOK_LOG", HOOK_FAIL: "$2"}
policy: {maxConcurrency: 1, progressDeadline: 1h}
rollback: {mode: gradual}
EOF
}

start_flotilla 24292

# 1. Paused and resumed by an operator, promoted at each pause: completed.
canary good ""
apply good
good=$ID
wait_until 10 "a waiting at its pause" status_is "$good" "states(d) == 'a:waiting b:pending'"
ctl pause "$good"
expect_rc 0
ctl resume "$good"
expect_rc 0
ctl promote "$good"
expect_rc 0
wait_until 10 "b waiting at its pause" status_is "$good" "states(d) == 'a:done b:waiting'"
ctl promote "$good"
expect_rc 0
wait_state 10 "$good" completed

# 2. b's setWeight fails twice: the deployment fails and is rolled back.
canary bad "b/setWeight"
apply bad
bad=$ID
wait_until 10 "a waiting at its pause" status_is "$bad" "states(d) == 'a:waiting b:pending'"
ctl promote "$bad" --full
expect_rc 0
wait_state 20 "$bad" rolled_back

# 3. Aborted at a's pause: rolled back.
canary stopped ""
apply stopped
stopped=$ID
wait_until 10 "a waiting at its pause" status_is "$stopped" "states(d) == 'a:waiting b:pending'"
ctl abort "$stopped" --reason "not today"
expect_rc 0
wait_state 20 "$stopped" aborted

# 4. Rolling, b fails under holdDependents: failed, nothing rolled back.
cat > "$TMP/held.yaml" <<EOF
apiVersion: flotilla/v1
kind: Deployment
name: held
workload: {name: db, version: "7.2", rollbackVersion: "7.1"}
targets:
  - {name: a}
  - {name: b}
strategy:
  rolling: {}
hook:
  command: ./hook.sh
  timeout: 10s
  env: {HOOK_LOG: "$HOOK_LOG", HOOK_FAIL: "b/apply"}
policy: {maxConcurrency: 2, progressDeadline: 1h, onFailure: holdDependents, maxFailures: 1}
EOF
apply held
held=$ID
wait_state 20 "$held" failed

# 5. b's setWeight fails, and so does a's rollback: the rollback fails.
canary broken "b/setWeight a/rollback"
apply broken
broken=$ID
wait_until 10 "a waiting at its pause" status_is "$broken" "states(d) == 'a:waiting b:pending'"
ctl promote "$broken" --full
expect_rc 0
wait_state 20 "$broken" rollback_failed

for id in "$good" "$bad" "$stopped" "$held"; do
    events_until "$id" "deployment\.(completed|rolled_back|aborted|failed) "
done
events_until "$broken" "rollback\.failed "
check_events deployment.started step.started step.completed step.failed \
    target.completed target.failed deployment.paused deployment.resumed \
    deployment.promoted deployment.failing deployment.aborting rollback.started \
    rollback.completed rollback.failed deployment.completed deployment.failed \
    deployment.rolled_back deployment.aborted

python3 - "$TMP/all-events.json" "$good" "$bad" "$stopped" "$held" "$broken" <<'PY' \
    || fail "the events' data is not as expected: $(cat "$TMP/all-events.json")"
import json, sys
events = [json.loads(line) for line in open(sys.argv[1])]
good, bad, stopped, held, broken = sys.argv[2:7]
last = {e["deployment"]: e for e in events}

final = {good: "deployment.completed", bad: "deployment.rolled_back",
         stopped: "deployment.aborted", held: "deployment.failed",
         broken: "rollback.failed"}
for dep, t in final.items():
    assert last[dep]["type"] == t, "%s ends with %s, not %s" % (dep, last[dep]["type"], t)

# A few values that only the data holds.
steps = [e["data"] for e in events if e["deployment"] == good and e["type"] == "step.started"]
assert [(d["step"], d["step_type"], d["weight"]) for d in steps] == [
    ("a/1", "setWeight", 40), ("a/2", "pause", 40), ("a/3", "setWeight", 100),
    ("b/1", "setWeight", 40), ("b/2", "pause", 40), ("b/3", "setWeight", 100)], steps
fails = [e["data"] for e in events if e["deployment"] == bad and e["type"] == "step.failed"]
assert [(d["step"], d["attempt"], "retry_in_ms" in d, d["rollback"]) for d in fails] == [
    ("b/1", 1, True, False), ("b/1", 2, False, False)], fails
paused = [e["data"]["cause"] for e in events if e["type"] == "deployment.paused"]
assert paused == ["operator"], paused
PY

# A known type's data is checked when published; an unknown type's is free.
"$FLOTCTL" call events Publish '{"type": "step.completed", "deployment": "x1", "data": {"deployment": "x1"}}' \
    >"$TMP/out" 2>&1 && fail "step.completed without its fields was published"
grep -qF "field 'data.by' is required" "$TMP/out" \
    || fail "no sentence on the missing field: $(cat "$TMP/out")"
"$FLOTCTL" call events Publish '{"type": "deployment.resumed", "deployment": "x1", "data": {"deployment": "x2", "by": ""}}' \
    >"$TMP/out" 2>&1 && fail "data of another deployment was published"
grep -qF "field 'data.deployment'" "$TMP/out" || fail "no sentence on data.deployment: $(cat "$TMP/out")"
"$FLOTCTL" call events Publish '{"type": "custom.thing", "deployment": "x1", "data": {"anything": [1]}}' \
    >/dev/null || fail "an event of an unknown type was refused"
echo "PASS test_deploy_events_typed"
