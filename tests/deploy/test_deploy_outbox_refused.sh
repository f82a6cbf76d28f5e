#!/usr/bin/env bash
# test_deploy_outbox_refused: an event in the coordinator's outbox that the
# events service refuses (its data does not match its type's definition,
# as a coordinator of another version could write it) does not hold back
# the events after it: the coordinator says so in its log, sends it again
# without its data, and the events after it are published in order.
source "$(dirname "$0")/lib.sh"

# A store with the newest schema, and nothing in it.
start_flotilla 24298
kill "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null || true

# Into its outbox: a step.completed whose data lacks what the events
# contract requires, then a note of a type it does not define.
python3 - "$TMP/flotilla.db" <<'PY'
import sqlite3, sys
def s (text):
    b = text.encode ()
    return bytes ([0xa0 | len (b)]) + b
def m (pairs):
    return bytes ([0x80 | len (pairs)]) + b"".join (s (k) + v for k, v in pairs)
bad = m ([("type", s ("step.completed")), ("deployment", s ("old-1")),
          ("message", s ("step from another version")),
          ("data", m ([("deployment", s ("old-1"))]))])
after = m ([("type", s ("note.after")), ("deployment", s ("old-1")),
            ("message", s ("the event after it"))])
db = sqlite3.connect (sys.argv [1])
db.execute ("INSERT INTO outbox (body) VALUES (?)", (bad,))
db.execute ("INSERT INTO outbox (body) VALUES (?)", (after,))
db.commit ()
PY

start_flotilla 24298
deadline=$(( $(now_ms) + 5000 ))
until ctl events --deployment old-1 --json && [[ $OUT == *note.after* ]]; do
    (( $(now_ms) < deadline )) || fail "the event after the refused one was not published: $OUT"
    sleep 0.1
done
python3 - "$OUT" <<'PY' || fail "the events published are not as expected: $OUT"
import json, sys
events = [json.loads (line) for line in sys.argv [1].splitlines () if line.strip ()]
types = [e["type"] for e in events]
assert types == ["step.completed", "note.after"], types
assert "data" not in events [0], events [0]
assert events [1]["seq"] == events [0]["seq"] + 1
PY
grep -q "the events service refused 2 events (.*): sending them again without their data" \
    "$TMP/flotillad.log" || fail "the coordinator did not say it refused them: $(cat "$TMP/flotillad.log")"
echo "PASS test_deploy_outbox_refused"
