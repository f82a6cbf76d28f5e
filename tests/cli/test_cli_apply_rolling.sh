#!/usr/bin/env bash
# test_cli_apply_rolling: flotctl apply --watch of a rolling deployment over
# a chain of three targets starts it, prints its events and progress until
# it completes, and exits 0. The hook ran once per target, in dependency
# order, with the step id and the version, from the spec's folder (flotctl
# is run elsewhere, flotillad too). Then status, list and events --deployment
# show the finished deployment.
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

start_flotilla 21114 21115
cd "$TMP"

start=$(now_ms)
ctl apply -f "$HERE/specs/rolling-3.yaml" --watch --timeout 3000
elapsed=$(( $(now_ms) - start ))
expect_rc 0
id=$(started_id)
[[ $id =~ ^chain-[0-9]+$ ]] || fail "unexpected deployment id '$id'"
expect_out "^deployment $id started: 3 steps$"
expect_out "^[0-9:.]+Z deployment\.started +- "
expect_out "^[0-9:.]+Z step\.completed +b "
expect_out "^[0-9:.]+Z deployment\.completed +- "
expect_out "^$id completed 100% \(3/3 steps\); targets: 3 done$"
expect_out "^deployment $id completed: 3 of 3 steps"
expect_err "watching deployment $id"
(( elapsed < 15000 )) || fail "apply --watch took $elapsed ms"
# The summary comes last, after every event.
[[ $(tail -n 1 <<<"$OUT") == "deployment $id completed: 3 of 3 steps"* ]] \
    || fail "apply --watch did not end with the outcome: $OUT"

[[ -f $CLI_RECORD ]] || fail "the hook never ran (log: $(cat "$TMP/flotillad.log"))"
[[ $(cat "$CLI_RECORD") == $'a a/1 1.2.3\nb b/1 1.2.3\nc c/1 1.2.3' ]] \
    || fail "the hook did not run once per target in dependency order: $(cat "$CLI_RECORD")"

ctl status "$id"
expect_rc 0
expect_out "^deployment +$id$"
expect_out "^name +chain$"
expect_out "^strategy +rolling$"
expect_out "^state +completed$"
expect_out "^paused +no$"
expect_out "^progress +100% \(3 of 3 steps done\)$"
expect_out "^TARGET +STATE +STEP +TYPE +STEP-STATE +ATTEMPT +WEIGHT +HEALTH$"
for t in a b c; do
    expect_out "^$t +done +$t/1 +apply +succeeded +1 +100 +unchecked$"
done

ctl list
expect_rc 0
expect_out "^ID +NAME +STATE +PERCENT +UPDATED$"
expect_out "^$id +chain +completed +100% +[0-9]{4}-[0-9]{2}-[0-9]{2}T"

# events --deployment takes the coordinator's ids.
ctl events --deployment "$id"
expect_rc 0
[[ $(awk '{print $4}' <<<"$OUT" | sort -u) == "$id" ]] \
    || fail "events --deployment $id printed other deployments: $OUT"
[[ $(awk '{print $3}' <<<"$OUT" | head -n 1) == deployment.started \
&& $(awk '{print $3}' <<<"$OUT" | tail -n 1) == deployment.completed ]] \
    || fail "events --deployment $id is not the deployment's whole story: $OUT"
[[ $(grep -c ' step\.completed ' <<<"$OUT") == 3 ]] \
    || fail "events --deployment $id lacks step.completed events: $OUT"

# Watching a finished deployment replays its events and ends at once.
ctl watch "$id" --json
expect_rc 0
python3 - "$OUT" "$id" <<'PY' || fail "watch --json of a finished deployment: $OUT"
import json, sys
docs = [json.loads(line) for line in sys.argv[1].splitlines()]
events = [d for d in docs if "seq" in d]
status = [d for d in docs if "seq" not in d]
assert events[0]["type"] == "deployment.started", events[0]
assert events[-1]["type"] == "deployment.completed", events[-1]
assert all(e["deployment"] == sys.argv[2] for e in events)
assert status[-1]["state"] == "completed" and status[-1]["percent"] == 100, status
PY
echo "PASS test_cli_apply_rolling"
