#!/usr/bin/env bash
# test_deploy_rolling_failure_policies: a rolling deployment over five
# targets (a <- b <- c, d, e; four at once) whose hook fails on b, with one
# retry, run under each onFailure policy. b's hook runs twice (attempts 1
# and 2) each time; then
#   failAll                         -> rolled_back: every target whose hook
#       ran runs 'rollback' to the rollbackVersion, dependents before their
#       dependencies (gradual), once no forward hook runs; c never runs
#   holdDependents, maxFailures 1   -> failed, no rollback: c held, never
#       ran; a, d, e done
#   continue, maxFailures 1         -> failed, no rollback: c ran (after b
#       failed) and is done, as are a, d, e
source "$(dirname "$0")/lib.sh"

# spec NAME POLICY-FIELDS
spec () {
    cat > "$TMP/$1.yaml" <<EOF
apiVersion: flotilla/v1
kind: Deployment
name: $1
workload: {name: db, version: "7.2", rollbackVersion: "7.1"}
targets:
  - {name: a}
  - {name: b, dependsOn: [a]}
  - {name: c, dependsOn: [b]}
  - {name: d}
  - {name: e}
strategy:
  rolling: {}
hook:
  command: ./hook.sh
  timeout: 10s
  retries: 1
  backoff: 200ms
  env: {HOOK_LOG: "$HOOK_LOG", HOOK_SLEEP: "0.2", HOOK_SLOW: "b/rollback=1", HOOK_FAIL: "b/apply"}
policy: {maxConcurrency: 4, progressDeadline: 1h, $2}
rollback: {mode: gradual}
EOF
}

# check_b ID: b's hook ran twice, attempts 1 then 2, each exiting 1.
check_b () {
    [[ $(hook_calls "$1" end | grep '^b b/1 ') == $'b b/1 apply 7.2 7.1 100 1 1\nb b/1 apply 7.2 7.1 100 2 1' ]] \
        || fail "$1: b's hook did not run twice: $(hook_calls "$1" end)"
}

# at KIND ID PATTERN [WHICH]: the number of the first (WHICH 1, the default)
# or last (WHICH $) line of the hook log that is KIND (start or end) for
# deployment ID and matches the ERE after that; 0 if none.
at () {
    grep -nE -- "^$1 $2 $3" "$HOOK_LOG" | cut -d: -f1 | sed -n "${4:-1}p" | grep . || echo 0
}

start_flotilla 24220

# failAll: rolled back.
spec failall "onFailure: failAll"
apply failall
id=$ID
wait_state 15 "$id" rolled_back
check_b "$id"
status_is "$id" "d['last_error'].startswith('b failed at step b/1: the hook exited with status 1')" \
    || fail "rolled back, but: $(status_json "$id" d)"
forward=$(hook_calls "$id" | awk '$3 == "apply" { print $1 }' | sort -u)
back=$(hook_calls "$id" | awk '$3 == "rollback" { print $1 }' | sort)
[[ $forward == *b* && $forward != *c* ]] || fail "forward hooks: $(hook_calls "$id")"
[[ $back == "$forward" ]] || fail "rolled back {$back}, touched {$forward}"
hook_calls "$id" end | awk '$3 == "rollback" && ($4 != "7.1" || $5 != "7.2" || $6 != 0 || $8 != 0) { exit 1 }' \
    || fail "a rollback hook had the wrong facts or failed: $(hook_calls "$id" end)"
last_forward=$(at end "$id" "[a-z] [a-z]/1 apply " '$')
first_back=$(at start "$id" "[a-z] [a-z]/rollback ")
(( last_forward > 0 && first_back > last_forward )) \
    || fail "a rollback started before the forward hooks ended: $(grep " $id " "$HOOK_LOG")"
# Reverse dependency order: b is back (slowly) before a starts back.
(( $(at end "$id" "b b/rollback ") > 0 && $(at start "$id" "a a/rollback ") > $(at end "$id" "b b/rollback ") )) \
    || fail "a was rolled back before b was: $(grep " $id " "$HOOK_LOG")"
status_is "$id" "states(d).split()[2] == 'c:held'
    and all(s.endswith(':rolled_back') for s in states(d).split() if not s.startswith('c:'))" \
    || fail "target states after the rollback: $(status_json "$id" "states(d)")"

# holdDependents: b fails alone, c is held, the rest go on; no rollback.
spec hold "onFailure: holdDependents, maxFailures: 1"
apply hold
id=$ID
wait_state 15 "$id" failed
check_b "$id"
status_is "$id" "states(d) == 'a:done b:failed c:held d:done e:done'
    and d['last_error'] == '3 of 5 targets done; b failed at step b/1: the hook exited with status 1'" \
    || fail "failed, but: $(status_json "$id" d)"
! hook_ran "$id" "^c " || fail "c ran although b failed: $(hook_calls "$id")"
! hook_ran "$id" " rollback " || fail "holdDependents rolled back: $(hook_calls "$id")"
[[ $(hook_calls "$id" end | sort) == "$(printf '%s\n' 'a a/1 apply 7.2 7.1 100 1 0' \
        'b b/1 apply 7.2 7.1 100 1 1' 'b b/1 apply 7.2 7.1 100 2 1' \
        'd d/1 apply 7.2 7.1 100 1 0' 'e e/1 apply 7.2 7.1 100 1 0')" ]] \
    || fail "hooks under holdDependents: $(hook_calls "$id" end)"

# continue: c runs although b failed; the deployment fails in the end.
spec cont "onFailure: continue, maxFailures: 1"
apply cont
id=$ID
wait_state 15 "$id" failed
check_b "$id"
status_is "$id" "states(d) == 'a:done b:failed c:done d:done e:done'
    and d['last_error'] == '4 of 5 targets done; b failed at step b/1: the hook exited with status 1'" \
    || fail "failed, but: $(status_json "$id" d)"
! hook_ran "$id" " rollback " || fail "continue rolled back: $(hook_calls "$id")"
(( $(at end "$id" "b b/1 apply .* 2 1$") > 0 && $(at start "$id" "c c/1 apply 7.2 7.1 100 1$") > $(at end "$id" "b b/1 apply .* 2 1$") )) \
    || fail "c did not run after b failed: $(grep " $id " "$HOOK_LOG")"
check_events
echo "PASS test_deploy_rolling_failure_policies"
