#!/usr/bin/env bash
# test_cli_supervise: flotillad --supervise runs the broker and each actor as
# a child process and restarts one that dies. A deployment completes. The
# executor is killed with SIGKILL while it runs a hook: it comes back, the
# coordinator's request was answered with an error (a step.waiting event
# says the step waits for the executor), the hook's run is reported
# orphaned and runs again as a new attempt, and the deployment completes
# (watch exits 0). Then the executor (between deployments), the health actor
# and the broker are
# killed with SIGKILL, each in turn: each comes back as a new process (the
# actors registered again under a new pid), the log says how it ended and
# how long the restart took, and `flotctl events` shows an actor.restarted
# event naming it. A deployment applied after all that completes. SIGTERM
# then stops every child, and flotillad exits 0, leaving no process behind.
# How long each restart took is printed; it is not limited (ctest's
# timeout is the only bound).
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
PORT=26110 EVENTS_PORT=26111

export CLI_RECORD=$TMP/record.log
cat > "$HOOKS_DIR/slow.sh" <<EOF
#!/bin/sh
echo "start \$FLOTILLA_STEP_ID \$FLOTILLA_ATTEMPT" >> "$TMP/slow.log"
sleep 2
echo "end \$FLOTILLA_STEP_ID \$FLOTILLA_ATTEMPT" >> "$TMP/slow.log"
EOF
chmod 755 "$HOOKS_DIR/slow.sh"
cat > "$TMP/slow.yaml" <<EOF
apiVersion: flotilla/v1
kind: Deployment
name: slow
workload: {name: api, version: "2.0", rollbackVersion: "1.0"}
targets: [{name: s1}]
strategy: {rolling: {}}
hook: {command: slow.sh, timeout: 20s}
policy: {progressDeadline: 2m}
EOF
( cd "$TMP" && exec "$FLOTILLAD" --supervise -b "tcp://127.0.0.1:$PORT" \
    -e "tcp://127.0.0.1:$EVENTS_PORT" --store "$TMP/flotilla.db" --hooks-dir "$HOOKS_DIR" ) \
    2>>"$TMP/flotillad.log" &
DAEMON_PID=$!
bg_started "$DAEMON_PID"
export FLOTILLA_ENDPOINT="tcp://127.0.0.1:$PORT"

# The pids a service's instances registered with (flotctl actors), one a
# line: a killed one is listed until the broker finds it dead.
actor_pid () {
    "$FLOTCTL" actors --json --timeout 500 2>/dev/null | python3 -c '
import json, sys
for a in json.load(sys.stdin).get("actors", []):
    if a["service"] == sys.argv[1]:
        print(a["pid"])' "$1" || true
}
# The child of flotillad that runs PATTERN (its command line).
child_pid () { pgrep -P "$DAEMON_PID" -f -- "$1" || true; }
registered () { [[ -n $(actor_pid "$1") ]]; }
registered_anew () { actor_pid "$1" | grep -qvx -- "$2"; }
coordinator_answers () { "$FLOTCTL" call coordinator List --timeout 300 >/dev/null 2>&1; }

wait_until 20 "the coordinator" coordinator_answers
for service in events strategy executor health analyzer rollback coordinator; do
    wait_until 10 "$service to register" registered "$service"
    # Each is a child process of its own, connected as a remote actor.
    pid=$(actor_pid "$service")
    [[ $(ps -o ppid= -p "$pid" | tr -d ' ') == "$DAEMON_PID" ]] \
        || fail "$service (pid $pid) is not a child of flotillad $DAEMON_PID"
done
broker=$(child_pid "--broker-only --bind tcp://127.0.0.1:$PORT")
[[ -n $broker ]] || fail "no broker child: $(pgrep -P "$DAEMON_PID" -af . || true)"

cd "$TMP"
ctl apply -f "$HERE/specs/rolling-3.yaml" --watch --timeout 5000
expect_rc 0
expect_out "^deployment chain-[0-9]+ completed: 3 of 3 steps"

# kill_and_wait SERVICE: SIGKILL to its process; waits until a new one has
# registered; prints how long that took.
kill_and_wait () {
    local old start
    old=$(actor_pid "$1")
    [[ -n $old ]] || fail "$1 is not registered"
    start=$(now_ms)
    kill -KILL "$old"
    until registered_anew "$1" "$old"; do
        kill -0 "$DAEMON_PID" 2>/dev/null || fail "flotillad exited after $1 was killed"
        sleep 0.05
    done
    echo "$1: pid $old killed, pid $(actor_pid "$1" | grep -vx -- "$old") registered" \
         "$(( $(now_ms) - start )) ms later"
}
# The executor, killed mid-hook: the deployment it serves completes.
"$FLOTCTL" apply -f "$TMP/slow.yaml" --watch > "$TMP/slow-watch.out" 2>&1 &
watcher=$!
slow_started () { grep -q "^start s1/1 1$" "$TMP/slow.log" 2>/dev/null; }
wait_until 10 "the slow hook to start" slow_started
kill_and_wait executor
rc=0
wait "$watcher" || rc=$?
[[ $rc == 0 ]] || fail "watch of the slow deployment exited $rc: $(cat "$TMP/slow-watch.out")"
[[ $(grep -c "^start s1/1 " "$TMP/slow.log") == 2 && $(grep -c "^end s1/1 2$" "$TMP/slow.log") == 1 ]] \
    && ! grep -q "^end s1/1 1$" "$TMP/slow.log" \
    || fail "the killed run did not run again once, as attempt 2: $(cat "$TMP/slow.log")"
slow=$(sed -n 's/^deployment \(slow-[0-9]*\) started: .*/\1/p' "$TMP/slow-watch.out")
slow_events=$("$FLOTCTL" events --json --timeout 2000 --deployment "$slow" --type step.)
grep -q '"step.waiting".*"executor"' <<<"$slow_events" \
    || fail "no step.waiting for the executor: $slow_events"
grep -q '"step.orphaned"' <<<"$slow_events" || fail "no step.orphaned: $slow_events"
kill_and_wait health

# The broker: the actors register again with the new one.
start=$(now_ms)
kill -KILL "$broker"
until [[ -n $(child_pid "--broker-only --bind tcp://127.0.0.1:$PORT") ]] \
    && [[ $(child_pid "--broker-only --bind tcp://127.0.0.1:$PORT") != "$broker" ]] \
    && "$FLOTCTL" ping --timeout 300 >/dev/null 2>&1; do
    kill -0 "$DAEMON_PID" 2>/dev/null || fail "flotillad exited after the broker was killed"
    sleep 0.05
done
echo "broker: pid $broker killed, a new broker answered $(( $(now_ms) - start )) ms later"
for service in events strategy executor health analyzer rollback coordinator; do
    until registered "$service"; do sleep 0.05; done
done
echo "broker: every actor registered again $(( $(now_ms) - start )) ms after the kill"

grep -qE "supervisor: actor 'executor' \(pid [0-9]+\) killed by signal 9 .* after running [0-9.]+ s; restarting it in [0-9]+ ms" \
    "$TMP/flotillad.log" || fail "the log does not say the executor was killed"
grep -qE "supervisor: the broker restarted as pid [0-9]+, [0-9]+ ms after pid $broker exited" \
    "$TMP/flotillad.log" || fail "the log does not say how long the broker's restart took"

# One actor.restarted event for each, published once events could take it.
restarted_events () {
    "$FLOTCTL" events --json --timeout 1000 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    e = json.loads(line)
    if e["type"] == "actor.restarted":
        d = e["data"]
        assert d["signal"] == 9 and "status" not in d, d
        assert d["restarts"] >= 1 and d["intensity"] == 5 and d["period_s"] == 60, d
        assert d["pid"] != d["previous_pid"] and e["deployment"] == "", e
        print(d["service"])' | sort | tr '\n' ' '
}
has_restarted_events () { [[ $(restarted_events) == "broker executor health " ]]; }
wait_until 20 "actor.restarted for the broker, executor and health (have: $(restarted_events))" \
    has_restarted_events

# The system still rolls out.
ctl apply -f "$HERE/specs/rolling-3.yaml" --watch --timeout 5000
expect_rc 0
expect_out "^deployment chain-[0-9]+ completed: 3 of 3 steps"
[[ $(wc -l <"$CLI_RECORD") == 6 ]] || fail "the hooks did not run once per target and deployment: $(cat "$CLI_RECORD")"

# SIGTERM: the children stop, the actors first, then the broker.
children=$(pgrep -P "$DAEMON_PID" | tr '\n' ' ')
kill -TERM "$DAEMON_PID"
rc=0
wait "$DAEMON_PID" || rc=$?
[[ $rc == 0 ]] || fail "flotillad exited $rc on SIGTERM, expected 0"
for pid in $children; do
    ! kill -0 "$pid" 2>/dev/null || fail "child $pid outlived flotillad"
done
grep -q "flotillad: stopped$" "$TMP/flotillad.log" || fail "no 'stopped' line"
coordinator_stop=$(grep -n "coordinator instance .* disconnected" "$TMP/flotillad.log" | tail -n 1 | cut -d: -f1)
events_stop=$(grep -n "events instance .* disconnected" "$TMP/flotillad.log" | tail -n 1 | cut -d: -f1)
[[ -n $coordinator_stop && -n $events_stop && $coordinator_stop -lt $events_stop ]] \
    || fail "the actors did not stop last started first (coordinator before events)"
echo "PASS test_cli_supervise"
