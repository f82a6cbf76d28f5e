#!/usr/bin/env bash
# test_deploy_one_per_target: a target (by workload and target name) is
# held by the deployment rolling it. A second apply of a spec that shares a
# target is refused with CONFLICT naming the holder, and starts nothing;
# one of another workload on the same target names is not held up. With
# --queue it is started but runs nothing until the holder ends, and a
# third queued behind it waits its turn; with --replace the holder is
# aborted and rolled back before the new one runs. A coordinator killed
# with a deployment queued keeps it queued, and starts it when its holder
# ends.
source "$(dirname "$0")/lib.sh"

# spec NAME WORKLOAD TARGETS SLOW DEADLINE: a rolling spec of workload
# WORKLOAD on TARGETS (names, comma-separated), every hook SLOW seconds,
# its progress deadline DEADLINE.
spec () {
    cat > "$TMP/$1.yaml" <<EOF
apiVersion: flotilla/v1
kind: Deployment
name: $1
workload: {name: $2, version: "2.0", rollbackVersion: "1.0"}
targets: [$(sed 's/\([a-z0-9][a-z0-9]*\)/{name: \1}/g' <<<"$3")]
strategy: {rolling: {}}
hook:
  command: ./hook.sh
  timeout: 20s
  env: {HOOK_LOG: "$HOOK_LOG", HOOK_SLEEP: "$4"}
policy: {maxConcurrency: 3, progressDeadline: $5}
EOF
}
spec first web "a, b" 2 1m
spec second web "b, c" 0 2s
spec third web "c" 0 2s
spec other api "a, b" 0 1m

# start_time ID TARGET / end_time ID TARGET: the line number of the first
# start (last end) of ID's hook on TARGET in the hook log.
start_line () { grep -n "^start $1 $2 " "$HOOK_LOG" | head -n 1 | cut -d: -f1; }
end_line () { grep -n "^end $1 $2 " "$HOOK_LOG" | tail -n 1 | cut -d: -f1; }

start_flotilla 24460

apply first
first=$ID
ctl apply -f "$TMP/second.yaml"
expect_rc 1
[[ $ERR == "flotctl: CONFLICT (12): target b of web is held by $first (running): apply it with queue to run after it, or with replace to abort it first" ]] \
    || fail "the second apply said: $ERR"
ctl list
grep -q "^second" <<<"$OUT" && fail "a refused apply started a deployment: $OUT"
apply other                         # another workload: not held up
other=$ID
ctl apply -f "$TMP/second.yaml" --queue --replace
expect_rc 2

# --queue: it waits its turn, with its progress deadline (2 s) stopped.
ctl apply -f "$TMP/second.yaml" --queue
expect_rc 0
second=$(sed -n 's/^deployment \([^ ]*\) started: .*/\1/p' <<<"$OUT")
ctl apply -f "$TMP/third.yaml" --queue
expect_rc 0
third=$(sed -n 's/^deployment \([^ ]*\) started: .*/\1/p' <<<"$OUT")
ctl status "$second"
grep -q "^queued *behind $first$" <<<"$OUT" || fail "status of $second: $OUT"
status_is "$third" "d['queued_behind'] == '$second'" \
    || fail "the third does not wait behind the second: $(status_json "$third" d)"
wait_state 20 "$other" completed
wait_state 30 "$first" completed
wait_state 30 "$second" completed
wait_state 30 "$third" completed
[[ $(start_line "$second" b) -gt $(end_line "$first" b) ]] \
    || fail "$second ran on b before $first was done: $(cat "$HOOK_LOG")"
[[ $(start_line "$second" c) -gt $(end_line "$first" b) ]] \
    || fail "$second ran c before $first had ended: $(cat "$HOOK_LOG")"
[[ $(start_line "$third" c) -gt $(end_line "$second" c) ]] \
    || fail "$third ran on c before $second was done: $(cat "$HOOK_LOG")"
status_is "$second" "'queued_behind' not in d" || fail "$(status_json "$second" d)"

# --replace: the holder is aborted and rolled back first.
apply first
holder=$ID
wait_until 10 "$holder's first hook" hook_ran "$holder" "^a "
ctl apply -f "$TMP/second.yaml" --replace
expect_rc 0
replacing=$(sed -n 's/^deployment \([^ ]*\) started: .*/\1/p' <<<"$OUT")
wait_state 30 "$holder" aborted
status_is "$holder" "d['last_error'] == 'replaced by $replacing'" \
    || fail "the replaced deployment says: $(status_json "$holder" d)"
wait_state 30 "$replacing" completed
[[ $(start_line "$replacing" b) -gt $(grep -n "^end $holder [ab] .* rollback " "$HOOK_LOG" | tail -n 1 | cut -d: -f1) ]] \
    || fail "$replacing ran before $holder was rolled back: $(cat "$HOOK_LOG")"

# A coordinator killed while one waits: it still waits, then starts.
apply first
holder=$ID
ctl apply -f "$TMP/second.yaml" --queue
expect_rc 0
queued=$(sed -n 's/^deployment \([^ ]*\) started: .*/\1/p' <<<"$OUT")
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || true
start_flotilla 24460
status_is "$queued" "d['queued_behind'] == '$holder'" \
    || fail "after the restart: $(status_json "$queued" d)"
wait_state 30 "$holder" completed
wait_state 30 "$queued" completed
[[ $(start_line "$queued" b) -gt $(end_line "$holder" b) ]] \
    || fail "$queued ran on b before $holder was done: $(cat "$HOOK_LOG")"
check_events deployment.queued deployment.dequeued
echo "PASS test_deploy_one_per_target"
