# lib.sh - shared by the deployment process tests (tests/deploy/test_deploy_*.sh).
#
# Sourced with the test's arguments: FLOTILLAD FLOTCTL, the built programs.
# Gives a scratch folder ($TMP) holding the hook (hook.sh, a copy of
# hook_record.sh), its log ($HOOK_LOG) and the specs; starts flotillad on
# its own store there, with $TMP as its hooks directory (--hooks-dir: a
# spec's hook, probe or provider names a program there, as ./hook.sh);
# applies specs and drives deployments with flotctl; reads the hook log back. On exit it stops flotillad (which stops its
# hooks), then any hook still alive, and removes $TMP.

set -euo pipefail

FLOTILLAD=${1:?usage: $0 FLOTILLAD FLOTCTL}
FLOTCTL=${2:?usage: $0 FLOTILLAD FLOTCTL}
[[ $FLOTILLAD == /* ]] || FLOTILLAD=$PWD/$FLOTILLAD
[[ $FLOTCTL == /* ]] || FLOTCTL=$PWD/$FLOTCTL
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/flotilla-deploy.XXXXXX")
HOOK_LOG=$TMP/hooks.log
DAEMON_PID=
unset FLOTILLA_ENDPOINT
cp "$HERE/hook_record.sh" "$TMP/hook.sh"
chmod +x "$TMP/hook.sh"
: > "$HOOK_LOG"

cleanup () {
    local pid i=0
    if declare -F stop_prometheus >/dev/null; then
        stop_prometheus
    fi
    if [[ -n $DAEMON_PID ]]; then
        kill -TERM "$DAEMON_PID" 2>/dev/null || true
        while kill -0 "$DAEMON_PID" 2>/dev/null && (( i++ < 100 )); do
            sleep 0.05
        done
        kill -KILL "$DAEMON_PID" 2>/dev/null || true
        wait "$DAEMON_PID" 2>/dev/null || true
    fi
    # Each hook leads its own process group; flotillad kills those it runs.
    if [[ -f $HOOK_LOG.pids ]]; then
        while read -r pid; do
            kill -KILL -- "-$pid" 2>/dev/null || true
        done < "$HOOK_LOG.pids"
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

fail () {
    echo "FAIL: $*" >&2
    echo "--- hook log:" >&2
    cat "$HOOK_LOG" >&2 || true
    if [[ -s $TMP/flotillad.log ]]; then
        echo "--- flotillad log:" >&2
        tail -n 60 "$TMP/flotillad.log" >&2
    fi
    # What the test's other processes said on stderr ($TMP/NAME.err).
    local err
    for err in "$TMP"/*.err; do
        if [[ -s $err ]]; then
            echo "--- $(basename "$err"):" >&2
            tail -n 60 "$err" >&2
        fi
    done
    exit 1
}

now_ms () { echo $(( $(date +%s%N) / 1000000 )); }

# start_flotilla PORT [OPTION...]: flotillad with its default actors (and
# -v if FLOTILLA_TEST_VERBOSE is set), the broker on PORT and events on
# PORT+1 (tests use 24100..24499, and 27200..27399), its store and its
# hooks directory in $TMP, and the options, run from $TMP; waits (15 s at
# most) until the coordinator answers.
start_flotilla () {
    ( cd "$TMP" && exec "$FLOTILLAD" -b "tcp://127.0.0.1:$1" -e "tcp://127.0.0.1:$(( $1 + 1 ))" \
        --store "$TMP/flotilla.db" --hooks-dir "$TMP" ${FLOTILLA_TEST_VERBOSE:+-v} "${@:2}" ) \
        2>>"$TMP/flotillad.log" &
    DAEMON_PID=$!
    export FLOTILLA_ENDPOINT="tcp://127.0.0.1:$1"
    local deadline=$(( $(now_ms) + 15000 ))
    until "$FLOTCTL" call coordinator List --timeout 300 >/dev/null 2>&1; do
        kill -0 "$DAEMON_PID" 2>/dev/null || fail "flotillad exited at start"
        (( $(now_ms) < deadline )) || fail "the coordinator did not answer within 15 s"
        sleep 0.05
    done
}

source "$(dirname "${BASH_SOURCE[0]}")/../lib/flotctl.sh"

# apply NAME [OPTION...]: flotctl apply -f $TMP/NAME.yaml with the options;
# sets ID to the deployment id (from "deployment NAME-1 started: 12
# steps"), and OUT as ctl does.
apply () {
    local name=$1
    shift
    ctl apply -f "$TMP/$name.yaml" "$@"
    expect_rc 0
    ID=$(sed -n 's/^deployment \([^ ]*\) started: .*/\1/p' <<<"$OUT")
    [[ -n $ID ]] || fail "$LAST did not say which deployment started: $OUT"
}

# status_json ID EXPR: evaluates the Python expression EXPR over d, the
# deployment's `flotctl status --json`, and prints it. EXPR may span
# lines. Helpers in EXPR:
# states(d) is "target:state ..." in spec order.
status_json () {
    "$FLOTCTL" status "$1" --json --timeout 2000 | python3 -c '
import json, sys
d = json.load(sys.stdin)
def states (d):
    return " ".join ("%s:%s" % (t["name"], t["state"]) for t in d["targets"])
print (eval ("(" + sys.argv[1] + ")"))' "$2"
}

# status_is ID EXPR: true if EXPR (as for status_json) is True.
status_is () { [[ $(status_json "$1" "$2" 2>/dev/null) == True ]]; }

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

# wait_state SECONDS ID STATE: waits until the deployment is in STATE.
wait_state () {
    wait_until "$1" "$2 to be $3 (it is $(status_json "$2" "d['state']" 2>/dev/null || echo '?'))" \
        status_is "$2" "d['state'] == '$3'"
}

# events_until ID PATTERN: the events of deployment ID into $TMP/events.txt,
# once one matches the ERE PATTERN (10 s at most). An event reaches the
# events service just after the change it reports, so a test that saw the
# change in GetStatus waits for its event before reading them.
events_until () {
    local deadline=$(( $(now_ms) + 10000 ))
    until "$FLOTCTL" events --deployment "$1" > "$TMP/events.txt" 2>/dev/null \
          && grep -qE -- "$2" "$TMP/events.txt"; do
        (( $(now_ms) < deadline )) \
            || fail "no event of $1 matches /$2/ after 10 s: $(cat "$TMP/events.txt")"
        sleep 0.05
    done
}

# hook_calls ID [start|end]: the hook calls of deployment ID in the order
# they started (or ended), one a line:
#   TARGET STEP_ID STEP_TYPE VERSION PREVIOUS WEIGHT ATTEMPT [STATUS]
hook_calls () {
    awk -v id="$1" -v what="${2:-start}" \
        '$1 == what && $2 == id { $1 = ""; $2 = ""; sub (/^  /, ""); print }' "$HOOK_LOG"
}

# hook_ran ID PATTERN: true if a started hook call of ID matches the ERE.
hook_ran () { hook_calls "$1" | grep -qE -- "$2"; }

# hook_ended ID PATTERN: true if an ended hook call of ID matches the ERE.
hook_ended () { hook_calls "$1" end | grep -qE -- "$2"; }

# check_events TYPE...: every event published so far is as the events
# contract defines it (check_events.py: its type, its data field by field,
# one end per deployment, its last), and each TYPE was among them.
check_events () {
    "$FLOTCTL" --json events > "$TMP/all-events.json" || fail "flotctl --json events failed"
    python3 "$HERE/check_events.py" "$HERE/../../protocol/contracts/events.json" \
        "$TMP/all-events.json" ${CHECK_EVENTS_TYPES:+--types} --expect "$@" \
        || fail "the events are not as protocol/contracts/events.json defines them"
}
