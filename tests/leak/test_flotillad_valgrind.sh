#!/usr/bin/env bash
# flotillad under valgrind: an embedded daemon and a broker with a separate
# actor process, each driven through a flotctl session (ping, actors,
# publish, replay, echo, a stream, a deadline, an unknown service and
# command), then stopped with SIGTERM. Fails on any leak or memory error.
set -euo pipefail
FLOTILLAD=$1
FLOTCTL=$2
VALGRIND=$3
WORK=$(mktemp -d)
PIDS=()
cleanup () {
    for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

# Run in the background as `vg LOG CMD... &`: exec, so that $! is valgrind's
# own pid and the signal reaches it.
vg () {
    local log=$1; shift
    exec "$VALGRIND" --quiet --leak-check=full --show-leak-kinds=definite,indirect,possible \
        --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 \
        --log-file="$log" "$@"
}

wait_ping () {
    local endpoint=$1 pid=$2
    for _ in $(seq 1 150); do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "flotillad (pid $pid) exited before answering on $endpoint" >&2
            return 1
        fi
        if "$FLOTCTL" --endpoint "$endpoint" --timeout 500 ping >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.2
    done
    echo "no answer from $endpoint" >&2
    return 1
}

session () {
    local ep=$1
    local c=("$FLOTCTL" --endpoint "$ep" --timeout 5000)
    "${c[@]}" ping
    "${c[@]}" actors
    "${c[@]}" call echo Echo '{"a":[1,2,{"b":"c"}]}'
    "${c[@]}" call echo Ticks '{"count":3,"interval_ms":20}'
    # A deadline, an unknown service, an unknown command, a bad body: errors.
    "${c[@]}" --timeout 200 call echo Sleep '{"ms":2000}' && return 1
    "${c[@]}" call nosuch Thing && return 1
    "${c[@]}" call echo Nope && return 1
    "${c[@]}" call echo Sleep '{"ms":"soon"}' && return 1
    return 0
}

check_log () {
    local name=$1 log=$2 status=$3
    if [ "$status" -ne 0 ] || [ -s "$log" ]; then
        echo "== $name: exit $status, valgrind said:" >&2
        cat "$log" >&2
        return 1
    fi
    echo "== $name: clean exit, no leaks, no errors"
}

# Someone else on our ports would answer in our place.
for port in 24001 24002 24011; do
    if "$FLOTCTL" --endpoint tcp://127.0.0.1:$port --timeout 300 ping >/dev/null 2>&1; then
        echo "port $port is already in use by another flotillad" >&2
        exit 1
    fi
done

# 1. Embedded: broker and actors as threads of one process.
vg "$WORK/embedded.vg" "$FLOTILLAD" -a events,echo -b tcp://127.0.0.1:24001 \
    -e tcp://127.0.0.1:24002 --store "$WORK/flotilla.db" 2>"$WORK/embedded.log" &
EMB=$!
PIDS+=("$EMB")
wait_ping tcp://127.0.0.1:24001 "$EMB"
session tcp://127.0.0.1:24001
for i in $(seq 1 5); do
    "$FLOTCTL" --endpoint tcp://127.0.0.1:24001 call events Publish \
        "{\"type\":\"test.leak\",\"deployment\":\"d$i\",\"data\":{\"i\":$i}}" >/dev/null
done
"$FLOTCTL" --endpoint tcp://127.0.0.1:24001 events --since 1 >/dev/null
kill -TERM "$EMB"
status=0; wait "$EMB" || status=$?
check_log embedded "$WORK/embedded.vg" "$status"

# 2. A broker process and an actor process over tcp.
vg "$WORK/broker.vg" "$FLOTILLAD" --broker-only -b tcp://127.0.0.1:24011 \
    2>"$WORK/broker.log" &
BRK=$!
PIDS+=("$BRK")
vg "$WORK/actor.vg" "$FLOTILLAD" --connect tcp://127.0.0.1:24011 -a echo \
    --instance leak-echo --store "$WORK/actor.db" 2>"$WORK/actor.log" &
ACT=$!
PIDS+=("$ACT")
wait_ping tcp://127.0.0.1:24011 "$BRK"
for _ in $(seq 1 100); do
    "$FLOTCTL" --endpoint tcp://127.0.0.1:24011 --timeout 500 call echo Echo '{}' \
        >/dev/null 2>&1 && break
    sleep 0.2
done
session tcp://127.0.0.1:24011
kill -TERM "$ACT"
status=0; wait "$ACT" || status=$?
check_log actor "$WORK/actor.vg" "$status"
kill -TERM "$BRK"
status=0; wait "$BRK" || status=$?
check_log broker "$WORK/broker.vg" "$status"
