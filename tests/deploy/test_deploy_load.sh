#!/usr/bin/env bash
# test_deploy_load: thousands of deployments through one flotillad, as an
# operator would send them: LOAD_DEPLOYMENTS (3,000; fewer in the sanitizer
# build) canaries of one target each ([setWeight: 50, pause: {}]), applied
# with flotctl four at a time, all waiting at their pause at once, then
# promoted in full with flotctl, four at a time, to completion. Every hook
# is `noop` (/bin/true) with a timeout of 10 s: under this load no hook is
# reported as timed out, no step fails or waits for an executor, nothing
# rolls back, and each step's hook ran once (attempt 1). Not timed: the
# figures are flot_bench_deploy's.
source "$(dirname "$0")/lib.sh"

COUNT=${LOAD_DEPLOYMENTS:-3000}
PORT=27300
ln -s /bin/true "$TMP/noop"
mkdir "$TMP/specs"
python3 - "$TMP/specs" "$COUNT" <<'PY'
import sys
folder, count = sys.argv[1], int (sys.argv[2])
for i in range (1, count + 1):
    with open ("%s/l%d.yaml" % (folder, i), "w") as f:
        f.write ("""apiVersion: flotilla/v1
kind: Deployment
name: l%d
workload: {name: web, version: "2.0", rollbackVersion: "1.0"}
targets: [{name: t%d}]
strategy: {canary: {steps: [{setWeight: 50}, {pause: {}}]}}
hook: {command: noop, timeout: 10s}
policy: {progressDeadline: 10m}
""" % (i, i))
PY

start_flotilla $PORT

# states: how many deployments are in each state (and percent), as
# "STATE/PERCENT=N ...".
states () {
    "$FLOTCTL" --json list --timeout 10000 | python3 -c '
import collections, json, sys
c = collections.Counter ("%s/%d" % (d["state"], d["percent"]) for d in json.load (sys.stdin)["deployments"])
print (" ".join ("%s=%d" % kv for kv in sorted (c.items ())))'
}
bad_events () {
    local type n total=0
    for type in step.failed step.waiting step.orphaned deployment.failed deployment.rolling_back; do
        n=$("$FLOTCTL" events --type "$type" 2>/dev/null | grep -c . || true)
        (( n == 0 )) || echo "$n $type events: $("$FLOTCTL" events --type "$type" | head -3)"
        total=$(( total + n ))
    done
    return $(( total > 0 ))
}

started=$(now_ms)
ls "$TMP/specs" | xargs -P 4 -I{} "$FLOTCTL" apply -f "$TMP/specs/{}" --no-check --timeout 30000 \
    > "$TMP/applied.txt" 2> "$TMP/apply-errors.txt" || fail "an apply failed: $(head "$TMP/apply-errors.txt")"
echo "applied $COUNT deployments in $(( $(now_ms) - started )) ms"
waiting () { [[ $(states) == "running/33=$COUNT" ]]; }
wait_until 300 "every deployment to wait at its pause ($(states))" waiting
echo "all waiting at their pause after $(( $(now_ms) - started )) ms"
bad_events || fail "under load, before the promotes"

sed -n 's/^deployment \([^ ]*\) started: .*/\1/p' "$TMP/applied.txt" > "$TMP/ids.txt"
(( $(wc -l < "$TMP/ids.txt") == COUNT )) || fail "not $COUNT deployments started: $(head -3 "$TMP/applied.txt")"
xargs -P 4 -I{} "$FLOTCTL" promote {} --full --timeout 30000 < "$TMP/ids.txt" \
    > "$TMP/promoted.txt" 2> "$TMP/promote-errors.txt" || fail "a promote failed: $(head "$TMP/promote-errors.txt")"
completed () { [[ $(states) == "completed/100=$COUNT" ]]; }
wait_until 300 "every deployment to complete ($(states))" completed
echo "all completed after $(( $(now_ms) - started )) ms"
bad_events || fail "under load"

# Each hook ran once: every step.completed event names attempt 1, and
# there are as many as steps (setWeight 50, pause, setWeight 100 each).
"$FLOTCTL" --json events --type step.completed > "$TMP/completed.json"
python3 - "$TMP/completed.json" "$COUNT" <<'PY'
import collections, json, sys
events = [json.loads (l) for l in open (sys.argv[1]) if l.strip ()]
count = int (sys.argv[2])
steps = collections.Counter ((e["deployment"], e["data"]["step"]) for e in events)
assert len (steps) == 3 * count, "%d steps completed, not %d" % (len (steps), 3 * count)
twice = [k for k, n in steps.items () if n > 1]
assert not twice, "completed twice: %s" % twice[:5]
attempts = collections.Counter (e["data"]["attempt"] for e in events)
assert set (attempts) <= {1}, "attempts other than the first: %s" % attempts
print ("%d steps, each completed once, at its first attempt" % len (steps))
PY
echo "PASS test_deploy_load"
