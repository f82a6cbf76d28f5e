#!/usr/bin/env bash
# test_cli_supervise_keys: flotillad --supervise with a key directory
# (--auth-dir). Its actor children connect as remote actors do, so without
# --cert it refuses to start, saying so. With an actor key for their
# services but not "supervisor", a killed actor still comes back, and its
# actor.restarted event is refused by events Publish (dropped, with a log
# line naming what the key lacks), not published. With a key that also
# names "supervisor", the events actor itself is killed: once it is back,
# its own actor.restarted is published, and the operator key reads it.
source "$(dirname "$0")/lib.sh"
PORT=26130 EVENTS_PORT=26131
KEYS=$TMP/keys
"$FLOTCTL" keys init --dir "$KEYS" >/dev/null
"$FLOTCTL" keys new plain --role actor --services events,health --targets '*' \
    --dir "$KEYS" --out "$TMP/plain.key" >/dev/null
"$FLOTCTL" keys new group --role actor --services events,health,supervisor --targets '*' \
    --dir "$KEYS" --out "$TMP/group.key" >/dev/null
"$FLOTCTL" keys new op --role operator --dir "$KEYS" --out "$TMP/op.key" >/dev/null
unset FLOTILLA_CERT FLOTILLA_BROKER_CERT
DAEMON=("$FLOTILLAD" --supervise -a events,health -b "tcp://127.0.0.1:$PORT"
        -e "tcp://127.0.0.1:$EVENTS_PORT" --store "$TMP/flotilla.db" --auth-dir "$KEYS")

rc=0
FLOTILLA_CONFIG=/dev/null "${DAEMON[@]}" 2>"$TMP/refused.log" || rc=$?
[[ $rc == 1 ]] || fail "--supervise --auth-dir without --cert exited $rc, expected 1"
grep -q "there is no key for them: give --cert FILE" "$TMP/refused.log" \
    || fail "no sentence saying a key is needed: $(cat "$TMP/refused.log")"
# flotctl, from here on, as the operator.
export FLOTILLA_ENDPOINT="tcp://127.0.0.1:$PORT" FLOTILLA_CERT=$TMP/op.key \
       FLOTILLA_BROKER_CERT=$KEYS/broker.pub

# start CERT: the supervised daemon with that key for its children.
start () {
    : >"$TMP/flotillad.log"
    FLOTILLA_CERT= FLOTILLA_BROKER_CERT= "${DAEMON[@]}" --cert "$1" \
        --broker-cert "$KEYS/broker.pub" 2>>"$TMP/flotillad.log" &
    DAEMON_PID=$!
    bg_started "$DAEMON_PID"
    wait_until 20 "events and health" both_registered
}
child_pid () { pgrep -P "$DAEMON_PID" -f -- "--actors $1 " || true; }
both_registered () {
    local out
    out=$("$FLOTCTL" actors --json --timeout 500 2>/dev/null) || return 1
    grep -q "\"pid\":$(child_pid events)," <<<"$out" \
        && grep -q "\"pid\":$(child_pid health)," <<<"$out"
}
stop () {
    kill -TERM "$DAEMON_PID"
    local rc=0
    wait "$DAEMON_PID" || rc=$?
    [[ $rc == 0 ]] || fail "flotillad exited $rc on SIGTERM"
}
restarted_of () {
    "$FLOTCTL" events --json --timeout 1000 2>/dev/null \
        | grep -c "\"type\":\"actor.restarted\".*\"service\":\"$1\"" || true
}

start "$TMP/plain.key"
old=$(child_pid health)
kill -KILL "$old"
wait_until 20 "health back under a new pid" both_registered
wait_until 10 "the refusal of actor.restarted" \
    grep -q "an actor.restarted event is dropped: events Publish refused it: key 'plain' (actor) may not call events.Publish" \
    "$TMP/flotillad.log"
[[ $(restarted_of health) == 0 ]] || fail "an actor.restarted was published with a key not for 'supervisor'"
stop

start "$TMP/group.key"
start_ms=$(now_ms)
kill -KILL "$(child_pid events)"
until [[ $(restarted_of events) == 1 ]]; do
    kill -0 "$DAEMON_PID" 2>/dev/null || fail "flotillad exited after events was killed"
    sleep 0.1
done
echo "events: killed; its actor.restarted was read $(( $(now_ms) - start_ms )) ms later"
stop
echo "PASS test_cli_supervise_keys"
