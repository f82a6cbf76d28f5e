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

# wait_service ENDPOINT SERVICE COMMAND: until the service answers (slow
# under valgrind: each actor starts in turn).
wait_service () {
    for _ in $(seq 1 150); do
        "$FLOTCTL" --endpoint "$1" --timeout 1000 call "$2" "$3" '{}' >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    echo "$2 did not answer on $1" >&2
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

# A deployment through the coordinator, the executor and a real hook: one
# that completes, one that fails and is rolled back (by the rollback
# service), one waiting at a pause when the daemon stops, and one whose
# gate runs a health check and an analysis (a command probe and a command
# metric) and passes; and one queued behind the paused one (it shares its
# targets) when the daemon stops.
deploy () {
    local ep=$1
    local c=("$FLOTCTL" --endpoint "$ep" --timeout 10000)
    printf '#!/bin/sh\n[ "$FLOTILLA_TARGET" = "$FAIL_ON" ] && [ "$FLOTILLA_STEP_TYPE" != rollback ] && exit 1\nexit 0\n' \
        > "$WORK/hook.sh"
    chmod +x "$WORK/hook.sh"
    ln -sf /bin/true "$WORK/up"         # the hooks directory ($WORK) allows these
    ln -sf /bin/echo "$WORK/echo"
    # Each its own workload (a target is held by one deployment at a time),
    # but for "later", queued behind "wait" until the daemon stops.
    for case in ok:none bad:b wait:none gated:none later:none; do
        local name=${case%%:*} fail=${case##*:} steps="setWeight: 50" workload=${case%%:*}
        [ "$name" = wait ] && steps="setWeight: 50, pause: {}"
        [ "$name" = gated ] && steps="setWeight: 50, gate: {name: g}"
        [ "$name" = later ] && workload=wait
        printf 'apiVersion: flotilla/v1\nkind: Deployment\nname: %s\nworkload: {name: %s, version: "2"}\ntargets: [{name: a}, {name: b, dependsOn: [a]}]\nstrategy: {canary: {steps: [%s]}}\nhook: {command: ./hook.sh, env: {FAIL_ON: %s}}\n' \
            "$name" "$workload" "$steps" "$fail" > "$WORK/$name.yaml"
        [ "$name" = gated ] && printf 'healthChecks: [{name: up, command: {command: up}, period: 200ms}]\nanalysis: {interval: 200ms, metrics: [{name: e, provider: {command: {command: echo, args: ["0.01"]}}, successCondition: "result < 0.05", count: 2}]}\n' \
            >> "$WORK/$name.yaml"
        local body
        body=$(python3 -c 'import json,sys; print(json.dumps({"spec": open(sys.argv[1]).read(), "file": "x.yaml", "cwd": sys.argv[2], "on_conflict": "queue"}))' "$WORK/$name.yaml" "$WORK")
        "${c[@]}" call coordinator Plan "$body" >/dev/null
        "${c[@]}" call coordinator Execute "$body" >/dev/null
    done
    for _ in $(seq 1 100); do
        "${c[@]}" --json call coordinator List > "$WORK/list.json"
        python3 -c 'import json,sys; d={x["name"]: x["state"] for x in json.load(open(sys.argv[1]))["deployments"]}; sys.exit(0 if d.get("ok")=="completed" and d.get("bad")=="rolled_back" and d.get("gated")=="completed" else 1)' "$WORK/list.json" && return 0
        sleep 0.2
    done
    echo "deployments did not finish: $(cat "$WORK/list.json")" >&2
    return 1
}

check_log () {
    local name=$1 log=$2 status=$3
    # Reports are "==PID==" lines; "--PID--" lines are valgrind's own notes
    # (such as a system call it does not know, which we fall back from).
    if [ "$status" -ne 0 ] || grep -q '^==[0-9]*==' "$log"; then
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
vg "$WORK/embedded.vg" "$FLOTILLAD" -a events,echo,strategy,executor,health,analyzer,rollback,coordinator \
    -b tcp://127.0.0.1:24001 \
    -e tcp://127.0.0.1:24002 --store "$WORK/flotilla.db" --hooks-dir "$WORK" \
    2>"$WORK/embedded.log" &
EMB=$!
PIDS+=("$EMB")
wait_ping tcp://127.0.0.1:24001 "$EMB"
wait_service tcp://127.0.0.1:24001 coordinator List
wait_service tcp://127.0.0.1:24001 echo Echo
session tcp://127.0.0.1:24001
for i in $(seq 1 5); do
    "$FLOTCTL" --endpoint tcp://127.0.0.1:24001 call events Publish \
        "{\"type\":\"test.leak\",\"deployment\":\"d$i\",\"data\":{\"i\":$i}}" >/dev/null
done
"$FLOTCTL" --endpoint tcp://127.0.0.1:24001 events --since 1 >/dev/null
deploy tcp://127.0.0.1:24001
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
wait_service tcp://127.0.0.1:24011 echo Echo
session tcp://127.0.0.1:24011
kill -TERM "$ACT"
status=0; wait "$ACT" || status=$?
check_log actor "$WORK/actor.vg" "$status"
kill -TERM "$BRK"
status=0; wait "$BRK" || status=$?
check_log broker "$WORK/broker.vg" "$status"
