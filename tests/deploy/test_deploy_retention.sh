#!/usr/bin/env bash
# test_deploy_retention: bounded growth (issue 13). flotillad runs with
# --retain-count 3 and --events-retain-count 25.
#   A canary held at a manual pause and paused by an operator stays, with
#   all its events, however many deployments finish after it.
#   One queued behind it and aborted, and of six rolling deployments that
#   complete, the three first finished are removed (after the few seconds' grace): gone from list, status and the
#   store (rows, specs, steps, actions); the three newest stay.
#   The events' history holds at most 25 events but the paused one's,
#   which keep their place; Replay of the pruned history reads in order,
#   and after a restart the sequence goes on where it was.
source "$(dirname "$0")/lib.sh"

PORT=27200

# start_retaining: flotillad as start_flotilla starts it, with retention.
start_retaining () {
    start_flotilla $PORT --retain-count 3 --retain-age 30d --events-retain-count 25 \
        --events-retain-age 7d
}

cat > "$TMP/held.yaml" <<EOF
apiVersion: flotilla/v1
kind: Deployment
name: held
workload: {name: api, version: "2.0", rollbackVersion: "1.9"}
targets:
  - {name: h1}
strategy:
  canary:
    steps:
      - setWeight: 50
      - pause: {}
hook:
  command: ./hook.sh
  timeout: 10s
  env: {HOOK_LOG: "$HOOK_LOG"}
policy: {progressDeadline: 10m}
EOF

cat > "$TMP/quick.yaml" <<EOF
apiVersion: flotilla/v1
kind: Deployment
name: quick
workload: {name: web, version: "2.0", rollbackVersion: "1.9"}
targets:
  - {name: q1}
strategy:
  rolling: {}
hook:
  command: ./hook.sh
  timeout: 10s
  env: {HOOK_LOG: "$HOOK_LOG"}
EOF

# Bad ages and counts are refused, saying what is expected.
ctl_daemon () { capture flotillad "$FLOTILLAD" "$@"; }
ctl_daemon --retain-age 30x
expect_rc 2
expect_err "--retain-age '30x' is not an age: a number and a unit, s, m, h or d"
ctl_daemon --events-retain-count -1
expect_rc 2
expect_err "--events-retain-count '-1' is not a number"

start_retaining

apply held
held=$ID
wait_until 10 "h1 waiting at its pause" status_is "$held" \
    "d['state'] == 'running' and states(d) == 'h1:waiting'"
ctl pause "$held"
expect_rc 0
# One queued behind it and aborted there: finished first, it goes first
# (an ended deployment still naming what it queued behind once stayed).
apply held --queue
queued=$ID
ctl abort "$queued"
expect_rc 0
wait_state 20 "$queued" aborted

ids=()
for i in 1 2 3 4 5 6; do
    apply quick
    ids+=("$ID")
    wait_state 20 "$ID" completed
done
echo "finished: ${ids[*]}; held: $held"

# listed ID: true if flotctl list names the deployment.
listed () { "$FLOTCTL" list --timeout 2000 | grep -qE -- "(^| )$1( |$)"; }
gone () { ! listed "${ids[2]}"; }
# Retention passes every 5 s, and spares one finished less than 10 s ago.
wait_until 30 "the three first finished to be removed" gone
for id in "$queued" "${ids[@]:0:3}"; do
    ! listed "$id" || fail "$id is still listed: $("$FLOTCTL" list)"
    ctl status "$id"
    [[ $RC != 0 ]] || fail "status $id still answers: $OUT"
    grep -q "no deployment '$id'" <<<"$ERR" || fail "status $id said: $ERR"
done
for id in "${ids[@]:3:3}" "$held"; do
    listed "$id" || fail "$id is not listed: $("$FLOTCTL" list)"
done
status_is "$held" "d['state'] == 'running' and d['paused']" \
    || fail "the paused one is not kept as it was: $(status_json "$held" d)"


# The events: at most 25 held beyond the paused deployment's, which all
# stay; Replay reads the pruned history in order.
events_after () {
    "$FLOTCTL" --json events --timeout 2000 > "$TMP/replay.json" || return 1
    python3 - "$TMP/replay.json" "$held" "${ids[0]}" <<'PY'
import json, sys
events = [json.loads (l) for l in open (sys.argv[1]) if l.strip ()]
held, first = sys.argv[2], sys.argv[3]
seqs = [e["seq"] for e in events]
assert seqs == sorted (set (seqs)), "not in order: %s" % seqs
mine = [e["type"] for e in events if e.get ("deployment") == held]
assert mine[:2] == ["deployment.started", "step.started"], mine
others = [e for e in events if e.get ("deployment") != held]
assert len (others) <= 25, "%d events beside the paused one's" % len (others)
assert not [e for e in events if e.get ("deployment") == first], "%s's events are held" % first
PY
}
wait_until 20 "the events' history to be pruned" events_after
"$FLOTCTL" --json events --deployment "$held" --timeout 2000 > "$TMP/held.json" \
    || fail "flotctl events --deployment $held failed"
grep -q '"deployment.started"' "$TMP/held.json" || fail "the paused one lost its start"
last=$(python3 -c 'import json,sys; print ([json.loads (l) for l in open (sys.argv[1]) if l.strip ()][-1]["seq"])' "$TMP/replay.json")

# A restart: the paused one is still there, and the sequence goes on.
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || fail "flotillad did not stop cleanly"
DAEMON_PID=
# The store (locked while flotillad runs), read as another program would.
python3 - "$TMP/flotilla.db" "$held" "${ids[@]}" <<'PY' || fail "the store still holds what was removed"
import sqlite3, sys
db = sqlite3.connect (sys.argv[1])
held, ids = sys.argv[2], sys.argv[3:]
for table, column in (("deployments", "id"), ("specs", "deployment"),
                      ("steps", "deployment"), ("actions", "deployment")):
    have = {r[0] for r in db.execute ("SELECT DISTINCT %s FROM %s" % (column, table))}
    for gone in ids[:3]:
        assert gone not in have, "%s still in %s" % (gone, table)
    kept = set (ids[3:]) | {held}
    if table != "actions":
        assert kept <= have, "%s lacks %s" % (table, kept - have)
print ("store: the three first finished are gone from every table")
PY
start_retaining
status_is "$held" "d['state'] == 'running' and d['paused']" \
    || fail "after a restart: $(status_json "$held" d)"
apply quick
wait_state 20 "$ID" completed
events_until "$ID" "deployment.completed"
"$FLOTCTL" --json events --deployment "$ID" --timeout 2000 > "$TMP/new.json"
python3 - "$TMP/new.json" "$last" <<'PY' || fail "the sequence did not go on after the restart"
import json, sys
events = [json.loads (l) for l in open (sys.argv[1]) if l.strip ()]
assert events and events[0]["seq"] > int (sys.argv[2]), (events[:1], sys.argv[2])
PY
echo "PASS test_deploy_retention"
