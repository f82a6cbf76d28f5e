#!/usr/bin/env bash
# test_deploy_deadline_while_paused: the progress deadline (2s) holds in
# every state of a running deployment, not only while steps run.
#   A canary that waits at a manual pause, with nobody to promote it, is
#   failed by the deadline some 2 s after its last step ended, and rolled
#   back: last error "no progress within the progress deadline of 2000 ms
#   (waiting for a promote)".
#   A rolling deployment held with `flotctl pause` after its first target
#   is failed the same way "(paused)": the second target never runs.
source "$(dirname "$0")/lib.sh"

cat > "$TMP/waits.yaml" <<EOF
apiVersion: flotilla/v1
kind: Deployment
name: waits
workload: {name: web, version: "2.0", rollbackVersion: "1.9"}
targets:
  - {name: w1}
strategy:
  canary:
    steps:
      - setWeight: 50
      - pause: {}
hook:
  command: ./hook.sh
  timeout: 10s
  env: {HOOK_LOG: "$HOOK_LOG"}
policy: {progressDeadline: 2s}
EOF

cat > "$TMP/held.yaml" <<EOF
apiVersion: flotilla/v1
kind: Deployment
name: held
workload: {name: web, version: "2.0", rollbackVersion: "1.9"}
targets:
  - {name: h1}
  - {name: h2}
strategy:
  rolling: {}
hook:
  command: ./hook.sh
  timeout: 10s
  env: {HOOK_LOG: "$HOOK_LOG", HOOK_SLOW: "h1/apply=1"}
policy: {maxConcurrency: 1, progressDeadline: 2s}
EOF

# deadline_hit ID SINCE WHY: the deployment leaves running between 1.5 and
# 4 s after SINCE (ms), and ends rolled_back with the deadline as its error.
# SINCE is taken once a poll saw the last progress, up to a poll or two
# (each a flotctl and a python3, slow under a sanitizer) after it: hence
# 1.5 s, which still tells a deadline of 2 s from one that fired early.
deadline_hit () {
    wait_until 10 "$1 to stop running" status_is "$1" "d['state'] != 'running'"
    local elapsed=$(( $(now_ms) - $2 ))
    (( elapsed >= 1500 && elapsed <= 4000 )) \
        || fail "$1 was failed $elapsed ms after its last progress, not 2 s"
    wait_state 10 "$1" rolled_back
    status_is "$1" "d['last_error'] == 'no progress within the progress deadline of 2000 ms ($3)'" \
        || fail "rolled back, but: $(status_json "$1" d)"
    echo "$1: failed by the deadline $elapsed ms after its last progress"
}

start_flotilla 24230

# Waiting for a promote.
apply waits
id=$ID
wait_until 10 "w1 waiting at its pause" status_is "$id" \
    "d['state'] == 'running' and states(d) == 'w1:waiting' and d['steps_done'] == 1"
since=$(now_ms)
deadline_hit "$id" "$since" "waiting for a promote"
[[ $(hook_calls "$id" end) == $'w1 w1/1 setWeight 2.0 1.9 50 1 0\nw1 w1/rollback rollback 1.9 2.0 0 1 0' ]] \
    || fail "hooks: $(hook_calls "$id" end)"

# Paused by an operator while h1's hook runs; h1 ends, h2 never starts.
apply held
id=$ID
ctl pause "$id"
expect_rc 0
[[ $OUT == "deployment $id: running, paused" ]] || fail "pause said: $OUT"
wait_until 10 "h1's hook to end" hook_ended "$id" "^h1 h1/1 apply "
since=$(now_ms)
deadline_hit "$id" "$since" "paused"
[[ $(hook_calls "$id" end) == $'h1 h1/1 apply 2.0 1.9 100 1 0\nh1 h1/rollback rollback 1.9 2.0 0 1 0' ]] \
    || fail "hooks: $(hook_calls "$id" end)"
check_events
echo "PASS test_deploy_deadline_while_paused"
