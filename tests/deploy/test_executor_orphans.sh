#!/usr/bin/env bash
# test_executor_orphans: an executor in its own flotillad, connected over
# tcp to a broker in another, on heartbeat 200 ms x liveness 3.
#
# 1. Link loss: the broker is stopped (SIGSTOP) for longer than the
#    liveness window while a hook runs. The executor kills the hook's
#    process group (the hook and its child) and, once the broker is back,
#    the same ExecuteStep answers `orphaned` without running it again; the
#    next attempt runs.
# 2. Crash: the executor is killed (SIGKILL) while a hook runs. The hook
#    dies with it (PR_SET_PDEATHSIG); the hook's child does not, until the
#    executor starts again on the same record: it kills what is left of the
#    group and the same ExecuteStep answers `orphaned`.
source "$(dirname "$0")/lib.sh"

BROKER=tcp://127.0.0.1:26010
export FLOTILLA_ENDPOINT=$BROKER
mkdir -m 0755 "$TMP/hooks"
# sleep.sh SECONDS: logs "start DEPLOYMENT ATTEMPT PID CHILD", sleeps in a
# child, logs "end".
cat > "$TMP/hooks/sleep.sh" <<EOF
#!/bin/sh
sleep "\$1" &
child=\$!
echo "start \$FLOTILLA_DEPLOYMENT \$FLOTILLA_ATTEMPT \$\$ \$child" >> "$TMP/runs.log"
wait \$child
echo "end \$FLOTILLA_DEPLOYMENT \$FLOTILLA_ATTEMPT" >> "$TMP/runs.log"
EOF
chmod 0755 "$TMP/hooks/sleep.sh"
: > "$TMP/runs.log"

( cd "$TMP" && exec "$FLOTILLAD" --broker-only -b "$BROKER" --heartbeat 200 --liveness 3 ) \
    2>>"$TMP/broker.err" &
BROKER_PID=$!
EXECUTOR_PID=
trap 'kill -CONT $BROKER_PID 2>/dev/null || true
      kill -KILL $EXECUTOR_PID 2>/dev/null || true; kill -TERM $BROKER_PID 2>/dev/null || true
      wait $BROKER_PID 2>/dev/null || true
      for pid in $(awk "/^start/ {print \$4, \$5}" "$TMP/runs.log" 2>/dev/null); do
          kill -KILL "$pid" 2>/dev/null || true
      done; cleanup' EXIT

start_executor () {
    ( cd "$TMP" && exec "$FLOTILLAD" --connect "$BROKER" -a executor --hooks-dir "$TMP/hooks" \
        --store "$TMP/flotilla.db" --heartbeat 200 --liveness 3 ) 2>>"$TMP/executor.err" &
    EXECUTOR_PID=$!
    wait_until 10 "the executor to register" executor_live
}
# The broker's only executor is the one started last.
executor_live () {
    [[ $("$FLOTCTL" actors --timeout 300 2>/dev/null | awk '$1 == "executor" { print $4 }') \
       == "$EXECUTOR_PID" ]]
}
broker_live () { "$FLOTCTL" ping --timeout 300 >/dev/null 2>&1; }

# step DEPLOYMENT ATTEMPT SECONDS: an ExecuteStep body for sleep.sh.
step () {
    printf '{"deployment":"%s","step_id":"t/1","type":"apply","target":"t","version":"2",' "$1"
    printf '"attempt":%s,"hook":{"command":"sleep.sh","args":["%s"],"timeout_ms":60000}}' "$2" "$3"
}
execute () { "$FLOTCTL" call executor ExecuteStep "$(step "$@")" --key t --timeout 20000; }
starts () { grep -c "^start $1 $2 " "$TMP/runs.log" || true; }
started () { [[ $(starts "$1" "$2") -ge 1 ]]; }
pids_of () { awk -v d="$1" -v a="$2" '$1 == "start" && $2 == d && $3 == a {print $4, $5}' "$TMP/runs.log"; }
gone () { local pid; for pid in "$@"; do ! kill -0 "$pid" 2>/dev/null || return 1; done; }
field () { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

wait_until 10 "the broker" broker_live
start_executor

# 1. Link loss.
execute lost 1 30 > "$TMP/first.out" 2>"$TMP/first.err" &
FIRST=$!
wait_until 10 "the hook to start" started lost 1
read -r hook child <<<"$(pids_of lost 1)"
kill -STOP "$BROKER_PID"
sleep 1.5                       # past 200 ms x 3: the executor counts it lost
wait_until 5 "the orphaned hook's group to be killed" gone "$hook" "$child"
kill -CONT "$BROKER_PID"
wait "$FIRST" 2>/dev/null || true
wait_until 10 "the executor to hear the broker again" grep -q "the broker is back" "$TMP/executor.err"
out=$(execute lost 1 30) || fail "the same ExecuteStep again failed: $out"
[[ $(field status <<<"$out") == orphaned ]] || fail "the same key after the link loss: $out"
[[ $(field pid <<<"$out") == "$hook" ]] || fail "orphaned, but not the run of pid $hook: $out"
[[ $(starts lost 1) == 1 ]] || fail "attempt 1 ran $(starts lost 1) times"
grep -q "^end lost 1" "$TMP/runs.log" && fail "the orphaned hook ran to its end"
grep -q "step t/1 of lost attempt 1: the broker is lost; stopping its hook" "$TMP/executor.err" \
    || fail "the executor did not say it stopped the hook"
out=$(execute lost 2 0) || fail "attempt 2 failed: $out"
[[ $(field status <<<"$out") == succeeded ]] || fail "attempt 2: $out"

# 2. Crash and restart on the same record.
execute crash 1 30 > /dev/null 2>&1 &
SECOND=$!
wait_until 10 "the hook to start" started crash 1
read -r hook child <<<"$(pids_of crash 1)"
kill -KILL "$EXECUTOR_PID"
wait "$EXECUTOR_PID" 2>/dev/null || true
wait_until 5 "the hook to die with its executor" gone "$hook"
kill -0 "$child" 2>/dev/null || fail "the hook's child died with the executor already"
wait "$SECOND" 2>/dev/null || true
start_executor
wait_until 5 "the restart sweep to kill the hook's child" gone "$child"
out=$(execute crash 1 30) || fail "the same ExecuteStep after the restart failed: $out"
[[ $(field status <<<"$out") == orphaned ]] || fail "the same key after the restart: $out"
[[ $(starts crash 1) == 1 ]] || fail "attempt 1 ran $(starts crash 1) times"
grep -q "step t/1 of crash attempt 1 was running when this executor stopped: orphaned, its hook's process group killed" \
    "$TMP/executor.err" || fail "the restarted executor did not say it killed the orphan"
echo "ok: orphaned by a link loss and by a crash, each run once"
