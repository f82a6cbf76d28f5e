#!/usr/bin/env bash
# test_cli_one_coordinator: the coordinator runs one instance at a time (its
# contract's "instances": "one", SPEC 4.1). A second coordinator, with a
# store of its own, is refused while the first is registered: it logs why,
# naming the first, and its flotillad exits non-zero, while the first goes
# on serving. Once the first is killed and the liveness window has passed,
# a new one registers. A coordinator cut off (SIGSTOP) past the liveness
# window, whose place another took meanwhile, is refused when it comes back
# (SIGCONT) and exits non-zero naming the other, which goes on serving.
source "$(dirname "$0")/lib.sh"

PORT=26201
ENDPOINT=tcp://127.0.0.1:$PORT
HB=(--heartbeat 200 --liveness 3)    # the liveness window: 600 ms

"$FLOTILLAD" --broker-only -b "$ENDPOINT" "${HB[@]}" 2>>"$TMP/flotillad.log" &
bg_started $!
export FLOTILLA_ENDPOINT=$ENDPOINT
pings () { "$FLOTCTL" ping --timeout 300 >/dev/null 2>&1; }
wait_until 5 "the broker to answer ping" pings

# coordinator NAME: starts a coordinator process registering as NAME, with
# its own store, logging to $TMP/NAME.log; sets COORD_PID.
coordinator () {
    "$FLOTILLAD" --connect "$ENDPOINT" -a coordinator --instance "$1" \
        --store "$TMP/$1.db" "${HB[@]}" 2>"$TMP/$1.log" &
    COORD_PID=$!
    bg_started "$COORD_PID"
}

# registered NAME: the broker lists coordinator instance NAME.
registered () {
    "$FLOTCTL" actors --json --timeout 500 2>/dev/null \
        | python3 -c '
import json, sys
names = [a["instance"] for a in json.load(sys.stdin)["actors"] if a["service"] == "coordinator"]
sys.exit(0 if names == [sys.argv[1]] else 1)' "$1"
}

# exits_nonzero PID WHAT: PID ends within 5 s with a status other than 0.
exits_nonzero () {
    local deadline=$(( $(now_ms) + 5000 )) rc
    while kill -0 "$1" 2>/dev/null; do
        (( $(now_ms) < deadline )) || fail "$2 still runs after 5 s"
        sleep 0.05
    done
    rc=0
    wait "$1" || rc=$?
    (( rc != 0 )) || fail "$2 exited 0, expected non-zero"
}

# serves: flotctl list answers (the coordinator's List).
serves () {
    ctl list --timeout 2000
    expect_rc 0
}

# 1. A second coordinator is refused while the first is registered.
coordinator coord-a
A=$COORD_PID
wait_until 5 "coord-a to register" registered coord-a
serves

coordinator coord-b
B=$COORD_PID
exits_nonzero "$B" "the refused coordinator coord-b"
why="coord-a on $(hostname) (pid $A) is the coordinator: one instance at a time"
grep -q "refused instance coord-b (CONFLICT): $why; stopping" "$TMP/coord-b.log" \
    || fail "coord-b's log does not say why it stopped: $(cat "$TMP/coord-b.log")"
grep -q "actor coordinator: $why; exiting" "$TMP/coord-b.log" \
    || fail "coord-b's flotillad does not say why it exits: $(cat "$TMP/coord-b.log")"
grep -q "refused READY for 'coordinator' from coord-b .*CONFLICT: $why" "$TMP/flotillad.log" \
    || fail "the broker did not log the refusal"
kill -0 "$A" 2>/dev/null || fail "coord-a stopped"
registered coord-a || fail "the broker no longer lists coord-a alone"
serves

# 2. Once the first is dead (SIGKILL) and its liveness window has passed, a
# new coordinator registers.
kill -KILL "$A"
wait "$A" 2>/dev/null || true
sleep 0.8
coordinator coord-c
C=$COORD_PID
wait_until 5 "coord-c to register once coord-a is dead" registered coord-c
serves

# 3. A coordinator cut off past the liveness window (SIGSTOP) finds its
# place taken when it comes back (SIGCONT): it is refused and exits.
kill -STOP "$C"
wait_until 5 "the broker to find the stopped coord-c dead" \
    bash -c "! \"\$0\" actors --json --timeout 500 | grep -q coord-c" "$FLOTCTL"
coordinator coord-d
D=$COORD_PID
wait_until 5 "coord-d to register in coord-c's place" registered coord-d
kill -CONT "$C"
exits_nonzero "$C" "the coordinator coord-c, back after its place was taken"
why="coord-d on $(hostname) (pid $D) is the coordinator: one instance at a time"
grep -q "refused instance coord-c (CONFLICT): $why; stopping" "$TMP/coord-c.log" \
    || fail "coord-c's log does not say why it stopped: $(cat "$TMP/coord-c.log")"
kill -0 "$D" 2>/dev/null || fail "coord-d stopped"
registered coord-d || fail "the broker no longer lists coord-d alone"
serves
echo "PASS test_cli_one_coordinator"
