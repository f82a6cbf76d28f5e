#!/usr/bin/env bash
# test_deploy_ten_thousand_targets: a deployment of 10,000 targets (the
# most a spec may have) applies and runs to completion. Its plan reaches
# the coordinator compacted, as one RESOLVED deployment (the steps every
# target runs given once): the bytes the store keeps stay under the 1 MiB
# body limit. Killed with SIGKILL halfway, flotillad resumes it from those
# bytes, without the strategy service reading the spec again (the new
# strategy instance answers no request while it completes), and it completes
# with every target's step done: a step ran once, but for those in flight at
# the SIGKILL, whose hook may run again (at most maxConcurrency, 100). The
# hook appends "TARGET STEP_ID" to $STEPS_LOG as it ends.
source "$(dirname "$0")/lib.sh"

STEPS_LOG=$TMP/steps.log
: > "$STEPS_LOG"
# Kept fast: one builtin, no other process.
cat > "$TMP/record_step.sh" <<EOF
#!/bin/sh
printf '%s %s\n' "\$FLOTILLA_TARGET" "\$FLOTILLA_STEP_ID" >> "$STEPS_LOG"
EOF
chmod +x "$TMP/record_step.sh"

python3 - "$TMP/big.yaml" <<'PY'
import sys
lines = ["apiVersion: flotilla/v1", "kind: Deployment", "name: big",
         "workload: {name: big, version: \"2\"}", "targets:"]
for i in range (10000):
    lines.append ("  - {name: t-%05d, address: \"10.%d.%d.%d:8080\"}"
                  % (i, i // 65536, (i // 256) % 256, i % 256))
lines += ["strategy: {rolling: {}}", "hook: {command: ./record_step.sh, timeout: 30s}",
          "policy: {maxConcurrency: 100, progressDeadline: 10m}"]
open (sys.argv[1], "w").write ("\n".join (lines) + "\n")
PY

# list_field ID FIELD: the deployment's FIELD in `flotctl list` (status of
# 10,000 targets is over the body limit: its summary is later work).
list_field () {
    "$FLOTCTL" --json list --timeout 2000 2>/dev/null | python3 -c '
import json, sys
for d in json.load (sys.stdin)["deployments"]:
    if d["id"] == sys.argv[1]:
        print (d[sys.argv[2]])' "$1" "$2"
}
list_is () { [[ $(list_field "$1" "$2") == "$3" ]]; }
past () { (( $(list_field "$1" percent || echo 0) >= $2 )); }

# wait_completed ID SECONDS: until the deployment completes; else fails
# saying where it is then.
wait_completed () {
    local deadline=$(( $(now_ms) + $2 * 1000 ))
    until list_is "$1" state completed; do
        (( $(now_ms) < deadline )) || fail "$1 did not complete in $2 s: it is" \
            "$(list_field "$1" state || echo '?') at $(list_field "$1" percent || echo '?')%"
        sleep 0.2
    done
}

# strategy_handled: the requests the strategy service's instances answered,
# as the broker counts them (`flotctl actors`).
strategy_handled () {
    "$FLOTCTL" --json actors --timeout 2000 | python3 -c '
import json, sys
print (sum (a["handled"] for a in json.load (sys.stdin)["actors"] if a["service"] == "strategy"))'
}

start_flotilla 24410
ctl apply -f "$TMP/big.yaml" --timeout 30000
expect_rc 0
grep -q "^deployment big-1 started: 10000 steps" <<<"$OUT" || fail "apply said: $OUT"
# The count sees the strategy service's answers: apply's Resolve among them.
handled=$(strategy_handled) || fail "flotctl actors failed"
(( handled > 0 )) || fail "the strategy service answered $handled requests at apply"

wait_until 60 "big-1 to pass 30%" past big-1 30
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || true
DAEMON_PID=
python3 - "$TMP/flotilla.db" <<'PY' || fail "the store does not hold the resolved deployment"
import sqlite3, sys
size, spec = sqlite3.connect (sys.argv[1]).execute (
    "SELECT length (resolved), length (spec) FROM specs").fetchone ()
assert 0 < size < 1 << 20, size
print ("RESOLVED of 10,000 targets: %d bytes (the YAML: %d)" % (size, spec))
PY

start_flotilla 24410
grep -q "resuming big-1 (running" "$TMP/flotillad.log" || fail "big-1 was not resumed"
wait_completed big-1 120
list_is big-1 percent 100 || fail "big-1 completed at $(list_field big-1 percent)%"
# Resumed from the stored bytes: no Resolve, nor any other request, went to
# the strategy service that started with the new flotillad.
handled=$(strategy_handled) || fail "flotctl actors failed"
(( handled == 0 )) || fail "the strategy service answered $handled requests after the restart"

# Every target's step ended; none twice but those in flight at the SIGKILL.
python3 - "$STEPS_LOG" <<'PY' || fail "the hook did not run every step once"
import collections, sys
runs = collections.Counter (tuple (line.split ()) for line in open (sys.argv[1]))
targets = collections.Counter (target for target, step in runs)
names = {"t-%05d" % i for i in range (10000)}
missing = sorted (names - set (targets))
assert not missing, "%d targets never ran, %s first" % (len (missing), missing[0])
assert set (targets) == names, "unknown targets: %s" % sorted (set (targets) - names)[:5]
several = [t for t, n in targets.items () if n > 1]
assert not several, "targets with more than one step id: %s" % several[:5]
again = sum (n - 1 for n in runs.values ())
most = max (runs.values ())
assert again <= 100 and most <= 2, \
    "%d hook runs again (at most 100 were in flight), a step %d times" % (again, most)
print ("10,000 steps ended: %d ran again after the SIGKILL" % again)
PY
echo "PASS test_deploy_ten_thousand_targets"
