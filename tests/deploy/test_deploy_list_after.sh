#!/usr/bin/env bash
# test_deploy_list_after: List pages by cursor (SPEC 18.1). A page asked
# with `after` holds the deployments that come after that one, oldest
# first, whether it still exists or retention removed it since, so a client
# paging so misses and repeats none of the deployments present throughout,
# where offsets skip those that moved up. The order and the cursor hold
# across a restart. `after` with `offset` is INVALID, as is an `after` that
# is no deployment's id; one of that form that names no deployment is
# placed by its number. flotctl list pages by cursor.
# flotillad runs without retention, then with --retain-count 3.
source "$(dirname "$0")/lib.sh"

PORT=28100

spec () {   # spec NAME WORKLOAD: a rolling deployment of one target
    cat > "$TMP/$1.yaml" <<EOF
apiVersion: flotilla/v1
kind: Deployment
name: $1
workload: {name: $2, version: "2.0", rollbackVersion: "1.9"}
targets:
  - {name: t1}
strategy:
  rolling: {}
hook:
  command: ./hook.sh
  timeout: 10s
  env: {HOOK_LOG: "$HOOK_LOG"}
EOF
}
spec quick web
spec other api
cat > "$TMP/held.yaml" <<EOF
apiVersion: flotilla/v1
kind: Deployment
name: held
workload: {name: db, version: "2.0", rollbackVersion: "1.9"}
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

# list JSON: a List call; sets OUT (its JSON reply) as ctl does.
list () { ctl call coordinator List "$1"; expect_rc 0; }
# ids: the deployments of the reply in OUT, on one line.
ids () { python3 -c 'import json,sys; print(" ".join(d["id"] for d in json.load(sys.stdin)["deployments"]))' <<<"$OUT"; }
# page KEY...: those keys of the reply's page ("-" for one absent).
page () {
    python3 -c 'import json,sys; p = json.load(sys.stdin)["page"]; print(" ".join(str(p.get(k, "-")) for k in sys.argv[1:]))' "$@" <<<"$OUT"
}
# present: every deployment, as one List call gives them.
present () { list '{}'; ids; }

start_flotilla $PORT

apply held
held=$ID
wait_until 10 "h1 waiting at its pause" status_is "$held" "states(d) == 'h1:waiting'"
made=()
for name in quick other quick other quick other quick other; do
    apply $name
    made+=("$ID")
    wait_state 20 "$ID" completed
done
all="$held ${made[*]}"
[[ $(present) == "$all" ]] || fail "List {} gave '$(present)', expected '$all'"

# A page from the start, then one after its last deployment.
list '{"limit": 2}'
p1=$(ids)
[[ $p1 == "$held ${made[0]}" ]] || fail "the first page held '$p1'"
[[ $(page offset total more next_offset next_after) == "0 9 True 2 ${made[0]}" ]] \
    || fail "the first page said $(page offset total more next_offset next_after)"
list "{\"limit\": 2, \"after\": \"${made[0]}\"}"
p2=$(ids)
[[ $p2 == "${made[*]:1:2}" ]] || fail "the page after ${made[0]} held '$p2'"
[[ $(page offset total more next_offset next_after cut) == "2 9 True 4 ${made[2]} False" ]] \
    || fail "the page after ${made[0]} said $(page offset total more next_offset next_after cut)"
# With a name: among that spec's deployments (made 0, 2, 4, 6 are quick's).
list "{\"name\": \"quick\", \"limit\": 1, \"after\": \"${made[0]}\"}"
[[ $(ids) == "${made[2]}" && $(page offset total more next_after) == "1 4 True ${made[2]}" ]] \
    || fail "quick's page after ${made[0]} held '$(ids)', said $(page offset total more next_after)"
list "{\"name\": \"quick\", \"limit\": 5, \"after\": \"${made[4]}\"}"
[[ $(ids) == "${made[6]}" && $(page offset total more next_after) == "3 4 False -" ]] \
    || fail "quick's last page held '$(ids)', said $(page offset total more next_after)"
# limit 0: no deployment; the cursor stays where it was.
list "{\"limit\": 0, \"after\": \"${made[2]}\"}"
[[ -z $(ids) && $(page offset total more next_after) == "4 9 True ${made[2]}" ]] \
    || fail "limit 0 after ${made[2]} held '$(ids)', said $(page offset total more next_after)"
# An id of the form <name>-<n> that names no deployment is placed by its
# number: past every one, an empty last page.
list '{"limit": 2, "after": "nothing-100000"}'
[[ -z $(ids) && $(page offset total more next_after) == "9 9 False -" ]] \
    || fail "after nothing-100000 held '$(ids)', said $(page offset total more next_after)"
# Refused, saying why.
ctl call coordinator List "{\"offset\": 2, \"after\": \"${made[0]}\"}"
expect_rc 1
expect_err "INVALID"
expect_err "'after' and 'offset' both say where the page starts: give one of them"
ctl call coordinator List '{"limit": 2, "after": "no-number"}'
expect_rc 1
expect_err "after 'no-number' is not a deployment's id: expected <name>-<n>"

# Retention removes five of them between two pages (those beyond the
# newest three finished): quick and other of made 0..4. After a restart,
# so the cursor and the order also hold across one.
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || fail "flotillad did not stop cleanly"
DAEMON_PID=
start_flotilla $PORT --retain-count 3
kept="$held ${made[*]:5:3}"
removed () { [[ $(present) == "$kept" ]]; }
wait_until 30 "retention to remove the five first finished" removed
# Offsets now skip: the third page by offset starts past made 5 and 6.
list '{"limit": 2, "offset": 4}'
[[ -z $(ids) ]] || fail "by offset, the third page held '$(ids)'"
# By cursor, after made 2 (removed): made 5 and 6 (3 and 4 were removed too).
list "{\"limit\": 2, \"after\": \"${made[2]}\"}"
p3=$(ids)
[[ $p3 == "${made[*]:5:2}" ]] || fail "the page after ${made[2]} (removed) held '$p3'"
[[ $(page offset total more next_offset next_after) == "1 4 True 3 ${made[6]}" ]] \
    || fail "the page after ${made[2]} said $(page offset total more next_offset next_after)"
list "{\"limit\": 2, \"after\": \"${made[6]}\"}"
p4=$(ids)
[[ $p4 == "${made[7]}" && $(page offset total more next_after) == "3 4 False -" ]] \
    || fail "the last page held '$p4', said $(page offset total more next_after)"
# Present throughout: each once, in order, in the pages joined.
python3 - "$p1 $p2 $p3 $p4" "$kept" <<'PY' || fail "the pages by cursor missed or repeated one"
import sys
seen, kept = sys.argv[1].split (), sys.argv[2].split ()
assert len (seen) == len (set (seen)), "repeated: %s" % seen
number = lambda i: int (i.rsplit ("-", 1)[1])
assert [number (i) for i in seen] == sorted (number (i) for i in seen), "not in order: %s" % seen
assert [i for i in seen if i in kept] == kept, "missed: %s of %s" % (seen, kept)
PY

# The same while flotillad runs: a page, then three more deployments
# finish and retention removes the three before them; the next page after
# the first page's last one (removed) starts at the newest.
list '{"limit": 2}'
q1=$(ids)
[[ $q1 == "$held ${made[5]}" ]] || fail "the first page held '$q1'"
newer=()
for i in 1 2 3; do
    apply quick
    newer+=("$ID")
    wait_state 20 "$ID" completed
done
kept="$held ${newer[*]}"
wait_until 30 "retention to remove ${made[*]:5:3}" removed
list "{\"limit\": 2, \"after\": \"${made[5]}\"}"
q2=$(ids)
[[ $q2 == "${newer[*]:0:2}" && $(page offset more next_after) == "1 True ${newer[1]}" ]] \
    || fail "the page after ${made[5]} (removed) held '$q2', said $(page offset more next_after)"
list "{\"limit\": 2, \"after\": \"${newer[1]}\"}"
q3=$(ids)
[[ $q3 == "${newer[2]}" && $(page more) == False ]] || fail "the last page held '$q3'"
[[ "$q1 $q2 $q3" == "$held ${made[5]} ${newer[*]}" ]] || fail "the pages held $q1 $q2 $q3"

# flotctl list pages by cursor: one deployment a page, every one, in order.
ctl list --page 1 --json
expect_rc 0
[[ $(ids) == "$kept" ]] || fail "flotctl list --page 1 gave '$(ids)', expected '$kept'"
ctl list --page 1
expect_rc 0
[[ $(awk 'NR > 1 { printf "%s ", $1 }' <<<"$OUT") == "$kept " ]] \
    || fail "flotctl list --page 1 showed: $OUT"
ctl list --offset 1 --limit 2 --page 1 --json
expect_rc 0
[[ $(ids) == "${newer[*]:0:2}" ]] || fail "flotctl list --offset 1 --limit 2 gave '$(ids)'"
echo "PASS test_deploy_list_after"
