#!/usr/bin/env bash
# test_net_faults.sh - a rollout across hosts survives the faults of issue 12.
#
# Builds a small network of its own, as test_net_security.sh does: network
# namespaces joined by veth pairs on a bridge, addresses in 10.213.78.0/24
# (a private range this test sets up and removes). The broker, the
# coordinator (with strategy and rollback), two executor hosts (each with
# health, its own hooks directory and its own store, so its record of runs
# outlives it), the analyzer (with events) and an operator each run in their
# own namespace with their own keys. Each case rolls a deployment of 6
# targets (two of them after another, 3 at once, 1.5 s hooks, 3 retries)
# and injects one fault mid-hook:
#   1  kill -9 of the executor, started again after 15 s
#   2  the executor's link down for 10 s        3  ... for 30 s
#   4  the coordinator's link down for 20 s
#   5  kill -9 of the broker, started again after 3 s
#   6  two executors serve the targets; kill -9 of one of them mid-hook
#   7  a second coordinator (its own store) started mid-rollout
#   8  two executors serve the targets; kill -9 of the broker, started
#      again after 3 s. A restarted broker has forgotten which instance ran
#      which step (SPEC 4.2), so the same attempt asked again may reach the
#      other executor, which has no record of it: it answers NOT_FOUND to
#      a step asked `again` (SPEC 17), and the step runs a new attempt.
# In every case: the deployment completes and nothing is rolled back; the
# event stream has no gap and the deployment's events end with
# deployment.completed; `flotctl watch`, started before the fault, exits 0;
# no two runs of one step overlap and no attempt ran twice; a run its
# executor killed has a step.orphaned event and ran again as a new attempt
# (faults_check.py checks the hook log and the events). In case 7 the
# second coordinator is refused and its flotillad exits non-zero.
#
# FAULTS_CASES="1 5" runs only those cases (default: 1 to 8). FAULTS_WRAP runs
# every flotillad under a program, for one case under valgrind:
#   FAULTS_CASES=5 FAULTS_WRAP="valgrind -q --leak-check=full
#       --errors-for-leak-kinds=definite --error-exitcode=99" test_net_faults.sh ...
# At the end each flotillad still running must exit 0 on SIGTERM (so a
# sanitizer's or valgrind's report fails the test).
# Needs root (CI runs as root); exits 77 (skip) without it. Always removes
# what it made.
#
# Usage: test_net_faults.sh FLOTILLAD FLOTCTL

set -euo pipefail
# A command that fails outside fail () says where, before the test exits.
trap 'echo "FAIL: line $LINENO: \"$BASH_COMMAND\" exited $?" >&2' ERR

FLOTILLAD=${1:?usage: $0 FLOTILLAD FLOTCTL}
FLOTCTL=${2:?usage: $0 FLOTILLAD FLOTCTL}
[[ $FLOTILLAD == /* ]] || FLOTILLAD=$PWD/$FLOTILLAD
[[ $FLOTCTL == /* ]] || FLOTCTL=$PWD/$FLOTCTL
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CASES=${FAULTS_CASES:-1 2 3 4 5 6 7 8}
read -r -a WRAP <<<"${FAULTS_WRAP:-}"

NET=10.213.78
TAG=ff$$
HOSTS=(broker coord exec1 exec2 ana op coord2)
declare -A ADDR=([broker]=1 [coord]=2 [exec1]=3 [exec2]=4 [ana]=5 [op]=6 [coord2]=7)
BROKER=tcp://$NET.1:5555
EVENTS=tcp://$NET.5:5556
HB=300
LIVENESS=3
source "$HERE/lib.sh"
declare -A PID=()       # the flotillad of each host, while it runs

# ctl ARGS...: flotctl as the operator alice, from the operator's host.
ctl () {
    on op "$FLOTCTL" --endpoint "$BROKER" --cert "$TMP/alice.key" \
        --broker-cert "$TMP/keys/broker.pub" "$@"
}

# --- the network --------------------------------------------------------
net_build

# --- keys: made on the broker's host; each secret goes to its host -------
"$FLOTCTL" keys init --dir "$TMP/keys" >/dev/null
newkey coord actor --services coordinator,strategy,rollback --targets '*'
newkey coord2 actor --services coordinator,strategy,rollback --targets '*'
newkey exec1 actor --services executor,health
newkey exec2 actor --services executor,health
newkey ana actor --services analyzer,events
newkey alice operator

# --- the hook: record.sh, in each executor host's hooks directory -----------
# Appends "start|end DEPLOYMENT STEP TYPE ATTEMPT PID HOST NS" to $FAULTS_LOG
# (NS: the time in ns) and, every 0.1 s while it runs (1.5 s), the time to
# $FAULTS_LOG.alive/DEPLOYMENT.PID: a run killed on the way has no end line,
# and that file says until when it lived.
export FAULTS_LOG=$TMP/hooks.out
mkdir "$FAULTS_LOG.alive"
: > "$FAULTS_LOG"
for host in exec1 exec2; do
    mkdir -m 0755 "$TMP/hooks-$host"
    cat > "$TMP/hooks-$host/record.sh" <<'EOF'
#!/bin/sh
set -u
log=${FAULTS_LOG:?FAULTS_LOG is not set}
run="$FLOTILLA_DEPLOYMENT $FLOTILLA_STEP_ID $FLOTILLA_STEP_TYPE $FLOTILLA_ATTEMPT $$ ${FAULTS_HOST:-?}"
echo "start $run $(date +%s%N)" >> "$log"
i=0
while [ $i -lt 15 ]; do
    date +%s%N > "$log.alive/$FLOTILLA_DEPLOYMENT.$$"
    sleep 0.1
    i=$((i + 1))
done
echo "end $run $(date +%s%N)" >> "$log"
EOF
    chmod 0755 "$TMP/hooks-$host/record.sh"
done

# --- the hosts --------------------------------------------------------------
start () {     # start HOST ARGS...: HOST's flotillad, logging to HOST.log
    local host=$1
    shift
    # Not through on (): $! must be flotillad's pid, for kill -9.
    ip netns exec "$TAG-$host" env -u FLOTILLA_CERT -u FLOTILLA_BROKER_CERT \
        -u FLOTILLA_AUTH_DIR -u FLOTILLA_ENDPOINT FLOTILLA_HOME="$TMP/home-$host" \
        FLOTILLA_CONFIG=/dev/null FAULTS_LOG="$FAULTS_LOG" FAULTS_HOST="$host" \
        "${WRAP[@]}" "$FLOTILLAD" "$@" 2>>"$TMP/$host.log" &
    PID[$host]=$!
    PIDS+=($!)
}
actor_args () {
    echo --connect "$BROKER" --cert "$TMP/$1.key" --broker-cert "$TMP/keys/broker.pub" \
        --heartbeat $HB --liveness $LIVENESS
}
start_broker () {
    start broker --broker-only --bind "$BROKER" --auth-dir "$TMP/keys" \
        --heartbeat $HB --liveness $LIVENESS
}
start_coord () {     # start_coord HOST
    start "$1" $(actor_args "$1") --actors strategy,rollback,coordinator \
        --store "$TMP/$1.db"
}
start_exec () {      # start_exec HOST
    start "$1" $(actor_args "$1") --actors executor,health --hooks-dir "$TMP/hooks-$1" \
        --store "$TMP/$1.db"
}
start_broker
start_coord coord
start_exec exec1
start ana $(actor_args ana) --actors events,analyzer --events-bind "$EVENTS" \
    --store "$TMP/ana.db"

# executors: how many executor instances are live.
executors () {
    ctl actors --json --timeout 1000 2>/dev/null \
        | "$PY" -c 'import json,sys; print(sum(a["service"] == "executor" for a in json.load(sys.stdin)["actors"]))' \
        2>/dev/null || echo 0
}
all_registered () {
    local out s
    out=$(ctl actors --json --timeout 1000 2>/dev/null) || return 1
    for s in coordinator strategy rollback executor health analyzer events; do
        grep -q "\"service\": *\"$s\"" <<<"$out" || return 1
    done
}
wait_registered () {
    local deadline=$(( $(now_ms) + 30000 ))
    until all_registered; do
        (( $(now_ms) < deadline )) || fail "the actors did not all register: $(ctl actors 2>&1)"
        sleep 0.2
    done
}
wait_registered
echo "all actors registered across the namespaces"

# --- helpers of a case -----------------------------------------------------------
spec () {      # spec CASE: the spec of case CASE's deployment, on stdout
    cat <<EOF
apiVersion: flotilla/v1
kind: Deployment
name: faults$1
workload: {name: web$1, version: "2", rollbackVersion: "1"}
targets:
  - {name: c$1-t1}
  - {name: c$1-t2}
  - {name: c$1-t3}
  - {name: c$1-t4, dependsOn: [c$1-t1]}
  - {name: c$1-t5, dependsOn: [c$1-t2]}
  - {name: c$1-t6}
strategy: {rolling: {}}
hook: {command: record.sh, timeout: 30s, retries: 3, backoff: 1s}
policy: {maxConcurrency: 3, progressDeadline: 5m}
EOF
}

state_of () {  # state_of ID: its state, or nothing when no answer
    ctl status "$1" --json --timeout 2000 2>/dev/null \
        | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["state"])' 2>/dev/null || true
}

# running DEP [HOST]: how many of DEP's runs (on HOST) started 0.3 to 1 s
# ago (of the 1.5 s a hook takes) and have not ended; ended DEP: how many
# ended.
running () {
    awk -v d="$1" -v h="${2:-}" -v now="$(date +%s%N)" '
        $2 != d || (h != "" && $7 != h) { next }
        $1 == "start" && now - $8 >= 300000000 && now - $8 <= 1000000000 { run[$6] = 1 }
        $1 == "end" { delete run[$6] }
        END { n = 0; for (p in run) n++; print n }' "$FAULTS_LOG"
}
ended () { awk -v d="$1" '$1 == "end" && $2 == d { n++ } END { print n + 0 }' "$FAULTS_LOG"; }

# mid_hook DEP [HOST]: waits until DEP is mid-rollout (a run ended) and a
# hook (on HOST) is halfway through its run.
mid_hook () {
    local deadline=$(( $(now_ms) + 60000 ))
    until (( $(ended "$1") >= 1 && $(running "$1" "${2:-}") >= 1 )); do
        (( $(now_ms) < deadline )) || fail "$1 did not get to a running hook: $(tail -5 "$FAULTS_LOG")"
        sleep 0.05
    done
}
runs_on () {   # runs_on DEP: the hosts of DEP's running hooks, one a line
    awk -v d="$1" '$2 != d { next } $1 == "start" { run[$6] = $7 } $1 == "end" { delete run[$6] }
        END { for (p in run) print run[p] }' "$FAULTS_LOG" | sort -u
}

# begin CASE WHAT: applies the case's deployment and starts `flotctl watch`;
# sets ID, WATCH and T0.
begin () {
    CASE=$1
    echo "=== case $1: $2"
    spec "$1" > "$TMP/case$1.yaml"
    T0=$(now_ms)
    local out
    out=$(ctl apply -f "$TMP/case$1.yaml" 2>&1) || fail "case $1: apply failed: $out"
    ID=$(grep -Eo "faults$1-[0-9]+" <<<"$out" | head -1)
    [[ -n $ID ]] || fail "case $1: apply named no deployment: $out"
    ctl watch "$ID" > "$TMP/watch$1.out" 2>"$TMP/watch$1.err" &
    WATCH=$!
    PIDS+=($WATCH)
}

# finish: waits (generously) for the case's deployment to end, and for its
# watch; then checks the hook log and the events.
finish () {
    local deadline=$(( $(now_ms) + 240000 )) state=
    until [[ $state == completed ]]; do
        state=$(state_of "$ID")
        case $state in
            failed|rolled_back|aborted|rollback_failed)
                fail "case $CASE: $ID is $state: $(ctl status "$ID" 2>&1 | tail -20)" ;;
        esac
        (( $(now_ms) < deadline )) || fail "case $CASE: $ID is '$state', not completed, after 240 s"
        sleep 0.3
    done
    local took=$(( $(now_ms) - T0 ))
    deadline=$(( $(now_ms) + 60000 ))
    while kill -0 "$WATCH" 2>/dev/null; do
        (( $(now_ms) < deadline )) || fail "case $CASE: watch $ID did not exit after it completed"
        sleep 0.2
    done
    local rc=0
    wait "$WATCH" || rc=$?
    [[ $rc == 0 ]] || fail "case $CASE: watch $ID exited $rc: $(tail -5 "$TMP/watch$CASE.err")"
    ctl --json events --timeout 5000 > "$TMP/events$CASE.out" 2>"$TMP/events$CASE.err" \
        || fail "case $CASE: flotctl events failed: $(cat "$TMP/events$CASE.err")"
    echo "case $CASE: $ID completed in $(( took / 1000 )).$(( took % 1000 / 100 )) s; watch exited 0"
    "$PY" "$HERE/faults_check.py" "$FAULTS_LOG" "$TMP/events$CASE.out" "$FAULTS_LOG.alive" "$ID" \
        || fail "case $CASE: the checks above failed"
}

kill9 () {     # kill9 HOST: SIGKILL to HOST's flotillad
    local pid=${PID[$1]}
    kill -KILL "$pid"
    wait "$pid" 2>/dev/null || true
    unset "PID[$1]"
}

# --- the cases ------------------------------------------------------------------
case_1 () {
    begin 1 "kill -9 of the executor mid-hook, started again after 15 s"
    mid_hook "$ID"
    kill9 exec1
    echo "killed exec1 with $(running "$ID") hook(s) running"
    sleep 15
    start_exec exec1
    finish
}
case_link () {   # case_link CASE HOST SECONDS
    begin "$1" "the link of $2 down for $3 s mid-hook"
    mid_hook "$ID"
    cable "$2" down
    echo "pulled $2's cable with $(running "$ID") hook(s) running"
    sleep "$3"
    cable "$2" up
    finish
}
case_5 () {
    begin 5 "kill -9 of the broker mid-rollout, started again after 3 s"
    mid_hook "$ID"
    kill9 broker
    sleep 3
    start_broker
    finish
}
two_executors () {
    if [[ -z ${PID[exec2]:-} ]]; then
        start_exec exec2
    fi
    if [[ -z ${PID[exec1]:-} ]]; then
        start_exec exec1
    fi
    local deadline=$(( $(now_ms) + 30000 ))
    until [[ $(executors) == 2 ]]; do
        (( $(now_ms) < deadline )) || fail "the two executors did not both register"
        sleep 0.2
    done
}
case_6 () {
    two_executors
    begin 6 "two executors; kill -9 of one of them mid-hook"
    mid_hook "$ID"
    local victim
    victim=$(runs_on "$ID" | head -1)
    [[ $victim == exec1 || $victim == exec2 ]] || fail "case 6: no executor runs a hook of $ID"
    echo "both executors serve; $(runs_on "$ID" | tr '\n' ' ')run hooks; killing $victim"
    kill9 "$victim"
    finish
}
case_8 () {
    two_executors
    begin 8 "two executors; kill -9 of the broker mid-rollout, started again after 3 s"
    mid_hook "$ID"
    kill9 broker
    sleep 3
    start_broker
    finish
}
case_7 () {
    begin 7 "a second coordinator started mid-rollout"
    mid_hook "$ID"
    start_coord coord2
    local pid=${PID[coord2]} deadline=$(( $(now_ms) + 30000 )) rc=0
    while kill -0 "$pid" 2>/dev/null; do
        (( $(now_ms) < deadline )) || fail "case 7: the second coordinator still runs after 30 s"
        sleep 0.2
    done
    wait "$pid" || rc=$?
    unset "PID[coord2]"
    [[ $rc != 0 ]] || fail "case 7: the second coordinator's flotillad exited 0"
    (( ! ${#WRAP[@]} )) || [[ $rc != 99 ]] || fail "case 7: ${WRAP[0]} reported on the second coordinator"
    grep -Eq "CONFLICT|one instance at a time" "$TMP/coord2.log" \
        || fail "case 7: the second coordinator's log does not say why it stopped"
    echo "the second coordinator was refused: flotillad exited $rc: $(grep -Em1 'one instance at a time' "$TMP/coord2.log" | cut -c1-160)"
    finish
}

T_ALL=$(now_ms)
for c in $CASES; do
    wait_registered
    case $c in
        1) case_1 ;;
        2) case_link 2 exec1 10 ;;
        3) case_link 3 exec1 30 ;;
        4) case_link 4 coord 20 ;;
        5) case_5 ;;
        6) case_6 ;;
        7) case_7 ;;
        8) case_8 ;;
        *) fail "FAULTS_CASES: no case '$c' (1 to 8)" ;;
    esac
    for host in "${!PID[@]}"; do
        kill -0 "${PID[$host]}" 2>/dev/null || fail "after case $c: $host's flotillad died"
    done
done
took=$(( $(now_ms) - T_ALL ))
# Each flotillad still running stops on SIGTERM and exits 0: a sanitizer
# that found a leak, or valgrind under FAULTS_WRAP (--error-exitcode), would
# make it exit otherwise.
for host in "${!PID[@]}"; do
    kill -TERM "${PID[$host]}"
done
for host in "${!PID[@]}"; do
    rc=0
    wait "${PID[$host]}" || rc=$?
    [[ $rc == 0 ]] || fail "$host's flotillad exited $rc on SIGTERM"
done
! grep -l "Sanitizer\|runtime error:" "$TMP"/*.log || fail "a sanitizer reported (above)"
echo "PASS: cases $CASES in $(( took / 1000 )) s"
