#!/usr/bin/env bash
# test_cli_plan_order: flotctl plan of a valid spec whose targets are listed
# out of order (c after b after a) prints them in dependency order with
# their dependencies and steps, then the rollback order (the reverse), and
# runs nothing; apply --dry-run prints the same; --json is the Plan reply.
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

start_flotilla 21112 21113

ctl plan -f "$HERE/specs/rolling-3.yaml"
expect_rc 0
plan=$OUT
expect_out "^plan of deployment chain \(rolling\): 3 targets, 3 steps"
expect_out "^    STEP +TYPE +WEIGHT +DURATION +RUNS$"
[[ $(grep -E '^    [a-c]/1 ' <<<"$OUT" | awk '{print $1}' | tr '\n' ' ') == "a/1 b/1 c/1 " ]] \
    || fail "plan does not list the steps in dependency order: $OUT"
expect_out "^    a/1 +apply +100 +- +hook$"
[[ $(grep -E '^[a-c]  wave' <<<"$OUT" | tr '\n' '|') \
    == "a  wave 0, depends on: -|b  wave 0, depends on: a|c  wave 0, depends on: b|" ]] \
    || fail "plan does not show each target's dependencies in order: $OUT"
expect_out "^rollback order: c b a$"

# A canary: each target's steps in their order, the pause without a duration
# shown as waiting for a promote, and the added last setWeight.
ctl plan -f "$HERE/specs/canary-pause.yaml"
expect_rc 0
[[ $(grep -E '^    eu-1/' <<<"$OUT" | awk '{print $1, $2, $3}' | tr '\n' '|') \
    == "eu-1/1 setWeight 50|eu-1/2 pause 50|eu-1/3 setWeight 100|" ]] \
    || fail "canary plan steps: $OUT"
expect_out "^    eu-1/2 +pause +50 +until promoted +-$"
expect_out "^    eu-2/3 +setWeight +100 +- +hook$"

ctl apply --dry-run -f "$HERE/specs/rolling-3.yaml"
expect_rc 0
[[ $OUT == "$plan" ]] || fail "apply --dry-run differs from plan: $OUT"

ctl plan -f "$HERE/specs/rolling-3.yaml" --json
expect_rc 0
python3 - "$OUT" <<'PY' || fail "plan --json: $OUT"
import json, sys
reply = json.loads(sys.argv[1])
assert reply["deployment"] == "chain" and reply["strategy"] == "rolling", reply
assert reply["plan"]["order"] == ["a", "b", "c"], reply["plan"]["order"]
assert reply["rollback"]["order"] == ["c", "b", "a"], reply["rollback"]["order"]
PY

# Planning ran nothing.
[[ ! -e $CLI_RECORD ]] || fail "plan ran hooks: $(cat "$CLI_RECORD")"
ctl list --json
expect_rc 0
[[ $OUT == '{"deployments":[]}' ]] || fail "plan started a deployment: $OUT"
echo "PASS test_cli_plan_order"
