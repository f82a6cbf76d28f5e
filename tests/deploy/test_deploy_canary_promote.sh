#!/usr/bin/env bash
# test_deploy_canary_promote: a canary over a chain of three targets
# (a <- b <- c, listed backwards, maxConcurrency 3) with setWeight 20, a
# manual pause and setWeight 60. Each target in turn stops at the pause,
# waiting, with the deployment running and nothing moving, until a promote;
# then it goes on and the next one starts. Run again, one promote --full
# ends the first pause and skips the others. Either way it completes, and
# the hook ran once per (target, step) with weights 20, 60, 100, targets in
# dependency order, each with the version, the previous version and attempt 1.
source "$(dirname "$0")/lib.sh"

cat > "$TMP/chain.yaml" <<EOF
apiVersion: flotilla/v1
kind: Deployment
name: chain
workload: {name: web, version: "2.0", rollbackVersion: "1.9"}
targets:
  - {name: c, dependsOn: [b]}
  - {name: b, dependsOn: [a]}
  - {name: a}
strategy:
  canary:
    steps:
      - setWeight: 20
      - pause: {}
      - setWeight: 60
hook:
  command: ./hook.sh
  timeout: 10s
  env: {HOOK_LOG: "$HOOK_LOG"}
policy:
  maxConcurrency: 3
  progressDeadline: 1h
EOF

# The hook calls a target makes, from its first step to its last.
calls () {
    local t
    for t in "$@"; do
        printf '%s\n' "$t $t/1 setWeight 2.0 1.9 20 1" "$t $t/3 setWeight 2.0 1.9 60 1" \
                      "$t $t/4 setWeight 2.0 1.9 100 1"
    done
}

# check_hooks ID: every (target, step) ran once, in dependency order, and
# each ended (status 0) before the next started.
check_hooks () {
    [[ $(hook_calls "$1") == "$(calls a b c)" ]] \
        || fail "$1: the hook calls are not a, b, c at 20, 60, 100 once each:
$(hook_calls "$1")"
    [[ $(hook_calls "$1" end) == "$(calls a b c | sed 's/$/ 0/')" ]] \
        || fail "$1: the hook calls did not each end well in order:
$(hook_calls "$1" end)"
}

start_flotilla 24200

# One promote per pause.
apply chain
id=$ID
[[ $OUT == "deployment $id started: 12 steps" ]] || fail "apply said: $OUT"
done_before=()
for t in a b c; do
    states=()
    for u in c b a; do
        if [[ $u == "$t" ]]; then states+=("$u:waiting")
        elif [[ " ${done_before[*]-} " == *" $u "* ]]; then states+=("$u:done")
        else states+=("$u:pending"); fi
    done
    at_pause="d['state'] == 'running' and not d['paused'] and states(d) == '${states[*]}'
        and [(x['step'], x['step_type'], x['step_state'], x['weight'])
             for x in d['targets'] if x['name'] == '$t'] == [('$t/2', 'pause', 'running', 20)]"
    wait_until 10 "$t waiting at its pause" status_is "$id" "$at_pause"
    expected=$(calls "${done_before[@]}"; echo "$t $t/1 setWeight 2.0 1.9 20 1")
    [[ $(hook_calls "$id") == "$expected" ]] \
        || fail "hooks with $t at its pause: $(hook_calls "$id")"
    if [[ $t == a ]]; then
        sleep 1.5               # no promote: nothing moves
        status_is "$id" "$at_pause and d['steps_done'] == 1" \
            || fail "the canary moved without a promote: $(status_json "$id" d)"
        [[ $(hook_calls "$id") == "$expected" ]] \
            || fail "a hook ran without a promote: $(hook_calls "$id")"
    fi
    ctl promote "$id"
    expect_rc 0
    [[ $OUT == "deployment $id: running" ]] || fail "promote said: $OUT"
    done_before+=("$t")
done
wait_state 10 "$id" completed
status_is "$id" "d['steps_done'] == 12 and d['percent'] == 100 and d['last_error'] == ''
    and states(d) == 'c:done b:done a:done'
    and all(x['weight'] == 100 for x in d['targets'])" \
    || fail "completed, but: $(status_json "$id" d)"
check_hooks "$id"

# One promote --full: the first pause ends, the others are skipped.
apply chain
id=$ID
wait_until 10 "a waiting at its pause" \
    status_is "$id" "d['state'] == 'running' and states(d) == 'c:pending b:pending a:waiting'"
ctl promote "$id" --full
expect_rc 0
[[ $OUT == "deployment $id: running" ]] || fail "promote --full said: $OUT"
wait_state 10 "$id" completed
status_is "$id" "d['steps_done'] == 12 and states(d) == 'c:done b:done a:done'" \
    || fail "completed, but: $(status_json "$id" d)"
check_hooks "$id"
events_until "$id" "deployment.completed "
"$FLOTCTL" events --deployment "$id" --type step. > "$TMP/events.txt"
grep -qE "step a/2 \(pause\): waiting for a promote" "$TMP/events.txt" \
    || fail "a never waited: $(cat "$TMP/events.txt")"
for t in b c; do
    grep -qE "step $t/2 \(pause\) skipped" "$TMP/events.txt" \
        || fail "the pause of $t was not skipped: $(cat "$TMP/events.txt")"
    ! grep -qE "step $t/2 \(pause\): waiting" "$TMP/events.txt" \
        || fail "$t waited after promote --full: $(cat "$TMP/events.txt")"
done
check_events
echo "PASS test_deploy_canary_promote"
