#!/usr/bin/env bash
# test_deploy_analysis_decides: canaries judged by a real Prometheus that
# scrapes metrics this test controls (the fixture server). Each target is
# health-checked over HTTP, then analysed at its gate: an error ratio with
# Argo-style conditions (3 measurements, 1 s apart) and a latency judged
# canary against baseline.
#  1. Good: the error ratio is low and the new version is not slower:
#     every gate passes on its own and the deployment completes.
#  2. Bad: on the second target the new version's error ratio is high: the
#     analysis fails it within its 3 intervals, and the deployment rolls
#     itself back, saying which metric, which value and which limit.
#  3. Unclear: the error ratio sits between the conditions: the analysis is
#     inconclusive, the deployment pauses for a person, and a promote
#     continues it to the end.
#  4. Background: a rolling deployment whose analysis runs for each target
#     while it rolls out, not at gates: t1 goes through; t2's error ratio is
#     high, and its background analysis rolls the deployment back before
#     t2 is done.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/../lib/prometheus.sh"

start_prometheus 24252 24253
start_flotilla 24250

# The latency of both versions on every target, fresh noise every 0.3 s:
# 100-109 ms for the new version, 110-119 ms for the old. The new one is
# never slower, so the judge (Kayenta's, on increases) cannot fail it by
# the chance that two equal versions look different.
noise () {
    while :; do
        local text="" t
        for t in t1 t2 t3; do
            text+="web_latency_seconds{target=\"$t\",version=\"2.0\"} 0.10$(( RANDOM % 10 ))"$'\n'
            text+="web_latency_seconds{target=\"$t\",version=\"1.0\"} 0.11$(( RANDOM % 10 ))"$'\n'
        done
        set_metrics latency "$text"
        sleep 0.3
    done
}
noise &
NOISE_PID=$!
trap 'kill $NOISE_PID 2>/dev/null || true; cleanup' EXIT

# Judged on a few samples, any two versions differ: let Prometheus hold
# 10 s of latency (ten scrapes) before the first canary.
history () {
    curl -sf "$PROM_URL/api/v1/query" \
        --data-urlencode 'query=count_over_time(web_latency_seconds{target="t1",version="1.0"}[10s])' \
        | python3 -c 'import json, sys; r = json.load (sys.stdin)["data"]["result"]; sys.exit (0 if r and int (r[0]["value"][1]) >= 9 else 1)'
}
wait_until 30 "10 s of latency in Prometheus" history

errors () {
    set_metrics errors "$(printf 'web_error_ratio{target="t1",version="2.0"} %s\nweb_error_ratio{target="t2",version="2.0"} %s\nweb_error_ratio{target="t3",version="2.0"} %s' "$1" "$2" "$3")"
}

spec () {
    cat > "$TMP/$1.yaml" <<EOF
apiVersion: flotilla/v1
kind: Deployment
name: $1
workload: {name: web, version: "2.0", rollbackVersion: "1.0"}
targets:
  - {name: t1, address: "127.0.0.1:24252"}
  - {name: t2, address: "127.0.0.1:24252", dependsOn: [t1]}
  - {name: t3, address: "127.0.0.1:24252", dependsOn: [t2]}
strategy:
  canary:
    steps:
      - setWeight: 50
      - gate: {name: judged}
hook:
  command: ./hook.sh
  timeout: 10s
  env: {HOOK_LOG: "$HOOK_LOG"}
policy:
  progressDeadline: 1m
healthChecks:
  - name: web
    http: {url: "http://{address}/health/{target}", status: "200"}
    period: 500ms
    timeout: 1s
    successThreshold: 1
    failureThreshold: 2
analysis:
  interval: 1s
  metrics:
    - name: error-ratio
      provider:
        prometheus:
          address: $PROM_URL
          query: 'max(web_error_ratio{target="{target}",version="{version}"})'
      successCondition: "result < 0.05"
      failureCondition: "result >= 0.10"
      count: 3
    - name: latency
      provider:
        prometheus:
          address: $PROM_URL
          query: 'web_latency_seconds{target="{target}",version="{version}"}'
          range: 10s
          step: 1s
      judge: {mode: kayenta, direction: increase}
      count: 3
EOF
}

# 1. Good: it completes on its own, each gate passed by the analysis.
errors 0.01 0.01 0.01
spec good
apply good
id=$ID
wait_state 60 "$id" completed
events_until "$id" "deployment.completed "
for t in t1 t2 t3; do
    grep -qE "health.ready .*$t passed its health checks" "$TMP/events.txt" \
        || fail "$t never became ready: $(cat "$TMP/events.txt")"
    grep -qE "analysis.result .*$t: successful, score 100 \(error-ratio 0.01 successful, latency [0-9.]+ pass\), recommends promote" "$TMP/events.txt" \
        || fail "$t's analysis did not recommend promote, with each metric's value and verdict: $(cat "$TMP/events.txt")"
    grep -qE "gate.passed .*gate judged of $t passed" "$TMP/events.txt" \
        || fail "$t's gate did not pass: $(cat "$TMP/events.txt")"
done
status_is "$id" "all(x['analysis']['recommendation'] == 'promote'
                    and x['health'] == 'healthy' for x in d['targets'])" \
    || fail "status does not show the analyses and health: $(status_json "$id" d)"
# What an operator reads: each target's health, and its latest analysis.
ctl status "$id"
expect_rc 0
expect_out "^TARGET +STATE +STEP +TYPE +STEP-STATE +ATTEMPT +WEIGHT +HEALTH$"
expect_out "^t2 +done +t2/4 +soak +succeeded +1 +100 +healthy$"
expect_out "^analysis of t3:$"
expect_out "^  error-ratio +threshold +successful +value 0.01 +3 measurements$"
expect_out "^  latency +judge +successful +pass +samples "
expect_out "^  score 100.00$"
expect_out "^  promote: score 100.00 >= passScore 95; every metric passed$"

# 2. Bad on t2: rolled back within the 3 intervals of its analysis.
errors 0.01 0.31 0.01
spec bad
apply bad
id=$ID
wait_until 60 "t2 at its gate" hook_ran "$id" "^t2 t2/1 setWeight"
gate_ms=$(now_ms)
wait_state 60 "$id" rolled_back
took=$(( $(now_ms) - gate_ms ))
(( took < 10000 )) || fail "the rollback took $took ms after t2's gate (3 intervals of 1 s)"
last_error=$(status_json "$id" "d['last_error']")
[[ $last_error == *t2*error-ratio*0.31*0.1* ]] \
    || fail "last_error does not name the target, metric, value and limit: $last_error"
hook_ran "$id" "^t1 t1/rollback rollback 1.0 2.0" || fail "t1 was not rolled back"
hook_ran "$id" "^t2 t2/rollback rollback 1.0 2.0" || fail "t2 was not rolled back"
! hook_ran "$id" "^t3 " || fail "t3 ran although t2 failed"

# 3. Unclear on t1: paused for a person; a promote goes on to the end.
errors 0.07 0.01 0.01
spec unclear
apply unclear
id=$ID
wait_until 60 "the deployment paused at t1's gate" status_is "$id" \
    "d['state'] == 'running' and d['paused'] and states(d).startswith('t1:waiting')"
events_until "$id" "deployment.paused "
grep -qE "analysis.result .*t1: inconclusive.*recommends pause" "$TMP/events.txt" \
    || fail "t1's analysis was not inconclusive: $(cat "$TMP/events.txt")"
grep -qE "deployment.paused .*paused at the gate of t1" "$TMP/events.txt" \
    || fail "no pause event names t1's gate: $(cat "$TMP/events.txt")"
sleep 1.5
status_is "$id" "d['paused'] and states(d) == 't1:waiting t2:pending t3:pending'" \
    || fail "the deployment moved without a person: $(status_json "$id" d)"
errors 0.01 0.01 0.01
ctl promote "$id"
expect_rc 0
wait_state 60 "$id" completed

# 4. Background analysis on a rolling deployment.
errors 0.01 0.31 0.01
sed -e 's/^strategy:$/strategy: {rolling: {}}/' -e '/^  canary:$/,/^      - gate: {name: judged}$/d' \
    -e 's/^  progressDeadline: 1m$/  progressDeadline: 1m\n  soakTime: 2s/' \
    -e 's/^  interval: 1s$/  interval: 500ms\n  background: true/' \
    -e '/^    - name: latency$/,$d' -e 's/^      count: 3$/      count: 40/' \
    -e 's/^name: unclear$/name: behind/' "$TMP/unclear.yaml" > "$TMP/behind.yaml"
apply behind
id=$ID
wait_state 60 "$id" rolled_back
status_is "$id" "states(d) == 't1:rolled_back t2:rolled_back t3:held'" \
    || fail "background: $(status_json "$id" "states(d)")"
last_error=$(status_json "$id" "d['last_error']")
[[ $last_error == t2:*error-ratio*0.31* ]] || fail "background: last_error is $last_error"
events_until "$id" "deployment.rolled_back "
grep -qE "target.completed .*t1 is on version 2.0" "$TMP/events.txt" \
    || fail "t1 did not complete under background analysis: $(cat "$TMP/events.txt")"
! grep -qE "step.completed .*t2/2 \(soak\)" "$TMP/events.txt" \
    || fail "t2 finished its soak although its analysis failed: $(cat "$TMP/events.txt")"
check_events analysis.result gate.passed gate.failed health.ready deployment.paused
echo "PASS test_deploy_analysis_decides"
