#!/usr/bin/env bash
# test_deploy_who_did_it: the coordinator records who gave each command
# (SPEC 14.6, 18). flotillad on loopback makes its own keys in
# $FLOTILLA_HOME/local, and flotctl run by the same user picks up its admin
# key "local"; a second key, alice (operator), is made with flotctl keys new.
# A canary waiting at its pauses (no hook ever runs) is applied with the
# default key and paused, resumed, promoted and aborted as alice, with a
# flotillad restart between the promote and the abort. flotctl status shows
# "applied by local" and a history of who gave which command, when, and
# why; --json carries applied_by, actions and actions_total, and List
# applied_by; the events those commands caused name them in `by`
# (deployment.started local; paused, resumed, promoted, aborting, the
# abort's rollback.started and deployment.aborted alice) and every other
# event names nobody. A deployment alice applies says alice.
source "$(dirname "$0")/lib.sh"

export FLOTILLA_HOME=$TMP/home
# Only the keys this test makes: no config file, no keys from outside.
: > "$TMP/flotilla.conf"
export FLOTILLA_CONFIG=$TMP/flotilla.conf
unset FLOTILLA_CERT FLOTILLA_BROKER_CERT FLOTILLA_AUTH_DIR
KEYS=$FLOTILLA_HOME/local

cat > "$TMP/held.yaml" <<EOF
apiVersion: flotilla/v1
kind: Deployment
name: held
workload: {name: web, version: "2.0", rollbackVersion: "1.9"}
targets:
  - {name: a}
strategy:
  canary:
    steps:
      - pause: {}
      - pause: {}
      - setWeight: 50
hook:
  command: ./hook.sh
  timeout: 10s
  env: {HOOK_LOG: "$HOOK_LOG"}
policy: {progressDeadline: 1h}
EOF

# as_alice ARGS...: flotctl with alice's key; sets RC, OUT and ERR as ctl.
as_alice () { ctl --cert "$TMP/alice.key" --broker-cert "$KEYS/broker.pub" "$@"; }

alice_admitted () { as_alice list; [[ $RC == 0 ]]; }

# at_pause ID STEP: target a waits at its pause STEP (a/1 or a/2).
at_pause () {
    status_is "$1" "d['state'] == 'running' and [(x['state'], x['step'], x['step_state'])
        for x in d['targets']] == [('waiting', '$2', 'running')]"
}

T0=$(now_ms)
start_flotilla 24450
[[ -f $KEYS/local.key && -f $KEYS/broker.pub ]] \
    || fail "flotillad did not make its keys in $KEYS: $(ls -la "$KEYS" 2>&1)"

ctl keys new alice --role operator --dir "$KEYS" --out "$TMP/alice.key"
expect_rc 0
[[ -f $TMP/alice.key ]] || fail "flotctl keys new wrote no $TMP/alice.key: $OUT"
# The broker loads its key directory again when it changes.
wait_until 10 "the broker to admit alice's key" alice_admitted

apply held
id=$ID
wait_until 10 "a at its first pause" at_pause "$id" a/1
for command in pause resume promote; do
    as_alice "$command" "$id"
    expect_rc 0
done
wait_until 10 "a at its second pause" at_pause "$id" a/2

# The record survives a restart: the deployment resumes with it.
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || fail "flotillad did not stop cleanly"
DAEMON_PID=
start_flotilla 24450
wait_until 10 "a at its second pause after the restart" at_pause "$id" a/2
status_is "$id" "d['applied_by'] == 'local' and d['actions_total'] == 4
    and [(x['command'], x['by']) for x in d['actions']]
        == [('apply', 'local'), ('pause', 'alice'), ('resume', 'alice'), ('promote', 'alice')]" \
    || fail "after the restart, the record is not kept: $(status_json "$id" d)"

wait_until 10 "the broker to admit alice's key again" alice_admitted
as_alice abort "$id" --reason "latency is up"
expect_rc 0
wait_state 10 "$id" aborted
T1=$(now_ms)

# flotctl status: who applied it, and the history.
ctl status "$id"
expect_rc 0
expect_out "^applied by +local$"
history=$(sed -n '/^history:$/,$p' <<<"$OUT")
[[ -n $history ]] || fail "flotctl status shows no history:
$OUT"
python3 - "$history" <<'PY' || fail "flotctl status shows the wrong history:
$OUT"
import re, sys
rows = sys.argv[1].splitlines()[1:]
assert re.match (r"^  WHEN +COMMAND +BY +REASON$", rows[0]), rows[0]
got = [re.split (r" {2,}", r.strip ()) for r in rows[1:]]
want = [["apply", "local", "-"], ["pause", "alice", "-"], ["resume", "alice", "-"],
        ["promote", "alice", "-"], ["abort", "alice", "latency is up"]]
assert [g[1:] for g in got] == want, got
assert all (re.match (r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", g[0]) for g in got), got
PY

# --json: the same, with the times in order within the test's.
status_is "$id" "d['applied_by'] == 'local' and d['actions_total'] == 5
    and [(x['command'], x['by'], x['reason']) for x in d['actions']]
        == [('apply', 'local', ''), ('pause', 'alice', ''), ('resume', 'alice', ''),
            ('promote', 'alice', ''), ('abort', 'alice', 'latency is up')]
    and $T0 <= d['actions'][0]['at_ms'] <= d['actions'][4]['at_ms'] <= $T1
    and [x['at_ms'] for x in d['actions']] == sorted (x['at_ms'] for x in d['actions'])" \
    || fail "flotctl status --json: $(status_json "$id" d)"

# The events: the commands' name their caller, the rest nobody.
events_until "$id" "deployment.aborted"
"$FLOTCTL" --json events --since 1 --deployment "$id" > "$TMP/who.json" \
    || fail "flotctl --json events failed"
python3 - "$TMP/who.json" <<'PY' || fail "the events do not say who caused them: $(cat "$TMP/who.json")"
import json, sys
events = [json.loads (l) for l in open (sys.argv[1]) if l.strip ()]
by = {}
for e in events:
    by.setdefault (e["type"], []).append (e["data"]["by"])
want = {"deployment.started": ["local"], "deployment.paused": ["alice"],
        "deployment.resumed": ["alice"], "deployment.promoted": ["alice"],
        "deployment.aborting": ["alice"], "rollback.started": ["alice"],
        "deployment.aborted": ["alice"]}
for t, names in want.items ():
    assert by.get (t) == names, "%s: by %s, expected %s" % (t, by.get (t), names)
others = {t: b for t, b in by.items () if t not in want and any (b)}
assert not others, "events no command caused name someone: %s" % others
PY

# A deployment alice applies is hers; List says who applied each.
as_alice apply -f "$TMP/held.yaml"
expect_rc 0
mine=$(sed -n 's/^deployment \([^ ]*\) started: .*/\1/p' <<<"$OUT")
[[ -n $mine ]] || fail "alice's apply did not say which deployment started: $OUT"
status_is "$mine" "d['applied_by'] == 'alice' and [(x['command'], x['by'])
    for x in d['actions']] == [('apply', 'alice')] and d['actions_total'] == 1" \
    || fail "alice's deployment: $(status_json "$mine" d)"
"$FLOTCTL" --json list > "$TMP/list.json" || fail "flotctl --json list failed"
python3 - "$TMP/list.json" "$id" "$mine" <<'PY' || fail "List: $(cat "$TMP/list.json")"
import json, sys
d = json.load (open (sys.argv[1]))
got = {x["id"]: x.get ("applied_by") for x in d["deployments"]}
assert got == {sys.argv[2]: "local", sys.argv[3]: "alice"}, got
PY
check_events deployment.started deployment.paused deployment.resumed deployment.promoted \
    deployment.aborting deployment.aborted
[[ ! -s $HOOK_LOG ]] || fail "a hook ran: $(cat "$HOOK_LOG")"
echo "PASS test_deploy_who_did_it"
