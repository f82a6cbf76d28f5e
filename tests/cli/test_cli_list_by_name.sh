#!/usr/bin/env bash
# test_cli_list_by_name: the coordinator's List takes an optional name (a
# field added to its contract): with it, only the deployments of that spec
# name are listed; a name of none lists nothing; an empty name is INVALID
# in the codec's words; without it, every deployment is listed.
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

start_flotilla 21124 21125

ctl apply -f "$HERE/specs/rolling-3.yaml" --watch
expect_rc 0
chain=$(started_id)
ctl apply -f "$HERE/specs/canary-pause.yaml"
expect_rc 0
shop=$(started_id)

ids () { python3 -c 'import json,sys; print(" ".join(d["id"] for d in json.load(sys.stdin)["deployments"]))' <<<"$OUT"; }

ctl call coordinator List '{"name": "chain"}'
expect_rc 0
[[ $(ids) == "$chain" ]] || fail "List of chain gave '$(ids)', expected '$chain'"
ctl call coordinator List '{"name": "shop"}'
expect_rc 0
[[ $(ids) == "$shop" ]] || fail "List of shop gave '$(ids)', expected '$shop'"
ctl call coordinator List '{"name": "nothing"}'
expect_rc 0
[[ -z $(ids) ]] || fail "List of nothing gave '$(ids)'"
ctl call coordinator List '{}'
expect_rc 0
[[ $(ids) == "$chain $shop" ]] || fail "List gave '$(ids)', expected '$chain $shop'"
ctl call coordinator List '{"name": ""}'
expect_rc 1
expect_err "INVALID \(10\): field 'name' is 0 bytes, expected at least 1"
ctl abort "$shop"
echo "PASS test_cli_list_by_name"
