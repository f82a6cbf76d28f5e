#!/usr/bin/env bash
# test_cli_deploy_conflict: on a completed deployment, pause, resume,
# promote and abort are refused by the coordinator with CONFLICT: flotctl
# exits 1, prints 'CONFLICT (12)' and the sentence on stderr and nothing on
# stdout, and the deployment stays completed.
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

start_flotilla 21118 21119

ctl apply -f "$HERE/specs/rolling-3.yaml" --watch
expect_rc 0
id=$(started_id)

for command in pause resume promote "promote --full" abort "abort --reason late"; do
    ctl $command "$id"
    expect_rc 1
    expect_err "^flotctl: CONFLICT \(12\): $id is completed"
    [[ -z $OUT ]] || fail "$LAST printed on stdout: $OUT"
done
ctl pause "$id" --json
expect_rc 1
expect_err "CONFLICT \(12\)"
[[ -z $OUT ]] || fail "$LAST printed on stdout: $OUT"

status_is "$id" "d['state'] == 'completed' and not d['paused'] and d['percent'] == 100" \
    || fail "the refused commands changed the deployment: $(status_json "$id" d)"

ctl promote "$id" --reason why
expect_rc 2
expect_err -- "--reason does not apply to 'promote'"
ctl abort "$id" --full
expect_rc 2
expect_err -- "--full does not apply to 'abort'"
ctl pause
expect_rc 2
expect_err "usage: flotctl pause ID"
echo "PASS test_cli_deploy_conflict"
