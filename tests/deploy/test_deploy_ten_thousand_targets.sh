#!/usr/bin/env bash
# test_deploy_ten_thousand_targets: a deployment of 10,000 targets (the
# most a spec may have) plans, applies, shows its status and runs to
# completion through flotctl. No reply passes the 1 MiB body limit: flotctl
# plan fetches the plan in pages (a 10,000-target canary in four waves is
# 30,000 steps) and sums it up, or joins the pages (--json); flotctl status
# sums the deployment up in a screen (by state and wave, its running
# targets), shows one target (--target), pages to the last (--offset,
# --limit), and joins every page (--all, --json); GetStatus without paging
# (an older client) is TOO_LARGE naming the way to page, never a list cut
# short. Its plan reaches
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

# list_field ID FIELD: the deployment's FIELD in `flotctl list`.
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

# A canary of 10,000 targets in four waves: 30,000 steps.
python3 - "$TMP/canary.yaml" <<'PY'
import sys
lines = ["apiVersion: flotilla/v1", "kind: Deployment", "name: wide",
         "workload: {name: wide, version: \"2\"}", "targets:"]
lines += ["  - {name: c-%05d, labels: {ring: r%d}}" % (i, i // 2500) for i in range (10000)]
lines += ["waves:"] + ["  - selector: {ring: r%d}" % w for w in range (4)]
lines += ["strategy: {canary: {steps: [{setWeight: 10}, {setWeight: 50}]}}",
          "hook: {command: ./record_step.sh, timeout: 30s}", "policy: {maxConcurrency: 100}"]
open (sys.argv[1], "w").write ("\n".join (lines) + "\n")
PY

start_flotilla 24410
ctl plan -f "$TMP/canary.yaml" --timeout 30000
expect_rc 0
expect_out "^plan of deployment wide \(canary\): 10000 targets, 30000 steps, at most 100 targets at a time$"
expect_out "^waves: 4 \(targets in each: 2500 2500 2500 2500\)$"
expect_out "^every target runs the same 3 steps"
expect_out "^rollback order: c-09999 c-09998 .* and 9990 more$"
(( $(wc -l <<<"$OUT") <= 40 )) || fail "the plan's summary is $(wc -l <<<"$OUT") lines"
"$FLOTCTL" plan -f "$TMP/canary.yaml" --json --page 3000 --timeout 30000 > "$TMP/plan.json" \
    || fail "plan --json failed"
python3 - "$TMP/plan.json" <<'PY' || fail "plan --json is not the whole plan"
import json, sys
d = json.load (open (sys.argv[1]))
plan, back = d["plan"], d["rollback"]
names = ["c-%05d" % i for i in range (10000)]
assert [t["name"] for t in plan["targets"]] == names, "the plan's targets"
assert plan["order"] == names, "the plan's order"
assert back["order"] == names[::-1], "the rollback's order"
assert len (back["targets"]) == 10000, len (back["targets"])
steps = sum (len (t["steps"]) for t in plan["targets"])
assert steps == 30000 == d["steps_total"], steps
assert [t["wave"] for t in plan["targets"][2499:2501]] == [0, 1]
assert "page" not in d, d["page"]       # joined whole: as one call's reply
print ("the plan of 10,000 targets: %d steps, joined from pages" % steps)
PY
ctl plan -f "$TMP/big.yaml" --timeout 30000
expect_rc 0
expect_out "^plan of deployment big \(rolling\): 10000 targets, 10000 steps"

ctl apply -f "$TMP/big.yaml" --timeout 30000
expect_rc 0
grep -q "^deployment big-1 started: 10000 steps" <<<"$OUT" || fail "apply said: $OUT"
# The count sees the strategy service's answers: apply's Resolve among them.
handled=$(strategy_handled) || fail "flotctl actors failed"
(( handled > 0 )) || fail "the strategy service answered $handled requests at apply"

wait_until 60 "big-1 to pass 30%" past big-1 30
# Its status, as it runs: a summary in a screen, its running targets.
ctl status big-1
expect_rc 0
(( $(wc -l <<<"$OUT") <= 40 )) || fail "the status is $(wc -l <<<"$OUT") lines: $OUT"
expect_out "^targets     10000: [0-9]+ pending, [0-9]+ running, [0-9]+ done"
expect_out "^running \([0-9]+, the first shown\):$"
expect_out "^more: flotctl status big-1 --target NAME"
ctl status big-1 --target t-09999
expect_rc 0
expect_out "^t-09999 +pending +t-09999/1 +apply +pending +- +0 +unchecked$"
# An older client, which does not page: told how to, not cut short.
ctl call coordinator GetStatus '{"id": "big-1"}' --timeout 5000
expect_rc 1
expect_err "TOO_LARGE \(3\): the status of big-1 is [0-9]+ bytes with its 10000 targets, over the body limit of 1048576: ask for them in pages \(offset, limit\)"
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
# Its status once complete: summed up, paged to the last target, whole.
ctl status big-1
expect_rc 0
expect_out "^targets     10000: 10000 done$"
ctl status big-1 --offset 9990 --limit 10
expect_rc 0
expect_out "^t-09999 +done +t-09999/1 +apply +succeeded +1 +100 +unchecked$"
expect_out "^targets 9991-10000 of 10000$"
ctl status big-1 --all --timeout 10000
expect_rc 0
(( $(grep -cE "^t-[0-9]{5} +done " <<<"$OUT") == 10000 )) || fail "--all showed $(grep -cE "^t-[0-9]{5} " <<<"$OUT") targets done"
"$FLOTCTL" status big-1 --json --timeout 10000 > "$TMP/status.json" || fail "status --json failed"
python3 - "$TMP/status.json" <<'PY' || fail "status --json is not every target"
import json, sys
d = json.load (open (sys.argv[1]))
assert [t["name"] for t in d["targets"]] == ["t-%05d" % i for i in range (10000)]
assert {t["state"] for t in d["targets"]} == {"done"}
assert d["summary"]["targets"] == d["summary"]["done"] == 10000, d["summary"]
PY
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
