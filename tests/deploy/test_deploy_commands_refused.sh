#!/usr/bin/env bash
# test_deploy_commands_refused: a command the deployment's state does not
# allow is refused with CONFLICT (12) and a sentence that says why (exit 1,
# nothing on stdout), and changes nothing: promote on a running one with
# no target at a pause, promote, pause or resume on a completed one, abort
# on a rolled back one. Pause and resume are idempotent: pause on a paused
# deployment and resume on a running one answer its state and record
# nothing (no action, no event). An unknown id is NOT_FOUND (11). On the
# way: a deployment paused between targets stays running and paused,
# however long, and completes once resumed.
source "$(dirname "$0")/lib.sh"

cat > "$TMP/two.yaml" <<EOF
apiVersion: flotilla/v1
kind: Deployment
name: two
workload: {name: web, version: "2.0", rollbackVersion: "1.9"}
targets:
  - {name: t1}
  - {name: t2}
strategy:
  rolling: {}
hook:
  command: ./hook.sh
  timeout: 10s
  env: {HOOK_LOG: "$HOOK_LOG", HOOK_SLOW: "t1/apply=1 t2/apply=1"}
policy: {maxConcurrency: 1, progressDeadline: 1h}
EOF

cat > "$TMP/bad.yaml" <<EOF
apiVersion: flotilla/v1
kind: Deployment
name: bad
workload: {name: web, version: "2.0", rollbackVersion: "1.9"}
targets:
  - {name: b1}
strategy:
  rolling: {}
hook:
  command: ./hook.sh
  timeout: 10s
  env: {HOOK_LOG: "$HOOK_LOG", HOOK_FAIL: "b1/apply"}
EOF

# refused ID STATE SENTENCE COMMAND...: flotctl COMMAND... exits 1 with
# CONFLICT and "ID is SENTENCE" on stderr, nothing on stdout, and the
# deployment stays in STATE.
refused () {
    local id=$1 state=$2 sentence=$3
    shift 3
    ctl "$@"
    expect_rc 1
    [[ $ERR == "flotctl: CONFLICT (12): $id $sentence" ]] \
        || fail "$LAST: stderr is '$ERR', expected 'flotctl: CONFLICT (12): $id $sentence'"
    [[ -z $OUT ]] || fail "$LAST printed on stdout: $OUT"
    status_is "$id" "d['state'] == '$state'" \
        || fail "$LAST changed the deployment: $(status_json "$id" d)"
}

start_flotilla 24240

apply two
id=$ID
ctl pause "$id"
expect_rc 0
[[ $OUT == "deployment $id: running, paused" ]] || fail "pause said: $OUT"
ctl pause "$id"
expect_rc 0
[[ $OUT == "deployment $id: running, paused" ]] || fail "pause again said: $OUT"
refused "$id" running "has no target at a pause step or at a gate waiting for a person; use full to skip all that remain" \
    promote "$id"
# t1's hook ends; t2 does not start, and the deployment is not over.
wait_until 10 "t1's hook to end" hook_ended "$id" "^t1 "
sleep 1
status_is "$id" "d['state'] == 'running' and d['paused'] and states(d) == 't1:done t2:pending'" \
    || fail "paused between targets: $(status_json "$id" d)"
! hook_ran "$id" "^t2 " || fail "t2 started while paused: $(hook_calls "$id")"
ctl resume "$id"
expect_rc 0
[[ $OUT == "deployment $id: running" ]] || fail "resume said: $OUT"
ctl resume "$id"
expect_rc 0
[[ $OUT == "deployment $id: running" ]] || fail "resume again said: $OUT"
status_is "$id" "[a['command'] for a in d['actions']] == ['apply', 'pause', 'resume']" \
    || fail "pause and resume sent twice were recorded twice: $(status_json "$id" "d['actions']")"
wait_state 10 "$id" completed
for command in promote "promote --full"; do
    refused "$id" completed "is completed: it cannot be promoted" $command "$id"
done
refused "$id" completed "is completed: it cannot be paused" pause "$id"
refused "$id" completed "is completed: it cannot be resumed" resume "$id"

apply bad
id=$ID
wait_state 10 "$id" rolled_back
refused "$id" rolled_back "is rolled_back: it cannot be aborted" abort "$id"
refused "$id" rolled_back "is rolled_back: it cannot be aborted" abort "$id" --reason late
status_is "$id" "d['last_error'] == 'b1 failed at step b1/1: the hook exited with status 1'" \
    || fail "the refused abort changed the last error: $(status_json "$id" d)"

for command in status pause resume promote abort; do
    ctl $command nosuch-1
    expect_rc 1
    [[ $ERR == "flotctl: NOT_FOUND (11): no deployment 'nosuch-1'" ]] \
        || fail "$LAST: stderr is '$ERR'"
    [[ -z $OUT ]] || fail "$LAST printed on stdout: $OUT"
done
check_events deployment.paused deployment.resumed
echo "PASS test_deploy_commands_refused"
