#!/usr/bin/env bash
# test_cli_status_pages: a deployment of more targets than flotctl status
# prints in full (25) is summed up in a screen: its header, its targets
# counted by state and by wave, its failed targets first, then its waiting
# ones. --target shows one target, --offset/--limit a page of them, --all
# every one (fetched in pages), --json the whole GetStatus reply (its
# pages joined) with its summary. GetStatus itself: a paged request gets
# its page and a summary of every target; one by state gets those; a
# request without paging gets every target while they fit. Thirty targets
# in three waves of a canary that stops at a pause; t03's hook fails
# (onFailure continue).
source "$(dirname "$0")/lib.sh"

cat > "$HOOKS_DIR/fail-t03.sh" <<'EOF'
#!/bin/sh
[ "$FLOTILLA_TARGET" != t03 ] || { echo "t03 breaks" >&2; exit 1; }
exit 0
EOF
chmod 0755 "$HOOKS_DIR/fail-t03.sh"
python3 - "$TMP/thirty.yaml" <<'PY'
import sys
lines = ["apiVersion: flotilla/v1", "kind: Deployment", "name: thirty",
         "workload: {name: thirty, version: \"2\"}", "targets:"]
lines += ["  - {name: t%02d, labels: {ring: r%d}}" % (i, (i - 1) // 10) for i in range (1, 31)]
lines += ["waves:"] + ["  - selector: {ring: r%d}" % w for w in range (3)]
lines += ["strategy: {canary: {steps: [{setWeight: 50}, {pause: {}}]}}",
          "hook: {command: fail-t03.sh, timeout: 10s}",
          "policy: {maxConcurrency: 5, onFailure: continue, maxFailures: 5, progressDeadline: 1h}"]
open (sys.argv[1], "w").write ("\n".join (lines) + "\n")
PY

start_flotilla 21136 21137
ctl apply -f "$TMP/thirty.yaml" --no-check
expect_rc 0
id=$(started_id)

# rows: the target rows of flotctl status's table in OUT, their names.
rows () { grep -oE "^t[0-9]{2} +(pending|running|waiting|done|failed|held|rolled_back|skipped) +(t[0-9]{2}/[0-9]+|-) " <<<"$OUT" | cut -d' ' -f1 | tr '\n' ' '; }
# py EXPR: EXPR over d, the JSON in OUT.
py () { python3 -c 'import json,sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1" <<<"$OUT"; }

# Until t03 has failed and the wave's other four wait at the pause.
settled () {
    ctl call coordinator GetStatus "{\"id\": \"$id\", \"limit\": 0}"
    [[ $RC == 0 && $(py "(d['summary']['failed'], d['summary']['waiting'])") == "(1, 5)" ]]
}
wait_until 20 "t03 to fail and 5 targets to wait" settled
[[ $(py "len(d['targets'])") == 0 ]] || fail "limit 0 answered targets: $OUT"
[[ $(py "d['page']") == "{'offset': 0, 'total': 30, 'more': True, 'next_offset': 0, 'cut': False}" ]] \
    || fail "limit 0 said $(py "d['page']")"
[[ $(py "[(w['wave'], w['targets'], w['pending']) for w in d['summary']['waves']]") \
   == "[(0, 10, 4), (1, 10, 10), (2, 10, 10)]" ]] || fail "the waves: $(py "d['summary']['waves']")"

# GetStatus by state, and a page of it.
ctl call coordinator GetStatus "{\"id\": \"$id\", \"state\": \"waiting\", \"limit\": 2}"
expect_rc 0
[[ $(py "[t['name'] for t in d['targets']]") == "['t01', 't02']" ]] || fail "waiting: $OUT"
[[ $(py "(d['page']['total'], d['page']['more'], d['page']['next_offset'])") == "(5, True, 2)" ]] \
    || fail "the waiting page said $(py "d['page']")"
ctl call coordinator GetStatus "{\"id\": \"$id\", \"state\": \"waiting\", \"offset\": 2}"
expect_rc 0
[[ $(py "[t['name'] for t in d['targets']]") == "['t04', 't05', 't06']" ]] || fail "waiting from 2: $OUT"
ctl call coordinator GetStatus "{\"id\": \"$id\", \"target\": \"nope\"}"
expect_rc 1
expect_err "NOT_FOUND \(11\): $id has no target 'nope'"
ctl call coordinator GetStatus "{\"id\": \"$id\", \"target\": \"t01\", \"state\": \"waiting\"}"
expect_rc 1
expect_err "INVALID \(10\): field 'target' names one target: it goes with neither 'state' nor 'offset'"
# An older client's request: every target (30 fit), a summary, no page.
ctl call coordinator GetStatus "{\"id\": \"$id\"}"
expect_rc 0
[[ $(py "(len(d['targets']), d['summary']['targets'], 'page' in d)") == "(30, 30, False)" ]] \
    || fail "GetStatus without paging: $(py "(len(d['targets']), 'page' in d)")"

# The summary: a screen at most, the failed target first.
ctl status "$id"
expect_rc 0
(( $(wc -l <<<"$OUT") <= 40 )) || fail "the summary is $(wc -l <<<"$OUT") lines: $OUT"
expect_out "^targets     30: 24 pending, 5 waiting, 1 failed$"
expect_out "^waves       3$"
expect_out "^  wave 0     10: 4 pending, 5 waiting, 1 failed$"
expect_out "^  wave 1     10: 10 pending$"
expect_out "^failed \(1\):$"
expect_out "^  t03 +failed +t03/1 +setWeight +failed"
expect_out "^waiting \(5\):$"
expect_out "^more: flotctl status $id --target NAME"
[[ $(grep -n "^failed" <<<"$OUT" | cut -d: -f1) -lt $(grep -n "^waiting" <<<"$OUT" | cut -d: -f1) ]] \
    || fail "the failed targets do not come first: $OUT"
grep -q "^  t2[0-9]" <<<"$OUT" && fail "the summary lists pending targets: $OUT"

# One target in full, with its hook's stderr.
ctl status "$id" --target t03
expect_rc 0
expect_out "^t03 +failed +t03/1 +setWeight +failed +1 +0 +unchecked$"
expect_out "t03 breaks"
[[ $(rows) == "t03 " ]] || fail "--target showed more: $OUT"

# A page, and every target.
ctl status "$id" --offset 27 --limit 5
expect_rc 0
[[ $(rows) == "t28 t29 t30 " ]] || fail "--offset 27: $OUT"
expect_out "^targets 28-30 of 30$"
ctl status "$id" --offset 0 --limit 3
expect_rc 0
expect_out "^targets 1-3 of 30: more follow"
ctl status "$id" --all --page 7
expect_rc 0
[[ $(rows) == "$(printf 't%02d ' $(seq 1 30))" ]] || fail "--all showed: $OUT"
ctl status "$id" --json --page 4
expect_rc 0
[[ $(py "(len(d['targets']), d['targets'][-1]['name'], d['summary']['targets'], 'page' in d)") \
   == "(30, 't30', 30, False)" ]] || fail "--json joined: $(py "(len(d['targets']), d.get('page'))")"
ctl status "$id" --target t03 --all
expect_rc 2
expect_err "--target shows one target"
ctl promote "$id" --full
expect_rc 0
echo "PASS test_cli_status_pages"
