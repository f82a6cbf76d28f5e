#!/usr/bin/env bash
# flotillad is killed with SIGKILL in the middle of a rolling deployment
# over 24 targets and started again on the same store. The deployment must
# complete; every step's hook must have ended exactly once, but for the
# steps that were running at the kill (run again under the same step id);
# and the event sequence must have no gap across the restart.
set -euo pipefail
FLOTILLAD=$1
FLOTCTL=$2
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
PORT=24101
EP=tcp://127.0.0.1:$PORT
DAEMON=
cleanup () {
    [ -n "$DAEMON" ] && kill -KILL "$DAEMON" 2>/dev/null || true
    # Hooks left running by the killed daemon.
    pkill -f "$TMP" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
fail () { echo "FAIL: $*" >&2; tail -20 "$TMP/flotillad.log" >&2 || true; exit 1; }

cp "$HERE/hook_slow.sh" "$TMP/hook.sh"
{
    echo "apiVersion: flotilla/v1"
    echo "kind: Deployment"
    echo "name: crash"
    echo "workload: {name: web, version: \"3.1\", rollbackVersion: \"3.0\"}"
    echo "targets:"
    for i in $(seq 1 24); do
        if [ "$i" -gt 4 ]; then
            echo "  - {name: t$i, dependsOn: [t$((i - 4))]}"
        else
            echo "  - {name: t$i}"
        fi
    done
    echo "strategy: {rolling: {}}"
    echo "hook: {command: ./hook.sh, timeout: 10s}"
    echo "policy: {maxConcurrency: 4, progressDeadline: 60s}"
} > "$TMP/crash.yaml"

start () {
    "$FLOTILLAD" -b "$EP" -e "tcp://127.0.0.1:$((PORT + 1))" --store "$TMP/flotilla.db" \
        --hooks-dir "$TMP" 2>>"$TMP/flotillad.log" &
    DAEMON=$!
    for _ in $(seq 1 100); do
        if "$FLOTCTL" --endpoint "$EP" --timeout 300 call coordinator List >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    fail "flotillad did not answer"
}

status () {
    "$FLOTCTL" --endpoint "$EP" --json --timeout 2000 call coordinator GetStatus '{"id":"crash-1"}' \
        | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["state"], d["steps_done"])'
}

start
BODY=$(python3 -c 'import json,sys; print(json.dumps({"spec": open(sys.argv[1]).read(), "file": "crash.yaml", "cwd": sys.argv[2]}))' "$TMP/crash.yaml" "$TMP")
"$FLOTCTL" --endpoint "$EP" call coordinator Execute "$BODY" >/dev/null

# Kill it once some steps are done and others are running.
for _ in $(seq 1 100); do
    ends=$( (wc -l < "$TMP/ends.log") 2>/dev/null || echo 0)
    [ "$ends" -ge 6 ] && break
    sleep 0.05
done
[ "$ends" -ge 6 ] || fail "the deployment did not get going"
kill -KILL "$DAEMON"
wait "$DAEMON" 2>/dev/null || true
DAEMON=
echo "killed after $ends steps ended"
sleep 0.5          # the hooks that were running finish on their own

start
for _ in $(seq 1 300); do
    read -r state done < <(status)
    [ "$state" = completed ] && break
    case "$state" in failed|rolled_back|aborted|rollback_failed) fail "deployment $state";; esac
    sleep 0.1
done
[ "$state" = completed ] || fail "not completed after the restart (state $state)"

# Every step ended once, but for those interrupted: they ran again.
python3 - "$TMP" <<'PY'
import collections, sys
tmp = sys.argv[1]
starts = [l.split() for l in open(tmp + "/starts.log")]
ends = [l.split() for l in open(tmp + "/ends.log")]
ended = collections.Counter(s for s, a, v in ends)
started = collections.Counter(s for s, a in starts)
steps = ["t%d/1" % i for i in range(1, 25)]
missing = [s for s in steps if ended[s] == 0]
assert not missing, "never ended: %s" % missing
again = [s for s in steps if started[s] > 1]
for s in again:
    attempts = sorted(int(a) for x, a in starts if x == s)
    assert attempts == list(range(1, len(attempts) + 1)), "%s attempts %s" % (s, attempts)
twice = [s for s in steps if ended[s] > 1]
assert set(twice) <= set(again), "ran twice without being interrupted: %s" % twice
assert len(again) <= 4, "more steps ran again than were running: %s" % again
assert all(v == "3.1" for s, a, v in ends), "a hook saw the wrong version"
print("steps run again after the kill: %s" % (again or "none"))
PY

# Events: consecutive from 1, across the restart, ending with completion.
"$FLOTCTL" --endpoint "$EP" --json events --since 1 > "$TMP/events.json"
python3 - "$TMP/events.json" <<'PY'
import json, sys
events = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
seqs = [e["seq"] for e in events]
assert seqs == list(range(1, len(seqs) + 1)), "a gap or a repeat: %s" % seqs[:50]
types = [e["type"] for e in events if e.get("deployment") == "crash-1"]
assert types[0] == "deployment.started" and types[-1] == "deployment.completed", types[-3:]
print("%d events, consecutive" % len(seqs))
PY
echo "ok"
