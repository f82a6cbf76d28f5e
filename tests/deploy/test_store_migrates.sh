#!/usr/bin/env bash
# Stores written by an older build are migrated in place and go on.
#
# The fixture, fixtures/store-d114756.db and its -events file, was written
# by flotillad built from commit d114756 (the last one before versioned
# migrations: coordinator store schema version 2, events log version 1)
# with fixtures/make_old_store.sh, which says how; run it again with an
# old build to remake them. They hold the deployment fixture-1 (rolling,
# six targets a1..a6, two at once), killed with SIGKILL while running:
# a1..a4 done, a5 and a6 running, the events of a3 and a4 finishing and of
# a5 and a6 starting still in the coordinator's outbox, never published,
# and events 1..9 in the events' history. Its hook is `/bin/sh -c` in "/"
# and logs to $FIXTURE_HOOK_LOG, which the test sets.
#
# 1. This build starts on a copy of them: both stores are migrated to this
#    build's schema versions; the deployment resumes and completes, the
#    targets left unfinished run their hook, those done do not run again;
#    the events of the outbox are published after the old history, in
#    order, and the sequence has no gap. A hook names a program in the
#    executor's hooks directory now, not a path: the copy's stored spec
#    is migrated as an operator would (its hook `sh`, a link to /bin/sh in
#    the hooks directory, $TMP).
# 2. A store (or events log) of a schema version newer than this build's
#    is refused: flotillad says so in one sentence naming the file, exits
#    1 and leaves the file as it was.
# 3. The fixture as it is, its hook /bin/sh: the deployment is refused
#    with the sentence that says why, and no hook runs.
source "$(dirname "$0")/lib.sh" "$@"
FIXTURE=$HERE/fixtures/store-d114756.db
STORE=$TMP/flotilla.db

cp "$FIXTURE" "$STORE"
cp "$FIXTURE-events" "$STORE-events"

# What the old store holds: the targets not done, the outbox's events
# (msgpack maps of strings, read with a few lines rather than a module the
# test machine may lack), the last event logged. Its times move to now, as
# if it had been killed a moment ago: a deployment idle for longer than its
# progress deadline (10m) is failed, not resumed.
python3 - "$STORE" > "$TMP/fixture.txt" <<'PY'
import sqlite3, sys, time
store = sys.argv[1]
def strings (body):
    out, i = [], 1                            # a fixmap of str keys and values
    assert body[0] & 0xf0 == 0x80, body
    while i < len (body):
        b = body[i]
        if b & 0xe0 == 0xa0: n, i = b & 0x1f, i + 1
        elif b == 0xd9: n, i = body[i + 1], i + 2
        elif b == 0xda: n, i = int.from_bytes (body[i + 1:i + 3], "big"), i + 3
        else: raise ValueError ("not a string at %d of %r" % (i, body))
        out.append (body[i:i + n].decode ()); i += n
    return dict (zip (out[::2], out[1::2]))
db = sqlite3.connect (store)
assert db.execute ("PRAGMA user_version").fetchone ()[0] == 0
assert db.execute ("SELECT value FROM meta WHERE key = 'schema'").fetchone ()[0] == "2"
assert db.execute ("SELECT state FROM deployments").fetchall () == [("running",)]
print ("undone", " ".join (t for t, in db.execute (
    "SELECT target FROM steps WHERE state != 'succeeded' ORDER BY target")))
print ("done", " ".join (t for t, in db.execute (
    "SELECT target FROM steps WHERE state = 'succeeded' ORDER BY target")))
for body, in db.execute ("SELECT body FROM outbox ORDER BY id"):
    e = strings (body)
    print ("outbox", e["type"], e["message"])
shift = int (time.time () * 1000) - db.execute ("SELECT max(updated_ms) FROM deployments").fetchone ()[0]
db.execute ("UPDATE deployments SET created_ms = created_ms + ?1, updated_ms = updated_ms + ?1,"
            " progress_ms = progress_ms + ?1", (shift,))
db.execute ("UPDATE steps SET started_ms = started_ms + ?1 WHERE started_ms > 0", (shift,))
db.execute ("UPDATE steps SET finished_ms = finished_ms + ?1 WHERE finished_ms > 0", (shift,))
assert db.execute ("SELECT count(*) FROM specs WHERE spec LIKE '%command: /bin/sh%'").fetchone ()[0] == 1
db.execute ("UPDATE specs SET spec = replace (spec, 'command: /bin/sh', 'command: sh')")
db.commit ()
db.close ()
db = sqlite3.connect (store + "-events")
assert db.execute ("PRAGMA user_version").fetchone ()[0] == 0
print ("logged", db.execute ("SELECT max(seq) FROM events").fetchone ()[0])
PY
read -r _ UNDONE < <(grep '^undone ' "$TMP/fixture.txt")
read -r _ DONE < <(grep '^done ' "$TMP/fixture.txt")
read -r _ LOGGED < <(grep '^logged ' "$TMP/fixture.txt")
OUTBOX=$(grep -c '^outbox ' "$TMP/fixture.txt" || true)
[[ -n $UNDONE && -n $DONE && $OUTBOX -gt 0 && $LOGGED -gt 0 ]] \
    || fail "the fixture is not what the test expects: $(cat "$TMP/fixture.txt")"

# 1. Migrated, resumed, completed.
export FIXTURE_HOOK_LOG=$HOOK_LOG FIXTURE_HOOK_SLEEP=0.1
ln -s /bin/sh "$TMP/sh"
start_flotilla 24284
grep -q "flotilla.db: migrated from schema version 2 to 6" "$TMP/flotillad.log" \
    || fail "flotillad did not say it migrated the store"
grep -q "flotilla.db-events: migrated from schema version 1 to 3" "$TMP/flotillad.log" \
    || fail "flotillad did not say it migrated the events' log"
wait_state 30 fixture-1 completed
status_is fixture-1 "states (d) == 'a1:done a2:done a3:done a4:done a5:done a6:done'" \
    || fail "not every target is done: $(status_json fixture-1 'states (d)')"
for t in $UNDONE; do
    grep -qE "^end $t $t/1 [0-9]+$" "$HOOK_LOG" || fail "$t's hook did not run to its end"
done
for t in $DONE; do
    ! grep -q "^start $t " "$HOOK_LOG" || fail "$t was done, and its hook ran again"
done

# The outbox's events, published after the old history, then the rest;
# the sequence from 1 without a gap or a repeat.
"$FLOTCTL" --json events --since 1 --timeout 2000 > "$TMP/events.json" \
    || fail "flotctl events failed"
python3 - "$TMP/events.json" "$TMP/fixture.txt" "$LOGGED" <<'PY' || fail "the events are not right"
import json, sys
events = [json.loads (l) for l in open (sys.argv[1]) if l.strip ()]
outbox = [l.split (" ", 2)[1:] for l in open (sys.argv[2]).read ().splitlines ()
          if l.startswith ("outbox ")]
logged = int (sys.argv[3])
seqs = [e["seq"] for e in events]
assert seqs == list (range (1, len (seqs) + 1)), "a gap or a repeat: %s" % seqs
after = [[e["type"], e["message"]] for e in events[logged:logged + len (outbox)]]
assert after == outbox, "after #%d: %s, expected the outbox's %s" % (logged, after, outbox)
last = [e["type"] for e in events if e.get ("deployment") == "fixture-1"][-1]
assert last == "deployment.completed", last
print ("%d events: %d from the old history, %d from its outbox, consecutive"
       % (len (seqs), logged, len (outbox)))
PY

# Stopped, the stores say this build's versions.
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || fail "flotillad did not stop cleanly"
DAEMON_PID=
python3 - "$STORE" <<'PY' || fail "the stores do not carry this build's versions"
import sqlite3, sys
db = sqlite3.connect (sys.argv[1])
assert db.execute ("PRAGMA user_version").fetchone ()[0] == 6
assert db.execute ("SELECT value FROM meta WHERE key = 'schema'").fetchone ()[0] == "6"
assert db.execute ("SELECT created_by FROM specs").fetchall () == [("",)]
# Operators' commands are kept from version 5 on: none for the old deployment.
assert db.execute ("SELECT count(*) FROM actions").fetchone ()[0] == 0
# The old row was resolved once by the strategy service and stored so: the
# coordinator never reads its spec again.
rows = db.execute ("SELECT length(resolved) FROM specs").fetchall ()
assert rows and all (r[0] and r[0] > 0 for r in rows), rows
db = sqlite3.connect (sys.argv[1] + "-events")
assert db.execute ("PRAGMA user_version").fetchone ()[0] == 3
assert db.execute ("SELECT name FROM sqlite_master WHERE name = 'events_by_deployment'").fetchone ()
assert db.execute ("SELECT count(*) FROM events WHERE published_by = ''").fetchone ()[0] > 0
PY

# 2. Too new: refused, with the file named, and left alone.
refused () {
    local file=$1 version=$2 expected=$3 rc
    rm -f "$STORE" "$STORE-events"
    cp "$FIXTURE" "$STORE"
    cp "$FIXTURE-events" "$STORE-events"
    python3 -c 'import sqlite3, sys
db = sqlite3.connect (sys.argv[1]); db.execute ("PRAGMA user_version = %d" % int (sys.argv[2]))
db.commit ()' "$file" "$version"
    set +e
    timeout 20 "$FLOTILLAD" -b tcp://127.0.0.1:24286 -e tcp://127.0.0.1:24287 \
        --store "$STORE" 2> "$TMP/refused.log"
    rc=$?
    set -e
    [[ $rc == 1 ]] || fail "flotillad on a store of version $version: exit $rc, expected 1"
    grep -qF -- "$expected" "$TMP/refused.log" \
        || fail "flotillad did not say: $expected; it said: $(cat "$TMP/refused.log")"
    [[ $(python3 -c 'import sqlite3, sys
print (sqlite3.connect (sys.argv[1]).execute ("PRAGMA user_version").fetchone ()[0])' \
        "$file") == "$version" ]] || fail "$file was changed"
}
refused "$STORE" 7 "store $STORE: schema version 7 is newer than this build's 6 (it opens versions 2 to 6); use a newer flotillad"
refused "$STORE-events" 9 "event log $STORE-events: schema version 9 is newer than this build's 3 (it opens versions 1 to 3); use a newer flotillad"

# 3. The stored spec names /bin/sh: refused, saying why; no hook runs.
rm -f "$STORE" "$STORE-events"
cp "$FIXTURE" "$STORE"
cp "$FIXTURE-events" "$STORE-events"
: > "$HOOK_LOG"
: > "$TMP/flotillad.log"
start_flotilla 24288
expected="fixture-1 cannot be loaded: the strategy service cannot resolve its spec: fixture.yaml:14: hook.command: '/bin/sh' is an absolute path: a hook names a program in the executor's hooks directory (--hooks-dir)"
wait_until 10 "the coordinator to refuse fixture-1" grep -qF -- "$expected" "$TMP/flotillad.log"
sleep 0.5
[[ ! -s $HOOK_LOG ]] || fail "a hook ran: $(cat "$HOOK_LOG")"
echo "ok"
