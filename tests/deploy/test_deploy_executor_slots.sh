#!/usr/bin/env bash
# test_deploy_executor_slots: 2,000 one-step deployments at once (400 in
# the sanitizer build, SLOTS_DEPLOYMENTS, where each costs more) on an
# executor with 16 slots, each hook sleeping 0.2 s with a timeout of 1 s.
# Most wait in the executor's queue far longer than their hook's timeout;
# none fails for it: the timeout counts from the hook's spawn, and the
# coordinator's call lasts as long as the progress deadline. Every
# deployment completes, every hook ran once (attempt 1), and never more
# than 16 at a time.
source "$(dirname "$0")/lib.sh"

COUNT=${SLOTS_DEPLOYMENTS:-2000}
SLOTS=16
cat > "$TMP/sleepy.sh" <<EOF
#!/bin/sh
echo "start \$FLOTILLA_DEPLOYMENT \$FLOTILLA_ATTEMPT \$(date +%s%N)" >> "$TMP/runs.log"
sleep 0.2
echo "end \$FLOTILLA_DEPLOYMENT \$FLOTILLA_ATTEMPT \$(date +%s%N)" >> "$TMP/runs.log"
EOF
chmod +x "$TMP/sleepy.sh"
mkdir "$TMP/specs"
for i in $(seq 1 $COUNT); do
    cat > "$TMP/specs/s$i.yaml" <<EOF
apiVersion: flotilla/v1
kind: Deployment
name: s$i
workload: {name: web, version: "2.0", rollbackVersion: "1.0"}
targets: [{name: t$i}]
strategy: {rolling: {}}
hook: {command: ./sleepy.sh, timeout: 1s}
policy: {progressDeadline: 10m}
EOF
done

( cd "$TMP" && exec "$FLOTILLAD" -b tcp://127.0.0.1:24480 -e tcp://127.0.0.1:24481 \
    --store "$TMP/flotilla.db" --hooks-dir "$TMP" --executor-slots $SLOTS ) \
    2>>"$TMP/flotillad.log" &
DAEMON_PID=$!
export FLOTILLA_ENDPOINT=tcp://127.0.0.1:24480
coordinator () { "$FLOTCTL" call coordinator List --timeout 300 >/dev/null 2>&1; }
wait_until 10 "the coordinator" coordinator

started=$(now_ms)
ls "$TMP/specs" | xargs -P 4 -I{} "$FLOTCTL" apply -f "$TMP/specs/{}" --no-check --timeout 30000 \
    > "$TMP/applied.txt" 2> "$TMP/apply-errors.txt" || fail "an apply failed: $(head "$TMP/apply-errors.txt")"
echo "applied $COUNT deployments in $(( $(now_ms) - started )) ms"

# states: how many deployments are in each state, as "STATE=N ...".
states () {
    "$FLOTCTL" --json list --timeout 5000 | python3 -c '
import collections, json, sys
c = collections.Counter (d["state"] for d in json.load (sys.stdin)["deployments"])
print (" ".join ("%s=%d" % kv for kv in sorted (c.items ())))'
}
all_done () { [[ $(states) == "completed=$COUNT" ]]; }
wait_until 240 "every deployment to complete ($(states))" all_done
echo "all completed after $(( $(now_ms) - started )) ms"

python3 - "$TMP/runs.log" $COUNT $SLOTS <<'PY'
import collections, sys
lines = [l.split () for l in open (sys.argv[1])]
count, slots = int (sys.argv[2]), int (sys.argv[3])
starts = collections.Counter ((l[1], l[2]) for l in lines if l[0] == "start")
assert len (starts) == count, "%d deployments' hooks ran, not %d" % (len (starts), count)
twice = [k for k, n in starts.items () if n > 1]
assert not twice, "ran twice: %s" % twice[:5]
attempts = collections.Counter (a for d, a in starts)
assert attempts == {"1": count}, "attempts other than the first: %s" % attempts
running = most = 0
for l in sorted (lines, key = lambda l: (int (l[3]), l[0] == "start")):
    running += 1 if l[0] == "start" else -1
    most = max (most, running)
assert most <= slots, "%d hooks ran at once, over %d slots" % (most, slots)
print ("%d hooks, each once, at most %d at once" % (len (starts), most))
PY
waits=$("$FLOTCTL" --json events --type step.waiting 2>/dev/null | grep -c '"executor"' || true)
echo "steps that waited for the executor and asked again: $waits"
echo "PASS test_deploy_executor_slots"
