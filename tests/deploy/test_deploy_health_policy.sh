#!/usr/bin/env bash
# test_deploy_health_policy: rolling deployments whose targets are health-
# checked over HTTP (the fixture server, whose answers this test sets).
#  1. A target's probe starts failing while it soaks, under onFailure
#     continue: that target fails, the others go on, and the deployment
#     ends failed, nothing rolled back.
#  2. The same under failAll: the deployment rolls itself back.
#  3. A target that never becomes healthy holds its gate until the
#     progress deadline stops the deployment, which rolls back.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/../lib/prometheus.sh"

python3 "$(dirname "$0")/../lib/fixture_server.py" 24262 "$STATE" 2>>"$TMP/fixture.log" &
FIXTURE_PID=$!
start_flotilla 24260

spec () {       # NAME ON_FAILURE DEADLINE
    cat > "$TMP/$1.yaml" <<EOF
apiVersion: flotilla/v1
kind: Deployment
name: $1
workload: {name: web, version: "2.0", rollbackVersion: "1.0"}
targets:
  - {name: t1, address: "127.0.0.1:24262"}
  - {name: t2, address: "127.0.0.1:24262"}
  - {name: t3, address: "127.0.0.1:24262"}
strategy: {rolling: {}}
hook:
  command: ./hook.sh
  timeout: 10s
  env: {HOOK_LOG: "$HOOK_LOG"}
policy:
  maxConcurrency: 1
  onFailure: $2
  maxFailures: 1
  soakTime: 3s
  progressDeadline: $3
healthChecks:
  - name: web
    http: {url: "http://{address}/health/{target}"}
    period: 300ms
    timeout: 1s
    failureThreshold: 2
EOF
}

healthy_all () { local t; for t in t1 t2 t3; do set_health "$t" 200; done; }

# 1. continue: t1 goes bad while it soaks; t2 and t3 go on.
healthy_all
spec going-on continue 1m
apply going-on
id=$ID
wait_until 20 "t1 healthy and soaking" status_is "$id" \
    "[x['health'] for x in d['targets'] if x['name'] == 't1'] == ['healthy']"
set_health t1 503
wait_state 60 "$id" failed
status_is "$id" "states(d) == 't1:failed t2:done t3:done'" \
    || fail "not t1 failed and the others done: $(status_json "$id" d)"
events_until "$id" "deployment.failed "
grep -qE "health.failed .*t1 is unhealthy: .*503" "$TMP/events.txt" \
    || fail "no health.failed event for t1 with its status: $(cat "$TMP/events.txt")"
grep -qE "target.failed .*t1 failed" "$TMP/events.txt" \
    || fail "t1 did not fail: $(cat "$TMP/events.txt")"
! hook_ran "$id" "rollback" || fail "something was rolled back under continue"

# 2. failAll: the same failure rolls everything back.
healthy_all
spec all-or-nothing failAll 1m
apply all-or-nothing
id=$ID
wait_until 20 "t1 healthy and soaking" status_is "$id" \
    "[x['health'] for x in d['targets'] if x['name'] == 't1'] == ['healthy']"
set_health t1 503
wait_state 60 "$id" rolled_back
hook_ran "$id" "^t1 t1/rollback rollback 1.0 2.0" || fail "t1 was not rolled back"
last_error=$(status_json "$id" "d['last_error']")
[[ $last_error == *t1*web*503* ]] || fail "last_error does not say which check failed how: $last_error"

# 3. t1 never gets healthy: the progress deadline (4 s) stops it.
healthy_all
set_health t1 503
spec never-ready failAll 4s
started=$(now_ms)               # before apply: the deadline runs from its start
apply never-ready
id=$ID
wait_state 30 "$id" rolled_back
took=$(( $(now_ms) - started ))
(( took >= 3500 )) || fail "stopped after $took ms, before the deadline of 4 s"
last_error=$(status_json "$id" "d['last_error']")
[[ $last_error == *"progress deadline"* ]] || fail "last_error is not the deadline: $last_error"
! hook_ran "$id" "^t2 " || fail "t2 started although t1 never got healthy"
check_events health.ready health.failed gate.failed deployment.failed
echo "PASS test_deploy_health_policy"
