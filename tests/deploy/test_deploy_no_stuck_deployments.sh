#!/usr/bin/env bash
# test_deploy_no_stuck_deployments: a deployment that failed is not stuck.
# retry runs its failed targets again as new attempts (all, or one with
# --target), also after the coordinator restarted; skip lets a failed
# target go, its dependents go on, and the deployment completes with it
# shown skipped; rollback reverts a completed or a failed deployment. Each
# command in a state that does not allow it is CONFLICT, saying why. A
# failed hook's stderr shows in status, in its step.failed event and in
# logs, also after a restart.
source "$(dirname "$0")/lib.sh"

# spec NAME FAIL: targets a, b (needs a) and c; the hooks of FAIL (target/
# type ...) fail while $TMP/failing exists; holdDependents.
spec () {
    cat > "$TMP/$1.yaml" <<EOF
apiVersion: flotilla/v1
kind: Deployment
name: $1
workload: {name: $1, version: "2.0", rollbackVersion: "1.0"}
targets:
  - {name: a}
  - {name: b, dependsOn: [a]}
  - {name: c}
strategy: {rolling: {}}
hook:
  command: ./hook.sh
  timeout: 10s
  env: {HOOK_LOG: "$HOOK_LOG", HOOK_FAIL: "$2", HOOK_FAIL_WHILE: "$TMP/failing"}
policy: {onFailure: holdDependents, maxFailures: 3, progressDeadline: 1m}
EOF
}
spec web "a/apply"
spec api "a/apply"
spec db "a/apply"

# attempts ID TARGET TYPE: the attempts of ID's hook on TARGET, as started.
attempts () { hook_calls "$1" | awk -v t="$2" -v y="$3" '$1 == t && $3 == y { print $NF }' | tr '\n' ' '; }

start_flotilla 24470
touch "$TMP/failing"

# retry: a failed deployment, then the coordinator restarts.
apply web
web=$ID
wait_state 20 "$web" failed
status_is "$web" "states(d) == 'a:failed b:held c:done'" || fail "$(status_json "$web" "states(d)")"
# The failed hook's stderr: in status (its last lines), in its event, in logs.
ctl status "$web"
grep -q "^a failed at a/1 (attempt 1):$" <<<"$OUT" && grep -q "^    hook: a/apply fails on purpose$" <<<"$OUT" \
    || fail "status does not show a's stderr: $OUT"
status_is "$web" "d['targets'][0]['stderr'] == 'hook: a/apply fails on purpose\\n'" \
    || fail "GetStatus: $(status_json "$web" "d['targets'][0]")"
events_until "$web" "step.failed"
failed_events=$("$FLOTCTL" --json events --deployment "$web" --type step.failed)
grep -q "fails on purpose" <<<"$failed_events" || fail "step.failed has no stderr: $failed_events"
ctl logs "$web" --target a
expect_rc 0
[[ $OUT == "a/1 (apply) attempt 1: failed"*"  stderr:"*"    hook: a/apply fails on purpose"*"  error:"*"the hook exited with status 1"* ]] \
    || fail "logs of a: $OUT"
ctl logs "$web" --step a/9
expect_rc 1
[[ $ERR == "flotctl: NOT_FOUND (11): $web has no step 'a/9'" ]] || fail "logs of a/9: $ERR"
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || true
start_flotilla 24470
status_is "$web" "states(d) == 'a:failed b:held c:done'" \
    || fail "after a restart: $(status_json "$web" "states(d)")"
status_is "$web" "d['targets'][0]['stderr'] == 'hook: a/apply fails on purpose\\n'" \
    || fail "after a restart, GetStatus: $(status_json "$web" "d['targets'][0]")"
ctl retry "$web"
expect_rc 0
[[ $OUT == "deployment $web: running" ]] || fail "retry said: $OUT"
wait_state 20 "$web" failed                 # a fails again: its own failure
[[ $(attempts "$web" a apply) == "1 2 " ]] || fail "a's attempts: $(attempts "$web" a apply)"
rm "$TMP/failing"
ctl retry "$web" --target c
expect_rc 1
[[ $ERR == "flotctl: CONFLICT (12): target c of $web is done: only a failed target is retried" ]] \
    || fail "retry of a done target said: $ERR"
ctl retry "$web" --target a
expect_rc 0
wait_state 20 "$web" completed
[[ $(attempts "$web" a apply) == "1 2 3 " ]] || fail "a's attempts: $(attempts "$web" a apply)"
[[ $(attempts "$web" b apply) == "1 " ]] || fail "b's attempts: $(attempts "$web" b apply)"
[[ $(attempts "$web" c apply) == "1 " ]] || fail "c ran again: $(attempts "$web" c apply)"
ctl retry "$web"
expect_rc 1
[[ $ERR == "flotctl: CONFLICT (12): $web is completed: only a failed deployment, or a running one with a failed target, is retried" ]] \
    || fail "retry of a completed deployment said: $ERR"

# rollback of the completed one.
ctl rollback "$web" --reason "2.0 leaks memory"
expect_rc 0
wait_state 20 "$web" rolled_back
status_is "$web" "states(d) == 'a:rolled_back b:rolled_back c:rolled_back' and d['last_error'] == '2.0 leaks memory'" \
    || fail "after its rollback: $(status_json "$web" d)"
for t in a b c; do
    [[ $(attempts "$web" $t rollback) == "1 " ]] || fail "$t's rollback: $(hook_calls "$web")"
done
ctl rollback "$web"
expect_rc 1
[[ $ERR == "flotctl: CONFLICT (12): $web is rolled_back: only a completed or failed deployment is rolled back (abort a running one)" ]] \
    || fail "a second rollback said: $ERR"

# skip: b goes on without a; the deployment completes with a skipped.
touch "$TMP/failing"
apply api
api=$ID
wait_state 20 "$api" failed
ctl skip "$api"
expect_rc 2
ctl skip "$api" --target c
expect_rc 1
ctl skip "$api" --target a --reason "a is retired"
expect_rc 0
wait_state 20 "$api" completed
status_is "$api" "states(d) == 'a:skipped b:done c:done'" || fail "$(status_json "$api" "states(d)")"
ctl watch "$api"
expect_rc 4                         # completed, with a target skipped
[[ $(attempts "$api" a apply) == "1 " ]] || fail "a ran again: $(attempts "$api" a apply)"

# rollback of a failed one: what it touched is reverted.
apply db
db=$ID
wait_state 20 "$db" failed
ctl rollback "$db"
expect_rc 0
wait_state 20 "$db" rolled_back
[[ $(attempts "$db" b rollback) == "" ]] || fail "b never ran, yet was rolled back: $(hook_calls "$db")"
[[ $(attempts "$db" c rollback) == "1 " ]] || fail "c was not rolled back: $(hook_calls "$db")"
check_events deployment.retried target.skipped deployment.rolling_back
echo "PASS test_deploy_no_stuck_deployments"
