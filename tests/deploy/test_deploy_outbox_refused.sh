#!/usr/bin/env bash
# test_deploy_outbox_refused: events in the coordinator's outbox that the
# events service refuses (as a coordinator of another version could write
# them) do not hold back, or cost, the events around them. Their batch goes
# again one event at a time: an event whose data is refused is published
# without it, one refused even so (a deployment id no topic can carry) is
# left out, each with an error in the log, and the good events before and
# after them are published in order, with their data.
source "$(dirname "$0")/lib.sh"

# A store with the newest schema, and nothing in it.
start_flotilla 24298
kill "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null || true

# Into its outbox: a good event with its data, a step.completed whose data
# lacks what the events contract requires, an event of a deployment id
# with a '/', and a note after them.
python3 - "$TMP/flotilla.db" <<'PY'
import sqlite3, sys
def s (text):
    b = text.encode ()
    return bytes ([0xa0 | len (b)]) + b
def m (pairs):
    return bytes ([0x80 | len (pairs)]) + b"".join (s (k) + v for k, v in pairs)
good = m ([("type", s ("deployment.resumed")), ("deployment", s ("old-1")),
           ("message", s ("resumed by an operator")),
           ("data", m ([("deployment", s ("old-1")), ("by", s (""))]))])
bad = m ([("type", s ("step.completed")), ("deployment", s ("old-1")),
          ("message", s ("step from another version")),
          ("data", m ([("deployment", s ("old-1"))]))])
lost = m ([("type", s ("note.lost")), ("deployment", s ("old/1")),
           ("message", s ("no topic can carry this id"))])
after = m ([("type", s ("note.after")), ("deployment", s ("old-1")),
            ("message", s ("the event after them"))])
db = sqlite3.connect (sys.argv [1])
for body in (good, bad, lost, after):
    db.execute ("INSERT INTO outbox (body) VALUES (?)", (body,))
db.commit ()
PY

start_flotilla 24298
deadline=$(( $(now_ms) + 5000 ))
until ctl events --json && [[ $OUT == *note.after* ]]; do
    (( $(now_ms) < deadline )) || fail "the event after the refused ones was not published: $OUT"
    sleep 0.1
done
python3 - "$OUT" <<'PY' || fail "the events published are not as expected: $OUT"
import json, sys
events = [json.loads (line) for line in sys.argv [1].splitlines () if line.strip ()]
types = [e["type"] for e in events]
assert types == ["deployment.resumed", "step.completed", "note.after"], types
assert events [0]["data"] == {"deployment": "old-1", "by": ""}, events [0]
assert "data" not in events [1], events [1]
assert [e["seq"] for e in events] == [1, 2, 3], events
PY
log=$(cat "$TMP/flotillad.log")
[[ $log == *"the events service refused a batch of 4 events"*"sending them one by one"* ]] \
    || fail "the coordinator did not say it refused the batch: $log"
[[ $log == *"refused event 2 "*"sending it again without its data"* ]] \
    || fail "the coordinator did not say it sent event 2 without its data: $log"
[[ $log == *"refused event 3 "*"it is left out"* ]] \
    || fail "the coordinator did not say it left event 3 out: $log"
echo "PASS test_deploy_outbox_refused"
