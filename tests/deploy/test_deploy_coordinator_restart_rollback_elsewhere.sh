#!/usr/bin/env bash
# test_deploy_coordinator_restart_rollback_elsewhere: the coordinator runs
# in its own process, the other actors (the rollback service among them) in
# another. The coordinator is killed with SIGKILL while the rollback
# service reverts a failed deployment, and started again: it asks for the
# rollback again, and the rollback service, which still runs it, lets the
# new coordinator take it up: it hears what was reverted and what runs, and
# no rollback hook runs twice. The deployment ends rolled back, every
# touched target reverted once.
source "$(dirname "$0")/lib.sh"

cat > "$TMP/far.yaml" <<EOF
apiVersion: flotilla/v1
kind: Deployment
name: far
workload: {name: web, version: "6.1", rollbackVersion: "6.0"}
targets:
  - {name: a}
  - {name: b, dependsOn: [a]}
  - {name: c, dependsOn: [b]}
strategy: {rolling: {}}
hook:
  command: ./hook.sh
  timeout: 20s
  env: {HOOK_LOG: "$HOOK_LOG", HOOK_FAIL: "c/apply", HOOK_SLOW: "b/rollback=6"}
policy: {onFailure: failAll, progressDeadline: 1m}
rollback: {mode: gradual}
EOF

# The broker and every actor but the coordinator.
( cd "$TMP" && exec "$FLOTILLAD" -b tcp://127.0.0.1:24290 -e tcp://127.0.0.1:24291 \
    --store "$TMP/actors.db" --hooks-dir "$TMP" -a events,strategy,executor,health,analyzer,rollback ) \
    2>>"$TMP/actors.log" &
ACTORS_PID=$!
COORDINATOR_PID=
trap 'kill -KILL $COORDINATOR_PID 2>/dev/null || true; kill -TERM $ACTORS_PID 2>/dev/null || true
      wait $ACTORS_PID 2>/dev/null || true; cleanup' EXIT
export FLOTILLA_ENDPOINT=tcp://127.0.0.1:24290

start_coordinator () {
    ( cd "$TMP" && exec "$FLOTILLAD" --connect tcp://127.0.0.1:24290 -a coordinator \
        --store "$TMP/flotilla.db" --heartbeat 200 --liveness 3 ) 2>>"$TMP/flotillad.log" &
    COORDINATOR_PID=$!
    coordinator () { "$FLOTCTL" call coordinator List --timeout 300 >/dev/null 2>&1; }
    wait_until 10 "the coordinator" coordinator
}

start_coordinator
apply far
id=$ID
wait_until 20 "b's rollback hook to start" hook_ran "$id" "^b b/rollback rollback"
kill -KILL "$COORDINATOR_PID"
wait "$COORDINATOR_PID" 2>/dev/null || true
sleep 1                         # the broker sees it gone; b's rollback still runs
start_coordinator
wait_state 40 "$id" rolled_back
grep -q "$id: asked again while its rollback runs" "$TMP/actors.log" \
    || fail "the restarted coordinator did not take up the old rollback: $(tail -n 20 "$TMP/actors.log")"
status_is "$id" "states(d) == 'a:rolled_back b:rolled_back c:rolled_back'" \
    || fail "target states: $(status_json "$id" "states(d)")"
for t in a b c; do
    hook_ended "$id" "^$t $t/rollback rollback 6.0 6.1 0 [0-9]+ 0$" \
        || fail "$t was not reverted: $(hook_calls "$id" end)"
done
order=$(hook_calls "$id" | awk '$3 == "rollback" { print $1 }' | tr '\n' ' ')
[[ $order == "c b a " ]] || fail "rollback hooks, in order (each once): $order"
check_events
echo "PASS test_deploy_coordinator_restart_rollback_elsewhere"
