# lib.sh - shared by the flotctl process tests (tests/cli/test_cli_*.sh).
#
# Sourced with the test's arguments: FLOTILLAD FLOTCTL [HOSTILE_PUB], the
# built programs (CMake passes $<TARGET_FILE:...>). Gives a scratch folder
# ($TMP), starts flotillad on loopback ports and waits until it answers,
# runs flotctl capturing stdout, stderr and exit code, and on exit stops
# every process it started and removes $TMP. flotillad runs the programs of
# $HOOKS_DIR (its --hooks-dir): a copy of tests/cli/hooks unless the test sets it, as
# a test whose spec runs a probe or a provider does (to a folder of links).

set -euo pipefail

FLOTILLAD=${1:?usage: $0 FLOTILLAD FLOTCTL [HOSTILE_PUB]}
FLOTCTL=${2:?usage: $0 FLOTILLAD FLOTCTL [HOSTILE_PUB]}
HOSTILE_PUB=${3:-}
# Absolute, since some tests change folder.
[[ $FLOTILLAD == /* ]] || FLOTILLAD=$PWD/$FLOTILLAD
[[ $FLOTCTL == /* ]] || FLOTCTL=$PWD/$FLOTCTL
[[ -z $HOSTILE_PUB || $HOSTILE_PUB == /* ]] || HOSTILE_PUB=$PWD/$HOSTILE_PUB
TMP=$(mktemp -d "${TMPDIR:-/tmp}/flotctl-test.XXXXXX")
# A copy of tests/cli/hooks in a folder only we may write: flotillad refuses
# a hooks directory others may write, as a checkout's may be (umask 002).
HOOKS_DIR=$TMP/hooks
mkdir -m 0755 "$HOOKS_DIR"
cp -p "$(dirname "${BASH_SOURCE[0]}")"/hooks/* "$HOOKS_DIR/"
PIDS=()                 # background processes to stop on exit
unset FLOTILLA_ENDPOINT

cleanup () {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT

fail () {
    echo "FAIL: $*" >&2
    if [[ -s $TMP/flotillad.log ]]; then
        echo "--- flotillad log:" >&2
        tail -n 20 "$TMP/flotillad.log" >&2
    fi
    exit 1
}

now_ms () { echo $(( $(date +%s%N) / 1000000 )); }

# Registers a background process for cleanup: bg_started $!
bg_started () { PIDS+=("$1"); }

# start_daemon BROKER_PORT EVENTS_PORT [ACTORS]: runs flotillad (with
# $DAEMON_ARGS too, if set), sets
# FLOTILLA_ENDPOINT for flotctl, and waits (15 s at most) until ping answers
# and every listed actor is registered.
start_daemon () {
    local actors=${3:-events}
    "$FLOTILLAD" -a "$actors" -b "tcp://127.0.0.1:$1" \
        -e "tcp://127.0.0.1:$2" --store "$TMP/flotilla.db" --hooks-dir "$HOOKS_DIR" \
        ${DAEMON_ARGS:-} 2>>"$TMP/flotillad.log" &
    DAEMON_PID=$!
    bg_started "$DAEMON_PID"
    export FLOTILLA_ENDPOINT="tcp://127.0.0.1:$1"
    local deadline=$(( $(now_ms) + 15000 )) name
    until "$FLOTCTL" ping --timeout 300 >/dev/null 2>&1; do
        kill -0 "$DAEMON_PID" 2>/dev/null || fail "flotillad exited at start"
        (( $(now_ms) < deadline )) || fail "flotillad did not answer ping within 15 s"
        sleep 0.05
    done
    for name in ${actors//,/ }; do
        until "$FLOTCTL" actors --json --timeout 300 2>/dev/null \
                | grep -q "\"service\":\"$name\""; do
            (( $(now_ms) < deadline )) || fail "actor $name did not register within 15 s"
            sleep 0.05
        done
    done
}

# start_flotilla BROKER_PORT EVENTS_PORT: runs flotillad with its default
# actors (the coordinator among them) on its own store, from $TMP, with
# $HOOKS_DIR as its hooks directory: a spec's hook names a program there
# (record.sh). Hooks get CLI_RECORD=$TMP/record.log from its environment. Waits (15 s at most) until
# the coordinator answers; if it never registers (UNKNOWN_SERVICE), the test
# is skipped: exit 77, which CMake gives as SKIP_RETURN_CODE.
start_flotilla () {
    export CLI_RECORD=$TMP/record.log
    ( cd "$TMP" && exec "$FLOTILLAD" -b "tcp://127.0.0.1:$1" -e "tcp://127.0.0.1:$2" \
        --store "$TMP/flotilla.db" --hooks-dir "$HOOKS_DIR" ) 2>>"$TMP/flotillad.log" &
    DAEMON_PID=$!
    bg_started "$DAEMON_PID"
    export FLOTILLA_ENDPOINT="tcp://127.0.0.1:$1"
    local deadline=$(( $(now_ms) + 15000 ))
    until "$FLOTCTL" call coordinator List --timeout 300 >/dev/null 2>"$TMP/coordinator.err"; do
        kill -0 "$DAEMON_PID" 2>/dev/null || fail "flotillad exited at start"
        if (( $(now_ms) >= deadline )); then
            if grep -q UNKNOWN_SERVICE "$TMP/coordinator.err"; then
                echo "SKIP: no coordinator service in this flotillad (UNKNOWN_SERVICE)"
                exit 77
            fi
            fail "the coordinator did not answer within 15 s: $(cat "$TMP/coordinator.err")"
        fi
        sleep 0.05
    done
}

# started_id: the deployment id in the OUT of flotctl apply
# ("deployment chain-1 started: 3 steps").
started_id () {
    local id
    id=$(sed -n 's/^deployment \([^ ]*\) started: .*/\1/p' <<<"$OUT" | head -n 1)
    [[ -n $id ]] || fail "$LAST did not say which deployment started: $OUT"
    echo "$id"
}

# status_json ID EXPR: evaluates the Python expression EXPR over d, the
# deployment's GetStatus reply (flotctl status --json); prints the result.
status_json () {
    "$FLOTCTL" status "$1" --json --timeout 2000 | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(eval(sys.argv[1]))' "$2"
}

# status_is ID EXPR: true if EXPR (as for status_json) is True.
status_is () { [[ $(status_json "$1" "$2" 2>/dev/null) == True ]]; }

source "$(dirname "${BASH_SOURCE[0]}")/../lib/flotctl.sh"

# wait_until SECONDS WHAT COMMAND...: retries COMMAND every 50 ms.
wait_until () {
    local seconds=$1 what=$2
    local deadline=$(( $(now_ms) + seconds * 1000 ))
    shift 2
    until "$@"; do
        (( $(now_ms) < deadline )) || fail "timed out after $seconds s waiting for $what"
        sleep 0.05
    done
}

# lines_at_least FILE N
lines_at_least () { [[ -f $1 && $(wc -l <"$1") -ge $2 ]]; }

# stop_follower PID: SIGINT, then the follower must exit 0 within 3 s.
stop_follower () {
    kill -INT "$1"
    local deadline=$(( $(now_ms) + 3000 ))
    while kill -0 "$1" 2>/dev/null; do
        (( $(now_ms) < deadline )) || fail "flotctl events --follow ignored SIGINT"
        sleep 0.05
    done
    local rc=0
    wait "$1" || rc=$?
    [[ $rc == 0 ]] || fail "flotctl events --follow exited $rc on SIGINT, expected 0"
}

# publish DEPLOYMENT TYPE [COUNT]: publishes COUNT events (default 1).
publish () {
    local i
    for (( i = 0; i < ${3:-1}; i++ )); do
        "$FLOTCTL" call events Publish \
            "{\"type\":\"$2\",\"deployment\":\"$1\",\"message\":\"event $i\"}" \
            --json >/dev/null || fail "publish $2 for $1 failed"
    done
}

# check_seqs FILE FIRST LAST: FILE holds JSON events, one a line, with seq
# exactly FIRST..LAST in order (no gap, no duplicate).
check_seqs () {
    python3 - "$@" <<'PY' || fail "$1 does not hold events $2..$3 in order"
import json, sys
path, first, last = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
seqs = [json.loads(line)["seq"] for line in open(path) if line.strip()]
if seqs != list(range(first, last + 1)):
    sys.exit("%s: seqs are %s" % (path, seqs))
PY
}
