#!/usr/bin/env bash
# test_cli_supervise_limit: past its restart limit, flotillad --supervise
# stops every child and exits 1, for the service manager to restart it.
# With --restart-intensity 2 --restart-period 60, the health actor is
# killed with SIGKILL twice (it comes back each time: the log says how long
# the restart took) and a third time: flotillad then says the limit was
# reached, exits 1, and no process of it is left. A flotillad killed with
# SIGKILL leaves no child either. Also: the options are documented in
# --help, and refused without --supervise.
source "$(dirname "$0")/lib.sh"
PORT=26120 EVENTS_PORT=26121

ctl_daemon () { capture flotillad "$FLOTILLAD" "$@"; }
ctl_daemon --help
expect_rc 0
expect_out "^      --supervise "
expect_out "^      --restart-intensity N +at most N restarts \(default 5\)"
expect_out "^      --restart-period S +\.\.\. within S seconds \(default 60\)"
ctl_daemon --restart-intensity 2
expect_rc 2
expect_err "are for --supervise"
ctl_daemon --supervise --restart-period 0
expect_rc 2
expect_err "--restart-period '0' is not a number in 1\.\.86400"

"$FLOTILLAD" --supervise --restart-intensity 2 --restart-period 60 -a events,health \
    -b "tcp://127.0.0.1:$PORT" -e "tcp://127.0.0.1:$EVENTS_PORT" --store "$TMP/flotilla.db" \
    2>>"$TMP/flotillad.log" &
DAEMON_PID=$!
bg_started "$DAEMON_PID"
export FLOTILLA_ENDPOINT="tcp://127.0.0.1:$PORT"

# The health actor's process: the child of flotillad that runs it.
health_pid () { pgrep -P "$DAEMON_PID" -f -- "--actors health " || true; }
# True if the health actor's current process is registered.
health_registered () {
    local pid
    pid=$(health_pid)
    [[ -n $pid ]] && "$FLOTCTL" actors --json --timeout 500 2>/dev/null | python3 -c '
import json, sys
sys.exit(not any(a["service"] == "health" and a["pid"] == int(sys.argv[1])
                 for a in json.load(sys.stdin).get("actors", [])))' "$pid"
}
wait_until 20 "the health actor" health_registered
children=$(pgrep -P "$DAEMON_PID" | tr '\n' ' ')

for round in 1 2; do
    old=$(health_pid)
    start=$(now_ms)
    kill -KILL "$old"
    # Not time-limited: only flotillad's exit ends the wait early.
    until [[ -n $(health_pid) && $(health_pid) != "$old" ]] && health_registered; do
        kill -0 "$DAEMON_PID" 2>/dev/null || fail "flotillad exited after restart $round"
        sleep 0.05
    done
    echo "round $round: health pid $old killed, pid $(health_pid) registered" \
         "$(( $(now_ms) - start )) ms later"
    children="$children $(health_pid)"
done
grep -q "restart 2 of at most 2 within 60 s" "$TMP/flotillad.log" \
    || fail "the log does not count the restarts"

old=$(health_pid)
start=$(now_ms)
kill -KILL "$old"
rc=0
wait "$DAEMON_PID" || rc=$?
echo "the third kill: flotillad exited $rc after $(( $(now_ms) - start )) ms"
[[ $rc == 1 ]] || fail "flotillad exited $rc past its restart limit, expected 1"
grep -qE "supervisor: restart limit reached: actor 'health' \(pid $old\) killed by signal 9 .*, and 2 restarts already happened within 60 s \(--restart-intensity 2, --restart-period 60\)" \
    "$TMP/flotillad.log" || fail "no clear line saying the restart limit was reached"
grep -q "flotillad: stopped: the restart limit was passed" "$TMP/flotillad.log" \
    || fail "no line saying why flotillad stopped"
for pid in $children; do
    ! kill -0 "$pid" 2>/dev/null || fail "child $pid outlived flotillad: $(ps -o pid,ppid,args -p "$pid")"
done
! pgrep -f -- "--connect tcp://127.0.0.1:$PORT " >/dev/null || fail "an actor of flotillad is left"
! pgrep -f -- "--broker-only --bind tcp://127.0.0.1:$PORT" >/dev/null \
    || fail "the broker of flotillad is left"

# A supervisor killed with SIGKILL cannot stop its children: the kernel
# does (PR_SET_PDEATHSIG), and none is left running as an orphan.
"$FLOTILLAD" --supervise -a events,health -b "tcp://127.0.0.1:$PORT" \
    -e "tcp://127.0.0.1:$EVENTS_PORT" --store "$TMP/flotilla.db" 2>>"$TMP/flotillad.log" &
DAEMON_PID=$!
bg_started "$DAEMON_PID"
wait_until 20 "the health actor" health_registered
children=$(pgrep -P "$DAEMON_PID" | tr '\n' ' ')
[[ $(wc -w <<<"$children") == 3 ]] || fail "expected 3 children (broker, events, health): $children"
kill -KILL "$DAEMON_PID"
{ wait "$DAEMON_PID"; } 2>/dev/null || true
children_gone () {
    local pid
    for pid in $children; do
        ! kill -0 "$pid" 2>/dev/null || return 1
    done
}
wait_until 10 "the children of a killed flotillad to die" children_gone
echo "PASS test_cli_supervise_limit"
