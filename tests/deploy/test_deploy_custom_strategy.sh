#!/usr/bin/env bash
# test_deploy_custom_strategy: a deployment runs on a strategy that is not
# built in, served by an actor in another language. strategy_actor.py (the
# Python actor library tests/lib/flotilla_actor.py, written from
# protocol/SPEC.md alone) registers service strategy claiming the key
# `pulse`; `flotctl strategies` lists it beside canary, blueGreen and
# rolling; a spec naming a strategy nobody serves is refused at plan time
# naming it, and one whose pulse section is wrong is refused with the
# actor's sentence; a right one is planned as the actor says. A deployment of two targets (b after a) on pulse runs:
# the actor plans its steps (apply, a 3 s pause); killed (-9) while a
# pauses, it leaves the pause unanswered: the coordinator says step.waiting
# and asks again, the deployment stays running, nothing is rolled back;
# started again, the actor ends the pause (ShouldPromote) and the
# deployment completes, each target's apply run exactly once.
# Failures are the actor's to decide (HandleFailure): with the actor away
# when a hook fails, the step waits (step.waiting) instead of failing, and
# the actor's answer once it is back decides (a retry, then the policy); an
# answer that cannot be used (INVALID) is not waited for: the spec's policy
# applies at once, without the retries the actor did not grant.
source "$(dirname "$0")/lib.sh"

source "$(dirname "$0")/../lib/python.sh"
[[ -n $PY ]] || fail "no python3 here imports zmq and msgpack (apt-get install python3-zmq python3-msgpack)"

STRATEGY_LOG=$TMP/strategy.log
ACTOR_PID=
: > "$STRATEGY_LOG"

# start_actor [OPTION...]: the pulse actor, as instance pulse-1, on our
# broker.
start_actor () {
    PYTHONDONTWRITEBYTECODE=1 "$PY" "$HERE/strategy_actor.py" --broker "$FLOTILLA_ENDPOINT" \
        --log "$STRATEGY_LOG" --instance pulse-1 "$@" 2>>"$TMP/strategy_actor.err" &
    ACTOR_PID=$!
    wait_until 5 "the pulse actor to register" actor_registered
}

actor_registered () {
    "$FLOTCTL" actors 2>/dev/null | grep -qE '^strategy +pulse-1 .* pulse '
}

# stop_actor [SIGNAL]: KILL (default: it goes without a word), or TERM (it
# says DISCONNECT, and the broker forgets it at once).
stop_actor () {
    if [[ -n $ACTOR_PID ]]; then
        kill -"${1:-KILL}" "$ACTOR_PID" 2>/dev/null || true
        wait "$ACTOR_PID" 2>/dev/null || true
        ACTOR_PID=
    fi
}
trap 'stop_actor; cleanup' EXIT

# spec NAME STRATEGY_SECTION [HOOK_ENV] [RETRIES]: a deployment of targets
# a and b (b after a), one at a time, recording its hook calls.
spec () {
    cat > "$TMP/$1.yaml" <<EOF
apiVersion: flotilla/v1
kind: Deployment
name: $1
workload: {name: web, version: "2.0", rollbackVersion: "1.9"}
targets:
  - {name: a}
  - {name: b, dependsOn: [a]}
strategy: $2
hook:
  command: ./hook.sh
  timeout: 10s
  retries: ${4:-0}
  backoff: 100ms
  env: {HOOK_LOG: "$HOOK_LOG"${3:+, $3}}
policy: {maxConcurrency: 1, progressDeadline: 1h}
EOF
}

# 1. The library: a real flotillad, and the actor registered with it.
start_flotilla 24400
start_actor

# 2. flotctl strategies: the built-in ones and pulse, served by pulse-1.
ctl strategies
expect_rc 0
for name in canary blueGreen rolling; do
    expect_out "^$name "
done
expect_out "^pulse +.*pulse-1"

# 3. A strategy nobody serves is refused at plan time, naming it; a pulse
#    section the actor refuses is refused with its sentence.
spec nowhere "{nosuch: {pauseMs: 10}}"
ctl plan -f "$TMP/nowhere.yaml"
expect_rc 1
grep -q "nosuch" <<<"$OUT$ERR" || fail "$LAST does not name nosuch: $OUT $ERR"
spec wrong "{pulse: {pauseMs: soon}}"
ctl plan -f "$TMP/wrong.yaml"
expect_rc 1
grep -q 'wrong.yaml: strategy.pulse: pauseMs: .soon. is not an integer' <<<"$OUT$ERR" \
    || fail "$LAST does not name strategy.pulse.pauseMs once: $OUT $ERR"
grep -q "^PlanSteps INVALID: pauseMs: " "$STRATEGY_LOG" \
    || fail "the actor was not asked to plan the wrong spec: $(cat "$STRATEGY_LOG")"

# 4. A deployment on pulse: its plan is the actor's (a applies, then
#    pauses 3 s; then b), and it runs so.
spec pulsed "{pulse: {pauseMs: 3000}}"
ctl plan -f "$TMP/pulsed.yaml"
expect_rc 0
expect_out "\(pulse\): 2 targets, 4 steps"
expect_out "^ +a/1 +apply +100 .*hook"
expect_out "^ +a/2 +pause +100 "
expect_out "^ +b/2 +pause +100 "
apply pulsed
id=$ID
wait_until 10 "a's apply done and its pause started" status_is "$id" \
    "(d['targets'][0]['step'], d['targets'][0]['step_type'], d['targets'][1]['state'])
     == ('a/2', 'pause', 'pending')"
hook_ended "$id" '^a a/1 apply .* 0$' || fail "a's apply did not end well: $(hook_calls "$id" end)"

# 5. The actor goes without a word: the pause cannot end, and that is no
#    failure of the deployment. The coordinator says so and asks again.
stop_actor
events_until "$id" "step\.waiting "
wait_until 10 "a second step.waiting" \
    eval '(( $("$FLOTCTL" events --deployment "$id" --type step.waiting | wc -l) >= 2 ))'
status_is "$id" "d['state'] == 'running'" \
    || fail "without its strategy actor: $(status_json "$id" d)"
status_is "$id" "[t['state'] for t in d['targets']][1] == 'pending'" \
    || fail "b started while a's pause could not end: $(status_json "$id" d)"
"$FLOTCTL" --json events --deployment "$id" > "$TMP/pulsed-events.json" \
    || fail "flotctl --json events failed"
python3 - "$TMP/pulsed-events.json" <<'PY' || fail "step.waiting is not as expected: $(cat "$TMP/pulsed-events.json")"
import json, sys
events = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
types = [e["type"] for e in events]
waiting = [e["data"] for e in events if e["type"] == "step.waiting"]
assert waiting, types
for data in waiting:
    assert data["step"] == "a/2" and data["service"] == "strategy", data
    assert data["reason"] and 0 < data["retry_in_ms"] <= 10000, data
for bad in ("step.failed", "deployment.failing", "rollback.started", "deployment.failed"):
    assert bad not in types, "%s while the strategy actor was away: %s" % (bad, types)
PY

# 6. Back again: the pauses end, the deployment completes.
start_actor
wait_state 30 "$id" completed
events_until "$id" "deployment\.completed "

# 7. The actor planned the deployment and ended its pauses; each target's
#    apply ran once, and nothing was rolled back.
grep -qE "^PlanSteps pulse 2$" "$STRATEGY_LOG" \
    || fail "the actor was not asked PlanSteps: $(cat "$STRATEGY_LOG")"
(( $(grep -cE "^ShouldPromote 3000 [0-9]+ promote$" "$STRATEGY_LOG") >= 2 )) \
    || fail "the actor did not end both pauses: $(cat "$STRATEGY_LOG")"
for target in a b; do
    calls=$(hook_calls "$id" | grep -cE "^$target $target/1 apply " || true)
    [[ $calls == 1 ]] || fail "$target's apply ran $calls times: $(hook_calls "$id")"
done
(( $(hook_calls "$id" | wc -l) == 2 )) || fail "hook calls other than the applies: $(hook_calls "$id")"
check_events step.waiting deployment.completed

# 8. A hook fails while the actor is away: the step waits for the actor's
#    decision; back, it grants the retry (retries 1), the second attempt
#    fails too, and the policy (failAll) rolls the deployment back.
spec failing "{pulse: {pauseMs: 100}}" 'HOOK_SLEEP: "1", HOOK_FAIL: "a/apply"' 1
apply failing
failing=$ID
wait_until 10 "a's apply to start" hook_ran "$failing" '^a a/1 apply '
stop_actor
events_until "$failing" "step\.waiting .*a/1"
status_is "$failing" "d['state'] == 'running'" \
    || fail "a failure waiting for its decision changed the deployment: $(status_json "$failing" d)"
(( $(hook_calls "$failing" | grep -c '^a a/1 apply ') == 1 )) \
    || fail "the hook ran again before the actor decided: $(hook_calls "$failing")"
start_actor
wait_state 30 "$failing" rolled_back
(( $(hook_calls "$failing" | grep -c '^a a/1 apply ') == 2 )) \
    || fail "a's apply did not run twice (one retry): $(hook_calls "$failing")"
grep -qE "^HandleFailure 1 1 failAll 1 0 retry$" "$STRATEGY_LOG" \
    || fail "the actor did not grant the retry: $(cat "$STRATEGY_LOG")"
grep -qE "^HandleFailure 2 1 failAll 1 0 failDeployment$" "$STRATEGY_LOG" \
    || fail "the actor did not fail the deployment: $(cat "$STRATEGY_LOG")"

# 9. An answer that cannot be used: the actor answers HandleFailure
#    INVALID. The coordinator does not wait for a better one: the policy
#    applies at once, the retries the spec allows are not run, and the
#    step's reason says why.
stop_actor TERM
start_actor --refuse-failures
spec refused "{pulse: {pauseMs: 100}}" 'HOOK_FAIL: "a/apply"' 2
apply refused
refused=$ID
wait_state 30 "$refused" rolled_back
(( $(hook_calls "$refused" | grep -c '^a a/1 apply ') == 1 )) \
    || fail "the hook ran again without a decision: $(hook_calls "$refused")"
grep -q "^HandleFailure INVALID: this pulse actor was told to decide no failure" \
    "$STRATEGY_LOG" || fail "the actor was not asked: $(cat "$STRATEGY_LOG")"
events_until "$refused" "step\.failed .*cannot be used"
! grep -q "step\.waiting" "$TMP/events.txt" \
    || fail "the coordinator waited for an answer that cannot be used: $(cat "$TMP/events.txt")"
echo "PASS test_deploy_custom_strategy"
