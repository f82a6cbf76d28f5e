#!/usr/bin/env bash
# test_deploy_crash_during_rollback: flotillad is killed with SIGKILL while
# the rollback service reverts a failed deployment, one target at a time,
# and started again on the same store. The rollback goes on where it was:
# every target the deployment touched is reverted, each rollback hook ran to
# its end once (the one interrupted by the kill died with its executor and
# ran again as a new attempt of the same step id), and the deployment ends
# rolled back, its events without a gap.
source "$(dirname "$0")/lib.sh"

cat > "$TMP/fall.yaml" <<EOF
apiVersion: flotilla/v1
kind: Deployment
name: fall
workload: {name: web, version: "4.1", rollbackVersion: "4.0"}
targets:
  - {name: a}
  - {name: b, dependsOn: [a]}
  - {name: c, dependsOn: [b]}
  - {name: d, dependsOn: [c]}
  - {name: e, dependsOn: [d]}
strategy: {rolling: {}}
hook:
  command: ./hook.sh
  timeout: 10s
  env: {HOOK_LOG: "$HOOK_LOG", HOOK_FAIL: "e/apply", HOOK_SLOW: "c/rollback=2"}
policy: {onFailure: failAll, progressDeadline: 1m}
rollback: {mode: gradual}
EOF

start_flotilla 24270
apply fall
id=$ID
# e fails; d, c, b, a are reverted in that order; kill while c's runs.
wait_until 20 "c's rollback hook to start" hook_ran "$id" "^c c/rollback rollback"
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || true
DAEMON_PID=
sleep 2.5                       # long enough for c's hook to have ended, had it lived
start_flotilla 24270
wait_state 30 "$id" rolled_back

ended=$(hook_calls "$id" end | awk '$3 == "rollback" { print $1 }' | sort | uniq -c | awk '{ print $2 ":" $1 }' | tr '\n' ' ')
[[ $ended == "a:1 b:1 c:1 d:1 e:1 " ]] \
    || fail "rollback hooks ended (target:times): $ended, expected each once"
# c's first attempt died with its executor (section 17: orphaned) and never
# ended; the second ran to its end.
c_runs=$(hook_calls "$id" | awk '$2 == "c/rollback" { print $7 }' | tr '\n' ' ')
c_ends=$(hook_calls "$id" end | awk '$2 == "c/rollback" { print $7 }' | tr '\n' ' ')
[[ $c_runs == "1 2 " && $c_ends == "2 " ]] \
    || fail "c's rollback attempts started: $c_runs, ended: $c_ends; expected 1 2 and 2"
order=$(hook_calls "$id" | awk '$3 == "rollback" { print $1 }' | uniq | tr '\n' ' ')
[[ $order == "e d c b a " ]] || fail "rollback order: $order"
status_is "$id" "states(d) == 'a:rolled_back b:rolled_back c:rolled_back d:rolled_back e:rolled_back'" \
    || fail "target states: $(status_json "$id" "states(d)")"
events_until "$id" "deployment.rolled_back "
seqs=$("$FLOTCTL" events --deployment "$id" --json | python3 -c '
import json, sys
print (" ".join (str (json.loads (line)["seq"]) for line in sys.stdin if line.strip ()))')
python3 - "$seqs" <<'PY' || fail "the events of $id have a gap: $seqs"
import sys
s = [int (x) for x in sys.argv[1].split ()]
sys.exit (0 if s and s == list (range (s[0], s[0] + len (s))) else 1)
PY
check_events
echo "PASS test_deploy_crash_during_rollback"
