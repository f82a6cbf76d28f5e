#!/usr/bin/env bash
# test_deploy_health_recovers: a monitored target that goes unhealthy and
# then healthy again publishes health.failed, then health.recovered. With
# no rollback service to decide (flotillad runs without it), the unhealthy
# target's deployment pauses for a person instead of guessing; the target
# recovers while it waits, and once resumed the deployment completes.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/../lib/prometheus.sh"

python3 "$(dirname "$0")/../lib/fixture_server.py" 24104 "$STATE" 2>>"$TMP/fixture.log" &
FIXTURE_PID=$!
set_health t1 200

( cd "$TMP" && exec "$FLOTILLAD" -b tcp://127.0.0.1:24102 -e tcp://127.0.0.1:24103 \
    --store "$TMP/flotilla.db" --hooks-dir "$TMP" \
    -a events,strategy,executor,health,analyzer,coordinator ) \
    2>>"$TMP/flotillad.log" &
DAEMON_PID=$!
export FLOTILLA_ENDPOINT=tcp://127.0.0.1:24102
wait_until 5 "the coordinator answers" "$FLOTCTL" call coordinator List --timeout 300

cat > "$TMP/recovers.yaml" <<EOF
apiVersion: flotilla/v1
kind: Deployment
name: recovers
workload: {name: web, version: "2.0", rollbackVersion: "1.0"}
targets:
  - {name: t1, address: "127.0.0.1:24104"}
strategy: {rolling: {}}
hook:
  command: ./hook.sh
  timeout: 10s
  env: {HOOK_LOG: "$HOOK_LOG"}
policy: {maxConcurrency: 1, soakTime: 6s, progressDeadline: 10m}
healthChecks:
  - name: web
    http: {url: "http://{address}/health/{target}"}
    period: 200ms
    timeout: 1s
    failureThreshold: 2
EOF
apply recovers
id=$ID
wait_until 20 "t1 healthy and soaking" status_is "$id" \
    "[x['health'] for x in d['targets']] == ['healthy']"
set_health t1 503
events_until "$id" "deployment.paused "
set_health t1 200
events_until "$id" "health.recovered "
grep -qE "health.failed .*t1 is unhealthy: " "$TMP/events.txt" \
    || fail "no health.failed for t1: $(cat "$TMP/events.txt")"
ctl resume "$id"
expect_rc 0
wait_state 30 "$id" completed
check_events health.ready health.failed health.recovered deployment.paused deployment.completed
echo "PASS test_deploy_health_recovers"
