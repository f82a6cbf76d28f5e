#!/usr/bin/env bash
# test_cli_long_id: a spec name may be 64 bytes, so its deployment id (the
# name, '-' and a number) is longer than any other name: flotctl takes it
# (up to 95 bytes) for status, watch and events --deployment, and refuses
# 96 bytes as a usage error sent nowhere.
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

start_flotilla 21126 21127

name=$(printf 'n%.0s' {1..60})-0.9     # 64 bytes
sed -e "s|^name: chain$|name: $name|" "$HERE/specs/rolling-3.yaml" >"$TMP/long.yaml"
grep -q "^name: $name$" "$TMP/long.yaml" || fail "the spec's name was not replaced"

ctl apply -f "$TMP/long.yaml"
expect_rc 0
id=$(started_id)
(( ${#id} > 64 )) || fail "the id '$id' is not longer than 64 bytes"

ctl watch "$id"
expect_rc 0
expect_out "deployment\.started .*web 1\.2\.3 of $name"
expect_out "^deployment $id completed: "

ctl status "$id"
expect_rc 0
expect_out "^deployment +$id$"
expect_out "^name +$name$"
expect_out "^state +completed$"

ctl events --deployment "$id"
expect_rc 0
[[ $(awk '{print $4}' <<<"$OUT" | sort -u) == "$id" ]] \
    || fail "events --deployment $id printed events of others: $OUT"
expect_out " deployment\.started $id - web 1\.2\.3 of $name"
expect_out " deployment\.completed $id - every target is on the new version"

"$FLOTCTL" events --follow --deployment "$id" --since 1 --type deployment.completed \
    >"$TMP/follow.out" 2>"$TMP/follow.err" &
follower=$!
bg_started "$follower"
wait_until 5 "events --follow of the long id" \
    grep -q " deployment\.completed $id - " "$TMP/follow.out"
stop_follower "$follower"

long95=$(printf 'x%.0s' {1..95})
ctl status "$long95"
expect_rc 1
expect_err "NOT_FOUND \(11\)"
ctl status "${long95}x"
expect_rc 2
expect_err "is not a deployment id: 1\.\.95 of"
ctl events --deployment "${long95}x"
expect_rc 2
expect_err "^flotctl: --deployment '${long95}x' is not a deployment id"
echo "PASS test_cli_long_id"
