#!/usr/bin/env bash
# test_deploy_bluegreen_abort_switches_back: blue-green over two targets
# (autoPromote false, keepOld 30s). g1 is promoted, switches and waits to
# clean up the old version; g2, slower, has only its preview and waits at
# its pause. abort --reason then ends the deployment 'aborted', with the
# reason as its last error, in a few seconds, not after keepOld: g1 runs
# 'switchBack' and g2 'rollback', both to the rollbackVersion; no 'cleanup'
# ever runs (the old version of g1 must stay to switch back to), and g1's
# cleanup step is shown stopped (skipped), not running.
#   Likewise when the deployment fails (g2's preview hook fails, failAll)
# while g1 waits to clean up: g1 switches back, and its cleanup does not run
# when keepOld (4s) has passed, nor does g1 come back as done.
#   An abort while a hook still runs (g1's preview, which then fails) waits
# for it, and stays an abort: one rollback, 'aborted', the reason as the
# last error; the late failure does not fail the deployment again.
source "$(dirname "$0")/lib.sh"

cat > "$TMP/bg.yaml" <<EOF
apiVersion: flotilla/v1
kind: Deployment
name: bg
workload: {name: api, version: "5.1", rollbackVersion: "5.0"}
targets:
  - {name: g1}
  - {name: g2}
strategy:
  blueGreen: {keepOld: 30s, autoPromote: false}
hook:
  command: ./hook.sh
  timeout: 10s
  env: {HOOK_LOG: "$HOOK_LOG", HOOK_SLOW: "g2/preview=5"}
policy:
  maxConcurrency: 2
  progressDeadline: 1h
EOF

start_flotilla 24210
apply bg
id=$ID
[[ $OUT == "deployment $id started: 12 steps" ]] || fail "apply said: $OUT"

# g1 at its pause while g2's preview still runs: the promote is g1's alone.
wait_until 10 "g1 waiting, g2 in its preview" status_is "$id" \
    "d['state'] == 'running' and states(d) == 'g1:waiting g2:running'
     and d['targets'][1]['step'] == 'g2/1'"
ctl promote "$id"
expect_rc 0
[[ $OUT == "deployment $id: running" ]] || fail "promote said: $OUT"

# g1 switched, and waits keepOld before its cleanup; then g2 waits too.
wait_until 10 "g1 to switch" hook_ended "$id" "^g1 g1/4 switch 5.1 5.0 100 1 0$"
wait_until 10 "g1 in its cleanup wait, g2 at its pause" status_is "$id" \
    "d['state'] == 'running' and states(d) == 'g1:running g2:waiting'
     and [(x['step'], x['step_type'], x['step_state']) for x in d['targets']]
         == [('g1/6', 'cleanup', 'running'), ('g2/3', 'pause', 'running')]"
[[ $(hook_calls "$id" | sort) == $'g1 g1/1 preview 5.1 5.0 0 1\ng1 g1/4 switch 5.1 5.0 100 1\ng2 g2/1 preview 5.1 5.0 0 1' ]] \
    || fail "hooks before the abort: $(hook_calls "$id")"

start=$(now_ms)
ctl abort "$id" --reason "errors up on g1"
expect_rc 0
[[ $OUT =~ ^"deployment $id: "(rolling_back|aborted)$ ]] || fail "abort said: $OUT"
wait_state 10 "$id" aborted
elapsed=$(( $(now_ms) - start ))
(( elapsed < 5000 )) || fail "the abort took $elapsed ms (keepOld is 30 s)"
status_is "$id" "d['last_error'] == 'errors up on g1' and states(d) == 'g1:rolled_back g2:rolled_back'
    and d['targets'][0]['step'] == 'g1/6' and d['targets'][0]['step_state'] == 'skipped'" \
    || fail "aborted, but: $(status_json "$id" d)"

# The rollback: g1 back to the old, still there; g2 had only a preview.
sleep 0.5                       # nothing more may run
rollback=$(hook_calls "$id" end | grep -E " (rollback|switchBack) " | sort)
[[ $rollback == $'g1 g1/rollback switchBack 5.0 5.1 0 1 0\ng2 g2/rollback rollback 5.0 5.1 0 1 0' ]] \
    || fail "rollback hooks: $rollback"
! hook_ran "$id" " cleanup " || fail "a cleanup ran: $(hook_calls "$id")"
[[ $(hook_calls "$id" | wc -l) == 5 ]] || fail "hooks: $(hook_calls "$id")"
echo "abort took $elapsed ms"

cat > "$TMP/bgfail.yaml" <<EOF
apiVersion: flotilla/v1
kind: Deployment
name: bgfail
workload: {name: api, version: "5.1", rollbackVersion: "5.0"}
targets:
  - {name: g1}
  - {name: g2}
strategy:
  blueGreen: {keepOld: 4s}
hook:
  command: ./hook.sh
  timeout: 10s
  env: {HOOK_LOG: "$HOOK_LOG", HOOK_SLOW: "g2/preview=2.5", HOOK_FAIL: "g2/preview"}
policy: {maxConcurrency: 2, progressDeadline: 1h}
EOF
apply bgfail
id=$ID
wait_until 10 "g1 in its cleanup wait" status_is "$id" \
    "d['state'] == 'running' and d['targets'][0]['step_type'] == 'cleanup'"
wait_state 10 "$id" rolled_back
sleep 3                         # past keepOld
status_is "$id" "d['state'] == 'rolled_back' and states(d) == 'g1:rolled_back g2:rolled_back'
    and d['last_error'] == 'g2 failed at step g2/1: the hook exited with status 1'
    and d['targets'][0]['step'] == 'g1/5' and d['targets'][0]['step_state'] == 'skipped'" \
    || fail "after keepOld: $(status_json "$id" d)"
[[ $(hook_calls "$id" end | grep -E " (rollback|switchBack) " | sort) == \
   $'g1 g1/rollback switchBack 5.0 5.1 0 1 0\ng2 g2/rollback rollback 5.0 5.1 0 1 0' ]] \
    || fail "rollback hooks: $(hook_calls "$id" end)"
! hook_ran "$id" " cleanup " || fail "g1's cleanup ran after the rollback: $(hook_calls "$id")"

cat > "$TMP/bglate.yaml" <<EOF
apiVersion: flotilla/v1
kind: Deployment
name: bglate
workload: {name: api, version: "5.1", rollbackVersion: "5.0"}
targets:
  - {name: g1}
  - {name: g2}
strategy:
  blueGreen: {keepOld: 30s}
hook:
  command: ./hook.sh
  timeout: 10s
  env: {HOOK_LOG: "$HOOK_LOG", HOOK_SLOW: "g1/preview=4", HOOK_FAIL: "g1/preview"}
policy: {maxConcurrency: 2, progressDeadline: 1h}
EOF
apply bglate
id=$ID
wait_until 10 "g2 in its cleanup wait, g1 in its preview" status_is "$id" \
    "d['state'] == 'running' and [x['step'] for x in d['targets']] == ['g1/1', 'g2/5']"
ctl abort "$id" --reason "stop before g1 switches"
expect_rc 0
[[ $OUT == "deployment $id: rolling_back" ]] || fail "abort said: $OUT"
wait_state 10 "$id" aborted
status_is "$id" "d['last_error'] == 'stop before g1 switches'
    and states(d) == 'g1:rolled_back g2:rolled_back'" \
    || fail "aborted, but: $(status_json "$id" d)"
hook_ended "$id" "^g1 g1/1 preview 5.1 5.0 0 1 1$" || fail "g1's preview: $(hook_calls "$id" end)"
[[ $(hook_calls "$id" end | grep -E " (rollback|switchBack) " | sort) == \
   $'g1 g1/rollback rollback 5.0 5.1 0 1 0\ng2 g2/rollback switchBack 5.0 5.1 0 1 0' ]] \
    || fail "rollback hooks: $(hook_calls "$id" end)"
events_until "$id" "deployment.aborted "
[[ $(grep -cE " (deployment\.failed|rollback\.started) " "$TMP/events.txt") == 1 ]] \
    || fail "the late failure failed the aborted deployment again: $(cat "$TMP/events.txt")"
check_events deployment.aborting deployment.aborted
echo "PASS test_deploy_bluegreen_abort_switches_back"
