#!/usr/bin/env bash
# test_deploy_ten_thousand_targets: a deployment of 10,000 targets (the
# most a spec may have) applies and runs to completion. Its plan reaches
# the coordinator compacted, as one RESOLVED deployment (the steps every
# target runs given once): the bytes the store keeps stay under the 1 MiB
# body limit. Killed with SIGKILL halfway, flotillad resumes it from those
# bytes, without the strategy service reading the spec again, and it
# completes with every step done once.
source "$(dirname "$0")/lib.sh"

python3 - "$TMP/big.yaml" <<'PY'
import sys
lines = ["apiVersion: flotilla/v1", "kind: Deployment", "name: big",
         "workload: {name: big, version: \"2\"}", "targets:"]
for i in range (10000):
    lines.append ("  - {name: t-%05d, address: \"10.%d.%d.%d:8080\"}"
                  % (i, i // 65536, (i // 256) % 256, i % 256))
lines += ["strategy: {rolling: {}}", "hook: {command: /bin/true, timeout: 30s}",
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

start_flotilla 24410
ctl apply -f "$TMP/big.yaml" --timeout 30000
expect_rc 0
grep -q "^deployment big-1 started: 10000 steps" <<<"$OUT" || fail "apply said: $OUT"

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
wait_until 120 "big-1 to complete (it is $(list_field big-1 state))" list_is big-1 state completed
list_is big-1 percent 100 || fail "big-1 completed at $(list_field big-1 percent)%"
echo "PASS test_deploy_ten_thousand_targets"
